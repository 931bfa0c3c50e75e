"""spec.driftFields on a finished plan: held fields leave the changes, and the actions send what
AWS holds for them (or are dropped when nothing of theirs is left)."""

from __future__ import annotations

from sd_operator.model.actions import (
    Change,
    Plan,
    TagResource,
    UntagResource,
    UpdateEcsService,
    UpdateService,
)
from sd_operator.model.spec import DnsRecord, RecordType
from sd_operator.reconcile.drift_policy import hold
from sd_operator.reconcile.fields import matches

TTL = Change("service.dns.records[1].ttl", 10, 300)
DESCRIPTION = Change("service.description", "api", "edited")
UPDATE = UpdateService(
    "srv-1",
    "web",
    "api",
    (DnsRecord(RecordType.A, 10), DnsRecord(RecordType.AAAA, 10)),
    None,
)


def test_paths_match_the_field_and_what_is_inside_it() -> None:
    assert matches("spec.service.dns.records[*].ttl", "service.dns.records[1].ttl")
    assert matches("spec.service.dns", "service.dns.records[0].ttl")
    assert matches("spec.ecs.serviceConnect", "ecs.serviceConnect.services[0].timeout.x")
    assert not matches("spec.service.dns.records[0].ttl", "service.dns.records[1].ttl")
    assert not matches("spec.service.tags.team", "service.tags.teams")


def test_ignored_ttl_is_sent_as_aws_holds_it_while_the_description_is_corrected() -> None:
    held = hold(Plan(actions=(UPDATE,), changes=(TTL, DESCRIPTION)), ["spec.service.dns"], [])
    [action] = held.plan.actions
    assert isinstance(action, UpdateService)
    assert [r.ttl for r in action.records] == [10, 300]
    assert action.description == "api"
    assert held.plan.changes == (DESCRIPTION,)
    assert held.reported == ()


def test_an_action_with_only_held_fields_is_dropped_and_report_fields_are_returned() -> None:
    held = hold(Plan(actions=(UPDATE,), changes=(TTL,)), [], ["spec.service.dns.records[*].ttl"])
    assert held.plan.in_sync
    assert held.reported == (TTL,)


def test_held_tags_are_neither_set_nor_removed() -> None:
    plan = Plan(
        actions=(TagResource("arn", {"team": "a", "env": "prod"}), UntagResource("arn", ("x",))),
        changes=(
            Change("service.tags.team", "a", "b"),
            Change("service.tags.env", "prod", None),
            Change("service.tags.x", None, "1"),
        ),
    )
    held = hold(plan, ["spec.service.tags.team", "spec.service.tags.x"], [])
    assert held.plan.actions == (TagResource("arn", {"env": "prod"}),)


def test_ecs_fields_are_held_whole_and_the_rest_is_still_sent() -> None:
    action = UpdateEcsService(
        "prod", "web", set_registries=True, set_service_connect=True, endpoints_change=True
    )
    plan = Plan(
        actions=(action,),
        changes=(
            Change("ecs.registry.port", 80, 81),
            Change("ecs.serviceConnect.enabled", True, False),
        ),
    )
    [kept] = hold(plan, [], ["spec.ecs.serviceConnect"]).plan.actions
    assert isinstance(kept, UpdateEcsService)
    assert (kept.set_registries, kept.set_service_connect, kept.endpoints_change) == (
        True,
        False,
        False,
    )
