"""Cloud Map service attributes (spec.service.attributes): set as declared, corrected, and only
the keys the resource declared (recorded in a tag on the service) are ever deleted; the account
view reads them in turns."""

from __future__ import annotations

from test_plan_service import ARN, CLUSTER, OURS, plan, seen, svc

from fakes import FakeAdapters
from sd_operator.model.actions import (
    Change,
    DeleteServiceAttributes,
    Plan,
    TagResource,
    UntagResource,
    UpdateServiceAttributes,
)
from sd_operator.reconcile.drift_policy import hold
from sd_operator.reconcile.ownership import (
    ATTRIBUTES_TAG,
    CLUSTER_TAG,
    attributes_record,
    reads_attributes,
    recorded_attribute,
)
from sd_operator.reconcile.reader import ATTRIBUTE_SWEEPS, AccountView, FreshReader

TAGS = {"team": "a", **OURS}


def test_declared_attributes_are_recorded_then_set() -> None:
    p = plan(svc(attributes={"stage": "prod", "owner": "a"}), seen(attributes={}))
    record = attributes_record(["stage", "owner"])
    assert p.actions == (
        TagResource(ARN, {CLUSTER_TAG: CLUSTER.name, ATTRIBUTES_TAG: record}),
        UpdateServiceAttributes("srv-1", "orders", {"owner": "a", "stage": "prod"}),
    )
    assert p.changes == (
        Change("service.attributes.owner", "a", None),
        Change("service.attributes.stage", "prod", None),
    )


def test_attributes_equal_to_the_spec_and_recorded_are_in_sync() -> None:
    tags = {**TAGS, ATTRIBUTES_TAG: attributes_record(["stage"])}
    p = plan(svc(attributes={"stage": "prod"}), seen(tags, attributes={"stage": "prod"}))
    assert p.in_sync, p


def test_a_changed_value_is_corrected_alone() -> None:
    tags = {**TAGS, ATTRIBUTES_TAG: attributes_record(["stage", "owner"])}
    observed = seen(tags, attributes={"stage": "dev", "owner": "a"})
    p = plan(svc(attributes={"stage": "prod", "owner": "a"}), observed)
    assert p.actions == (UpdateServiceAttributes("srv-1", "orders", {"stage": "prod"}),)
    assert p.changes == (Change("service.attributes.stage", "prod", "dev"),)


def test_attributes_nobody_declared_here_are_left_alone() -> None:
    tags = {**TAGS, ATTRIBUTES_TAG: attributes_record(["stage"])}
    observed = seen(tags, attributes={"stage": "prod", "apigw-route": "/orders"})
    assert plan(svc(attributes={"stage": "prod"}), observed).in_sync


def test_a_key_removed_from_the_spec_is_deleted_and_the_record_follows() -> None:
    tags = {**TAGS, ATTRIBUTES_TAG: attributes_record(["stage", "owner"])}
    observed = seen(tags, attributes={"stage": "prod", "owner": "a", "foreign": "x"})
    p = plan(svc(attributes={"stage": "prod"}), observed)
    assert p.actions == (DeleteServiceAttributes("srv-1", "orders", ("owner",)),)
    assert p.changes == (Change("service.attributes.owner", None, "a"),)
    # Deleted: the record drops the key on the next round.
    after = seen(tags, attributes={"stage": "prod", "foreign": "x"})
    assert plan(svc(attributes={"stage": "prod"}), after).actions == (
        TagResource(ARN, {CLUSTER_TAG: CLUSTER.name, ATTRIBUTES_TAG: attributes_record(["stage"])}),
    )


def test_removing_every_attribute_deletes_them_then_the_record() -> None:
    tags = {**TAGS, ATTRIBUTES_TAG: attributes_record(["stage"])}
    p = plan(svc(), seen(tags, attributes={"stage": "prod"}))
    assert p.actions == (DeleteServiceAttributes("srv-1", "orders", ("stage",)),)
    after = plan(svc(), seen(tags, attributes={}))
    assert after.actions == (UntagResource(ARN, (ATTRIBUTES_TAG,)),)


def test_a_new_key_is_recorded_before_it_is_set() -> None:
    """The record is written first: a crash after it leaves a key recorded and unset (set
    next round), never set and unrecorded (someone else's for ever)."""
    tags = {**TAGS, ATTRIBUTES_TAG: attributes_record(["stage"])}
    p = plan(
        svc(attributes={"stage": "prod", "tier": "1"}), seen(tags, attributes={"stage": "prod"})
    )
    tag, update = p.actions
    assert isinstance(tag, TagResource)
    assert recorded_attribute("tier", tag.tags)
    assert update == UpdateServiceAttributes("srv-1", "orders", {"tier": "1"})


def test_a_declared_key_someone_else_set_first_is_taken_over() -> None:
    p = plan(svc(attributes={"stage": "prod"}), seen(attributes={"stage": "dev"}))
    assert UpdateServiceAttributes("srv-1", "orders", {"stage": "prod"}) in p.actions


def test_attributes_not_read_are_not_planned() -> None:
    """Neither declared nor recorded: observe reads nothing and the plan asks for nothing."""
    assert not reads_attributes({}, TAGS)
    assert plan(svc(), seen()).in_sync


def test_what_asks_for_a_read() -> None:
    assert reads_attributes({"stage": "prod"}, TAGS)
    assert reads_attributes({}, {**TAGS, ATTRIBUTES_TAG: attributes_record(["x"])})


def test_record_fits_a_tag_value_with_30_of_the_longest_keys() -> None:
    keys = [f"{i:02d}" + "k" * 253 for i in range(30)]
    record = attributes_record(keys)
    assert len(record) <= 256
    assert all(recorded_attribute(k, {ATTRIBUTES_TAG: record}) for k in keys)
    assert not recorded_attribute("other", {ATTRIBUTES_TAG: record})


def _attribute_plan(observed_stage: str, spec_stage: str) -> Plan:
    tags = {**TAGS, ATTRIBUTES_TAG: attributes_record(["stage", "owner"])}
    observed = seen(tags, attributes={"stage": observed_stage, "owner": "b"})
    return plan(svc(attributes={"stage": spec_stage, "owner": "a"}), observed)


def test_an_ignored_attribute_is_not_sent_while_the_others_are_corrected() -> None:
    held = hold(_attribute_plan("dev", "prod"), ["spec.service.attributes.stage"], [])
    assert held.plan.actions == (UpdateServiceAttributes("srv-1", "orders", {"owner": "a"}),)
    assert held.plan.changes == (Change("service.attributes.owner", "a", "b"),)


def test_a_reported_attribute_is_reported_not_corrected() -> None:
    held = hold(_attribute_plan("dev", "prod"), [], ["spec.service.attributes"])
    assert held.plan.actions == ()
    assert held.reported == (
        Change("service.attributes.owner", "a", "b"),
        Change("service.attributes.stage", "prod", "dev"),
    )


def test_a_held_delete_keeps_the_key_recorded() -> None:
    """A key removed from the spec whose delete is ignored stays in the record: still ours,
    deleted once the field is no longer ignored."""
    tags = {**TAGS, ATTRIBUTES_TAG: attributes_record(["stage", "owner"])}
    p = plan(
        svc(attributes={"stage": "prod"}), seen(tags, attributes={"stage": "prod", "owner": "a"})
    )
    assert p.actions == (DeleteServiceAttributes("srv-1", "orders", ("owner",)),)
    assert hold(p, ["spec.service.attributes.owner"], []).plan.in_sync


def test_the_view_reads_each_service_once_per_turn_a_share_of_them_per_sweep() -> None:
    adapters = FakeAdapters("eu-west-1")
    cm = adapters.cloudmap("eu-west-1")
    ns = cm.add_namespace("shop")
    ids = [cm.add_service(ns.id, f"svc-{i}").id for i in range(40)]
    view = AccountView(adapters, ttl=3600, cluster=CLUSTER)
    view.refresh("eu-west-1")
    for service_id in ids:  # the first look reads each once
        view.service_attributes("eu-west-1", service_id)

    per_sweep = []
    for _ in range(2 * ATTRIBUTE_SWEEPS):
        view.refresh("eu-west-1")
        before = adapters.aws.names().count("cloudmap.service_attributes")
        for service_id in ids:
            view.service_attributes("eu-west-1", service_id)
        per_sweep.append(adapters.aws.names().count("cloudmap.service_attributes") - before)

    assert sum(per_sweep) == 2 * len(ids)  # each service twice in 2 * ATTRIBUTE_SWEEPS sweeps
    assert max(per_sweep) < len(ids) / 2  # spread over the sweeps, not all in one


def test_a_fresh_read_is_trusted_by_the_view_until_the_next_turn() -> None:
    adapters = FakeAdapters("eu-west-1")
    cm = adapters.cloudmap("eu-west-1")
    service = cm.add_service(cm.add_namespace("shop").id, "orders")
    view = AccountView(adapters, ttl=3600, cluster=CLUSTER)
    view.refresh("eu-west-1")
    cm.attributes[service.id] = {"stage": "prod"}

    FreshReader(adapters, view).service_attributes("eu-west-1", service.id)
    cm.attributes[service.id] = {"stage": "edited"}

    assert view.service_attributes("eu-west-1", service.id) == {"stage": "prod"}
    for _ in range(ATTRIBUTE_SWEEPS):
        view.refresh("eu-west-1")
        seen = view.service_attributes("eu-west-1", service.id)
    assert seen == {"stage": "edited"}
