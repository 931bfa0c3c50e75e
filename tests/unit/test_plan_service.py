"""The Cloud Map service plan: create, in-place update, refusals, namespace rules, deletion."""

from __future__ import annotations

import random
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sd_operator.model.actions import (
    Blocked,
    Change,
    CreateService,
    DeleteService,
    Plan,
    Refusal,
    TagResource,
    UntagResource,
    UpdateService,
)
from sd_operator.model.observed import ObservedService
from sd_operator.model.reasons import (
    REASON_ALREADY_EXISTS,
    REASON_IMMUTABLE,
    REASON_INVALID_FOR_NAMESPACE,
    REASON_OWNED_ELSEWHERE,
    REASON_SERVICE_IN_USE,
)
from sd_operator.model.spec import (
    AdoptionPolicy,
    CloudMapServiceSpec,
    ClusterIdentity,
    DeletionPolicy,
    DnsConfig,
    DnsRecord,
    HealthCheck,
    Identity,
    NamespaceType,
    RecordType,
    Route53CheckType,
    Route53HealthCheck,
    RoutingPolicy,
)
from sd_operator.reconcile.ownership import (
    CLUSTER_TAG,
    OWNER_TAG,
    adoption_record,
)
from sd_operator.reconcile.plan import (
    plan_service,
    plan_service_delete,
)

CLUSTER = ClusterIdentity("prod-eu")
ME = Identity("ServiceDiscovery", "team-a", "orders", uid="uid-1")
ARN = "arn:aws:servicediscovery:eu-west-1:123456789012:service/srv-1"
OURS = {OWNER_TAG: ME.key, CLUSTER_TAG: CLUSTER.name}
MAX_TTL = 60

A60 = DnsRecord(RecordType.A, 60)
AAAA60 = DnsRecord(RecordType.AAAA, 60)
DNS = DnsConfig(RoutingPolicy.MULTIVALUE, (A60,))
CUSTOM = HealthCheck(custom=True)


def svc(**overrides: Any) -> CloudMapServiceSpec:
    base = CloudMapServiceSpec(
        name="orders", description="orders api", tags={"team": "a"}, dns=DNS, health_check=CUSTOM
    )
    return replace(base, **overrides)


def seen(tags: dict[str, str] | None = None, **overrides: Any) -> ObservedService:
    base = ObservedService(
        id="srv-1",
        arn=ARN,
        name="orders",
        namespace_id="ns-1",
        description="orders api",
        dns=DNS,
        health_check=CUSTOM,
        tags={"team": "a", **OURS} if tags is None else tags,
    )
    return replace(base, **overrides)


def plan(
    spec: CloudMapServiceSpec,
    observed: ObservedService | None,
    *,
    namespace_type: NamespaceType = NamespaceType.DNS_PRIVATE,
    adoption: AdoptionPolicy = AdoptionPolicy.NEVER,
    max_ttl: int = MAX_TTL,
    namespace_id: str | None = "ns-1",
) -> Plan:
    return plan_service(
        spec,
        ME,
        CLUSTER,
        adoption,
        max_ttl,
        namespace_type,
        "internal.example",
        namespace_id,
        observed,
    )


def route53(
    type_: Route53CheckType = Route53CheckType.HTTP, path: str | None = None, threshold: int = 1
) -> HealthCheck:
    return HealthCheck(route53=Route53HealthCheck(type_, path, threshold))


def the_update(p: Plan) -> UpdateService:
    updates = [a for a in p.actions if isinstance(a, UpdateService)]
    assert len(updates) == 1, p.actions
    return updates[0]


def assert_refused(p: Plan, reason: str, field: str) -> Refusal:
    assert p.refusal is not None, p
    assert p.refusal.reason == reason
    assert p.refusal.field == field
    assert p.actions == ()
    assert not p.in_sync
    return p.refusal


# Creation --------------------------------------------------------------------------------------


def test_absent_service_is_created_with_dns_health_check_and_owner_tags() -> None:
    p = plan(svc(), None)

    assert p.actions == (
        CreateService(
            namespace_id="ns-1",
            namespace_name="internal.example",
            name="orders",
            description="orders api",
            dns=DNS,
            health_check=CUSTOM,
            tags={"team": "a", OWNER_TAG: ME.key, CLUSTER_TAG: CLUSTER.name},
        ),
    )
    assert p.changes == (Change("service.name", "orders", None),)
    assert not p.actions[0].asynchronous


def test_create_before_the_namespace_exists_leaves_the_namespace_id_open() -> None:
    create = plan(svc(), None, namespace_id=None).actions[0]

    assert isinstance(create, CreateService)
    assert create.namespace_id is None
    assert create.namespace_name == "internal.example"


def test_api_only_service_in_http_namespace_is_created_without_dns() -> None:
    p = plan(svc(dns=None), None, namespace_type=NamespaceType.HTTP)

    create = p.actions[0]
    assert isinstance(create, CreateService)
    assert create.dns is None
    assert p.refusal is None


# In sync ---------------------------------------------------------------------------------------


def test_owned_service_equal_to_spec_is_in_sync() -> None:
    p = plan(svc(), seen())

    assert p.in_sync
    assert p.changes == ()


def test_default_resource_path_of_http_check_is_not_a_diff() -> None:
    p = plan(
        svc(health_check=route53(Route53CheckType.HTTP, None)),
        seen(health_check=route53(Route53CheckType.HTTP, "/")),
        namespace_type=NamespaceType.DNS_PUBLIC,
    )

    assert p.in_sync


def test_default_resource_path_of_https_check_is_not_a_diff() -> None:
    p = plan(
        svc(health_check=route53(Route53CheckType.HTTPS, None)),
        seen(health_check=route53(Route53CheckType.HTTPS, "/")),
        namespace_type=NamespaceType.DNS_PUBLIC,
    )

    assert p.in_sync


def test_tcp_check_without_resource_path_is_in_sync() -> None:
    p = plan(
        svc(health_check=route53(Route53CheckType.TCP)),
        seen(health_check=route53(Route53CheckType.TCP)),
        namespace_type=NamespaceType.DNS_PUBLIC,
    )

    assert p.in_sync


def test_record_order_is_not_a_diff() -> None:
    wanted = DnsConfig(RoutingPolicy.MULTIVALUE, (A60, AAAA60))
    held = DnsConfig(RoutingPolicy.MULTIVALUE, (AAAA60, A60))

    assert plan(svc(dns=wanted), seen(dns=held)).in_sync


@pytest.mark.parametrize(("wanted", "held"), [(None, ""), ("", None)])
def test_empty_and_missing_description_are_the_same(wanted: str | None, held: str | None) -> None:
    assert plan(svc(description=wanted), seen(description=held)).in_sync


@pytest.mark.parametrize(
    ("wanted", "held"),
    [(None, None), (HealthCheck(), None), (None, HealthCheck())],
    ids=["both-absent", "empty-spec", "empty-observed"],
)
def test_no_health_check_and_an_empty_one_are_the_same(
    wanted: HealthCheck | None, held: HealthCheck | None
) -> None:
    assert plan(svc(health_check=wanted), seen(health_check=held)).in_sync


# In-place updates ------------------------------------------------------------------------------


def test_ttl_change_is_updated_in_place() -> None:
    p = plan(svc(dns=DnsConfig(RoutingPolicy.MULTIVALUE, (DnsRecord(RecordType.A, 30),))), seen())

    update = the_update(p)
    assert update.id == "srv-1"
    assert update.records == (DnsRecord(RecordType.A, 30),)
    assert update.asynchronous
    assert p.changes == (Change("service.dns.records[0].ttl", 30, 60),)
    assert p.refusal is None


def test_ttl_update_carries_the_full_record_list() -> None:
    wanted = DnsConfig(RoutingPolicy.MULTIVALUE, (A60, DnsRecord(RecordType.AAAA, 10)))
    held = DnsConfig(RoutingPolicy.MULTIVALUE, (A60, AAAA60))

    p = plan(svc(dns=wanted), seen(dns=held))

    assert the_update(p).records == (A60, DnsRecord(RecordType.AAAA, 10))
    assert p.changes == (Change("service.dns.records[1].ttl", 10, 60),)


def test_ttl_change_names_the_record_by_its_index_in_the_spec() -> None:
    wanted = DnsConfig(RoutingPolicy.MULTIVALUE, (DnsRecord(RecordType.AAAA, 5), A60))
    held = DnsConfig(RoutingPolicy.MULTIVALUE, (A60, AAAA60))

    p = plan(svc(dns=wanted), seen(dns=held))

    assert p.changes == (Change("service.dns.records[0].ttl", 5, 60),)


def test_description_change_is_updated_in_place() -> None:
    p = plan(svc(description="new"), seen())

    update = the_update(p)
    assert update.description == "new"
    assert update.records == DNS.records
    assert p.changes == (Change("service.description", "new", "orders api"),)


def test_update_of_a_custom_check_service_sends_no_route53_check() -> None:
    p = plan(svc(description="new"), seen())

    assert the_update(p).route53 is None


def test_failure_threshold_change_is_updated_in_place() -> None:
    p = plan(
        svc(health_check=route53(Route53CheckType.HTTP, "/health", 3)),
        seen(health_check=route53(Route53CheckType.HTTP, "/health", 1)),
        namespace_type=NamespaceType.DNS_PUBLIC,
    )

    assert the_update(p).route53 == Route53HealthCheck(Route53CheckType.HTTP, "/health", 3)
    assert p.changes == (Change("service.healthCheck.route53.failureThreshold", 3, 1),)


def test_resource_path_change_is_updated_in_place() -> None:
    p = plan(
        svc(health_check=route53(Route53CheckType.HTTP, "/ready")),
        seen(health_check=route53(Route53CheckType.HTTP, "/")),
        namespace_type=NamespaceType.DNS_PUBLIC,
    )

    assert the_update(p).route53 == Route53HealthCheck(Route53CheckType.HTTP, "/ready", 1)
    assert p.changes == (Change("service.healthCheck.route53.resourcePath", "/ready", "/"),)


def test_update_sends_the_default_resource_path_so_aws_keeps_it() -> None:
    p = plan(
        svc(description="new", health_check=route53(Route53CheckType.HTTP, None, 2)),
        seen(health_check=route53(Route53CheckType.HTTP, "/", 2)),
        namespace_type=NamespaceType.DNS_PUBLIC,
    )

    assert the_update(p).route53 == Route53HealthCheck(Route53CheckType.HTTP, "/", 2)


def test_adding_a_route53_check_is_updated_in_place() -> None:
    """AWS UpdateService may add HealthCheckConfig; only its Type is immutable (CRD agrees)."""
    check = route53(Route53CheckType.HTTP, "/health")

    p = plan(
        svc(health_check=check),
        seen(health_check=None),
        namespace_type=NamespaceType.DNS_PUBLIC,
    )

    assert p.refusal is None
    assert the_update(p).route53 == check.route53


def test_removing_a_route53_check_is_updated_in_place() -> None:
    """AWS UpdateService deletes a HealthCheckConfig the request omits."""
    p = plan(
        svc(health_check=None),
        seen(health_check=route53(Route53CheckType.HTTP, "/health")),
        namespace_type=NamespaceType.DNS_PUBLIC,
    )

    assert p.refusal is None
    assert the_update(p).route53 is None


def test_tag_changes_follow_the_update_in_one_plan() -> None:
    p = plan(svc(description="new", tags={"env": "prod"}), seen())

    assert [type(a) for a in p.actions] == [UpdateService, TagResource, UntagResource]
    assert Change("service.tags.env", "prod", None) in p.changes
    assert Change("service.tags.team", None, "a") in p.changes


def test_tag_only_change_does_not_update_the_service() -> None:
    p = plan(svc(tags={"team": "b"}), seen())

    assert p.actions == (TagResource(ARN, {"team": "b"}),)


def test_reserved_service_tags_are_never_removed() -> None:
    p = plan(svc(tags={}), seen(tags={**OURS, "aws:ecs:x": "1", "sd-operator.io/y": "2"}))

    assert p.in_sync


# Refusals: what AWS cannot change in place -----------------------------------------------------


def test_routing_policy_change_is_refused() -> None:
    p = plan(svc(dns=DnsConfig(RoutingPolicy.WEIGHTED, (A60,))), seen())

    refusal = assert_refused(p, REASON_IMMUTABLE, "service.dns.routingPolicy")
    assert "MULTIVALUE" in refusal.message
    assert "WEIGHTED" in refusal.message


@pytest.mark.parametrize(
    ("wanted", "held"),
    [
        ((A60,), (AAAA60,)),
        ((A60, AAAA60), (A60,)),
        ((A60,), (A60, AAAA60)),
        ((DnsRecord(RecordType.SRV, 60),), (A60,)),
    ],
    ids=["A-to-AAAA", "add-AAAA", "drop-AAAA", "A-to-SRV"],
)
def test_record_type_change_is_refused(
    wanted: tuple[DnsRecord, ...], held: tuple[DnsRecord, ...]
) -> None:
    p = plan(
        svc(dns=DnsConfig(RoutingPolicy.MULTIVALUE, wanted)),
        seen(dns=DnsConfig(RoutingPolicy.MULTIVALUE, held)),
    )

    assert_refused(p, REASON_IMMUTABLE, "service.dns.records")


def test_record_type_refusal_wins_over_a_ttl_change() -> None:
    wanted = DnsConfig(RoutingPolicy.MULTIVALUE, (DnsRecord(RecordType.AAAA, 5),))

    assert_refused(plan(svc(dns=wanted), seen()), REASON_IMMUTABLE, "service.dns.records")


@pytest.mark.parametrize(
    ("wanted", "held"), [(None, DNS), (DNS, None)], ids=["dns-removed", "dns-added"]
)
def test_adding_or_removing_dns_is_refused(
    wanted: DnsConfig | None, held: DnsConfig | None
) -> None:
    assert_refused(plan(svc(dns=wanted), seen(dns=held)), REASON_IMMUTABLE, "service.dns")


@pytest.mark.parametrize(
    ("wanted", "held"),
    [(CUSTOM, None), (None, CUSTOM), (HealthCheck(), CUSTOM)],
    ids=["custom-added", "custom-removed", "custom-emptied"],
)
def test_custom_health_check_added_or_removed_is_refused(
    wanted: HealthCheck | None, held: HealthCheck | None
) -> None:
    p = plan(svc(health_check=wanted), seen(health_check=held))

    refusal = assert_refused(p, REASON_IMMUTABLE, "service.healthCheck.custom")
    assert "orders" in refusal.message


def test_custom_check_replaced_by_route53_is_refused() -> None:
    p = plan(
        svc(health_check=route53()),
        seen(health_check=CUSTOM),
        namespace_type=NamespaceType.DNS_PUBLIC,
    )

    assert_refused(p, REASON_IMMUTABLE, "service.healthCheck.custom")


@pytest.mark.parametrize(
    ("wanted", "held"),
    [
        (Route53CheckType.HTTP, Route53CheckType.HTTPS),
        (Route53CheckType.TCP, Route53CheckType.HTTP),
        (Route53CheckType.HTTPS, Route53CheckType.TCP),
    ],
)
def test_route53_check_type_change_is_refused(
    wanted: Route53CheckType, held: Route53CheckType
) -> None:
    p = plan(
        svc(health_check=route53(wanted)),
        seen(health_check=route53(held, "/" if held is not Route53CheckType.TCP else None)),
        namespace_type=NamespaceType.DNS_PUBLIC,
    )

    assert_refused(p, REASON_IMMUTABLE, "service.healthCheck.route53.type")


def test_refusal_drops_pending_tag_and_description_changes() -> None:
    p = plan(
        svc(dns=DnsConfig(RoutingPolicy.WEIGHTED, (A60,)), description="x", tags={"n": "1"}),
        seen(),
    )

    assert p.actions == ()
    assert p.changes == ()


# Rules of the namespace ------------------------------------------------------------------------


@pytest.mark.parametrize("namespace_type", [NamespaceType.DNS_PRIVATE, NamespaceType.HTTP])
def test_route53_check_outside_a_public_namespace_is_refused(
    namespace_type: NamespaceType,
) -> None:
    p = plan(svc(dns=None, health_check=route53()), None, namespace_type=namespace_type)

    assert_refused(p, REASON_INVALID_FOR_NAMESPACE, "service.healthCheck.route53")


def test_route53_check_in_a_private_namespace_is_refused_on_existing_services_too() -> None:
    p = plan(
        svc(health_check=route53()),
        seen(health_check=route53(path="/")),
        namespace_type=NamespaceType.DNS_PRIVATE,
    )

    assert_refused(p, REASON_INVALID_FOR_NAMESPACE, "service.healthCheck.route53")


def test_route53_check_in_a_public_namespace_is_created() -> None:
    p = plan(svc(health_check=route53()), None, namespace_type=NamespaceType.DNS_PUBLIC)

    assert p.refusal is None
    assert isinstance(p.actions[0], CreateService)


def test_dns_in_an_http_namespace_is_refused() -> None:
    p = plan(svc(), None, namespace_type=NamespaceType.HTTP)

    assert_refused(p, REASON_INVALID_FOR_NAMESPACE, "service.dns")


def test_namespace_rules_are_checked_before_ownership() -> None:
    p = plan(svc(), seen(tags={}), namespace_type=NamespaceType.HTTP)

    assert_refused(p, REASON_INVALID_FOR_NAMESPACE, "service.dns")


# TTL advisories --------------------------------------------------------------------------------


def test_ttl_above_max_is_an_advisory_naming_the_record_not_a_refusal() -> None:
    wanted = DnsConfig(RoutingPolicy.MULTIVALUE, (A60, DnsRecord(RecordType.AAAA, 300)))

    p = plan(svc(dns=wanted), None)

    assert p.refusal is None
    assert isinstance(p.actions[0], CreateService)
    assert len(p.advisories) == 1
    assert "service.dns.records[1].ttl" in p.advisories[0]
    assert "300" in p.advisories[0]


def test_ttl_equal_to_max_is_not_an_advisory() -> None:
    assert plan(svc(), None, max_ttl=60).advisories == ()


def test_ttl_advisory_is_kept_while_in_sync() -> None:
    p = plan(svc(), seen(), max_ttl=10)

    assert p.in_sync
    assert len(p.advisories) == 1
    assert "service.dns.records[0].ttl" in p.advisories[0]


def test_ttl_advisory_is_kept_alongside_an_update() -> None:
    p = plan(svc(description="new"), seen(), max_ttl=10)

    assert the_update(p)
    assert len(p.advisories) == 1


# Ownership and adoption ------------------------------------------------------------------------


def test_unowned_service_is_not_touched_without_adoption() -> None:
    p = plan(svc(description="different"), seen(tags={"team": "a"}))

    assert isinstance(p.blocked, Blocked)
    assert p.blocked.reason == REASON_ALREADY_EXISTS
    assert p.actions == ()


def test_adopted_service_is_tagged_and_brought_to_the_spec() -> None:
    p = plan(svc(description="mine"), seen(tags={"team": "a"}), adoption=AdoptionPolicy.ADOPT)

    assert [type(a) for a in p.actions] == [TagResource, UpdateService]
    record = adoption_record({"team": "a"})
    assert p.actions[0] == TagResource(
        ARN, {OWNER_TAG: ME.key, CLUSTER_TAG: CLUSTER.name, **record}
    )
    assert Change("adoptionPolicy", "Adopt", "not managed by sd-operator") in p.changes


def test_adoption_still_refuses_what_aws_cannot_change() -> None:
    p = plan(
        svc(dns=DnsConfig(RoutingPolicy.WEIGHTED, (A60,))),
        seen(tags={}),
        adoption=AdoptionPolicy.ADOPT,
    )

    assert_refused(p, REASON_IMMUTABLE, "service.dns.routingPolicy")


@pytest.mark.parametrize("adoption", list(AdoptionPolicy))
@pytest.mark.parametrize(
    "owner",
    [
        {OWNER_TAG: "ServiceDiscovery/team-b/orders", CLUSTER_TAG: CLUSTER.name},
        {OWNER_TAG: ME.key, CLUSTER_TAG: "other-cluster"},
    ],
    ids=["other-identity", "other-cluster"],
)
def test_service_owned_elsewhere_is_blocked(
    owner: dict[str, str], adoption: AdoptionPolicy
) -> None:
    p = plan(svc(description="x"), seen(tags=owner), adoption=adoption)

    assert isinstance(p.blocked, Blocked)
    assert p.blocked.reason == REASON_OWNED_ELSEWHERE
    assert p.actions == ()


# Deletion --------------------------------------------------------------------------------------


def delete(
    observed: ObservedService | None, policy: DeletionPolicy = DeletionPolicy.DELETE
) -> Plan:
    return plan_service_delete(svc(), ME, CLUSTER, policy, observed)


def test_owned_service_without_instances_is_deleted() -> None:
    assert delete(seen()).actions == (DeleteService("srv-1", "orders"),)


def test_service_with_instances_is_kept_until_they_are_deregistered() -> None:
    p = delete(seen(instance_count=3))

    assert p.actions == ()
    assert p.blocked is not None
    assert p.blocked.reason == REASON_SERVICE_IN_USE
    assert "3 instance" in p.blocked.message


def test_retained_service_is_left_in_aws() -> None:
    assert delete(seen(), DeletionPolicy.RETAIN) == Plan()


def test_deleting_an_absent_service_does_nothing() -> None:
    assert delete(None) == Plan()


def test_service_not_ours_is_never_deleted() -> None:
    assert delete(seen(tags={"team": "a"})) == Plan()
    assert delete(seen(tags={OWNER_TAG: "x/y/z", CLUSTER_TAG: CLUSTER.name})) == Plan()


# Plan.then -------------------------------------------------------------------------------------


def test_refusal_in_the_first_plan_stops_the_second_plans_actions() -> None:
    first = Plan(refusal=Refusal(REASON_IMMUTABLE, "type", "no"))
    second = Plan(actions=(DeleteService("srv-1", "orders"),), advisories=("a",))

    combined = first.then(second)

    assert combined.actions == ()
    assert combined.refusal == first.refusal
    assert combined.advisories == ("a",)


def test_block_in_the_first_plan_stops_the_second_plans_actions() -> None:
    first = Plan(
        actions=(TagResource(ARN, {"a": "1"}),), blocked=Blocked(REASON_ALREADY_EXISTS, "no")
    )
    second = Plan(actions=(DeleteService("srv-1", "orders"),))

    combined = first.then(second)

    assert combined.actions == first.actions
    assert combined.blocked == first.blocked
    assert not combined.in_sync


def test_clean_first_plan_takes_the_second_plans_actions_and_verdict() -> None:
    first = Plan(actions=(TagResource(ARN, {"a": "1"}),), changes=(Change("tags.a", "1", None),))
    second = Plan(
        actions=(DeleteService("srv-1", "orders"),),
        refusal=Refusal(REASON_IMMUTABLE, "f", "m"),
        changes=(Change("f", 1, 2),),
    )

    combined = first.then(second)

    assert combined.actions == first.actions + second.actions
    assert combined.changes == first.changes + second.changes
    assert combined.refusal == second.refusal


def test_empty_plans_compose_to_an_in_sync_plan() -> None:
    assert Plan().then(Plan()).in_sync


# Properties ------------------------------------------------------------------------------------

ttls = st.integers(min_value=0, max_value=2_147_483_647)
record_sets = st.sampled_from(
    [
        (RecordType.A,),
        (RecordType.AAAA,),
        (RecordType.A, RecordType.AAAA),
        (RecordType.SRV,),
        (RecordType.CNAME,),
    ]
)


@st.composite
def dns_configs(draw: st.DrawFn) -> DnsConfig:
    types = draw(record_sets)
    routing = (
        RoutingPolicy.WEIGHTED
        if RecordType.CNAME in types
        else draw(st.sampled_from(list(RoutingPolicy)))
    )
    records = tuple(DnsRecord(t, draw(ttls)) for t in types)
    return DnsConfig(routing, records)


route53_checks = st.builds(
    Route53HealthCheck,
    type=st.sampled_from(list(Route53CheckType)),
    resource_path=st.one_of(st.none(), st.sampled_from(["/", "/health", "/ready"])),
    failure_threshold=st.integers(min_value=1, max_value=10),
).map(lambda c: replace(c, resource_path=None) if c.type is Route53CheckType.TCP else c)
health_checks = st.one_of(
    st.none(),
    st.just(HealthCheck()),
    st.just(CUSTOM),
    route53_checks.map(lambda c: HealthCheck(route53=c)),
)
descriptions = st.one_of(st.none(), st.just(""), st.text(max_size=20))
tag_maps = st.dictionaries(st.sampled_from(["team", "env", "app"]), st.text(max_size=5))


def as_aws_reports(check: HealthCheck | None) -> HealthCheck | None:
    """What DescribeService returns: AWS fills ResourcePath '/' for HTTP(S) checks."""
    if check is None or check.route53 is None:
        return check
    r53 = check.route53
    if r53.type is not Route53CheckType.TCP and r53.resource_path is None:
        return HealthCheck(route53=replace(r53, resource_path="/"))
    return check


def namespace_for(spec: CloudMapServiceSpec) -> NamespaceType:
    has_route53 = spec.health_check is not None and spec.health_check.route53 is not None
    if has_route53:
        return NamespaceType.DNS_PUBLIC
    return NamespaceType.HTTP if spec.dns is None else NamespaceType.DNS_PRIVATE


@given(
    dns=st.one_of(st.none(), dns_configs()),
    check=health_checks,
    description=descriptions,
    tags=tag_maps,
    shuffle=st.randoms(use_true_random=False),
)
def test_service_as_aws_reports_it_is_in_sync(
    dns: DnsConfig | None,
    check: HealthCheck | None,
    description: str | None,
    tags: dict[str, str],
    shuffle: random.Random,
) -> None:
    spec = CloudMapServiceSpec("orders", description, tags, dns, check)
    held_dns = dns
    if dns is not None:
        records = list(dns.records)
        shuffle.shuffle(records)
        held_dns = DnsConfig(dns.routing_policy, tuple(records))
    observed = seen(
        tags={**tags, **OURS},
        description=description,
        dns=held_dns,
        health_check=as_aws_reports(check),
    )

    p = plan(spec, observed, namespace_type=namespace_for(spec), max_ttl=2_147_483_647)

    assert p.in_sync, p
    assert p.changes == ()


@given(wanted=ttls, held=ttls)
def test_ttl_is_updated_iff_it_differs(wanted: int, held: int) -> None:
    p = plan(
        svc(dns=DnsConfig(RoutingPolicy.MULTIVALUE, (DnsRecord(RecordType.A, wanted),))),
        seen(dns=DnsConfig(RoutingPolicy.MULTIVALUE, (DnsRecord(RecordType.A, held),))),
        max_ttl=2_147_483_647,
    )

    assert p.refusal is None
    if wanted == held:
        assert p.in_sync
    else:
        assert the_update(p).records == (DnsRecord(RecordType.A, wanted),)
        assert p.changes == (Change("service.dns.records[0].ttl", wanted, held),)


@given(ttl=ttls, max_ttl=ttls)
def test_ttl_advisory_iff_above_max(ttl: int, max_ttl: int) -> None:
    p = plan(
        svc(dns=DnsConfig(RoutingPolicy.MULTIVALUE, (DnsRecord(RecordType.A, ttl),))),
        None,
        max_ttl=max_ttl,
    )

    assert p.refusal is None
    assert bool(p.advisories) == (ttl > max_ttl)


@given(wanted=dns_configs(), held=dns_configs(), description=descriptions)
def test_an_immutable_difference_is_always_refused_without_actions(
    wanted: DnsConfig, held: DnsConfig, description: str | None
) -> None:
    p = plan(svc(dns=wanted, description=description, tags={}), seen(dns=held))

    immutable = wanted.routing_policy is not held.routing_policy or sorted(
        r.type for r in wanted.records
    ) != sorted(r.type for r in held.records)
    if immutable:
        assert p.refusal is not None
        assert p.refusal.reason == REASON_IMMUTABLE
        assert p.actions == ()
    else:
        assert p.refusal is None
        assert all(isinstance(a, (UpdateService, UntagResource)) for a in p.actions)


def test_a_renamed_service_is_refused_instead_of_creating_a_second_one() -> None:
    p = plan_service(
        svc(name="orders-v2"),
        ME,
        CLUSTER,
        AdoptionPolicy.NEVER,
        MAX_TTL,
        NamespaceType.DNS_PRIVATE,
        "internal.example",
        "ns-1",
        None,
        owned_under_other_name=seen(),
    )

    assert p.actions == ()
    assert p.refusal is not None
    assert p.refusal.reason == REASON_IMMUTABLE
    assert p.refusal.field == "service.name"
    assert "orders (srv-1)" in p.refusal.message


def test_description_change_in_an_http_namespace_is_refused_not_sent() -> None:
    p = plan(
        svc(dns=None, description="v2"),
        seen(dns=None),
        namespace_type=NamespaceType.HTTP,
    )

    assert p.actions == ()
    assert p.refusal is not None
    assert p.refusal.reason == REASON_INVALID_FOR_NAMESPACE
    assert p.refusal.field == "service.description"


def test_http_route53_check_is_created_with_the_path_aws_fills_in() -> None:
    check = HealthCheck(route53=Route53HealthCheck(Route53CheckType.HTTP, None, 2))
    p = plan(svc(health_check=check), None, namespace_type=NamespaceType.DNS_PUBLIC)

    create = p.actions[0]
    assert isinstance(create, CreateService)
    assert create.health_check == HealthCheck(
        route53=Route53HealthCheck(Route53CheckType.HTTP, "/", 2)
    )
