"""The operator's step of a paused resource (sd-operator.io/paused: "true"), in process against
the emulator: no AWS call at all, for a change and for a deletion, with the Paused condition
and one Event; once the annotation is gone the same step goes on. And an observe-only
resource over what was made by hand: sweep after sweep Stalled ObservedDifferent, no write."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import kopf
import yaml

from builders import TEAM_A_NAMESPACE
from sd_devkit.emulator import Emulator
from sd_operator.aws.adapters import Adapters
from sd_operator.handlers.units import Units
from sd_operator.model.grants import parse_grant
from sd_operator.model.parse import parse_resource
from sd_operator.model.spec import PAUSED_ANNOTATION
from sd_operator.reconcile.reconciler import Reconciler
from sd_operator.reconcile.result import Outcome, StepResult
from support import REGION, calls_since, mutating_calls

GRANT = {
    "metadata": {"name": "team-a"},
    "spec": {
        "namespaces": {"names": ["team-a"]},
        "regions": [REGION],
        "cloudMapNamespaces": {
            "create": {"names": ["teama"]},
            "adopt": {"names": ["teama"]},
        },
    },
}
Events = list[tuple[str, str]]


def units_for(emulator: Emulator, reconciler: Reconciler) -> Units:
    units = Units.build(reconciler, Adapters(REGION, emulator.endpoint_url), 30)
    units.live.grants = {"team-a": [parse_grant(GRANT)]}
    units.live.namespace_labels = {"team-a": [{}]}
    return units


def namespace_body(*, paused: bool, **spec: str) -> dict[str, Any]:
    body: dict[str, Any] = yaml.safe_load(TEAM_A_NAMESPACE)
    body["metadata"].update(uid="uid-teama", generation=1)
    body["spec"].update(spec)
    if paused:
        body["metadata"]["annotations"] = {PAUSED_ANNOTATION: "true"}
    return body


def conditions(patch: kopf.Patch) -> dict[str, Mapping[str, Any]]:
    return {c["type"]: c for c in patch["status"]["conditions"]}


def step(
    units: Units, body: dict[str, Any], events: Events, *, sweep: bool = False
) -> tuple[StepResult, kopf.Patch]:
    patch = kopf.Patch()

    def post(_: Mapping[str, Any], type_: str, reason: str, message: str) -> None:
        events.append((type_, reason))

    result = units.steps.step_and_write(
        kopf.Body(body),  # type: ignore[arg-type]
        patch,
        parse_resource(body),
        None,
        from_view=sweep,
        post=post,
    )
    assert result is not None
    body["status"] = {**body.get("status", {}), **patch.get("status", {})}
    return result, patch


def test_a_paused_resource_makes_no_aws_call_until_the_annotation_is_gone(
    emulator: Emulator, reconciler: Reconciler
) -> None:
    units = units_for(emulator, reconciler)
    body = namespace_body(paused=True)
    events: Events = []
    calls = emulator.calls()

    paused, patch = step(units, body, events)
    again, _ = step(units, body, events)

    assert (paused.outcome, again.outcome) == (Outcome.PAUSED, Outcome.PAUSED)
    assert calls_since(emulator, calls) == {}
    paused_condition = conditions(patch)["Paused"]
    assert (paused_condition["status"], paused_condition["reason"]) == ("True", "Paused")
    assert events == [("Normal", "Paused")]

    del body["metadata"]["annotations"]
    resumed, patch = step(units, body, events)

    assert resumed.outcome is not Outcome.PAUSED
    assert "Paused" not in conditions(patch)
    assert "servicediscovery:ListNamespaces" in calls_since(emulator, calls)
    assert ("Normal", "Resumed") in events


def test_a_paused_deletion_waits_without_an_aws_call_then_goes_on(
    emulator: Emulator, reconciler: Reconciler
) -> None:
    units = units_for(emulator, reconciler)
    body = namespace_body(paused=True)
    events: Events = []
    calls = emulator.calls()

    def delete() -> StepResult:
        patch = kopf.Patch()
        result = units.steps.delete_and_write(
            kopf.Body(body),  # type: ignore[arg-type]
            patch,
            parse_resource(body),
            None,
            post=lambda _, type_, reason, __: events.append((type_, reason)),
        )
        body["status"] = {**body.get("status", {}), **patch.get("status", {})}
        return result

    waiting = delete()
    assert delete().outcome is Outcome.PAUSED  # and again: the finalizer waits

    assert waiting.outcome is Outcome.PAUSED
    assert waiting.retry_after is not None
    assert calls_since(emulator, calls) == {}

    del body["metadata"]["annotations"]
    assert delete().outcome is Outcome.GONE
    assert calls_since(emulator, calls)
    assert events == [("Normal", "Paused"), ("Normal", "Resumed")]


def test_an_observed_namespace_that_differs_is_stalled_sweep_after_sweep_without_a_write(
    emulator: Emulator, reconciler: Reconciler, sd: Any
) -> None:
    sd.create_http_namespace(Name="teama", Description="by hand")
    units = units_for(emulator, reconciler)
    body = namespace_body(paused=False, description="in git", managementPolicy="Observe")
    events: Events = []
    calls = emulator.calls()

    first, patch = step(units, body, events)
    for _ in range(3):
        swept, _ = step(units, body, events, sweep=True)
        assert swept.reason == "ObservedDifferent"

    assert mutating_calls(calls_since(emulator, calls)) == {}
    assert (first.outcome, first.reason) == (Outcome.BLOCKED, "ObservedDifferent")
    stalled = conditions(patch)["Stalled"]
    assert (stalled["status"], stalled["reason"]) == ("True", "ObservedDifferent")
    assert "spec.description: desired 'in git', observed 'by hand'" in stalled["message"]
    assert conditions(patch)["Ready"]["status"] == "False"
