"""How a step reads AWS: from the account view the drift sweep reads once per interval, or
fresh (by id) before anything is changed.

The account view (`AccountView`) holds, per region, what a few list calls show for the whole
account: every namespace (ListNamespaces), every service with its DNS records, TTLs and health
checks (ListServices, 100 per page, per namespace), the tags of everything the operator owns
(tag:GetResources, 100 per page; ListTagsForResource per ARN where the Tagging API is refused),
private namespaces' VPCs (Route 53, one zone per call) and the ECS services resources manage
(DescribeServices, 10 per call). At N = 1,000 services that is about 25 calls per interval for
all of them.

The view is only ever trusted to say "in sync" (`ViewReader`). Anything else is read again by
`FreshReader`: by id where an id is known (GetService / GetNamespace: only NotFound from a read by
id proves absence), from the view only to find the id of something not yet known to the
resource. A create that the view wrongly allows is harmless: CreatorRequestId makes a retry
return what the first attempt created, and a name taken meanwhile is AWS's
ServiceAlreadyExists, not a twin. Creation steps never read other services' tags: who owns what
comes from the view's batched tag read.
"""

from __future__ import annotations

import contextvars
import threading
import time
import zlib
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Protocol

from sd_operator.aws.api import AwsAdapters
from sd_operator.aws.errors import NotFound, Terminal
from sd_operator.aws.route53 import zone_id
from sd_operator.aws.tagging import NAMESPACE_TYPE, SERVICE_TYPE
from sd_operator.model import arns
from sd_operator.model.observed import (
    ObservedEcsService,
    ObservedNamespace,
    ObservedOperation,
    ObservedService,
    ObservedServiceDeployment,
    ShareObservation,
)
from sd_operator.model.spec import ClusterIdentity
from sd_operator.reconcile.ownership import CLUSTER_ID_TAG, CLUSTER_TAG

# A namespace or service the view does not know yet (just created) is looked for again at most
# this often, with a list of namespaces only, not a whole refresh.
RELIST_SECONDS = 5.0
# AWS has no batch read of service attributes (GetServiceAttributes: one service a call). Through
# the account view, a service whose attributes are worth reading (ownership.reads_attributes) is
# read once every ATTRIBUTE_SWEEPS reads of the account, in a turn its id fixes, so each sweep
# reads about 1/ATTRIBUTE_SWEEPS of them; one the view has not read yet, at once
# (docs/aws-budget.md). Drift in attributes is seen within ATTRIBUTE_SWEEPS sweeps.
ATTRIBUTE_SWEEPS = 4

_as_read: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "sd_operator_view_as_read", default=False
)


@contextmanager
def view_as_read() -> Iterator[None]:
    """Lookups inside use the account view as last read, whatever its age, ECS services as last
    described: the sweep's steps use the view the sweep read at its start, a CLI plan one
    moment's view. Under throttling the steps of a sweep (confirming and correcting drift at a
    fraction of the budget) can outlast the ttl; the first step after it then read the whole
    account again while every other worker waited, and at N = 1,000 sweeps took 50-61 s
    instead of 11 (docs/drift.md). A plan did so for each resource (bench/RESULTS.md)."""
    token = _as_read.set(True)
    try:
        yield
    finally:
        _as_read.reset(token)


class Reader(Protocol):
    """find_* look up by name, for what has never been seen; their None is not proof of
    absence. get_* read by id (with tags); their None is AWS's NotFound, the only proof that it
    is gone."""

    def find_namespace(
        self, region: str, name: str, *, with_tags: bool
    ) -> ObservedNamespace | None: ...

    def get_namespace(
        self, region: str, namespace_id: str, *, with_tags: bool
    ) -> ObservedNamespace | None: ...

    def namespace_of_service(
        self, region: str, name: str, *, with_tags: bool
    ) -> ObservedNamespace | None: ...

    def hosted_zone_vpcs(self, region: str, hosted_zone_id: str) -> frozenset[str]: ...

    def list_services(
        self, region: str, namespace_id: str, *, settled: bool = False
    ) -> list[ObservedService]: ...

    def find_service(self, region: str, namespace_id: str, name: str) -> ObservedService | None: ...

    def get_service(
        self, region: str, service_id: str, *, namespace_id: str | None = None
    ) -> ObservedService | None: ...

    def owned_service(
        self, region: str, namespace_id: str, owner: Mapping[str, str]
    ) -> ObservedService | None: ...

    def owned_namespace(
        self, region: str, owner: Mapping[str, str]
    ) -> ObservedNamespace | None: ...

    def tagged_namespace(self, region: str, owner: Mapping[str, str]) -> ObservedNamespace | None:
        """The namespace carrying exactly these owner tags, whatever its name, confirmed by a
        read by id. For a delete that has no id (the CLI): no list scan that concurrent
        deletes shift. None is not proof of absence (the Tagging API is eventually
        consistent, or absent)."""
        ...

    def tagged_service(self, region: str, owner: Mapping[str, str]) -> ObservedService | None:
        """As tagged_namespace, for a service, wherever it is."""
        ...

    def want(self, region: str, cluster: str, service: str) -> None:
        """Note an ECS service a resource manages, so the account view's next batch describes
        it too (10 per DescribeServices call). Not a read."""
        ...

    def describe_ecs(
        self, region: str, cluster: str, service: str
    ) -> ObservedEcsService | None: ...

    def service_deployment(
        self, region: str, cluster: str, service: str, deployment_id: str
    ) -> ObservedServiceDeployment | None:
        """What ECS's service deployments API keeps of a deployment. Always fresh: read only
        when the deployment our last update started left `deployments[]` before we saw it end."""
        ...

    def services_in_namespace(self, region: str, namespace_arn: str) -> tuple[str, ...]:
        """ARNs of the ECS services whose Service Connect uses the namespace. Always fresh:
        ListServicesByNamespace is read only when a plan changes an endpoint."""
        ...

    def account(self, region: str) -> str:
        """The account the reads act in: whose ResourceOwner and CreatedByAccount are ours."""
        ...

    def share(
        self, region: str, namespace: ObservedNamespace, *, permissions: bool, vpc: str | None
    ) -> ShareObservation:
        """What our account can read of a namespace another account shares with it: the RAM
        permissions of its shares (when `permissions`), whether `vpc` is associated with its
        hosted zone. Always fresh (only shared namespaces' steps ask); what our role may not
        read is None, not an error."""
        ...

    def get_operation(self, region: str, operation_id: str) -> ObservedOperation:
        """A Cloud Map operation a step submitted; always fresh (it is what the step waits
        for). NotFound: AWS no longer knows it."""
        ...

    def service_attributes(self, region: str, service_id: str) -> dict[str, str]:
        """A service's attributes (GetServiceAttributes). NotFound: no such service."""
        ...


@dataclass
class _RegionView:
    listed_at: float
    namespaces_at: float
    namespaces: dict[str, ObservedNamespace]  # by name
    services: dict[tuple[str, str], ObservedService]  # by (namespace id, name)
    service_ids: dict[str, ObservedService]
    # ARN -> tags of what carries our cluster tag (or, without the Tagging API, what was read
    # per ARN). An ARN that is missing has no tags we know of: confirm before acting.
    tags: dict[str, dict[str, str]]
    zones: dict[str, frozenset[str] | None] = field(default_factory=dict)


def _owned(tags: Mapping[str, str], owner: Mapping[str, str]) -> bool:
    return all(tags.get(k) == v for k, v in owner.items())


def _claimed(tags: Mapping[str, str], cluster: ClusterIdentity) -> bool:
    return tags.get(CLUSTER_TAG) == cluster.name and tags.get(CLUSTER_ID_TAG) == cluster.id


class AccountView:
    """The account as the last sweep read it, per region; refreshed when older than `ttl`."""

    def __init__(
        self,
        adapters: AwsAdapters,
        ttl: float,
        cluster: ClusterIdentity,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._adapters = adapters
        self._ttl = ttl
        self._cluster = cluster
        self._clock = clock
        self._lock = threading.RLock()
        self._regions: dict[str, _RegionView] = {}
        self._read_locks: dict[str, threading.Lock] = {}
        self._no_tagging: set[str] = set()
        self._ecs: dict[tuple[str, str, str], tuple[float, ObservedEcsService | None]] = {}
        # service name -> when a resource last asked for it; entries nobody asks about for a
        # few intervals (deleted resources) leave the batch.
        self._wanted: dict[tuple[str, str], dict[str, float]] = {}
        # region -> how many times the account was read; (region, service id) -> (the read it
        # was learnt in, its attributes): see ATTRIBUTE_SWEEPS.
        self._reads: dict[str, int] = {}
        self._attributes: dict[tuple[str, str], tuple[int, dict[str, str]]] = {}

    # -- refreshing ----------------------------------------------------------------------------

    def refresh(self, region: str) -> None:
        """Read the region again: namespaces, services, tags, then the ECS services wanted.
        Lookups meanwhile use the view as it was, or wait for this read if it is too old: the
        view's lock is not held over AWS calls (under throttling a read takes seconds, and
        every step waited for it, py-spy at N = 1,000)."""
        with self._reading(region):
            view = self._read(region)
            with self._lock:
                self._regions[region] = view
                for key in [k for k in self._ecs if k[0] == region]:
                    del self._ecs[key]
        for (wanted_region, cluster), names in list(self._wanted.items()):
            if wanted_region == region and names:
                self._describe(region, cluster)

    def invalidate(self, region: str) -> None:
        """Forget a region: the next read refreshes it."""
        with self._lock:
            self._regions.pop(region, None)
            for key in [k for k in self._ecs if k[0] == region]:
                del self._ecs[key]

    def _read(self, region: str) -> _RegionView:
        cm = self._adapters.cloudmap(region)
        now = self._clock()
        namespaces = {n.name: n for n in cm.list_namespaces()}
        # ListServices summaries do not name their namespace: one filtered list per namespace
        # (a region holds at most 50).
        listed = [s for n in namespaces.values() for s in cm.list_services(n.id)]
        ids = {s.id for s in listed}
        with self._lock:
            self._reads[region] = self._reads.get(region, 0) + 1
            for key in [k for k in self._attributes if k[0] == region and k[1] not in ids]:
                del self._attributes[key]
        return _RegionView(
            listed_at=now,
            namespaces_at=now,
            namespaces=namespaces,
            services={(s.namespace_id, s.name): s for s in listed},
            service_ids={s.id: s for s in listed},
            tags=self._read_tags(region, [*namespaces.values()], listed),
        )

    def _read_tags(
        self,
        region: str,
        namespaces: list[ObservedNamespace],
        services: list[ObservedService],
    ) -> dict[str, dict[str, str]]:
        if region not in self._no_tagging:
            try:
                return self._adapters.tagging(region).resources(
                    # By name: what another cluster of our name tagged is read too, and
                    # the ownership rule tells it apart by its id.
                    (NAMESPACE_TYPE, SERVICE_TYPE),
                    {CLUSTER_TAG: self._cluster.name},
                )
            except Terminal:
                # No tag:GetResources permission, or an endpoint without the Tagging API: the
                # per-ARN reads below, once per interval, for this region from now on.
                self._no_tagging.add(region)
        cm = self._adapters.cloudmap(region)
        arns = [n.arn for n in namespaces] + [s.arn for s in services]
        return {arn: cm.tags(arn) for arn in arns}

    def _region(self, region: str, *, stale_ok: bool = False) -> _RegionView:
        """The region's view, read first if there is none (or, unless `stale_ok`, if it is
        older than the ttl). One read per region at a time; the others wait for it."""
        stale_ok = stale_ok or _as_read.get()
        with self._lock:
            view = self._regions.get(region)
        if view is not None and (stale_ok or self._clock() - view.listed_at < self._ttl):
            return view
        with self._reading(region):
            with self._lock:
                view = self._regions.get(region)
            if view is not None and (stale_ok or self._clock() - view.listed_at < self._ttl):
                return view
            view = self._read(region)
            with self._lock:
                self._regions[region] = view
            return view

    def _reading(self, region: str) -> threading.Lock:
        with self._lock:
            return self._read_locks.setdefault(region, threading.Lock())

    def _relisted_namespaces(self, region: str) -> _RegionView:
        """A name the view lacks may have been created since: list namespaces again, at most
        every RELIST_SECONDS and by one caller at a time (a namespace create makes every
        ServiceDiscovery look for it; the others go on with the view as it is)."""
        view = self._region(region, stale_ok=True)
        with self._lock:
            if self._clock() - view.namespaces_at < RELIST_SECONDS:
                return view
            view.namespaces_at = self._clock()
        listed = self._adapters.cloudmap(region).list_namespaces()
        with self._lock:
            view.namespaces = {n.name: n for n in listed}
        return view

    def learn_namespace(
        self, region: str, namespace: ObservedNamespace, *, with_tags: bool
    ) -> None:
        """A namespace read by id, which proves it exists: lookups by name find it from now
        on, and its tags if they were read. A namespace created since the view was read was
        otherwise missing until the next relist (RELIST_SECONDS): the CLI's apply reads the
        view while planning, before it creates the namespace, and each of its services then
        failed NamespaceNotReady and waited 10 s. Nothing is read here: a region the view has
        not read yet lists the namespace when it is read."""
        with self._lock:
            view = self._regions.get(region)
            if view is None:
                return
            view.namespaces[namespace.name] = replace(namespace, tags={})
            if with_tags:
                view.tags[namespace.arn] = dict(namespace.tags)

    def learn_attributes(self, region: str, service_id: str, attributes: Mapping[str, str]) -> None:
        """A service's attributes read fresh (before acting, or after a change): the sweep
        trusts them until the service's next turn."""
        with self._lock:
            self._attributes[(region, service_id)] = (self._reads.get(region, 0), dict(attributes))

    # -- lookups -------------------------------------------------------------------------------

    def service_attributes(self, region: str, service_id: str) -> dict[str, str]:
        with self._lock:
            read = self._reads.get(region, 0)
            cached = self._attributes.get((region, service_id))
        turn = (read + zlib.crc32(service_id.encode())) % ATTRIBUTE_SWEEPS == 0
        if cached is not None and (cached[0] == read or not turn):
            return dict(cached[1])
        found = self._adapters.cloudmap(region).service_attributes(service_id)
        self.learn_attributes(region, service_id, found)
        return found

    def tags(self, region: str, arn: str) -> dict[str, str] | None:
        """Tags from the batched read; None when the view has none for that ARN."""
        return self._region(region).tags.get(arn)

    def namespace_tags(self, region: str, namespace: ObservedNamespace) -> dict[str, str]:
        """A namespace's tags: from the batched read, else read by ARN (a namespace created or
        adopted since the last sweep, or one the Tagging API has not caught up with)."""
        view = self._region(region, stale_ok=True)
        with self._lock:
            known = view.tags.get(namespace.arn)
        # Not ours by the view: maybe adopted or tagged since; "not owned" blocks the
        # resource, so it is read again (ours stays ours until the next sweep says otherwise).
        # Ours without our id is read again too: it may have been claimed since.
        if known is None or not _claimed(known, self._cluster):
            known = self._adapters.cloudmap(region).tags(namespace.arn)
            with self._lock:
                view.tags[namespace.arn] = known
        return known

    def service_tags(self, region: str, service_id: str) -> dict[str, str] | None:
        """A service's tags by id (None: no such service), as namespace_tags: the batched read
        when it says the service is this cluster's, else read by id."""
        view = self._region(region, stale_ok=True)
        with self._lock:
            listed = view.service_ids.get(service_id)
            known = view.tags.get(listed.arn) if listed is not None else None
        if known is not None and known.get(CLUSTER_TAG) == self._cluster.name:
            return known
        found = self._adapters.cloudmap(region).get_service(service_id)
        return None if found is None else dict(found.tags)

    def namespace(self, region: str, name: str, *, relist: bool) -> ObservedNamespace | None:
        """`relist` (acting reads): a view of any age will do, a missing name is listed
        again; otherwise (the sweep) the view is read again once it is older than the ttl."""
        view = self._region(region, stale_ok=relist)
        found = view.namespaces.get(name)
        if found is None and relist:
            found = self._relisted_namespaces(region).namespaces.get(name)
        return found

    def namespaces(self, region: str) -> list[ObservedNamespace]:
        return list(self._region(region).namespaces.values())

    def service(
        self, region: str, namespace_id: str, name: str, *, stale_ok: bool = False
    ) -> ObservedService | None:
        return self._region(region, stale_ok=stale_ok).services.get((namespace_id, name))

    def service_by_id(self, region: str, service_id: str) -> ObservedService | None:
        return self._region(region).service_ids.get(service_id)

    def services(self, region: str, namespace_id: str) -> list[ObservedService]:
        view = self._region(region)
        return [s for s in view.service_ids.values() if s.namespace_id == namespace_id]

    def owned_services(
        self, region: str, namespace_id: str, owner: Mapping[str, str], *, stale_ok: bool = False
    ) -> list[ObservedService]:
        view = self._region(region, stale_ok=stale_ok)
        return [
            s
            for s in view.service_ids.values()
            if s.namespace_id == namespace_id and _owned(view.tags.get(s.arn, {}), owner)
        ]

    def owned_namespaces(self, region: str, owner: Mapping[str, str]) -> list[ObservedNamespace]:
        view = self._region(region)
        return [n for n in view.namespaces.values() if _owned(view.tags.get(n.arn, {}), owner)]

    def hosted_zone_vpcs(self, region: str, hosted_zone_id: str) -> frozenset[str]:
        """Once per interval per zone. A zone that is gone is NotFound, as a fresh read says."""
        view = self._region(region)
        with self._lock:
            if hosted_zone_id not in view.zones:
                try:
                    vpcs: frozenset[str] | None = self._adapters.route53(region).hosted_zone_vpcs(
                        hosted_zone_id
                    )
                except NotFound:
                    vpcs = None
                view.zones[hosted_zone_id] = vpcs
            found = view.zones[hosted_zone_id]
        if found is None:
            raise NotFound("GetHostedZone", "NoSuchHostedZone", hosted_zone_id)
        return found

    # -- ECS -----------------------------------------------------------------------------------

    def want(self, region: str, cluster: str, service: str) -> None:
        """Note a service some resource manages, so the next batch describes it too."""
        with self._lock:
            self._wanted.setdefault((region, cluster), {})[service] = self._clock()

    def _describe(self, region: str, cluster: str) -> dict[str, ObservedEcsService | None]:
        with self._lock:
            now = self._clock()
            wanted = self._wanted.setdefault((region, cluster), {})
            for name in [n for n, asked in wanted.items() if now - asked > 3 * self._ttl]:
                del wanted[name]
            names = sorted(wanted)
        described = self._adapters.ecs(region).describe(cluster, names) if names else {}
        with self._lock:
            for name, observed in described.items():
                self._ecs[(region, cluster, name)] = (now, observed)
        return described

    def ecs_service(self, region: str, cluster: str, service: str) -> ObservedEcsService | None:
        self.want(region, cluster, service)
        with self._lock:
            cached = self._ecs.get((region, cluster, service))
            if cached is not None and (_as_read.get() or self._clock() - cached[0] < self._ttl):
                return cached[1]
        return self._describe(region, cluster).get(service)


class ViewReader:
    """Reads for the drift sweep: everything from the account view (trusted for "in sync").
    By id, what the view does not hold (made since it was read) is read from AWS."""

    def __init__(self, view: AccountView, fresh: FreshReader) -> None:
        self._view = view
        self._fresh = fresh

    def invalidate(self, region: str) -> None:
        self._view.invalidate(region)

    def find_namespace(
        self, region: str, name: str, *, with_tags: bool
    ) -> ObservedNamespace | None:
        found = self._view.namespace(region, name, relist=False)
        if found is None or not with_tags:
            return found
        return replace(found, tags=self._view.tags(region, found.arn) or {})

    def get_namespace(
        self, region: str, namespace_id: str, *, with_tags: bool
    ) -> ObservedNamespace | None:
        found = next((n for n in self._view.namespaces(region) if n.id == namespace_id), None)
        if found is None:
            return self._fresh.get_namespace(region, namespace_id, with_tags=with_tags)
        return self.find_namespace(region, found.name, with_tags=with_tags)

    def namespace_of_service(
        self, region: str, name: str, *, with_tags: bool
    ) -> ObservedNamespace | None:
        return self.find_namespace(region, name, with_tags=with_tags)

    def hosted_zone_vpcs(self, region: str, hosted_zone_id: str) -> frozenset[str]:
        return self._view.hosted_zone_vpcs(region, hosted_zone_id)

    def list_services(
        self, region: str, namespace_id: str, *, settled: bool = False
    ) -> list[ObservedService]:
        if settled:
            return self._fresh.list_services(region, namespace_id, settled=True)
        return self._view.services(region, namespace_id)

    def find_service(self, region: str, namespace_id: str, name: str) -> ObservedService | None:
        found = self._view.service(region, namespace_id, name)
        if found is None:
            return None
        return replace(found, tags=self._view.tags(region, found.arn) or {})

    def get_service(
        self, region: str, service_id: str, *, namespace_id: str | None = None
    ) -> ObservedService | None:
        found = self._view.service_by_id(region, service_id)
        if found is None:
            return self._fresh.get_service(region, service_id)
        return replace(found, tags=self._view.tags(region, found.arn) or {})

    def owned_service(
        self, region: str, namespace_id: str, owner: Mapping[str, str]
    ) -> ObservedService | None:
        found = self._view.owned_services(region, namespace_id, owner)
        if not found:
            return None
        return replace(found[0], tags=self._view.tags(region, found[0].arn) or {})

    def owned_namespace(self, region: str, owner: Mapping[str, str]) -> ObservedNamespace | None:
        found = self._view.owned_namespaces(region, owner)
        if not found:
            return None
        return replace(found[0], tags=self._view.tags(region, found[0].arn) or {})

    def tagged_namespace(self, region: str, owner: Mapping[str, str]) -> ObservedNamespace | None:
        return self._fresh.tagged_namespace(region, owner)

    def tagged_service(self, region: str, owner: Mapping[str, str]) -> ObservedService | None:
        return self._fresh.tagged_service(region, owner)

    def want(self, region: str, cluster: str, service: str) -> None:
        self._view.want(region, cluster, service)

    def describe_ecs(self, region: str, cluster: str, service: str) -> ObservedEcsService | None:
        return self._view.ecs_service(region, cluster, service)

    def service_deployment(
        self, region: str, cluster: str, service: str, deployment_id: str
    ) -> ObservedServiceDeployment | None:
        return self._fresh.service_deployment(region, cluster, service, deployment_id)

    def services_in_namespace(self, region: str, namespace_arn: str) -> tuple[str, ...]:
        return self._fresh.services_in_namespace(region, namespace_arn)

    def account(self, region: str) -> str:
        return self._fresh.account(region)

    def share(
        self, region: str, namespace: ObservedNamespace, *, permissions: bool, vpc: str | None
    ) -> ShareObservation:
        return self._fresh.share(region, namespace, permissions=permissions, vpc=vpc)

    def get_operation(self, region: str, operation_id: str) -> ObservedOperation:
        return self._fresh.get_operation(region, operation_id)

    def service_attributes(self, region: str, service_id: str) -> dict[str, str]:
        return self._view.service_attributes(region, service_id)


class FreshReader:
    """Reads before acting (change handlers, the CLI, a sweep that saw a difference).

    What the step works on is read by id (observe.py asks get_* for every id status
    records); the view serves only to find the id of what a resource has not seen yet, and for
    the namespace a ServiceDiscovery checks the owner of (one batched read for all services,
    not two tag reads per create)."""

    def __init__(
        self,
        adapters: AwsAdapters,
        view: AccountView,
        answered: Mapping[str, ObservedService] | None = None,
    ) -> None:
        self._adapters = adapters
        self._view = view
        self._answered = answered or {}

    def answering(self, answered: Mapping[str, ObservedService]) -> FreshReader:
        """This reader, reading a service a write of the same step answered with (by id) from
        that answer: AWS's own record of what it made a moment ago."""
        return FreshReader(self._adapters, self._view, answered) if answered else self

    def find_namespace(
        self, region: str, name: str, *, with_tags: bool
    ) -> ObservedNamespace | None:
        return self._adapters.cloudmap(region).find_namespace(name, with_tags=with_tags)

    def get_namespace(
        self, region: str, namespace_id: str, *, with_tags: bool
    ) -> ObservedNamespace | None:
        found = self._adapters.cloudmap(region).get_namespace(namespace_id, with_tags=with_tags)
        if found is not None:
            self._view.learn_namespace(region, found, with_tags=with_tags)
        return found

    def namespace_of_service(
        self, region: str, name: str, *, with_tags: bool
    ) -> ObservedNamespace | None:
        """The namespace a ServiceDiscovery works in, and who owns it: from the view (listed
        again when the name is missing), not two reads per step of every service. It is what
        the step checks, not what it changes: a namespace deleted meanwhile makes CreateService
        fail with NamespaceNotFound, which is retried."""
        found = self._view.namespace(region, name, relist=True)
        if found is None or not with_tags:
            return found
        return replace(found, tags=self._view.namespace_tags(region, found))

    def hosted_zone_vpcs(self, region: str, hosted_zone_id: str) -> frozenset[str]:
        return self._adapters.route53(region).hosted_zone_vpcs(hosted_zone_id)

    def list_services(
        self, region: str, namespace_id: str, *, settled: bool = False
    ) -> list[ObservedService]:
        return self._adapters.cloudmap(region).list_services(namespace_id, settled=settled)

    def find_service(self, region: str, namespace_id: str, name: str) -> ObservedService | None:
        """A service the resource has no id for: the id the view lists under that name, read
        by id. A stale view that misses it lets a create through, which CreatorRequestId or
        ServiceAlreadyExists (whose id the executor records for the next read) stop from
        making a twin; a scan of every page per create would cost N/100 ListServices calls per
        resource."""
        listed = self._view.service(region, namespace_id, name, stale_ok=True)
        if listed is None:
            return None
        found = self._adapters.cloudmap(region).get_service(listed.id)
        if found is None or found.namespace_id != namespace_id or found.name != name:
            return None
        return found

    def get_service(
        self, region: str, service_id: str, *, namespace_id: str | None = None
    ) -> ObservedService | None:
        answered = self._answered.get(service_id)
        if answered is not None:
            return answered
        return self._adapters.cloudmap(region).get_service(service_id)

    def owned_service(
        self, region: str, namespace_id: str, owner: Mapping[str, str]
    ) -> ObservedService | None:
        cm = self._adapters.cloudmap(region)
        for candidate in self._view.owned_services(region, namespace_id, owner, stale_ok=True):
            found = cm.get_service(candidate.id)
            if (
                found is not None
                and found.namespace_id == namespace_id
                and _owned(found.tags, owner)
            ):
                return found
        return None

    def owned_namespace(self, region: str, owner: Mapping[str, str]) -> ObservedNamespace | None:
        """Only before creating a namespace: its ListNamespaces page and a tag read per
        namespace (a region holds at most 50) are affordable there."""
        return self._adapters.cloudmap(region).owned_namespace(owner)

    def _tagged(self, region: str, resource_type: str, owner: Mapping[str, str]) -> list[str]:
        """Ids of what tag:GetResources lists with exactly these tags (one page: one owner)."""
        try:
            tagged = self._adapters.tagging(region).resources((resource_type,), owner)
        except Terminal:
            return []  # no Tagging API (permission, endpoint): the caller scans instead
        return [arns.resource_id(arn) for arn in sorted(tagged)]

    def tagged_namespace(self, region: str, owner: Mapping[str, str]) -> ObservedNamespace | None:
        read = self._adapters.cloudmap(region).get_namespace
        ids = self._tagged(region, NAMESPACE_TYPE, owner)
        return next((n for n in map(read, ids) if n is not None and _owned(n.tags, owner)), None)

    def tagged_service(self, region: str, owner: Mapping[str, str]) -> ObservedService | None:
        read = self._adapters.cloudmap(region).get_service
        ids = self._tagged(region, SERVICE_TYPE, owner)
        return next((s for s in map(read, ids) if s is not None and _owned(s.tags, owner)), None)

    def want(self, region: str, cluster: str, service: str) -> None:
        self._view.want(region, cluster, service)

    def describe_ecs(self, region: str, cluster: str, service: str) -> ObservedEcsService | None:
        return self._adapters.ecs(region).describe(cluster, [service])[service]

    def service_deployment(
        self, region: str, cluster: str, service: str, deployment_id: str
    ) -> ObservedServiceDeployment | None:
        return self._adapters.ecs(region).service_deployment(cluster, service, deployment_id)

    def services_in_namespace(self, region: str, namespace_arn: str) -> tuple[str, ...]:
        return self._adapters.ecs(region).services_in_namespace(namespace_arn)

    def account(self, region: str) -> str:
        return self._adapters.account(region)

    def share(
        self, region: str, namespace: ObservedNamespace, *, permissions: bool, vpc: str | None
    ) -> ShareObservation:
        held: frozenset[str] | None = None
        if permissions:
            held = _unless_refused(
                lambda: self._adapters.ram(region).share_permissions(namespace.arn)
            )
        associated: bool | None = None
        zone = namespace.hosted_zone_id
        if vpc is not None and zone is not None:
            zones = _unless_refused(
                lambda: self._adapters.route53(region).zones_of_vpc(vpc, region)
            )
            associated = None if zones is None else zone_id(zone) in zones
        return ShareObservation(held, associated)

    def get_operation(self, region: str, operation_id: str) -> ObservedOperation:
        return self._adapters.cloudmap(region).get_operation(operation_id)

    def service_attributes(self, region: str, service_id: str) -> dict[str, str]:
        found = self._adapters.cloudmap(region).service_attributes(service_id)
        self._view.learn_attributes(region, service_id, found)
        return found


def _unless_refused(read: Callable[[], frozenset[str]]) -> frozenset[str] | None:
    """A read our role may not make (AccessDenied, an endpoint without the API) is unknown,
    not a failed step: the plan then advises instead of refusing."""
    try:
        return read()
    except Terminal:
        return None
