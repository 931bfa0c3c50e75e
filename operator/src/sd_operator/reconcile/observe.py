"""Observe: what AWS holds for one resource, read through a Reader only, as a typed
observation (model/observed.py) that the pure plan (plan.py) decides from: what applying the
spec needs (`Observer.observe`), or what the deletion of the resource acts on (`observe_owned`).

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
    ShareObservation,
    is_foreign,
)
from sd_operator.model.spec import (
    ClusterIdentity,
    Identity,
    NamespaceSpec,
    NamespaceType,
    Resource,
    ServiceDiscoverySpec,
    observe_only,
    referenced_identity,
)
from sd_operator.model.status import DiscoveryStatus, StatusPatch
from sd_operator.reconcile.deployments import followed, unseen_end
from sd_operator.reconcile.ownership import Ownership, owner_tags, ownership, reads_attributes
from sd_operator.reconcile.reader import Reader


def ecs_clients(read: Reader, region: str, namespace: str) -> tuple[str, ...]:
    """ARNs of the ECS services whose Service Connect uses `namespace` (a name or ARN): the
    ones to redeploy to see a changed endpoint (ecs_plan.with_clients). Read only for a plan
    that changes one."""
    return read.services_in_namespace(region, namespace)


class Observer:
    """Reads what one resource's plan needs: `observe` what applying its spec needs,
    `observe_owned` what its deletion needs (only what it made, found by id or its ownership
    tags). `cluster`: whose ownership tags count as ours."""

    def __init__(self, cluster: ClusterIdentity, default_region: str) -> None:
        self._cluster = cluster
        self._default_region = default_region

    def observe(
        self,
        read: Reader,
        res: Resource,
        *,
        namespace: NamespaceSpec | None,
        known: DiscoveryStatus,
    ) -> Observed:
        """`known`: the ids a previous step recorded (status): what has an id is read by id,
        and only AWS's NotFound for that id counts as gone; a scan by name serves only what
        was never seen."""
        if isinstance(res.spec, NamespaceSpec):
            return self._namespace(read, res.identity, res.spec, known)
        return self._discovery(read, res.identity, res.spec, namespace, known)

    def observe_owned(
        self,
        read: Reader,
        res: Resource,
        *,
        namespace: NamespaceSpec | None,
        known: DiscoveryStatus,
    ) -> Observed:
        """What a deletion of `res` acts on; `known` as for `observe`."""
        if isinstance(res.spec, NamespaceSpec):
            return self._owned_namespace(read, res.identity, res.spec, known)
        return self._owned_discovery(read, res.identity, res.spec, namespace, known)

    def _is_ours(self, tags: Mapping[str, str], identity: Identity) -> bool:
        return ownership(tags, identity, self._cluster) is Ownership.OURS

    def _namespace(
        self, read: Reader, identity: Identity, spec: NamespaceSpec, known: DiscoveryStatus
    ) -> NamespaceObservation:
        region = spec.region or self._default_region
        observed: ObservedNamespace | None = None
        renamed: ObservedNamespace | None = None
        if known.namespace_id:
            by_id = read.get_namespace(region, known.namespace_id, with_tags=True)
            if by_id is not None and by_id.name == spec.name:
                observed = by_id
            elif by_id is not None and self._is_ours(by_id.tags, identity):
                renamed = by_id
        if observed is None and renamed is None:
            observed = read.find_namespace(region, spec.name, with_tags=True)
        # Only a namespace this resource manages is its namespaceId: one that exists under
        # another owner, or whose adoption is refused, is not (status would call it Ready).
        managed = observed is not None and self._is_ours(observed.tags, identity)
        ids = (
            StatusPatch(namespace_id=observed.id, namespace_arn=observed.arn)
            if observed is not None and managed
            else StatusPatch(namespace_id=None, namespace_arn=None)
        )
        if observed is None and renamed is None:
            renamed = read.owned_namespace(region, owner_tags(identity, self._cluster))
        elif observed is not None:
            observed = _with_vpcs(read, region, observed)
        return NamespaceObservation(
            region=region, namespace=observed, renamed=renamed, services=(), ids=ids
        )

    def _owned_namespace(
        self, read: Reader, identity: Identity, spec: NamespaceSpec, known: DiscoveryStatus
    ) -> NamespaceObservation:
        region = spec.region or self._default_region
        observed: ObservedNamespace | None = None
        gone = False
        if known.namespace_id:
            by_id = read.get_namespace(region, known.namespace_id, with_tags=True)
            gone = by_id is None
            if by_id is not None and (
                by_id.name == spec.name or self._is_ours(by_id.tags, identity)
            ):
                observed = by_id
        else:
            # No id to read (the CLI has no status): the ownership tags name it, as for a
            # service (_service_to_delete).
            observed = read.tagged_namespace(region, owner_tags(identity, self._cluster))
        if observed is None and not gone:
            observed = read.find_namespace(region, spec.name, with_tags=True)
        ours = observed is not None and self._is_ours(observed.tags, identity)
        ids = StatusPatch()
        services: list[ObservedService] = []
        if observed is not None and ours:
            ids = StatusPatch(namespace_id=observed.id, namespace_arn=observed.arn)
            # Only ours is deleted, and only once it holds no service: theirs is not listed.
            services = read.list_services(region, observed.id, settled=True)
        return NamespaceObservation(
            region=region, namespace=observed, renamed=None, services=tuple(services), ids=ids
        )

    def _location(
        self, spec: ServiceDiscoverySpec, namespace: NamespaceSpec | None
    ) -> tuple[str | None, str]:
        """(the Cloud Map namespace's name, None when its CloudMapNamespace is not in
        Kubernetes; the region the resource lives in)."""
        if spec.cloud_map_namespace is not None:
            return spec.cloud_map_namespace.name, spec.region or self._default_region
        if namespace is not None:
            return namespace.name, namespace.region or spec.region or self._default_region
        return None, spec.region or self._default_region

    def _discovery(
        self,
        read: Reader,
        identity: Identity,
        spec: ServiceDiscoverySpec,
        namespace: NamespaceSpec | None,
        known: DiscoveryStatus,
    ) -> DiscoveryObservation:
        ns_name, region = self._location(spec, namespace)
        ns: ObservedNamespace | None = None
        foreign = False
        ids = StatusPatch()
        service: ObservedService | None = None
        previous: ObservedService | None = None
        ecs: ObservedEcsService | None = None
        shared_arn = _shared_arn(spec)
        account: str | None = None
        share: ShareObservation | None = None
        if shared_arn is not None:
            ns, account, share = _shared_namespace(read, region, spec, shared_arn)
        elif ns_name is not None:
            ns, foreign = self._named_namespace(read, region, identity, spec, ns_name)
        ids = StatusPatch(namespace_id=ns.id) if ns else StatusPatch()
        if ns_name is not None and not foreign:
            if spec.service is not None:
                service, previous = self._service(
                    read, region, identity, spec.service.name, ns, known, shared_arn is not None
                )
                if service is not None and reads_attributes(spec.service.attributes, service.tags):
                    attributes = read.service_attributes(region, service.id)
                    service = replace(service, attributes=attributes)
                if service is not None and self._is_ours(service.tags, identity):
                    ids.update(StatusPatch(service_id=service.id, service_arn=service.arn))
                else:
                    ids.update(StatusPatch(service_id=None, service_arn=None))
            ecs = _ecs(read, region, spec, ids)
        refresh = known.refresh.requested_at if known.refresh else None
        history = None
        lost = unseen_end(known.ecs_deployment, ecs)
        if lost is not None and spec.ecs is not None:
            history = read.service_deployment(region, spec.ecs.cluster, spec.ecs.service, lost)
        deployment = followed(known.ecs_deployment, ecs, refresh, history)
        if deployment != known.ecs_deployment:
            ids.ecs_deployment = deployment
        return DiscoveryObservation(
            region=region,
            namespace_name=ns_name,
            namespace=ns,
            foreign_namespace=foreign,
            service=service,
            previous=previous,
            service_recorded=bool(known.service_id),
            ecs=ecs,
            ids=ids,
            account=account,
            share=share,
            deployment=deployment,
            refresh=refresh,
        )

    def _named_namespace(
        self,
        read: Reader,
        region: str,
        identity: Identity,
        spec: ServiceDiscoverySpec,
        name: str,
    ) -> tuple[ObservedNamespace | None, bool]:
        """(the namespace a ServiceDiscovery names by name, whether it is someone else's)."""
        manager = referenced_identity(identity, spec)
        # What the step checks, not what it changes: from the account view, one batched
        # read for every service of the namespace (docs/aws-budget.md).
        ns = read.namespace_of_service(region, name, with_tags=manager is not None)
        # A namespace of that name that our CloudMapNamespace does not (yet) own is
        # someone else's: the plan writes nothing into it, so nothing in it is read. An
        # observe-only resource writes nowhere: it reads what it compares.
        foreign = (
            not observe_only(spec)
            and ns is not None
            and manager is not None
            and ownership(ns.tags, manager, self._cluster) is not Ownership.OURS
        )
        return ns, foreign

    def _owned_discovery(
        self,
        read: Reader,
        identity: Identity,
        spec: ServiceDiscoverySpec,
        namespace: NamespaceSpec | None,
        known: DiscoveryStatus,
    ) -> DiscoveryObservation:
        ns_name, region = self._location(spec, namespace)
        ns: ObservedNamespace | None = None
        ids = StatusPatch()
        service: ObservedService | None = None
        ecs: ObservedEcsService | None = None
        if ns_name is None:
            if spec.service is not None and known.service_id:
                # The CloudMapNamespace may be deleted first; the service this resource made
                # is still its to delete, and the recorded id says where it is.
                service = read.get_service(region, known.service_id)
        else:
            ns = self._namespace_of_owned(read, region, spec, ns_name, known)
            ids = StatusPatch(namespace_id=ns.id) if ns else StatusPatch()
            if spec.service is not None:
                service = self._service_to_delete(
                    read, region, identity, spec.service.name, ns, known, _shared_arn(spec)
                )
                if service is not None and self._is_ours(service.tags, identity):
                    ids.update(StatusPatch(service_id=service.id, service_arn=service.arn))
            ecs = _ecs(read, region, spec, ids)
        return DiscoveryObservation(
            region=region,
            namespace_name=ns_name,
            namespace=ns,
            foreign_namespace=False,
            service=service,
            previous=None,
            service_recorded=bool(known.service_id),
            ecs=ecs,
            ids=ids,
            account=read.account(region) if _shared_arn(spec) else None,
            deployment=known.ecs_deployment,
        )

    @staticmethod
    def _namespace_of_owned(
        read: Reader, region: str, spec: ServiceDiscoverySpec, name: str, known: DiscoveryStatus
    ) -> ObservedNamespace | None:
        """The namespace a deleted ServiceDiscovery's service is in: by the recorded id (one
        proven gone is not looked for by name), else by name, fresh; by its ARN when it is
        addressed by one."""
        with_tags = spec.namespace_ref is not None
        shared_arn = _shared_arn(spec)
        if shared_arn is not None:
            return read.get_namespace(region, shared_arn, with_tags=False)
        if not known.namespace_id:
            return read.find_namespace(region, name, with_tags=with_tags)
        by_id = read.get_namespace(region, known.namespace_id, with_tags=with_tags)
        if by_id is None:
            return None
        return (
            by_id if by_id.name == name else read.find_namespace(region, name, with_tags=with_tags)
        )

    def _service(
        self,
        read: Reader,
        region: str,
        identity: Identity,
        name: str,
        ns: ObservedNamespace | None,
        known: DiscoveryStatus,
        shared: bool,
    ) -> tuple[ObservedService | None, ObservedService | None]:
        """(the service `name` stands for, one this resource made under another name or in
        another namespace). `shared`: `ns` is addressed by ARN, and the account view (our
        account's ListServices) does not hold the services we made in it."""
        service_id = known.service_id
        ns_id = ns.id if ns else None
        if service_id:
            by_id = read.get_service(region, service_id, namespace_id=ns_id)
            if by_id is not None and by_id.name == name and by_id.namespace_id == ns_id:
                return by_id, None
            if by_id is not None and self._is_ours(by_id.tags, identity):
                return None, by_id
        if ns is not None and shared:
            return _listed(read, region, ns.arn, name), None
        found = read.find_service(region, ns.id, name) if ns is not None else None
        if found is None and ns is not None:
            # Nothing by id or name: one this resource made under another name (a rename).
            return None, read.owned_service(region, ns.id, owner_tags(identity, self._cluster))
        return found, None

    def _service_to_delete(
        self,
        read: Reader,
        region: str,
        identity: Identity,
        name: str,
        ns: ObservedNamespace | None,
        known: DiscoveryStatus,
        shared_arn: str | None,
    ) -> ObservedService | None:
        """By the recorded id (None: proven gone). Without one (the CLI has no status): the
        id from the ownership tags, else from a scan by name (of `shared_arn`, a namespace
        addressed by ARN, whose services only a list by that ARN names) repeated until two
        scans agree, then read by id. The account view is not asked: a list read while other deletes
        shift its pages can miss a service that is still there (docs/aws-facts.md,
        "Reading: lists and ids")."""
        service_id = known.service_id
        if service_id:
            return read.get_service(region, service_id, namespace_id=ns.id if ns else None)
        tagged = read.tagged_service(region, owner_tags(identity, self._cluster))
        if tagged is not None or ns is None:
            return tagged
        return _listed(read, region, shared_arn or ns.id, name)


def _ecs(
    read: Reader, region: str, spec: ServiceDiscoverySpec, ids: StatusPatch
) -> ObservedEcsService | None:
    """The ECS service spec.ecs names (its ARN and the Cloud Map services Service Connect made
    into `ids`), if it exists."""
    if spec.ecs is None:
        return None
    read.want(region, spec.ecs.cluster, spec.ecs.service)
    observed = read.describe_ecs(region, spec.ecs.cluster, spec.ecs.service)
    if observed is not None:
        ids.ecs_service_arn = observed.arn
        ids.service_connect_resources = observed.service_connect_resources or None
    return observed


def _listed(read: Reader, region: str, namespace: str, name: str) -> ObservedService | None:
    """The service `name` of `namespace` (an id or ARN) from a settled list, read by id."""
    services = read.list_services(region, namespace, settled=True)
    listed = next((s for s in services if s.name == name), None)
    return read.get_service(region, listed.id) if listed else None


def _shared_arn(spec: ServiceDiscoverySpec) -> str | None:
    external = spec.cloud_map_namespace
    return external.arn if external is not None else None


def _shared_namespace(
    read: Reader, region: str, spec: ServiceDiscoverySpec, arn: str
) -> tuple[ObservedNamespace | None, str, ShareObservation | None]:
    """(the namespace a ServiceDiscovery names by ARN, the account we act in, what we can read
    of its share when another account owns it)."""
    ns = read.get_namespace(region, arn, with_tags=False)
    account = read.account(region)
    foreign = ns is not None and is_foreign(ns.owner_account, account)
    return ns, account, _share(read, region, spec, ns) if ns is not None and foreign else None


def _share(
    read: Reader, region: str, spec: ServiceDiscoverySpec, ns: ObservedNamespace
) -> ShareObservation:
    """What the plan checks of a namespace another account shares (reconcile/shared.py): the
    share's permissions only when Service Connect will use it, our VPC's association only for
    a private namespace."""
    sc = spec.ecs.service_connect if spec.ecs is not None else None
    private = ns.type is NamespaceType.DNS_PRIVATE
    vpc = spec.cloud_map_namespace.vpc if spec.cloud_map_namespace is not None else None
    return read.share(
        region,
        ns,
        permissions=sc is not None and sc.enabled,
        vpc=vpc if private else None,
    )


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
