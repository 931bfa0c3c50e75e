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
from sd_operator.model.timestamps import utc_now

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


@dataclass(frozen=True)
class StepResult:
    outcome: Outcome
    plan: Plan = field(default_factory=Plan)
    status: Mapping[str, Any] = field(default_factory=dict)
    performed: tuple[str, ...] = ()
    drift: tuple[Change, ...] = ()
    # spec.driftFields Report fields found changed out of band: recorded, never corrected
    reported: tuple[Change, ...] = ()
    reason: str = ""
    message: str = ""
    retry_after: float | None = None


def merge_status(previous: Mapping[str, Any], result: StepResult) -> dict[str, Any]:
    """Fold a step's ids, operation and drift into the previous status (conditions aside)."""
    merged = {**previous, **result.status}
    if result.drift:
        history = list(previous.get("drift") or [])
        detected = result.status.get("lastObservedTime") or utc_now()
        for c in result.drift:
            reported = result.outcome is Outcome.DRIFT_REPORTED or c in result.reported
            shown = redact(c)
            entry = {
                "field": c.field,
                "desired": shown.desired,
                "observed": shown.observed,
                "detectedAt": detected,
                "action": reasons.ACTION_REPORTED if reported else reasons.ACTION_CORRECTED,
            }
            # A reported drift stays until someone acts; record it once, not on every sweep.
            if reported and _same_drift(_last_for(history, c.field), entry):
                continue
            history.append(entry)
        merged["drift"] = history[-DRIFT_HISTORY:]
    return merged


def _last_for(history: list[dict[str, Any]], field_path: str) -> dict[str, Any] | None:
    return next((e for e in reversed(history) if e.get("field") == field_path), None)


def _same_drift(before: dict[str, Any] | None, entry: dict[str, Any]) -> bool:
    keys = ("desired", "observed", "action")
    return before is not None and all(before.get(k) == entry[k] for k in keys)
