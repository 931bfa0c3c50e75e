"""How long a handler waits before the next attempt."""

from __future__ import annotations

from sd_operator.handlers.resources import MAX_RETRY_SECONDS, retry_delay
from sd_operator.reconcile.reconciler import Outcome, StepResult


def test_a_pending_operation_is_polled_at_its_own_pace() -> None:
    waiting = StepResult(Outcome.WAITING, retry_after=1.0)
    assert retry_delay(waiting, 0) == retry_delay(waiting, 7) == 1.0


def test_a_missing_ecs_service_backs_off_exponentially_to_a_ceiling() -> None:
    blocked = StepResult(Outcome.BLOCKED, reason="EcsServiceNotFound", retry_after=30.0)
    delays = [retry_delay(blocked, retry) for retry in range(6)]
    assert delays[:4] == [30.0, 60.0, 120.0, 240.0]
    assert delays[4] == delays[5] == MAX_RETRY_SECONDS
