"""The operator's step under DiscoveryGrants (handlers/tenancy.py), in process against the
emulator: a resource outside its grants is Stalled with NotGranted before any AWS call, and
steps on as soon as a grant allows it, without an edit (docs/tenancy.md)."""

from __future__ import annotations

from typing import Any

import kopf
import yaml

from builders import TEAM_A_NAMESPACE
from sd_devkit.emulator import Emulator
from sd_operator.aws.adapters import Adapters
from sd_operator.handlers.units import Units
from sd_operator.model.grants import parse_grant
from sd_operator.model.parse import parse_resource
from sd_operator.reconcile.reconciler import Reconciler
from sd_operator.reconcile.result import Outcome, StepResult
from support import REGION, calls_since

GRANT = {
    "metadata": {"name": "team-a"},
    "spec": {
        "namespaces": {"names": ["team-a"]},
        "regions": [REGION],
        "cloudMapNamespaces": {"create": {"names": ["teama"]}},
    },
}


def stalled(patch: kopf.Patch) -> dict[str, Any]:
    [condition] = [c for c in patch["status"]["conditions"] if c["type"] == "Stalled"]
    return dict(condition)


def step(
    units: Units, body: dict[str, Any], *, sweep: bool = False
) -> tuple[StepResult | None, kopf.Patch]:
    """A change handler's step of `body` (`sweep`: the sweep's, which waits for nothing)."""
    patch = kopf.Patch()
    result = units.steps.step_and_write(
        kopf.Body(body),  # type: ignore[arg-type]
        patch,
        parse_resource(body),
        None,
        from_view=sweep,
        wait=not sweep,
    )
    return result, patch


def test_a_resource_no_grant_allows_is_stalled_with_no_aws_call_until_one_does(
    emulator: Emulator, reconciler: Reconciler
) -> None:
    units = Units.build(reconciler, Adapters(REGION, emulator.endpoint_url), 30)
    units.live.grants, units.live.namespace_labels = {}, {"team-a": [{}]}
    body = yaml.safe_load(TEAM_A_NAMESPACE)
    body["metadata"].update(uid="uid-teama", generation=1)
    calls = emulator.calls()

    refused, patch = step(units, body)
    assert isinstance(refused, StepResult)

    assert (refused.outcome, refused.reason) == (Outcome.BLOCKED, "NotGranted")
    condition = stalled(patch)
    assert (condition["status"], condition["reason"]) == ("True", "NotGranted")
    assert condition["message"].startswith("no DiscoveryGrant selects Kubernetes namespace team-a")
    assert condition["message"].endswith("nothing was read or changed in AWS")
    assert calls_since(emulator, calls) == {}

    # The platform team grants it: the next step (a retry, a sweep) goes on, unedited.
    units.live.grants = {"team-a": [parse_grant(GRANT)]}
    allowed, _ = step(units, body)
    assert isinstance(allowed, StepResult)
    assert allowed.reason != "NotGranted"
    assert "servicediscovery:ListNamespaces" in calls_since(emulator, calls)


def test_the_sweep_decides_nothing_before_the_grants_are_handed_over(
    emulator: Emulator, reconciler: Reconciler
) -> None:
    """kopf fills its indexes before any handler; the sweep runs beside kopf and waits until a
    handler has handed them over, rather than refusing everything at start."""
    units = Units.build(reconciler, Adapters(REGION, emulator.endpoint_url), 30)
    body = yaml.safe_load(TEAM_A_NAMESPACE)
    body["metadata"].update(uid="uid-teama", generation=1)
    calls = emulator.calls()
    skipped, patch = step(units, body, sweep=True)
    assert skipped is None
    assert not patch
    assert calls_since(emulator, calls) == {}
