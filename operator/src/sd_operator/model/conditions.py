"""Status conditions in the kstatus shape, derived in one place from a reconcile outcome."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

READY = "Ready"
SYNCED = "Synced"
RECONCILING = "Reconciling"
STALLED = "Stalled"
DRIFTED = "Drifted"
TERMINAL = "Terminal"
ADVISORY = "Advisory"
ORDER = (READY, SYNCED, RECONCILING, STALLED, DRIFTED, TERMINAL, ADVISORY)


@dataclass(frozen=True)
class Condition:
    type: str
    status: bool
    reason: str
    message: str = ""


def find(conditions: Sequence[Mapping[str, Any]] | None, type_: str) -> Mapping[str, Any] | None:
    return next((c for c in conditions or () if c.get("type") == type_), None)


def is_true(conditions: Sequence[Mapping[str, Any]] | None, type_: str) -> bool:
    found = find(conditions, type_)
    return found is not None and found.get("status") == "True"


def merge(
    previous: Sequence[Mapping[str, Any]] | None,
    current: Sequence[Condition],
    generation: int,
    now: str,
) -> list[dict[str, Any]]:
    """New conditions; lastTransitionTime moves only when a condition's status flips."""
    out = []
    for cond in sorted(current, key=lambda c: ORDER.index(c.type)):
        status = "True" if cond.status else "False"
        before = find(previous, cond.type)
        since = before.get("lastTransitionTime") if before else None
        if before is None or before.get("status") != status or not since:
            since = now
        out.append(
            {
                "type": cond.type,
                "status": status,
                "reason": cond.reason,
                "message": cond.message,
                "lastTransitionTime": since,
                "observedGeneration": generation,
            }
        )
    return out
