"""Observe: what AWS holds for one resource, read through a Reader only, as a typed
observation (model/observed.py) that the pure plan (plan.py) decides from.

What is read depends only on the spec, the ids status records and what was read before it,
never on a plan; the one read that does follow the plan (`ecs_clients`) is asked for by the
reconciler after planning, because ListServicesByNamespace is worth its 1 call/s budget only
when the plan changes a Service Connect endpoint.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from sd_operator.aws.errors import NotFound
from sd_operator.model.observed import (
    DiscoveryObservation,
    NamespaceObservation,
    Observed,
    ObservedEcsService,
    ObservedNamespace,
    ObservedService,
)
from sd_operator.model.spec import (
    KIND_NAMESPACE,
    ClusterIdentity,
    Identity,
    NamespaceSpec,
    NamespaceType,
    Resource,
    ServiceDiscoverySpec,
)
from sd_operator.reconcile.ownership import Ownership, owner_tags, ownership
from sd_operator.reconcile.reader import Reader

# The status keys that hold ids of what a resource made: each is read by id.
_ID_KEYS = ("namespaceId", "namespaceArn", "serviceId", "serviceArn")


def resource_region(res: Resource, namespace: NamespaceSpec | None) -> str | None:
    """A ServiceDiscovery lives in its namespace's region; spec.region serves external ones."""
    if isinstance(res.spec, ServiceDiscoverySpec) and namespace is not None:
        return namespace.region or res.spec.region
    return res.spec.region


def ecs_clients(read: Reader, region: str, namespace: ObservedNamespace) -> tuple[str, ...]:
    """ARNs of the ECS services whose Service Connect uses `namespace`: the ones to redeploy to
    see a changed endpoint (ecs_plan.with_clients). Read only for a plan that changes one."""
    return read.services_in_namespace(region, namespace.arn)


class Observer:
    """Reads what one resource's plan needs. `cluster`: whose ownership tags count as ours."""

    def __init__(self, cluster: ClusterIdentity, default_region: str) -> None:
        self._cluster = cluster
        self._default_region = default_region

    def observe(
        self,
        read: Reader,
        res: Resource,
        *,
        deleting: bool,
        namespace: NamespaceSpec | None,
        known: Mapping[str, object],
    ) -> Observed:
        """`known`: the ids a previous step recorded (status): what has an id is read by id,
        and only AWS's NotFound for that id counts as gone; a scan by name serves only what
        was never seen."""
        ids = {k: str(v) for k, v in known.items() if k in _ID_KEYS and v}
        if isinstance(res.spec, NamespaceSpec):
            return self._namespace(read, res.identity, res.spec, deleting, ids)
        return self._discovery(read, res.identity, res.spec, deleting, namespace, ids)

    def _is_ours(self, tags: Mapping[str, str], identity: Identity) -> bool:
        return ownership(tags, identity, self._cluster) is Ownership.OURS

    def _namespace(
        self,
        read: Reader,
        identity: Identity,
        spec: NamespaceSpec,
        deleting: bool,
        known: Mapping[str, str],
    ) -> NamespaceObservation:
        region = spec.region or self._default_region
        observed: ObservedNamespace | None = None
        renamed: ObservedNamespace | None = None
        gone = False
        if "namespaceId" in known:
            by_id = read.get_namespace(region, known["namespaceId"], with_tags=True)
            gone = by_id is None
            ours = by_id is not None and self._is_ours(by_id.tags, identity)
            if by_id is not None and (by_id.name == spec.name or (deleting and ours)):
                observed = by_id
            elif ours:
                renamed = by_id
        if deleting and "namespaceId" not in known:
            # No id to read (the CLI has no status): the ownership tags name it, as for a
            # service (_service_to_delete).
            observed = read.tagged_namespace(region, owner_tags(identity, self._cluster))
        if observed is None and renamed is None and not (deleting and gone):
            observed = read.find_namespace(region, spec.name, with_tags=True)
        # Only a namespace this resource manages is its namespaceId: one that exists under
        # another owner, or whose adoption is refused, is not (status would call it Ready).
        managed = observed is not None and self._is_ours(observed.tags, identity)
        ids: dict[str, str | None] = (
            {"namespaceId": observed.id, "namespaceArn": observed.arn}
            if observed is not None and managed
            else {"namespaceId": None, "namespaceArn": None}
            if not deleting
            else {}
        )
        services: list[ObservedService] = []
        if deleting:
            if observed is not None:
                services = read.list_services(region, observed.id, settled=True)
        elif observed is None and renamed is None:
            renamed = read.owned_namespace(region, owner_tags(identity, self._cluster))
        elif observed is not None:
            observed = _with_vpcs(read, region, observed)
        return NamespaceObservation(
            region=region, namespace=observed, renamed=renamed, services=tuple(services), ids=ids
        )

    def _discovery(
        self,
        read: Reader,
        identity: Identity,
        spec: ServiceDiscoverySpec,
        deleting: bool,
        namespace: NamespaceSpec | None,
        known: Mapping[str, str],
    ) -> DiscoveryObservation:
        recorded = "serviceId" in known
        if spec.cloud_map_namespace is not None:
            ns_name, region = spec.cloud_map_namespace.name, spec.region
        elif namespace is not None:
            ns_name, region = namespace.name, namespace.region or spec.region
        else:
            region = spec.region or self._default_region
            service = None
            if deleting and spec.service is not None and recorded:
                # The CloudMapNamespace may be deleted first; the service this resource made is
                # still its to delete, and the recorded id says where it is.
                service = read.get_service(region, known["serviceId"])
            return DiscoveryObservation(
                region=region,
                namespace_name=None,
                namespace=None,
                foreign_namespace=False,
                service=service,
                previous=None,
                service_recorded=recorded,
                ecs=None,
                ids={},
            )
        region = region or self._default_region
        manager = (
            Identity(KIND_NAMESPACE, identity.namespace, spec.namespace_ref)
            if spec.namespace_ref
            else None
        )
        ns: ObservedNamespace | None = None
        ns_gone = False
        if not deleting:
            # What the step checks, not what it changes: from the account view, one batched
            # read for every service of the namespace (docs/aws-budget.md).
            ns = read.namespace_of_service(region, ns_name, with_tags=manager is not None)
        elif "namespaceId" in known:
            by_id = read.get_namespace(region, known["namespaceId"], with_tags=manager is not None)
            ns_gone = by_id is None
            ns = by_id if by_id is not None and by_id.name == ns_name else None
        if ns is None and deleting and not ns_gone:
            ns = read.find_namespace(region, ns_name, with_tags=manager is not None)
        ids: dict[str, str | None] = {"namespaceId": ns.id} if ns else {}
        if (
            ns is not None
            and manager is not None
            and not deleting
            and ownership(ns.tags, manager, self._cluster) is not Ownership.OURS
        ):
            # A namespace of that name that our CloudMapNamespace does not (yet) own is someone
            # else's: the plan writes nothing into it, so nothing in it is read.
            return DiscoveryObservation(
                region=region,
                namespace_name=ns_name,
                namespace=ns,
                foreign_namespace=True,
                service=None,
                previous=None,
                service_recorded=recorded,
                ecs=None,
                ids=ids,
            )
        observed: ObservedService | None = None
        previous: ObservedService | None = None
        if spec.service is not None:
            observed, previous, gone = self._service(
                read, region, identity, spec.service.name, ns, deleting, known
            )
            if observed is not None and self._is_ours(observed.tags, identity):
                ids.update(serviceId=observed.id, serviceArn=observed.arn)
            elif not deleting:
                ids.update(serviceId=None, serviceArn=None)
            lost = observed is None and previous is None and not gone
            if not deleting and ns is not None and lost:
                # Nothing by id or name: one this resource made under another name (a rename).
                previous = read.owned_service(region, ns.id, owner_tags(identity, self._cluster))
        observed_ecs: ObservedEcsService | None = None
        if spec.ecs is not None:
            read.want(region, spec.ecs.cluster, spec.ecs.service)
            observed_ecs = read.describe_ecs(region, spec.ecs.cluster, spec.ecs.service)
            if observed_ecs is not None:
                ids["ecsServiceArn"] = observed_ecs.arn
        return DiscoveryObservation(
            region=region,
            namespace_name=ns_name,
            namespace=ns,
            foreign_namespace=False,
            service=observed,
            previous=previous,
            service_recorded=recorded,
            ecs=observed_ecs,
            ids=ids,
        )

    def _service(
        self,
        read: Reader,
        region: str,
        identity: Identity,
        name: str,
        ns: ObservedNamespace | None,
        deleting: bool,
        known: Mapping[str, str],
    ) -> tuple[ObservedService | None, ObservedService | None, bool]:
        """(the service `name` stands for, one this resource made under another name or in
        another namespace, whether the recorded id is proven gone)."""
        service_id = known.get("serviceId")
        if service_id:
            ns_id = ns.id if ns else None
            by_id = read.get_service(region, service_id, namespace_id=ns_id)
            if by_id is None:
                if deleting:
                    return None, None, True
            elif deleting or (by_id.name == name and by_id.namespace_id == ns_id):
                return by_id, None, False
            elif self._is_ours(by_id.tags, identity):
                return None, by_id, False
        if deleting:
            return self._service_to_delete(read, region, identity, name, ns), None, False
        if ns is None:
            return None, None, False
        return read.find_service(region, ns.id, name), None, False

    def _service_to_delete(
        self,
        read: Reader,
        region: str,
        identity: Identity,
        name: str,
        ns: ObservedNamespace | None,
    ) -> ObservedService | None:
        """A delete without a recorded id (the CLI has no status): the id from the ownership
        tags, else from a scan by name repeated until two scans agree, then read by id. The
        account view is not asked: a list read while other deletes shift its pages can miss
        a service that is still there (docs/aws-facts.md, "Reading: lists and ids")."""
        tagged = read.tagged_service(region, owner_tags(identity, self._cluster))
        if tagged is not None or ns is None:
            return tagged
        services = read.list_services(region, ns.id, settled=True)
        listed = next((s for s in services if s.name == name), None)
        return read.get_service(region, listed.id) if listed else None


def _with_vpcs(read: Reader, region: str, observed: ObservedNamespace) -> ObservedNamespace:
    """A DnsPrivate namespace's VPCs, which only its hosted zone knows (spec.vpc forces a
    replacement, so the plan must see it). One Route 53 GetHostedZone per private namespace per
    observation, from the account view or fresh: the namespace's own resource only, never a
    ServiceDiscovery's lookup. A zone that is gone leaves the VPCs unknown (None) rather than
    failing the step."""
    if observed.type is not NamespaceType.DNS_PRIVATE or not observed.hosted_zone_id:
        return observed
    try:
        vpcs = read.hosted_zone_vpcs(region, observed.hosted_zone_id)
    except NotFound:
        return observed
    return replace(observed, vpcs=vpcs)
