"""When a change handler tries again: kopf's delay after a step that waits or is held up."""

from __future__ import annotations

import threading

import kopf

from sd_operator.model import reasons
from sd_operator.reconcile.result import Outcome, StepResult

RETRY_ON_ERROR_SECONDS = 30.0
MAX_RETRY_SECONDS = 300.0
NAMESPACE_PENDING = (
    reasons.REASON_NAMESPACE_NOT_FOUND,
    reasons.REASON_NAMESPACE_NOT_OWNED,
    reasons.REASON_NAMESPACE_NOT_READY,
)
NAMESPACE_PENDING_SECONDS = 5.0
NAMESPACE_PENDING_RETRIES = 12
_SETBACKS = (Outcome.ERROR, Outcome.BLOCKED, Outcome.FAILED, Outcome.REFUSED)


def retry_delay(result: StepResult, retry: int) -> float:
    """Polling a pending operation keeps its short delay; waiting on something outside (a
    missing ECS service, a conflict, throttling) backs off exponentially up to 5 minutes. A
    ServiceDiscovery created with its namespace waits for that namespace at a steady pace for
    the first minute (it is normally there within seconds; backing off would add minutes to a
    cold start of many resources)."""
    base = result.retry_after or RETRY_ON_ERROR_SECONDS
    if result.outcome is Outcome.WAITING:
        return base
    if result.reason in NAMESPACE_PENDING and retry < NAMESPACE_PENDING_RETRIES:
        return NAMESPACE_PENDING_SECONDS
    return float(min(base * 2 ** min(retry, 10), MAX_RETRY_SECONDS))


def temporary_error(result: StepResult, setbacks: int) -> kopf.TemporaryError:
    """kopf's retry of the step that ended in `result`."""
    return kopf.TemporaryError(
        f"{result.reason}: {result.message}", delay=retry_delay(result, setbacks)
    )


class Setbacks:
    """Failed or blocked steps in a row per resource, the exponent of the back-off. Not kopf's
    retry count: that also counts the polls of a pending operation, so one FAIL after a few
    polls would wait the 5-minute ceiling instead of 30 s."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._counts: dict[str, int] = {}

    def count(self, uid: str, outcome: Outcome) -> int:
        """The setbacks in a row before this step's `outcome`, which counts for the next."""
        with self._guard:
            if outcome in _SETBACKS:
                before = self._counts.get(uid, 0)
                self._counts[uid] = before + 1
                return before
            self._counts.pop(uid, None)
            return 0

    def forget(self, uid: str) -> None:
        with self._guard:
            self._counts.pop(uid, None)
