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
from sd_operator.model import reasons
from sd_operator.model.conditions import Condition
from sd_operator.model.reasons import (
    ASSUME_ROLE_FAILED,
    NOT_GRANTED,
    OBSERVED_DIFFERENT,
    OBSERVED_MISSING,
    REASON_ADOPTION_REQUIRED,
    REASON_ALREADY_EXISTS,
    REASON_CONFLICT,
    REASON_OWNED_ELSEWHERE,
)
from sd_operator.model.status import DiscoveryStatus, StatusCondition, status_from_wire
from sd_operator.reconcile.plan import (
    ADVISORY_VPC_UNKNOWN,
)
from sd_operator.reconcile.result import Outcome, StepResult

# Blocks that only a person can lift (another owner, a resource not ours to adopt); the others
# (NamespaceNotFound, EcsServiceNotFound, ...) wait for something that is on its way.
STALLING_BLOCKS = frozenset(
    {
        REASON_OWNED_ELSEWHERE,
        REASON_ALREADY_EXISTS,
        REASON_ADOPTION_REQUIRED,
        REASON_CONFLICT,
        NOT_GRANTED,
        ASSUME_ROLE_FAILED,
        OBSERVED_DIFFERENT,
        OBSERVED_MISSING,
    }
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


def _drift_condition(result: StepResult, previous: StatusCondition | None) -> Condition:  # noqa: PLR0911 -- one return per Drifted transition
    fields = ", ".join(c.field for c in result.drift)
    if result.reason == reasons.OBSERVED_DIFFERENT:
        # Observe-only: AWS differs from the spec, and nobody but the operator would change it.
        return Condition(cond.DRIFTED, True, reasons.OBSERVED_DIFFERENT, result.message)
    if result.outcome is Outcome.DRIFT_REPORTED:
        return Condition(
            cond.DRIFTED,
            True,
            reasons.DRIFT_REPORTED,
            f"changed outside sd-operator, not corrected (drift: Report): {result.message}",
        )
    if result.drift and result.outcome is Outcome.IN_SYNC:
        return Condition(cond.DRIFTED, False, reasons.CORRECTED, f"corrected: {fields}")
    if result.drift:
        return Condition(
            cond.DRIFTED, True, reasons.CORRECTING, f"changed outside sd-operator: {fields}"
        )
    if previous is not None and previous.reason == reasons.CORRECTING:
        if result.outcome is Outcome.IN_SYNC:
            return Condition(
                cond.DRIFTED,
                False,
                reasons.CORRECTED,
                (previous.message or "").replace("changed outside sd-operator", "corrected"),
            )
        return Condition(cond.DRIFTED, True, reasons.CORRECTING, previous.message or "")
    if previous is not None and previous.reason == reasons.CORRECTED:
        return Condition(cond.DRIFTED, False, reasons.CORRECTED, previous.message or "")
    return Condition(cond.DRIFTED, False, reasons.NO_DRIFT, "")


def _kept(previous: StatusCondition | None, type_: str) -> Condition:
    if previous is None:
        return Condition(type_, False, "", "")
    return Condition(type_, previous.is_true, previous.reason or "", previous.message or "")


def _has_verdict(previous: DiscoveryStatus, generation: int) -> bool:
    """The previous status finished this generation (done or stalled), not mid-way."""
    return (
        previous.observed_generation == generation
        and all(previous.condition(t) is not None for t in _VERDICT)
        and not previous.is_true(cond.RECONCILING)
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
        return reasons.NONE
    if any(a.startswith(ADVISORY_VPC_UNKNOWN) for a in advisories):
        return reasons.VPC_UNKNOWN
    return reasons.TTL_ABOVE_MAX


def derive(result: StepResult, previous: Mapping[str, Any], generation: int) -> Derived:
    """The conditions after a step that applies the spec (`previous`: the status as stored)."""
    before = status_from_wire(previous, DiscoveryStatus)
    if result.outcome is Outcome.ERROR and not result.drift and _has_verdict(before, generation):
        kept = [_kept(before.condition(t), t) for t in _VERDICT]
        return Derived([*_observation(result, before), *kept], generation)
    reason = result.reason or str(result.outcome)
    not_ready = Condition(cond.READY, False, reason, result.message or "not in AWS yet")
    return _derived(result, before, generation, not_ready)


def derive_teardown(result: StepResult, previous: Mapping[str, Any], generation: int) -> Derived:
    """The conditions after a step that deletes what the resource made."""
    not_ready = Condition(cond.READY, False, reasons.DELETING, result.message or "being deleted")
    return _derived(result, status_from_wire(previous, DiscoveryStatus), generation, not_ready)


def derive_paused(result: StepResult, previous: Mapping[str, Any], generation: int) -> Derived:
    """The conditions of a paused resource: what the last step found, as it was (nothing was
    read since), and Paused. kstatus reads the verdict as it stands (a spec changed while
    paused is in progress: observedGeneration stays); the Argo CD script says Suspended."""
    before = status_from_wire(previous, DiscoveryStatus)
    kept = [_kept(c, c.type) for c in before.conditions if c.type in cond.ORDER]
    paused = Condition(cond.PAUSED, True, reasons.PAUSED, result.message)
    return Derived([*kept, paused], None)


def _observation(result: StepResult, previous: DiscoveryStatus) -> list[Condition]:
    """Synced, Drifted and Advisory: what this step saw, whatever it concludes."""
    outcome = result.outcome
    if outcome is Outcome.IN_SYNC:
        sync = Condition(cond.SYNCED, True, reasons.IN_SYNC, "AWS matches the spec")
    else:
        sync = Condition(cond.SYNCED, False, result.reason or str(outcome), result.message)
    drifted = _drift_condition(result, previous.condition(cond.DRIFTED))
    advisories = result.plan.advisories
    advisory = Condition(
        cond.ADVISORY,
        bool(advisories),
        _advisory_reason(advisories),
        "; ".join(advisories),
    )
    return [sync, drifted, advisory]


def _derived(
    result: StepResult, previous: DiscoveryStatus, generation: int, not_ready: Condition
) -> Derived:
    """Every condition from the step's verdict; `not_ready`: Ready until the step is done."""
    sync, drifted, advisory = _observation(result, previous)
    terminal = result.outcome in (Outcome.REFUSED, Outcome.FAILED)
    step_phase = phase(result)
    reason = result.reason or str(result.outcome)
    if step_phase is Phase.DONE:
        ready = Condition(cond.READY, True, reasons.IN_SYNC, f"AWS matches generation {generation}")
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
                reason if in_flight else reasons.NONE,
                result.message if in_flight else "",
            ),
            Condition(
                cond.STALLED,
                stalled,
                reason if stalled else reasons.NONE,
                _stalled_message(result) if stalled else "",
            ),
            drifted,
            Condition(
                cond.TERMINAL,
                terminal,
                result.reason if terminal else reasons.NONE,
                result.message if terminal else "",
            ),
            advisory,
        ],
        None if in_flight else generation,
    )
