"""Conditions derived in one place from a step's outcome (ACK's pattern: one derivation).

The verdicts are what kstatus (Flux, kpt, cli-utils), `kubectl wait --for=condition=...`, the
Argo CD health script (docs/argocd/health.lua) and people read; docs/health.md ("Health for Flux,
Argo CD and `kubectl wait`") has the table. Every step ends in one of three phases, a pure
function of (step result, previous status, generation):

- done: AWS equals this generation. Ready=True; observedGeneration = generation.
- stalled: this generation cannot be carried out without someone acting (a refused change, a
  request AWS rejected, a resource someone else owns, a drift `drift: Report` leaves alone).
  Stalled=True, Ready=False; observedGeneration = generation, since the operator has finished
  with it: kstatus reads a stale observedGeneration as "in progress", never as "failed".
- in flight: work remains that the operator is doing or waiting for (an operation, a retried
  AWS error, a dependency that is still being created). Reconciling=True, Ready=False;
  observedGeneration stays where it was.

A retried AWS error after a generation has a verdict (typically a throttled sweep) keeps that
verdict: it tells nothing new about AWS, and flipping health on every throttle would flap.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

from sd_operator.model import conditions as cond
from sd_operator.model.conditions import Condition
from sd_operator.reconcile.ownership import REASON_ADOPTION_REQUIRED, REASON_OWNED_ELSEWHERE
from sd_operator.reconcile.plan import (
    ADVISORY_VPC_UNKNOWN,
    REASON_ALREADY_EXISTS,
    REASON_CONFLICT,
)
from sd_operator.reconcile.result import Outcome, StepResult

_CORRECTING = "Correcting"
_CORRECTED = "Corrected"
_REPORTED = "DriftReported"

# Blocks that only a person can lift (another owner, a resource not ours to adopt); the others
# (NamespaceNotFound, EcsServiceNotFound, ...) wait for something that is on its way.
STALLING_BLOCKS = frozenset(
    {REASON_OWNED_ELSEWHERE, REASON_ALREADY_EXISTS, REASON_ADOPTION_REQUIRED, REASON_CONFLICT}
)
# What a retried error on a finished generation leaves as it was.
_VERDICT = (cond.READY, cond.RECONCILING, cond.STALLED, cond.TERMINAL)


class Phase(Enum):
    DONE = "done"
    STALLED = "stalled"
    IN_FLIGHT = "in flight"


@dataclass(frozen=True)
class Derived:
    conditions: list[Condition]
    # None: leave status.observedGeneration as it was (absent on a resource never finished).
    observed_generation: int | None


def phase(result: StepResult) -> Phase:
    match result.outcome:
        case Outcome.IN_SYNC:
            return Phase.DONE
        case Outcome.REFUSED | Outcome.FAILED | Outcome.DRIFT_REPORTED:
            return Phase.STALLED
        case Outcome.BLOCKED if result.reason in STALLING_BLOCKS:
            return Phase.STALLED
        case _:
            return Phase.IN_FLIGHT


def _drift_condition(result: StepResult, previous: Mapping[str, Any] | None) -> Condition:  # noqa: PLR0911 -- one return per Drifted transition
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


def _kept(previous: Mapping[str, Any] | None, type_: str) -> Condition:
    previous = previous or {}
    return Condition(
        type_,
        previous.get("status") == "True",
        str(previous.get("reason") or ""),
        str(previous.get("message") or ""),
    )


def _has_verdict(previous: Mapping[str, Any], generation: int) -> bool:
    """The previous status finished this generation (done or stalled), not mid-way."""
    conditions = previous.get("conditions")
    return (
        previous.get("observedGeneration") == generation
        and all(cond.find(conditions, t) is not None for t in _VERDICT)
        and not cond.is_true(conditions, cond.RECONCILING)
    )


def _stalled_message(result: StepResult) -> str:
    if result.outcome is Outcome.DRIFT_REPORTED:
        return (
            "AWS was changed outside sd-operator and spec.driftPolicy is Report: "
            f"{result.message}; undo the change in AWS, or set driftPolicy: Correct"
        )
    return result.message


def _advisory_reason(advisories: tuple[str, ...]) -> str:
    if not advisories:
        return "None"
    if any(a.startswith(ADVISORY_VPC_UNKNOWN) for a in advisories):
        return "VpcUnknown"
    return "TtlAboveMax"


def derive(result: StepResult, previous: Mapping[str, Any], generation: int) -> Derived:
    """The conditions after a step that applies the spec."""
    if result.outcome is Outcome.ERROR and not result.drift and _has_verdict(previous, generation):
        conditions = previous.get("conditions")
        kept = [_kept(cond.find(conditions, t), t) for t in _VERDICT]
        return Derived([*_observation(result, previous), *kept], generation)
    reason = result.reason or str(result.outcome)
    not_ready = Condition(cond.READY, False, reason, result.message or "not in AWS yet")
    return _derived(result, previous, generation, not_ready)


def derive_teardown(result: StepResult, previous: Mapping[str, Any], generation: int) -> Derived:
    """The conditions after a step that deletes what the resource made."""
    not_ready = Condition(cond.READY, False, "Deleting", result.message or "being deleted")
    return _derived(result, previous, generation, not_ready)


def _observation(result: StepResult, previous: Mapping[str, Any]) -> list[Condition]:
    """Synced, Drifted and Advisory: what this step saw, whatever it concludes."""
    outcome = result.outcome
    if outcome is Outcome.IN_SYNC:
        sync = Condition(cond.SYNCED, True, "InSync", "AWS matches the spec")
    else:
        sync = Condition(cond.SYNCED, False, result.reason or str(outcome), result.message)
    drifted = _drift_condition(result, cond.find(previous.get("conditions"), cond.DRIFTED))
    advisories = result.plan.advisories
    advisory = Condition(
        cond.ADVISORY,
        bool(advisories),
        _advisory_reason(advisories),
        "; ".join(advisories),
    )
    return [sync, drifted, advisory]


def _derived(
    result: StepResult, previous: Mapping[str, Any], generation: int, not_ready: Condition
) -> Derived:
    """Every condition from the step's verdict; `not_ready`: Ready until the step is done."""
    sync, drifted, advisory = _observation(result, previous)
    terminal = result.outcome in (Outcome.REFUSED, Outcome.FAILED)
    step_phase = phase(result)
    reason = result.reason or str(result.outcome)
    if step_phase is Phase.DONE:
        ready = Condition(cond.READY, True, "InSync", f"AWS matches generation {generation}")
    else:
        ready = not_ready
    in_flight = step_phase is Phase.IN_FLIGHT
    stalled = step_phase is Phase.STALLED
    return Derived(
        [
            ready,
            sync,
            Condition(
                cond.RECONCILING,
                in_flight,
                reason if in_flight else "None",
                result.message if in_flight else "",
            ),
            Condition(
                cond.STALLED,
                stalled,
                reason if stalled else "None",
                _stalled_message(result) if stalled else "",
            ),
            drifted,
            Condition(
                cond.TERMINAL,
                terminal,
                result.reason if terminal else "None",
                result.message if terminal else "",
            ),
            advisory,
        ],
        None if in_flight else generation,
    )
