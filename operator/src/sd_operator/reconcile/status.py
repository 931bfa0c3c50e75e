"""Conditions derived in one place from a step's outcome (ACK's pattern: one derivation)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sd_operator.model import conditions as cond
from sd_operator.model.conditions import Condition
from sd_operator.reconcile.reconciler import Outcome, StepResult

_CORRECTING = "Correcting"
_CORRECTED = "Corrected"
_REPORTED = "DriftReported"


def _drift_condition(result: StepResult, previous: Mapping[str, Any] | None) -> Condition:
    fields = ", ".join(c.field for c in result.drift)
    if result.outcome is Outcome.DRIFT_REPORTED:
        return Condition(
            cond.DRIFTED,
            True,
            _REPORTED,
            f"changed outside sd-operator, not corrected (drift: Report): {result.message}",
        )
    if result.drift and result.outcome is Outcome.IN_SYNC:
        return Condition(cond.DRIFTED, False, _CORRECTED, f"corrected: {fields}")
    if result.drift:
        return Condition(cond.DRIFTED, True, _CORRECTING, f"changed outside sd-operator: {fields}")
    if previous is not None and previous.get("reason") == _CORRECTING:
        if result.outcome is Outcome.IN_SYNC:
            return Condition(
                cond.DRIFTED,
                False,
                _CORRECTED,
                str(previous.get("message", "")).replace(
                    "changed outside sd-operator", "corrected"
                ),
            )
        return Condition(cond.DRIFTED, True, _CORRECTING, str(previous.get("message", "")))
    if previous is not None and previous.get("reason") == _CORRECTED:
        return Condition(cond.DRIFTED, False, _CORRECTED, str(previous.get("message", "")))
    return Condition(cond.DRIFTED, False, "NoDrift", "")


def derive(
    result: StepResult,
    previous: Mapping[str, Any],
    *,
    exists: bool,
) -> list[Condition]:
    conditions = previous.get("conditions")
    outcome = result.outcome
    terminal = outcome in (Outcome.REFUSED, Outcome.FAILED)
    synced = outcome is Outcome.IN_SYNC
    if synced:
        sync_reason, sync_message = "InSync", "AWS matches the spec"
    else:
        sync_reason, sync_message = result.reason or str(outcome), result.message
    ready = exists and outcome is not Outcome.BLOCKED
    ready_reason = "Available" if ready else (result.reason or "NotCreated")
    ready_message = "" if ready else (result.message or "not created in AWS yet")
    advisories = result.plan.advisories
    return [
        Condition(cond.READY, ready, ready_reason, ready_message),
        Condition(cond.SYNCED, synced, sync_reason, sync_message),
        _drift_condition(result, cond.find(conditions, cond.DRIFTED)),
        Condition(
            cond.TERMINAL,
            terminal,
            result.reason if terminal else "None",
            result.message if terminal else "",
        ),
        Condition(
            cond.ADVISORY,
            bool(advisories),
            "TtlAboveMax" if advisories else "None",
            "; ".join(advisories),
        ),
    ]
