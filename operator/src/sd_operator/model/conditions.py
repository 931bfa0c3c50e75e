"""Status conditions in the kstatus shape, derived in one place from a reconcile outcome."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from sd_operator.model.status import FALSE, TRUE, StatusCondition
from sd_operator.model.wire import decode, encode

READY = "Ready"
SYNCED = "Synced"
RECONCILING = "Reconciling"
STALLED = "Stalled"
DRIFTED = "Drifted"
TERMINAL = "Terminal"
ADVISORY = "Advisory"
# What every step's derivation gives.
ORDER = (READY, SYNCED, RECONCILING, STALLED, DRIFTED, TERMINAL, ADVISORY)
# Only while sd-operator.io/paused is "true" (reconcile/status.derive_paused), after the rest.
PAUSED = "Paused"
_WRITTEN = (*ORDER, PAUSED)


@dataclass(frozen=True)
class Condition:
    type: str
    status: bool
    reason: str
    message: str = ""


Written = Mapping[str, Any] | StatusCondition  # a condition as stored, or typed
W = TypeVar("W", bound=Written)


def typed(condition: Written) -> StatusCondition:
    if isinstance(condition, StatusCondition):
        return condition
    return decode(StatusCondition, condition)


def find(conditions: Iterable[W] | None, type_: str) -> W | None:
    return next((c for c in conditions or () if typed(c).type == type_), None)


def is_true(conditions: Iterable[Written] | None, type_: str) -> bool:
    found = find(conditions, type_)
    return found is not None and typed(found).is_true


def merge(
    previous: Iterable[Written] | None,
    current: Sequence[Condition],
    generation: int,
    now: str,
) -> list[dict[str, Any]]:
    """New conditions, as written; lastTransitionTime moves only when a condition's status
    flips."""
    out = []
    for cond in sorted(current, key=lambda c: _WRITTEN.index(c.type)):
        status = TRUE if cond.status else FALSE
        found = find(previous, cond.type)
        before = typed(found) if found is not None else None
        since = before.last_transition_time if before else None
        if before is None or before.status != status or not since:
            since = now
        out.append(
            encode(StatusCondition(cond.type, status, cond.reason, cond.message, since, generation))
        )
    return out
