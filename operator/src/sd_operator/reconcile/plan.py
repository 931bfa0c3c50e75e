"""The pure plan: compare what a spec declares with what AWS holds and decide what to do.

`plan_resource` (apply the spec) and `plan_teardown` (delete what the resource made) are the
whole plan for one resource, from what its step observed (reconcile/observe.py); the functions
before them plan one AWS resource each.

No boto3, no kopf, no I/O. Every Cloud Map rule of docs/aws-facts.md that depends on observed state
lives here, once: which changes are in place, which would need a replacement (refused, naming the
field), ownership and adoption, and the deletion order.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

from sd_operator.model.actions import (
    Action,
    Blocked,
    Change,
    CreateNamespace,
    CreateService,
    DeleteNamespace,
    DeleteService,
    DeleteServiceAttributes,
    Plan,
    Refusal,
    TagResource,
    UntagResource,
    UpdateNamespace,
    UpdateService,
    UpdateServiceAttributes,
)
from sd_operator.model.observed import (
    DiscoveryObservation,
    NamespaceObservation,
    Observed,
    ObservedNamespace,
    ObservedService,
    is_foreign,
)
from sd_operator.model.reasons import (
    REASON_ALREADY_EXISTS,
    REASON_IMMUTABLE,
    REASON_INVALID_FOR_NAMESPACE,
    REASON_NAMESPACE_NOT_EMPTY,
    REASON_NAMESPACE_NOT_FOUND,
    REASON_NAMESPACE_NOT_OWNED,
    REASON_OWNED_ELSEWHERE,
    REASON_SERVICE_IN_USE,
)
from sd_operator.model.spec import (
    AdoptionPolicy,
    CloudMapServiceSpec,
    ClusterIdentity,
    DeletionPolicy,
    HealthCheck,
    Identity,
    NamespaceSpec,
    NamespaceType,
    Resource,
    Route53CheckType,
    Route53HealthCheck,
    ServiceDiscoverySpec,
    observe_only,
    referenced_identity,
    refused_in,
)
from sd_operator.model.status import given
from sd_operator.reconcile.deployments import Rollout
from sd_operator.reconcile.drift_policy import Held, hold
from sd_operator.reconcile.ecs_plan import (
    EcsOwner,
    plan_ecs_owned,
    plan_ecs_release,
)
from sd_operator.reconcile.management import observe_plan
from sd_operator.reconcile.ownership import (
    ADOPTED_TAG,
    ATTRIBUTES_TAG,
    CLUSTER_TAG,
    Ownership,
    adoption_record,
    attributes_record,
    claim_plan,
    found_at_adoption,
    given_back_keys,
    gives_back,
    is_adopted,
    is_user_tag,
    owner_of,
    owner_tags,
    ownership,
    recorded_attribute,
)
from sd_operator.reconcile.shared import shared_namespace_plan

# Advisories start with the field they are about; this one is the VPC a zone does not list.
ADVISORY_VPC_UNKNOWN = "vpc: cannot tell"

IN_USE_RETRY_SECONDS = 15.0


def refuse(reason: str, field_path: str, message: str) -> Plan:
    return Plan(refusal=Refusal(reason, field_path, message))


def _tag_plan(
    arn: str,
    desired_user_tags: Mapping[str, str],
    observed: Mapping[str, str],
    extra: Mapping[str, str],
    field_path: str,
) -> Plan:
    """Declared tags are set; undeclared user tags are removed, but never one an adopted
    resource had when it was adopted (`extra` adopting it now: none of its tags);
    sd-operator and aws: tags stay."""
    want = {**desired_user_tags, **extra}
    to_set = {k: v for k, v in want.items() if observed.get(k) != v}
    record = {**observed, **extra}

    def found(key: str) -> bool:
        return ADOPTED_TAG in extra or found_at_adoption(key, record)

    to_remove = tuple(
        sorted(
            k for k in observed if is_user_tag(k) and k not in desired_user_tags and not found(k)
        )
    )
    actions: list[Action] = []
    changes = [
        Change(f"{field_path}.{k}", v, observed.get(k))
        for k, v in sorted(to_set.items())
        if is_user_tag(k)
    ]
    changes += [Change(f"{field_path}.{k}", None, observed[k]) for k in to_remove]
    if to_set:
        actions.append(TagResource(arn, to_set))
    if to_remove:
        actions.append(UntagResource(arn, to_remove))
    return Plan(actions=tuple(actions), changes=tuple(changes))


def _marked_first(plan: Plan, update: Plan, tags: Plan, *, adopting: bool) -> Plan:
    """The update, then the tags; while adopting (the tags write our marker) the tags first: the
    IAM policy lets an update through only on what carries our marker (docs/iam.md)."""
    return plan.then(tags).then(update) if adopting else plan.then(update).then(tags)


def _claim(
    kind: str,
    name: str,
    resource_id: str,
    arn: str,
    tags: Mapping[str, str],
    identity: Identity,
    cluster: ClusterIdentity,
    adoption: AdoptionPolicy,
) -> tuple[Plan | None, dict[str, str]]:
    """Decide whether an existing AWS resource may be managed; returns (stop, tags to add)."""
    match ownership(tags, identity, cluster):
        case Ownership.OURS:
            return claim_plan(f"{kind} {name} ({resource_id})", arn, tags, identity, cluster), {}
        case Ownership.OTHER:
            return Plan(
                blocked=Blocked(
                    REASON_OWNED_ELSEWHERE,
                    f"{kind} {name} ({resource_id}) is managed by {owner_of(tags, cluster)}; "
                    "nothing was changed",
                )
            ), {}
        case Ownership.UNOWNED if adoption is AdoptionPolicy.ADOPT:
            # Adoption takes ownership, nothing else: our tags are added, theirs recorded and
            # kept (ownership.adoption_record).
            return None, {**owner_tags(identity, cluster), **adoption_record(tags)}
        case _:
            return Plan(
                blocked=Blocked(
                    REASON_ALREADY_EXISTS,
                    f"{kind} {name} already exists ({resource_id}) and was not created by "
                    "sd-operator; nothing was changed. Set adoptionPolicy: Adopt to take it over",
                )
            ), {}


def _give_back(arn: str, tags: Mapping[str, str], field_path: str) -> Plan:
    """An adopted resource as it was found: our marker and the tags we added go, the rest
    stays (a found tag whose value the spec changed keeps the spec's value: AWS keeps no
    earlier value to restore)."""
    keys = given_back_keys(tags)
    changes = tuple(Change(f"{field_path}.{k}", None, tags[k]) for k in keys if is_user_tag(k))
    return Plan(actions=(UntagResource(arn, keys),), changes=changes)


# Namespaces ------------------------------------------------------------------------------------


def _renamed(kind: str, field_path: str, name: str, previous_name: str, previous_id: str) -> Plan:
    return refuse(
        REASON_IMMUTABLE,
        field_path,
        f"this resource already manages {kind} {previous_name} ({previous_id}), created under "
        f"that name; a {kind} cannot be renamed to {name}: restore the name, or delete the "
        "resource (its deletionPolicy applies) and create a new one",
    )


def _vpc_check(spec: NamespaceSpec, observed: ObservedNamespace, adopting: bool) -> Plan:
    """docs/aws-facts.md, Replacement: a namespace's vpc forces replacement. Cloud Map does not say
    which VPC a
    private namespace is in; `observed.vpcs` (its hosted zone's VPCs) does, when it was read.
    A zone listing no VPC at all (AWS always lists one; moto server and other AWS-compatible
    endpoints may not) cannot tell: an advisory, never a refusal (docs/aws-facts.md)."""
    if spec.type is not NamespaceType.DNS_PRIVATE or observed.vpcs is None:
        return Plan()
    if spec.vpc in observed.vpcs:
        return Plan()
    if not observed.vpcs:
        return Plan(
            advisories=(
                f"{ADVISORY_VPC_UNKNOWN} whether namespace {spec.name} ({observed.id}) is in "
                f"{spec.vpc}: its hosted zone lists no VPC (this endpoint does not report "
                "VPC associations)",
            )
        )
    vpcs = sorted(observed.vpcs)
    held = f"VPC{'s' if len(vpcs) > 1 else ''} {', '.join(vpcs)}"
    where = f"namespace {spec.name} ({observed.id}) is in {held}, not {spec.vpc}"
    if adopting:
        message = (
            f"{where}: a namespace of that name exists in another VPC and was not adopted; "
            "use another name, or the vpc it is in"
        )
    else:
        message = (
            f"{where}; the vpc of a namespace cannot change: restore spec.vpc, or use another "
            "name for a namespace in that VPC"
        )
    return refuse(REASON_IMMUTABLE, "vpc", message)


def plan_namespace(
    spec: NamespaceSpec,
    identity: Identity,
    cluster: ClusterIdentity,
    observed: ObservedNamespace | None,
    owned_under_other_name: ObservedNamespace | None = None,
) -> Plan:
    """`owned_under_other_name`: looked up only when nothing has spec.name, it catches a
    renamed spec (the CLI has no old spec to compare) before a second namespace is made."""
    if observed is None and owned_under_other_name is not None:
        prev = owned_under_other_name
        return _renamed("namespace", "name", spec.name, prev.name, prev.id)
    if observed is None:
        return Plan(
            actions=(
                CreateNamespace(
                    name=spec.name,
                    type=spec.type,
                    vpc=spec.vpc,
                    description=spec.description,
                    tags={**spec.tags, **owner_tags(identity, cluster)},
                ),
            ),
            changes=(Change("name", spec.name, None),),
        )
    stop, adopt_tags = _claim(
        "namespace",
        spec.name,
        observed.id,
        observed.arn,
        observed.tags,
        identity,
        cluster,
        spec.adoption_policy,
    )
    if stop is not None:
        return stop
    if observed.type is not spec.type:
        return refuse(
            REASON_IMMUTABLE,
            "type",
            f"namespace {spec.name} exists in AWS as {observed.type}, not {spec.type}; the type "
            "of a namespace cannot change: use another name",
        )
    plan = _vpc_check(spec, observed, adopting=bool(adopt_tags))
    if plan.refusal is not None:
        return plan
    if adopt_tags:
        plan = plan.then(
            Plan(changes=(Change("adoptionPolicy", "Adopt", "not managed by sd-operator"),))
        )
    update = Plan()
    if (spec.description or None) != (observed.description or None):
        update = Plan(
            actions=(UpdateNamespace(observed.id, spec.name, spec.type, spec.description),),
            changes=(Change("description", spec.description, observed.description),),
        )
    tags = _tag_plan(observed.arn, spec.tags, observed.tags, adopt_tags, "tags")
    return _marked_first(plan, update, tags, adopting=bool(adopt_tags))


def plan_namespace_delete(
    spec: NamespaceSpec,
    identity: Identity,
    cluster: ClusterIdentity,
    observed: ObservedNamespace | None,
    services: Sequence[ObservedService],
) -> Plan:
    """Delete only what we own, and only once no service is left (AWS: ResourceInUse); one
    we adopted is given back instead, unless deletionPolicy: Delete."""
    if observed is None or spec.deletion_policy is DeletionPolicy.RETAIN:
        return Plan()
    if ownership(observed.tags, identity, cluster) is not Ownership.OURS:
        return Plan()
    what = f"namespace {spec.name} ({observed.id})"
    claim = claim_plan(what, observed.arn, observed.tags, identity, cluster)
    if claim is not None:
        return claim
    if gives_back(spec.deletion_policy, observed.tags):
        return _give_back(observed.arn, observed.tags, "tags")
    if services:
        names = ", ".join(sorted(s.name for s in services))
        return Plan(
            blocked=Blocked(
                REASON_NAMESPACE_NOT_EMPTY,
                f"namespace {spec.name} is kept: it still holds services {names}. Delete them "
                "(or their ServiceDiscovery resources; ECS removes the ones Service Connect "
                "created), or set deletionPolicy: Retain",
                IN_USE_RETRY_SECONDS,
                tuple(
                    f"service {s.name} ({s.id}), {s.instance_count} instance(s)"
                    for s in sorted(services, key=lambda s: s.name)
                ),
            )
        )
    return Plan(actions=(DeleteNamespace(observed.id, spec.name),))


# Services --------------------------------------------------------------------------------------


def _effective_route53(check: Route53HealthCheck) -> Route53HealthCheck:
    """AWS fills ResourcePath '/' for HTTP(S) checks; compare with that default applied."""
    if check.type is Route53CheckType.TCP or check.resource_path is not None:
        return check
    return Route53HealthCheck(check.type, "/", check.failure_threshold)


def _effective_health_check(check: HealthCheck | None) -> HealthCheck | None:
    if check is None or check.route53 is None:
        return check
    return HealthCheck(custom=check.custom, route53=_effective_route53(check.route53))


def _check_against_namespace(spec: CloudMapServiceSpec, namespace_type: NamespaceType) -> Plan:
    refusal = refused_in(spec, namespace_type)
    if refusal is None:
        return Plan()
    field, why = refusal
    return refuse(REASON_INVALID_FOR_NAMESPACE, f"service.{field}", why)


def _ttl_advisories(spec: CloudMapServiceSpec, max_ttl: int) -> tuple[str, ...]:
    if spec.dns is None:
        return ()
    return tuple(
        f"service.dns.records[{i}].ttl is {r.ttl}s, above maxTtlSeconds {max_ttl}: clients may "
        "keep calling stopped tasks' addresses that long"
        for i, r in enumerate(spec.dns.records)
        if r.ttl > max_ttl
    )


def _replacement_refusal(spec: CloudMapServiceSpec, observed: ObservedService) -> Plan:
    """Fields AWS cannot change in place (docs/aws-facts.md, Replacement: 'Fields that force
    replacement')."""
    name = spec.name
    replace = "; delete and recreate the ServiceDiscovery (or use a new service name) to change it"
    want_dns, have_dns = spec.dns, observed.dns
    if (want_dns is None) != (have_dns is None):
        return refuse(
            REASON_IMMUTABLE,
            "service.dns",
            f"service {name} was created {'without' if have_dns is None else 'with'} DNS "
            f"records{replace}",
        )
    if want_dns is not None and have_dns is not None:
        if want_dns.routing_policy is not have_dns.routing_policy:
            return refuse(
                REASON_IMMUTABLE,
                "service.dns.routingPolicy",
                f"service {name} uses routing policy {have_dns.routing_policy}, which AWS "
                f"cannot change to {want_dns.routing_policy}{replace}",
            )
        want_types = [str(r.type) for r in want_dns.records]
        have_types = [str(r.type) for r in have_dns.records]
        if sorted(want_types) != sorted(have_types):
            return refuse(
                REASON_IMMUTABLE,
                "service.dns.records",
                f"service {name} has record types {'+'.join(have_types)}; AWS changes only "
                f"TTLs in place, not types ({'+'.join(want_types)} wanted){replace}",
            )
    want_hc = spec.health_check or HealthCheck()
    have_hc = observed.health_check or HealthCheck()
    if want_hc.custom != have_hc.custom:
        return refuse(
            REASON_IMMUTABLE,
            "service.healthCheck.custom",
            f"service {name}: a custom health check can never be added, changed or removed "
            f"after creation{replace}",
        )
    # UpdateService adds or removes a Route 53 check in place; only its Type is fixed.
    if (
        want_hc.route53 is not None
        and have_hc.route53 is not None
        and want_hc.route53.type is not have_hc.route53.type
    ):
        return refuse(
            REASON_IMMUTABLE,
            "service.healthCheck.route53.type",
            f"service {name}: the Route 53 health check type cannot change in place{replace}",
        )
    return Plan()


def _in_place_changes(spec: CloudMapServiceSpec, observed: ObservedService) -> list[Change]:
    changes: list[Change] = []
    if (spec.description or None) != (observed.description or None):
        changes.append(Change("service.description", spec.description, observed.description))
    if spec.dns is not None and observed.dns is not None:
        have = {r.type: r.ttl for r in observed.dns.records}
        changes += [
            Change(f"service.dns.records[{i}].ttl", r.ttl, have.get(r.type))
            for i, r in enumerate(spec.dns.records)
            if have.get(r.type) != r.ttl
        ]
    want_r53 = spec.health_check.route53 if spec.health_check else None
    have_r53 = observed.health_check.route53 if observed.health_check else None
    if (want_r53 is None) != (have_r53 is None):
        changes.append(
            Change(
                "service.healthCheck.route53",
                _effective_route53(want_r53) if want_r53 else None,
                have_r53,
            )
        )
    if want_r53 is not None and have_r53 is not None:
        want = _effective_route53(want_r53)
        if want.resource_path != have_r53.resource_path:
            changes.append(
                Change(
                    "service.healthCheck.route53.resourcePath",
                    want.resource_path,
                    have_r53.resource_path,
                )
            )
        if want.failure_threshold != have_r53.failure_threshold:
            changes.append(
                Change(
                    "service.healthCheck.route53.failureThreshold",
                    want.failure_threshold,
                    have_r53.failure_threshold,
                )
            )
    return changes


def plan_service(
    spec: CloudMapServiceSpec,
    identity: Identity,
    cluster: ClusterIdentity,
    adoption: AdoptionPolicy,
    max_ttl: int,
    namespace_type: NamespaceType,
    namespace_name: str,
    namespace_id: str | None,
    observed: ObservedService | None,
    owned_under_other_name: ObservedService | None = None,
) -> Plan:
    checked = _check_against_namespace(spec, namespace_type)
    if not checked.in_sync:
        return checked
    advisories = _ttl_advisories(spec, max_ttl)
    if observed is None and owned_under_other_name is not None:
        prev = owned_under_other_name
        return _renamed("service", "service.name", spec.name, prev.name, prev.id)
    if observed is None:
        create = CreateService(
            namespace_id=namespace_id,
            namespace_name=namespace_name,
            name=spec.name,
            description=spec.description,
            dns=spec.dns,
            # AWS fills ResourcePath '/' for HTTP(S) checks: send it, so the first
            # observation matches instead of asking for an update.
            health_check=_effective_health_check(spec.health_check),
            tags={**spec.tags, **owner_tags(identity, cluster)},
        )
        return Plan(
            actions=(create,),
            changes=(Change("service.name", spec.name, None),),
            advisories=advisories,
        )
    return _plan_existing_service(
        spec, identity, cluster, adoption, namespace_type, observed, advisories
    )


def _plan_existing_service(
    spec: CloudMapServiceSpec,
    identity: Identity,
    cluster: ClusterIdentity,
    adoption: AdoptionPolicy,
    namespace_type: NamespaceType,
    observed: ObservedService,
    advisories: tuple[str, ...],
) -> Plan:
    """`plan_service` for a service that exists: claim it, refuse what AWS cannot change in
    place, update what it can, and its tags."""
    stop, adopt_tags = _claim(
        "service", spec.name, observed.id, observed.arn, observed.tags, identity, cluster, adoption
    )
    if stop is not None:
        return stop
    refusal = _replacement_refusal(spec, observed)
    if not refusal.in_sync:
        return refusal
    plan = Plan(advisories=advisories)
    if adopt_tags:
        plan = plan.then(
            Plan(changes=(Change("adoptionPolicy", "Adopt", "not managed by sd-operator"),))
        )
    changes = _in_place_changes(spec, observed)
    if changes and namespace_type is NamespaceType.HTTP:
        return refuse(
            REASON_INVALID_FOR_NAMESPACE,
            changes[0].field,
            f"service {spec.name} is in an Http namespace, where AWS cannot update a service "
            "(UpdateService is refused): restore the field, or recreate the ServiceDiscovery",
        )
    update = Plan()
    if changes:
        route53 = spec.health_check.route53 if spec.health_check else None
        action = UpdateService(
            id=observed.id,
            name=spec.name,
            description=spec.description,
            records=spec.dns.records if spec.dns else (),
            route53=_effective_route53(route53) if route53 else None,
        )
        update = Plan(actions=(action,), changes=tuple(changes))
    tags = _tag_plan(observed.arn, spec.tags, observed.tags, adopt_tags, "service.tags")
    marked = _marked_first(plan, update, tags, adopting=bool(adopt_tags))
    return marked.then(_attributes_plan(spec, observed, cluster))


def _attributes_plan(
    spec: CloudMapServiceSpec, observed: ObservedService, cluster: ClusterIdentity
) -> Plan:
    """Declared attributes are set; an attribute the record names (ownership.attributes_record)
    that the spec no longer declares is deleted; any other is someone else's and stays. The
    record is written first and names the keys still to delete too: whatever a crash or a
    held (spec.driftFields) delete leaves behind is still recorded as ours."""
    have = observed.attributes
    if have is None:  # neither declared nor recorded: not read
        return Plan()
    to_set = {k: v for k, v in spec.attributes.items() if have.get(k) != v}
    to_delete = tuple(
        sorted(k for k in have if k not in spec.attributes and recorded_attribute(k, observed.tags))
    )
    actions: list[Action] = []
    record = attributes_record([*spec.attributes, *to_delete])
    if record and observed.tags.get(ATTRIBUTES_TAG) != record:
        # With the cluster tag again, unchanged: the scoped IAM policy lets a request write an
        # sd-operator.io/ key only alongside it (docs/iam.md, CloudMapTagWithOurMarker).
        record_tags = {CLUSTER_TAG: cluster.name, ATTRIBUTES_TAG: record}
        actions.append(TagResource(observed.arn, record_tags))
    elif not record and ATTRIBUTES_TAG in observed.tags:
        actions.append(UntagResource(observed.arn, (ATTRIBUTES_TAG,)))
    if to_delete:
        actions.append(DeleteServiceAttributes(observed.id, spec.name, to_delete))
    if to_set:
        actions.append(UpdateServiceAttributes(observed.id, spec.name, to_set))
    changes = [Change(f"service.attributes.{k}", v, have.get(k)) for k, v in sorted(to_set.items())]
    changes += [Change(f"service.attributes.{k}", None, have[k]) for k in to_delete]
    return Plan(actions=tuple(actions), changes=tuple(changes))


def plan_service_delete(
    spec: CloudMapServiceSpec,
    identity: Identity,
    cluster: ClusterIdentity,
    policy: DeletionPolicy | None,
    observed: ObservedService | None,
) -> Plan:
    """Delete the service once no instance is registered (AWS: ResourceInUse otherwise); one
    we adopted is given back instead, unless deletionPolicy: Delete."""
    if observed is None or policy is DeletionPolicy.RETAIN:
        return Plan()
    if ownership(observed.tags, identity, cluster) is not Ownership.OURS:
        return Plan()
    what = f"service {spec.name} ({observed.id})"
    claim = claim_plan(what, observed.arn, observed.tags, identity, cluster)
    if claim is not None:
        return claim
    if gives_back(policy, observed.tags):
        return _give_back(observed.arn, observed.tags, "service.tags")
    if observed.instance_count:
        return Plan(
            blocked=Blocked(
                REASON_SERVICE_IN_USE,
                f"service {spec.name} is kept while {observed.instance_count} instance(s) are "
                "registered: ECS deregisters its tasks once the registry is removed; instances "
                "other tools registered must be deregistered by them",
                IN_USE_RETRY_SECONDS,
                (f"{observed.instance_count} instance(s) registered in service {spec.name}",),
            )
        )
    return Plan(actions=(DeleteService(observed.id, spec.name),))


# One resource, from its observation ---------------------------------------------------------------


def plan_resource(
    res: Resource,
    observed: Observed,
    cluster: ClusterIdentity,
    *,
    namespace: NamespaceSpec | None,
    hold_reported: bool,
) -> Held:
    """The plan that applies `res`'s spec, from what its step observed, and the differences
    spec.driftFields holds back. `namespace`: the CloudMapNamespace a ServiceDiscovery
    references (None: none, or not in Kubernetes). `hold_reported`: AWS matched this
    generation before, so a difference in a spec.driftFields Report field is drift to record,
    not a spec change to carry out."""
    spec = res.spec
    if observe_only(spec):
        # Compared as adoption compares: who made what AWS holds does not matter.
        adopting = replace(spec, adoption_policy=AdoptionPolicy.ADOPT)
        if isinstance(observed, DiscoveryObservation) and observed.service is not None:
            ids = replace(observed.ids, service_arn=observed.service.arn)
            observed = replace(observed, ids=ids)
        held = _plan_spec(adopting, res.identity, observed, cluster, namespace, hold_reported=False)
        return Held(observe_plan(held.plan))
    return _plan_spec(spec, res.identity, observed, cluster, namespace, hold_reported)


def _plan_spec(
    spec: NamespaceSpec | ServiceDiscoverySpec,
    identity: Identity,
    observed: Observed,
    cluster: ClusterIdentity,
    namespace: NamespaceSpec | None,
    hold_reported: bool,
) -> Held:
    if isinstance(spec, NamespaceSpec) and isinstance(observed, NamespaceObservation):
        return Held(plan_namespace(spec, identity, cluster, observed.namespace, observed.renamed))
    if isinstance(spec, ServiceDiscoverySpec) and isinstance(observed, DiscoveryObservation):
        plan = _plan_discovery(spec, identity, cluster, observed, namespace)
        return hold(plan, spec.drift_ignore, spec.drift_report if hold_reported else ())
    raise TypeError(f"{type(observed).__name__} does not observe a {identity.kind}")


def plan_teardown(res: Resource, observed: Observed, cluster: ClusterIdentity) -> Plan:
    """The plan that deletes what `res` made (per its deletionPolicy), from what its delete
    step observed (Observer.observe_owned). An observe-only resource deletes nothing."""
    spec = res.spec
    if observe_only(spec):
        return Plan()
    if isinstance(spec, NamespaceSpec) and isinstance(observed, NamespaceObservation):
        return plan_namespace_delete(
            spec, res.identity, cluster, observed.namespace, observed.services
        )
    if isinstance(spec, ServiceDiscoverySpec) and isinstance(observed, DiscoveryObservation):
        return _teardown_discovery(spec, res.identity, cluster, observed)
    raise TypeError(f"{type(observed).__name__} does not observe a {res.identity.kind}")


def _no_namespace_ref(spec: ServiceDiscoverySpec, identity: Identity) -> Plan:
    return Plan(
        blocked=Blocked(
            REASON_NAMESPACE_NOT_FOUND,
            f"CloudMapNamespace {spec.namespace_ref} (spec.namespaceRef) does not exist in "
            f"Kubernetes namespace {identity.namespace}",
            15.0,
        )
    )


def _plan_discovery(
    spec: ServiceDiscoverySpec,
    identity: Identity,
    cluster: ClusterIdentity,
    seen: DiscoveryObservation,
    namespace: NamespaceSpec | None,
) -> Plan:
    ns_name, ns = seen.namespace_name, seen.namespace
    if ns_name is None:
        return _no_namespace_ref(spec, identity)
    if seen.foreign_namespace and ns is not None:
        # Writing services into a namespace our CloudMapNamespace does not own would be
        # touching what we do not own.
        return Plan(
            blocked=Blocked(
                REASON_NAMESPACE_NOT_OWNED,
                f"Cloud Map namespace {ns_name} ({ns.id}) is not managed by CloudMapNamespace "
                f"{identity.namespace}/{spec.namespace_ref} (see its conditions); services "
                "are created only in a namespace it owns",
                15.0,
            )
        )
    # A refusal of the shared namespace's stops what follows (Plan.then).
    plan = shared_namespace_plan(spec, seen).then(
        _discovery_service(spec, identity, cluster, seen, namespace)
    )
    if spec.ecs is None:
        return plan
    return plan.then(
        plan_ecs_owned(
            spec.ecs,
            _ecs_owner(spec, identity, cluster, seen),
            observed=seen.ecs,
            namespace_name=ns_name,
            namespace_arn=ns.arn if ns else None,
            cloud_map_service_arn=given(seen.ids.service_arn),
            region=seen.region,
            rollout=Rollout(seen.deployment, identity.generation, seen.refresh),
        )
    )


def _discovery_service(
    spec: ServiceDiscoverySpec,
    identity: Identity,
    cluster: ClusterIdentity,
    seen: DiscoveryObservation,
    namespace: NamespaceSpec | None,
) -> Plan:
    """The plan of a ServiceDiscovery's Cloud Map service (spec.service)."""
    ns_name, ns = seen.namespace_name, seen.namespace
    # A namespace this apply creates (the CLI) is not in AWS yet: the spec says its type.
    ns_type = ns.type if ns is not None else namespace.type if namespace is not None else None
    foreign = _foreign_service(seen)
    if foreign is not None:
        return foreign
    if spec.service is None or ns_name is None:
        return Plan()
    if ns_type is None:
        return Plan(
            blocked=Blocked(
                REASON_NAMESPACE_NOT_FOUND,
                f"Cloud Map namespace {ns_name} (spec.cloudMapNamespace.name) does not exist",
                30.0,
            )
        )
    return plan_service(
        spec.service,
        identity,
        cluster,
        spec.adoption_policy,
        spec.max_ttl_seconds,
        ns_type,
        ns_name,
        _create_in(spec, ns),
        seen.service,
        seen.previous,
    )


def _create_in(spec: ServiceDiscoverySpec, ns: ObservedNamespace | None) -> str | None:
    """CreateService's NamespaceId: the ARN of a namespace addressed by ARN (AWS takes only
    the ARN for one another account shares), else its id."""
    if ns is None:
        return None
    external = spec.cloud_map_namespace
    return ns.arn if external is not None and external.arn is not None else ns.id


def _foreign_service(seen: DiscoveryObservation) -> Plan | None:
    """A service of our name that AWS says another account created (a shared namespace holds
    every consumer's services): never changed, whatever its tags or adoptionPolicy say."""
    service = seen.service
    if service is None or not is_foreign(service.created_by_account, seen.account):
        return None
    return Plan(
        blocked=Blocked(
            REASON_OWNED_ELSEWHERE,
            f"service {service.name} ({service.id}) in namespace {seen.namespace_name} "
            f"belongs to account {service.created_by_account}, not {seen.account}; nothing was "
            "changed: use another service name",
        )
    )


def _teardown_discovery(
    spec: ServiceDiscoverySpec,
    identity: Identity,
    cluster: ClusterIdentity,
    seen: DiscoveryObservation,
) -> Plan:
    ns_name, ns = seen.namespace_name, seen.namespace
    # Another account's service is never deleted, even one tagged as ours (the tags are
    # whatever its creator wrote).
    ours = seen.service if _foreign_service(seen) is None else None
    service = (
        plan_service_delete(spec.service, identity, cluster, spec.deletion_policy, ours)
        if spec.service is not None
        else Plan()
    )
    if ns_name is None:
        # The CloudMapNamespace may be deleted first; the service this resource made is
        # still its to delete. With ECS, ECS goes first, and its namespace is unknown.
        deletable = spec.service is not None and seen.service_recorded and spec.ecs is None
        return service if deletable else _no_namespace_ref(spec, identity)
    if spec.ecs is None:
        return service
    owner = _ecs_owner(spec, identity, cluster, seen)
    service_arn = seen.service.arn if owner.cloud_map_service_ours and seen.service else None
    # ECS first: AWS keeps a Cloud Map service while ECS tasks are registered in it.
    release = plan_ecs_release(
        spec.ecs, owner, seen.ecs, service_arn, ns_name, ns.arn if ns else None, seen.deployment
    )
    return release.then(service)


def _ecs_owner(
    spec: ServiceDiscoverySpec,
    identity: Identity,
    cluster: ClusterIdentity,
    seen: DiscoveryObservation,
) -> EcsOwner:
    """What the ECS plan's ownership rule needs to know of this resource's own Cloud Map
    service and namespace (for ECS services configured before the marker existed)."""
    service = seen.service
    service_ours = (
        service is not None and ownership(service.tags, identity, cluster) is Ownership.OURS
    )
    manager = referenced_identity(identity, spec)
    namespace_ours = (
        manager is not None
        and seen.namespace is not None
        and not seen.foreign_namespace
        and ownership(seen.namespace.tags, manager, cluster) is Ownership.OURS
    )
    return EcsOwner(
        identity=identity,
        cluster=cluster,
        adoption=spec.adoption_policy,
        deletion=spec.deletion_policy,
        cloud_map_service_ours=service_ours,
        cloud_map_service_created=service_ours
        and service is not None
        and not is_adopted(service.tags),
        namespace_ours=namespace_ours,
    )
