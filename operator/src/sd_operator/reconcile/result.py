"""What one reconcile step reports, and how it folds into the resource's status.

Kept apart from the Reconciler (which holds the boto3 adapters) so the status, the sweep and
the CLI's rendering read a step's verdict without importing the AWS SDK.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from sd_operator.model import reasons
from sd_operator.model.actions import Change, Plan
from sd_operator.model.redact import redact
from sd_operator.model.status import (
    DiscoveryStatus,
    Drift,
    StatusPatch,
    given,
    patch_to_wire,
    status_from_wire,
)
from sd_operator.model.timestamps import utc_now
from sd_operator.model.wire import encode

# status.drift keeps the latest this many entries (the drift history)
DRIFT_HISTORY = 10


class Outcome(StrEnum):
    IN_SYNC = reasons.IN_SYNC
    WAITING = reasons.WAITING
    BLOCKED = reasons.BLOCKED
    REFUSED = reasons.REFUSED
    FAILED = reasons.FAILED
    ERROR = reasons.ERROR
    DRIFT_REPORTED = reasons.DRIFT_REPORTED
    GONE = reasons.GONE
    PAUSED = reasons.PAUSED


@dataclass(frozen=True)
class StepResult:
    outcome: Outcome
    plan: Plan = field(default_factory=Plan)
    # What the step changes in status; in its wire form only where it is written (merge_status).
    status: StatusPatch = field(default_factory=StatusPatch)
    performed: tuple[str, ...] = ()
    drift: tuple[Change, ...] = ()
    # spec.driftFields Report fields found changed out of band: recorded, never corrected
    reported: tuple[Change, ...] = ()
    reason: str = ""
    message: str = ""
    retry_after: float | None = None


def merge_status(previous: Mapping[str, Any], result: StepResult) -> dict[str, Any]:
    """Fold a step's ids, operation and drift into the previous status as stored (conditions
    aside)."""
    merged = {**previous, **patch_to_wire(result.status)}
    if result.drift:
        history = list(status_from_wire(previous, DiscoveryStatus).drift)
        detected = given(result.status.last_observed_time) or utc_now()
        for c in result.drift:
            reported = result.outcome is Outcome.DRIFT_REPORTED or c in result.reported
            shown = redact(c)
            entry = Drift(
                c.field,
                encode(shown.desired),
                encode(shown.observed),
                detected,
                reasons.ACTION_REPORTED if reported else reasons.ACTION_CORRECTED,
            )
            # A reported drift stays until someone acts; record it once, not on every sweep.
            if reported and _same_drift(_last_for(history, c.field), entry):
                continue
            history.append(entry)
        merged.update(patch_to_wire(StatusPatch(drift=tuple(history[-DRIFT_HISTORY:]))))
    return merged


def _last_for(history: list[Drift], field_path: str) -> Drift | None:
    return next((e for e in reversed(history) if e.field == field_path), None)


def _same_drift(before: Drift | None, entry: Drift) -> bool:
    return before is not None and (before.desired, before.observed, before.action) == (
        entry.desired,
        entry.observed,
        entry.action,
    )
