"""docs/argocd/health.lua in Lua 5.1 (Argo CD runs gopher-lua, a Lua 5.1) on the statuses
recorded from live resources (tests/fixtures/status/, kstatus checks the same set in e2e), and
on what the operator writes for every outcome."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from health import EXPECTED, argocd_health, recorded
from sd_operator.model.conditions import merge
from sd_operator.reconcile.result import Outcome, StepResult
from sd_operator.reconcile.status import Phase, derive, derive_paused, phase

RECORDED = recorded()
ARGO = {Phase.DONE: "Healthy", Phase.IN_FLIGHT: "Progressing", Phase.STALLED: "Degraded"}


def test_every_situation_of_the_table_was_recorded() -> None:
    assert set(RECORDED) == set(EXPECTED)


@pytest.mark.parametrize("situation", sorted(EXPECTED))
def test_recorded_status_gets_the_tables_health(situation: str) -> None:
    got = argocd_health(RECORDED[situation])

    assert got.status == EXPECTED[situation][1], got


def test_degraded_says_why() -> None:
    got = argocd_health(RECORDED["refused-update"])

    assert got.message.startswith("InvalidForNamespace: "), got


def test_pending_generation_names_both_generations() -> None:
    got = argocd_health(RECORDED["pending-generation"])

    assert "generation 2 is not reconciled yet (observed 1)" in got.message, got


def test_object_being_deleted_is_progressing() -> None:
    obj = copy.deepcopy(RECORDED["ready"])
    obj["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"

    assert argocd_health(obj).status == "Progressing"


def test_object_without_status_is_progressing() -> None:
    obj = copy.deepcopy(RECORDED["ready"])
    del obj["status"]

    assert argocd_health(obj).status == "Progressing"


@pytest.mark.parametrize("outcome", list(Outcome))
@pytest.mark.parametrize("reason", ["OwnedElsewhere", "NamespaceNotFound", "X"])
def test_health_follows_the_derived_phase(outcome: Outcome, reason: str) -> None:
    """Whatever a step ends in, the script reads the phase the derivation meant."""
    result = StepResult(outcome, reason=reason, message="m")
    derived = derive(result, {}, 3)
    obj: dict[str, Any] = copy.deepcopy(RECORDED["ready"])
    obj["metadata"]["generation"] = 3
    obj["status"]["conditions"] = merge(None, derived.conditions, 3, "2026-01-01T00:00:00Z")
    obj["status"]["observedGeneration"] = derived.observed_generation or 2

    assert argocd_health(obj).status == ARGO[phase(result)]


def test_paused_resource_is_suspended_and_keeps_its_verdict_for_kstatus() -> None:
    obj: dict[str, Any] = copy.deepcopy(RECORDED["ready"])
    generation = obj["metadata"]["generation"]
    paused = StepResult(Outcome.PAUSED, reason="Paused", message="no AWS call")
    derived = derive_paused(paused, obj["status"], generation)
    obj["status"]["conditions"] = merge(
        obj["status"]["conditions"], derived.conditions, generation, "2026-01-01T00:00:00Z"
    )

    got = argocd_health(obj)

    assert (got.status, got.message) == ("Suspended", "no AWS call")
    assert derived.observed_generation is None
    by_type = {c["type"]: c["status"] for c in obj["status"]["conditions"]}
    assert by_type["Ready"] == "True"
    assert by_type["Paused"] == "True"


@pytest.mark.parametrize(
    ("situation", "start"),
    [
        ("observed-different", "ObservedDifferent: "),
        ("observed-missing", "ObservedMissing: "),
        ("paused", 'sd-operator.io/paused is "true"'),
    ],
)
def test_observe_only_and_paused_recordings_say_why(situation: str, start: str) -> None:
    got = argocd_health(RECORDED[situation])

    assert got.message.startswith(start), got
