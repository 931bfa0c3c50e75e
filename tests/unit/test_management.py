"""spec.managementPolicy: Observe: the plan of an observe-only resource holds no action, ever;
what differs in AWS, or is missing, is its verdict (Stalled), and its deletion deletes nothing."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from sd_operator.model import reasons
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
    UpdateEcsService,
    UpdateNamespace,
    UpdateService,
    UpdateServiceAttributes,
)
from sd_operator.model.observed import (
    DiscoveryObservation,
    NamespaceObservation,
    ObservedNamespace,
    ObservedService,
)
from sd_operator.model.spec import (
    CloudMapServiceSpec,
    ClusterIdentity,
    DeletionPolicy,
    DnsConfig,
    DnsRecord,
    HealthCheck,
    Identity,
    ManagementPolicy,
    NamespaceSpec,
    NamespaceType,
    RecordType,
    Resource,
    RoutingPolicy,
    ServiceDiscoverySpec,
)
from sd_operator.model.status import StatusPatch
from sd_operator.reconcile import status as status_rules
from sd_operator.reconcile.management import observe_plan
from sd_operator.reconcile.ownership import CLUSTER_TAG, OWNER_TAG
from sd_operator.reconcile.plan import plan_resource, plan_teardown
from sd_operator.reconcile.result import Outcome, StepResult

CLUSTER = ClusterIdentity("prod-eu")
NS_ID = Identity("CloudMapNamespace", "team-a", "internal", uid="uid-1")
SD_ID = Identity("ServiceDiscovery", "team-a", "orders", uid="uid-2")
ARN = "arn:aws:servicediscovery:eu-west-1:123456789012:namespace/ns-1"
SRV_ARN = "arn:aws:servicediscovery:eu-west-1:123456789012:service/srv-1"
DNS = DnsConfig(RoutingPolicy.MULTIVALUE, (DnsRecord(RecordType.A, 10),))
OBSERVE = ManagementPolicy.OBSERVE

# One of every AWS change there is; test_every_action_kind_is_listed keeps it complete.
EVERY_ACTION: tuple[Action, ...] = (
    CreateNamespace("n", NamespaceType.HTTP, None, None, {}),
    UpdateNamespace("ns-1", "n", NamespaceType.HTTP, "d"),
    DeleteNamespace("ns-1", "n"),
    TagResource(ARN, {"team": "a"}),
    UntagResource(ARN, ("team",)),
    CreateService("ns-1", "n", "s", None, None, None, {}),
    UpdateService("srv-1", "s", None, (), None),
    DeleteService("srv-1", "s"),
    UpdateServiceAttributes("srv-1", "s", {"tier": "web"}),
    DeleteServiceAttributes("srv-1", "s", ("tier",)),
    UpdateEcsService("c", "s", set_registries=True),
)
CHANGE = Change("description", "wanted", "held")


def test_every_action_kind_is_listed() -> None:
    assert {type(a) for a in EVERY_ACTION} == set(Action.__subclasses__())


@given(
    actions=st.lists(st.sampled_from(EVERY_ACTION), max_size=6).map(tuple),
    changes=st.lists(st.sampled_from((CHANGE, Change("adoptionPolicy", "Adopt", None)))).map(tuple),
    blocked=st.none() | st.just(Blocked(reasons.REASON_ECS_SERVICE_NOT_FOUND, "later")),
    refusal=st.none() | st.just(Refusal(reasons.REASON_IMMUTABLE, "type", "no")),
)
def test_no_action_passes_the_observe_filter(
    actions: tuple[Action, ...],
    changes: tuple[Change, ...],
    blocked: Blocked | None,
    refusal: Refusal | None,
) -> None:
    plan = Plan(actions=actions, changes=changes, blocked=blocked, refusal=refusal)
    assert observe_plan(plan).actions == ()


def ns_spec(**overrides: Any) -> NamespaceSpec:
    base = NamespaceSpec(
        name="internal.example",
        type=NamespaceType.HTTP,
        description="team a",
        tags={"team": "a"},
        management_policy=OBSERVE,
    )
    return replace(base, **overrides)


def ns_seen(namespace: ObservedNamespace | None) -> NamespaceObservation:
    return NamespaceObservation("eu-west-1", namespace, None, (), StatusPatch())


# Made by hand or by Terraform: no tag of sd-operator's.
FOUND = ObservedNamespace(
    "ns-1", ARN, "internal.example", NamespaceType.HTTP, "team a", {"team": "a"}
)


def plan_ns(spec: NamespaceSpec, found: ObservedNamespace | None) -> Plan:
    res = Resource(NS_ID, spec)
    return plan_resource(res, ns_seen(found), CLUSTER, namespace=None, hold_reported=False).plan


def test_observed_namespace_equal_to_the_spec_is_in_sync_whoever_made_it() -> None:
    assert plan_ns(ns_spec(), FOUND) == Plan()


def test_the_same_namespace_under_manage_would_be_refused_as_not_ours() -> None:
    managed = plan_ns(ns_spec(management_policy=ManagementPolicy.MANAGE), FOUND)
    assert managed.blocked is not None
    assert managed.blocked.reason == reasons.REASON_ALREADY_EXISTS


def test_observed_difference_names_the_fields_and_changes_nothing() -> None:
    found = replace(FOUND, description="by hand", tags={"team": "b"})
    plan = plan_ns(ns_spec(), found)
    assert plan.actions == ()
    assert {c.field for c in plan.changes} == {"description", "tags.team"}
    assert plan.blocked is not None
    assert plan.blocked.reason == reasons.OBSERVED_DIFFERENT
    assert "spec.description: desired 'team a', observed 'by hand'" in plan.blocked.message


def test_observed_namespace_missing_in_aws_is_its_own_reason() -> None:
    plan = plan_ns(ns_spec(), None)
    assert plan.actions == ()
    assert plan.blocked is not None
    assert plan.blocked.reason == reasons.OBSERVED_MISSING


def test_observed_difference_is_stalled_and_drifted_not_in_flight() -> None:
    plan = plan_ns(ns_spec(description="other"), FOUND)
    assert plan.blocked is not None
    result = StepResult(
        Outcome.BLOCKED, plan, reason=plan.blocked.reason, message=plan.blocked.message
    )
    assert status_rules.phase(result) is status_rules.Phase.STALLED
    derived = {c.type: c for c in status_rules.derive(result, {}, 1).conditions}
    assert (derived["Stalled"].status, derived["Ready"].status) == (True, False)
    assert (derived["Drifted"].status, derived["Drifted"].reason) == (True, "ObservedDifferent")
    assert "spec.description: desired 'other'" in derived["Drifted"].message


def test_observed_service_ttl_difference_in_a_namespace_made_by_hand() -> None:
    spec = ServiceDiscoverySpec(
        namespace_ref="internal",
        service=CloudMapServiceSpec("orders", dns=DNS, health_check=HealthCheck(custom=True)),
        management_policy=OBSERVE,
    )
    held = DnsConfig(RoutingPolicy.MULTIVALUE, (DnsRecord(RecordType.A, 300),))
    found = ObservedService(
        "srv-1", SRV_ARN, "orders", "ns-1", dns=held, health_check=HealthCheck(custom=True)
    )
    namespace = replace(FOUND, type=NamespaceType.DNS_PRIVATE)
    seen = DiscoveryObservation(
        "eu-west-1", "internal.example", namespace, False, found, None, False, None, StatusPatch()
    )
    res = Resource(SD_ID, spec)
    plan = plan_resource(res, seen, CLUSTER, namespace=None, hold_reported=True).plan
    assert plan.actions == ()
    assert plan.changes == (Change("service.dns.records[0].ttl", 10, 300),)
    assert plan.blocked is not None
    assert plan.blocked.reason == reasons.OBSERVED_DIFFERENT


def test_deleting_an_observed_resource_deletes_nothing_even_what_it_owns() -> None:
    ours = replace(FOUND, tags={OWNER_TAG: NS_ID.key, CLUSTER_TAG: CLUSTER.name})
    spec = ns_spec(deletion_policy=DeletionPolicy.DELETE)
    assert plan_teardown(Resource(NS_ID, spec), ns_seen(ours), CLUSTER) == Plan()
    managed = replace(spec, management_policy=ManagementPolicy.MANAGE)
    assert plan_teardown(Resource(NS_ID, managed), ns_seen(ours), CLUSTER).actions
