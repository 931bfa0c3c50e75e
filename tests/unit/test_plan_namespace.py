"""The namespace plan: create, in-place update, refusal, ownership and adoption, tags, deletion."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sd_operator.model import conditions as cond
from sd_operator.model.actions import (
    Blocked,
    Change,
    CreateNamespace,
    DeleteNamespace,
    Plan,
    Refusal,
    TagResource,
    UntagResource,
    UpdateNamespace,
)
from sd_operator.model.observed import ObservedNamespace, ObservedService
from sd_operator.model.reasons import (
    REASON_ALREADY_EXISTS,
    REASON_IMMUTABLE,
    REASON_NAMESPACE_NOT_EMPTY,
    REASON_OWNED_ELSEWHERE,
)
from sd_operator.model.spec import (
    AdoptionPolicy,
    ClusterIdentity,
    DeletionPolicy,
    Identity,
    NamespaceSpec,
    NamespaceType,
)
from sd_operator.reconcile import status as status_rules
from sd_operator.reconcile.ownership import (
    CLUSTER_TAG,
    OWNER_TAG,
    adoption_record,
    creator_request_id,
)
from sd_operator.reconcile.plan import (
    plan_namespace,
    plan_namespace_delete,
)
from sd_operator.reconcile.result import Outcome, StepResult

CLUSTER = ClusterIdentity("prod-eu")
ME = Identity("CloudMapNamespace", "team-a", "internal", uid="uid-1")
ARN = "arn:aws:servicediscovery:eu-west-1:123456789012:namespace/ns-1"
OURS = {OWNER_TAG: ME.key, CLUSTER_TAG: CLUSTER.name}


def spec(**overrides: Any) -> NamespaceSpec:
    base = NamespaceSpec(
        name="internal.example",
        type=NamespaceType.DNS_PRIVATE,
        vpc="vpc-1",
        description="team a",
        tags={"team": "a"},
    )
    return replace(base, **overrides)


def observed(tags: dict[str, str] | None = None, **overrides: Any) -> ObservedNamespace:
    base = ObservedNamespace(
        id="ns-1",
        arn=ARN,
        name="internal.example",
        type=NamespaceType.DNS_PRIVATE,
        description="team a",
        tags={"team": "a", **OURS} if tags is None else tags,
    )
    return replace(base, **overrides)


def service(name: str) -> ObservedService:
    return ObservedService(id=f"srv-{name}", arn=f"arn:{name}", name=name, namespace_id="ns-1")


# Creation --------------------------------------------------------------------------------------


def test_absent_namespace_is_created_once_with_owner_tags() -> None:
    plan = plan_namespace(spec(), ME, CLUSTER, None)

    assert len(plan.actions) == 1
    create = plan.actions[0]
    assert isinstance(create, CreateNamespace)
    assert create.name == "internal.example"
    assert create.type is NamespaceType.DNS_PRIVATE
    assert create.vpc == "vpc-1"
    assert create.description == "team a"
    assert create.tags == {"team": "a", OWNER_TAG: ME.key, CLUSTER_TAG: CLUSTER.name}
    assert create.asynchronous
    assert plan.refusal is None
    assert plan.blocked is None
    assert not plan.in_sync


def test_creator_request_id_differs_per_attempt_cluster_and_resource() -> None:
    ids = {
        creator_request_id(ME, CLUSTER, "attempt-1"),
        creator_request_id(ME, CLUSTER, "attempt-2"),
        creator_request_id(ME, ClusterIdentity("other-cluster"), "attempt-1"),
        creator_request_id(replace(ME, name="other"), CLUSTER, "attempt-1"),
        creator_request_id(replace(ME, uid="uid-2"), CLUSTER, "attempt-1"),
    }

    assert len(ids) == 5
    assert all(len(i) <= 64 for i in ids)  # AWS's limit for CreatorRequestId


@given(uid=st.text(max_size=40), cluster=st.text(max_size=40))
def test_creator_request_id_is_stable_and_fits_aws_limit(uid: str, cluster: str) -> None:
    identity = replace(ME, uid=uid)

    first = creator_request_id(identity, ClusterIdentity(cluster), "namespace")

    assert first == creator_request_id(identity, ClusterIdentity(cluster), "namespace")
    assert len(first) <= 64


def test_creation_plan_records_the_name_as_the_change() -> None:
    plan = plan_namespace(spec(), ME, CLUSTER, None)

    assert plan.changes == (Change("name", "internal.example", None),)


# In sync and in-place updates ------------------------------------------------------------------


def test_owned_namespace_equal_to_spec_is_in_sync() -> None:
    plan = plan_namespace(spec(), ME, CLUSTER, observed())

    assert plan.in_sync
    assert plan.actions == ()
    assert plan.changes == ()


@pytest.mark.parametrize(("wanted", "held"), [(None, ""), ("", None), (None, None)])
def test_empty_and_missing_description_are_the_same(wanted: str | None, held: str | None) -> None:
    plan = plan_namespace(spec(description=wanted), ME, CLUSTER, observed(description=held))

    assert plan.in_sync


def test_description_change_is_updated_in_place() -> None:
    plan = plan_namespace(spec(description="new text"), ME, CLUSTER, observed())

    assert plan.actions == (
        UpdateNamespace("ns-1", "internal.example", NamespaceType.DNS_PRIVATE, "new text"),
    )
    assert plan.changes == (Change("description", "new text", "team a"),)
    assert plan.refusal is None


def test_removed_description_is_updated_in_place() -> None:
    plan = plan_namespace(spec(description=None), ME, CLUSTER, observed())

    assert len(plan.actions) == 1
    assert isinstance(plan.actions[0], UpdateNamespace)
    assert plan.changes == (Change("description", None, "team a"),)


@pytest.mark.parametrize(
    ("wanted", "held"),
    [
        (NamespaceType.DNS_PRIVATE, NamespaceType.HTTP),
        (NamespaceType.DNS_PUBLIC, NamespaceType.DNS_PRIVATE),
        (NamespaceType.HTTP, NamespaceType.DNS_PUBLIC),
    ],
)
def test_type_change_is_refused_as_immutable(wanted: NamespaceType, held: NamespaceType) -> None:
    plan = plan_namespace(spec(type=wanted, description="x"), ME, CLUSTER, observed(type=held))

    assert plan.refusal is not None
    assert plan.refusal.reason == REASON_IMMUTABLE
    assert plan.refusal.field == "type"
    assert plan.actions == ()
    assert not plan.in_sync


def test_type_refusal_wins_over_pending_in_place_changes() -> None:
    plan = plan_namespace(
        spec(type=NamespaceType.HTTP, description="other", tags={"new": "tag"}),
        ME,
        CLUSTER,
        observed(),
    )

    assert isinstance(plan.refusal, Refusal)
    assert plan.actions == ()


# VPC (DnsPrivate): read from the namespace's hosted zone, immutable ----------------------------


def test_private_namespace_in_the_declared_vpc_is_in_sync() -> None:
    plan = plan_namespace(spec(), ME, CLUSTER, observed(vpcs=frozenset({"vpc-1"})))

    assert plan.in_sync


def test_private_namespace_also_associated_with_other_vpcs_is_in_sync() -> None:
    """A private hosted zone can be associated with more VPCs; the declared one is enough."""
    plan = plan_namespace(spec(), ME, CLUSTER, observed(vpcs=frozenset({"vpc-0", "vpc-1"})))

    assert plan.in_sync


def test_unread_vpcs_are_not_compared() -> None:
    plan = plan_namespace(spec(vpc="vpc-9"), ME, CLUSTER, observed(vpcs=None))

    assert plan.in_sync


def test_changed_vpc_is_refused_as_immutable_naming_namespace_and_vpcs() -> None:
    plan = plan_namespace(
        spec(vpc="vpc-2", description="new text", tags={"new": "tag"}),
        ME,
        CLUSTER,
        observed(vpcs=frozenset({"vpc-1"})),
    )

    assert plan.refusal is not None
    assert plan.refusal.reason == REASON_IMMUTABLE
    assert plan.refusal.field == "vpc"
    message = plan.refusal.message
    assert "internal.example (ns-1)" in message
    assert "VPC vpc-1, not vpc-2" in message
    assert "cannot change" in message
    assert plan.actions == ()
    assert not plan.in_sync


def test_vpc_refusal_names_every_vpc_of_the_zone() -> None:
    plan = plan_namespace(
        spec(vpc="vpc-9"), ME, CLUSTER, observed(vpcs=frozenset({"vpc-b", "vpc-a"}))
    )

    assert plan.refusal is not None
    assert "VPCs vpc-a, vpc-b, not vpc-9" in plan.refusal.message


def test_zone_without_any_vpc_cannot_tell_and_is_not_refused() -> None:
    """moto server (and other AWS-compatible endpoints) list no VPC for a private zone: our
    own namespace must stay in sync there, with the doubt said, not refused."""
    plan = plan_namespace(spec(), ME, CLUSTER, observed(vpcs=frozenset()))

    assert plan.refusal is None
    assert plan.in_sync
    (advisory,) = plan.advisories
    assert advisory.startswith("vpc: cannot tell whether namespace internal.example (ns-1)")
    assert "is in vpc-1: its hosted zone lists no VPC" in advisory


def test_adopting_a_namespace_whose_zone_lists_no_vpc_tags_it_with_the_doubt_said() -> None:
    plan = plan_namespace(
        spec(adoption_policy=AdoptionPolicy.ADOPT),
        ME,
        CLUSTER,
        observed(tags={"team": "a"}, vpcs=frozenset()),
    )

    assert plan.refusal is None
    assert plan.actions == (TagResource(ARN, adopted_tags({"team": "a"})),)
    assert len(plan.advisories) == 1
    assert "cannot tell" in plan.advisories[0]


@pytest.mark.parametrize("held", [NamespaceType.HTTP, NamespaceType.DNS_PUBLIC])
def test_vpc_is_compared_only_for_private_namespaces(held: NamespaceType) -> None:
    plan = plan_namespace(
        spec(type=held, vpc=None), ME, CLUSTER, observed(type=held, vpcs=frozenset({"vpc-1"}))
    )

    assert plan.in_sync


def test_type_refusal_comes_before_the_vpc_refusal() -> None:
    plan = plan_namespace(
        spec(vpc="vpc-2"),
        ME,
        CLUSTER,
        observed(type=NamespaceType.HTTP, vpcs=frozenset({"vpc-1"})),
    )

    assert plan.refusal is not None
    assert plan.refusal.field == "type"


def test_adopting_a_namespace_in_another_vpc_is_refused_before_any_tag() -> None:
    plan = plan_namespace(
        spec(adoption_policy=AdoptionPolicy.ADOPT),
        ME,
        CLUSTER,
        observed(tags={"legacy": "1"}, description="theirs", vpcs=frozenset({"vpc-other"})),
    )

    assert plan.refusal is not None
    assert plan.refusal.reason == REASON_IMMUTABLE
    assert plan.refusal.field == "vpc"
    message = plan.refusal.message
    assert "internal.example (ns-1) is in VPC vpc-other, not vpc-1" in message
    assert "exists in another VPC" in message
    assert "use another name" in message
    assert plan.actions == ()
    assert not any(isinstance(a, TagResource) for a in plan.actions)


def test_adopting_a_namespace_in_the_declared_vpc_tags_it() -> None:
    plan = plan_namespace(
        spec(adoption_policy=AdoptionPolicy.ADOPT),
        ME,
        CLUSTER,
        observed(tags={"team": "a"}, vpcs=frozenset({"vpc-1"})),
    )

    assert plan.actions == (TagResource(ARN, adopted_tags({"team": "a"})),)
    assert plan.refusal is None


def test_unowned_namespace_in_another_vpc_without_adoption_is_only_blocked() -> None:
    plan = plan_namespace(
        spec(adoption_policy=AdoptionPolicy.NEVER),
        ME,
        CLUSTER,
        observed(tags={}, vpcs=frozenset({"vpc-other"})),
    )

    assert plan.blocked is not None
    assert plan.blocked.reason == REASON_ALREADY_EXISTS
    assert plan.actions == ()


# Ownership and adoption ------------------------------------------------------------------------


def test_unowned_namespace_is_not_touched_without_adoption() -> None:
    plan = plan_namespace(
        spec(adoption_policy=AdoptionPolicy.NEVER), ME, CLUSTER, observed(tags={"team": "b"})
    )

    assert plan.blocked is not None
    assert plan.blocked.reason == REASON_ALREADY_EXISTS
    assert "adoptionPolicy: Adopt" in plan.blocked.message
    assert plan.actions == ()
    assert plan.refusal is None


def test_unowned_namespace_is_not_touched_without_adoption_even_when_it_differs() -> None:
    plan = plan_namespace(
        spec(description="other", type=NamespaceType.HTTP),
        ME,
        CLUSTER,
        observed(tags={}),
    )

    assert isinstance(plan.blocked, Blocked)
    assert plan.blocked.reason == REASON_ALREADY_EXISTS
    assert plan.actions == ()


def adopted_tags(found: dict[str, str]) -> dict[str, str]:
    """What adopting a namespace that has `found` tags writes: the owner tags and the record."""
    return {OWNER_TAG: ME.key, CLUSTER_TAG: CLUSTER.name, **adoption_record(found)}


def test_adopted_namespace_is_tagged_with_owner_tags() -> None:
    plan = plan_namespace(
        spec(adoption_policy=AdoptionPolicy.ADOPT), ME, CLUSTER, observed(tags={"team": "a"})
    )

    assert plan.actions == (TagResource(ARN, adopted_tags({"team": "a"})),)
    assert Change("adoptionPolicy", "Adopt", "not managed by sd-operator") in plan.changes
    assert plan.blocked is None
    assert plan.refusal is None


def test_adoption_brings_description_and_tags_to_the_spec_and_removes_no_tag_it_found() -> None:
    """Issue #21, 2: adoption adds our tags and removes none it did not write."""
    plan = plan_namespace(
        spec(adoption_policy=AdoptionPolicy.ADOPT, description="mine", tags={"team": "a"}),
        ME,
        CLUSTER,
        observed(tags={"legacy": "1"}, description="theirs"),
    )

    tag, update = plan.actions
    assert isinstance(update, UpdateNamespace)
    assert tag == TagResource(ARN, {"team": "a", **adopted_tags({"legacy": "1"})})
    assert not any(isinstance(a, UntagResource) for a in plan.actions)


def test_adoption_of_a_namespace_of_another_type_is_refused() -> None:
    plan = plan_namespace(
        spec(adoption_policy=AdoptionPolicy.ADOPT),
        ME,
        CLUSTER,
        observed(tags={}, type=NamespaceType.HTTP),
    )

    assert plan.refusal is not None
    assert plan.refusal.field == "type"
    assert plan.actions == ()


@pytest.mark.parametrize("adoption", list(AdoptionPolicy))
@pytest.mark.parametrize(
    "owner",
    [
        {OWNER_TAG: "CloudMapNamespace/team-b/internal", CLUSTER_TAG: CLUSTER.name},
        {OWNER_TAG: ME.key, CLUSTER_TAG: "other-cluster"},
        {OWNER_TAG: ME.key},
    ],
    ids=["other-identity", "other-cluster", "no-cluster-tag"],
)
def test_namespace_owned_elsewhere_is_blocked_whatever_the_adoption_policy(
    owner: dict[str, str], adoption: AdoptionPolicy
) -> None:
    plan = plan_namespace(
        spec(adoption_policy=adoption, description="changed"),
        ME,
        CLUSTER,
        observed(tags={"team": "a", **owner}),
    )

    assert plan.blocked is not None
    assert plan.blocked.reason == REASON_OWNED_ELSEWHERE
    assert owner[OWNER_TAG] in plan.blocked.message
    assert plan.actions == ()


# Tags ------------------------------------------------------------------------------------------


def test_added_user_tag_is_set() -> None:
    plan = plan_namespace(spec(tags={"team": "a", "env": "prod"}), ME, CLUSTER, observed())

    assert plan.actions == (TagResource(ARN, {"env": "prod"}),)
    assert plan.changes == (Change("tags.env", "prod", None),)


def test_changed_user_tag_is_set_to_the_declared_value() -> None:
    plan = plan_namespace(spec(tags={"team": "b"}), ME, CLUSTER, observed())

    assert plan.actions == (TagResource(ARN, {"team": "b"}),)
    assert plan.changes == (Change("tags.team", "b", "a"),)


def test_undeclared_user_tag_is_removed() -> None:
    plan = plan_namespace(spec(tags={}), ME, CLUSTER, observed())

    assert plan.actions == (UntagResource(ARN, ("team",)),)
    assert plan.changes == (Change("tags.team", None, "a"),)


def test_reserved_tags_are_never_removed() -> None:
    held = {
        **OURS,
        "sd-operator.io/extra": "x",
        "aws:cloudformation:stack-name": "s",
        "team": "a",
    }

    plan = plan_namespace(spec(tags={"team": "a"}), ME, CLUSTER, observed(tags=held))

    assert plan.in_sync


def test_only_user_tags_are_removed_and_in_sorted_order() -> None:
    held = {**OURS, "aws:x": "1", "zeta": "z", "alpha": "a", "team": "a"}

    plan = plan_namespace(spec(tags={"team": "a"}), ME, CLUSTER, observed(tags=held))

    assert plan.actions == (UntagResource(ARN, ("alpha", "zeta")),)


def test_tag_and_untag_go_in_one_plan_after_the_update() -> None:
    plan = plan_namespace(spec(description="new", tags={"env": "prod"}), ME, CLUSTER, observed())

    assert [type(a) for a in plan.actions] == [UpdateNamespace, TagResource, UntagResource]


user_keys = st.text(alphabet="abcdefghij-", min_size=1, max_size=6)
user_tags = st.dictionaries(user_keys, st.text(alphabet="xyz", max_size=3), max_size=5)


@given(wanted=user_tags, held=user_tags)
def test_tag_plan_makes_aws_user_tags_equal_to_the_spec(
    wanted: dict[str, str], held: dict[str, str]
) -> None:
    plan = plan_namespace(spec(tags=wanted), ME, CLUSTER, observed(tags={**held, **OURS}))

    result = dict(held)
    for action in plan.actions:
        if isinstance(action, TagResource):
            result.update(action.tags)
        elif isinstance(action, UntagResource):
            for key in action.keys:
                result.pop(key)
        else:
            pytest.fail(f"unexpected {action}")
    assert result == wanted
    assert plan.in_sync == (wanted == held)
    assert all(c.field.startswith("tags.") for c in plan.changes)


# Deletion --------------------------------------------------------------------------------------


def test_owned_empty_namespace_is_deleted() -> None:
    plan = plan_namespace_delete(spec(), ME, CLUSTER, observed(), [])

    assert plan.actions == (DeleteNamespace("ns-1", "internal.example"),)
    assert plan.actions[0].asynchronous


def test_retained_namespace_is_left_in_aws() -> None:
    plan = plan_namespace_delete(
        spec(deletion_policy=DeletionPolicy.RETAIN), ME, CLUSTER, observed(), []
    )

    assert plan == Plan()


def test_deleting_an_absent_namespace_does_nothing() -> None:
    assert plan_namespace_delete(spec(), ME, CLUSTER, None, []) == Plan()


@pytest.mark.parametrize(
    "tags",
    [
        {},
        {OWNER_TAG: "CloudMapNamespace/x/y", CLUSTER_TAG: CLUSTER.name},
        {**OURS, CLUSTER_TAG: "b"},
    ],
    ids=["unowned", "other-identity", "other-cluster"],
)
def test_namespace_not_ours_is_never_deleted(tags: dict[str, str]) -> None:
    plan = plan_namespace_delete(spec(), ME, CLUSTER, observed(tags=tags), [])

    assert plan == Plan()


def test_namespace_with_services_left_is_kept_and_names_them() -> None:
    plan = plan_namespace_delete(spec(), ME, CLUSTER, observed(), [service("web"), service("api")])

    assert plan.actions == ()
    assert plan.blocked is not None
    assert plan.blocked.reason == REASON_NAMESPACE_NOT_EMPTY
    assert "api, web" in plan.blocked.message
    assert plan.blocked.retry_after > 0


def test_a_renamed_namespace_is_refused_instead_of_creating_a_second_one() -> None:
    p = plan_namespace(
        spec(name="internal-v2.example"), ME, CLUSTER, None, owned_under_other_name=observed()
    )

    assert p.actions == ()
    assert p.refusal is not None
    assert p.refusal.field == "name"
    assert "internal.example (ns-1)" in p.refusal.message


def test_a_vpc_that_cannot_be_told_raises_the_advisory_condition() -> None:
    plan = plan_namespace(spec(), ME, CLUSTER, observed(vpcs=frozenset()))

    derived = status_rules.derive(StepResult(Outcome.IN_SYNC, plan), {}, 1)

    advisory = next(c for c in derived.conditions if c.type == cond.ADVISORY)
    ready = next(c for c in derived.conditions if c.type == cond.READY)
    assert (advisory.status, advisory.reason) == (True, "VpcUnknown")
    assert "cannot tell whether namespace internal.example" in advisory.message
    assert ready.status
