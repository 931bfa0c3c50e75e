"""How long a handler waits before the next attempt."""

from __future__ import annotations

from sd_operator.aws.adapters import Adapters
from sd_operator.handlers.resources import (
    MAX_RETRY_SECONDS,
    NAMESPACE_PENDING_RETRIES,
    NAMESPACE_PENDING_SECONDS,
    Handlers,
    retry_delay,
)
from sd_operator.model.spec import ClusterIdentity
from sd_operator.reconcile.reconciler import Reconciler
from sd_operator.reconcile.result import Outcome, StepResult


def test_a_pending_operation_is_polled_at_its_own_pace() -> None:
    waiting = StepResult(Outcome.WAITING, retry_after=1.0)
    assert retry_delay(waiting, 0) == retry_delay(waiting, 7) == 1.0


def test_a_missing_ecs_service_backs_off_exponentially_to_a_ceiling() -> None:
    blocked = StepResult(Outcome.BLOCKED, reason="EcsServiceNotFound", retry_after=30.0)
    delays = [retry_delay(blocked, retry) for retry in range(6)]
    assert delays[:4] == [30.0, 60.0, 120.0, 240.0]
    assert delays[4] == delays[5] == MAX_RETRY_SECONDS


def test_polls_of_a_pending_operation_do_not_raise_the_back_off() -> None:
    """A FAIL after a few polls waits the base delay, not 30 s * 2**polls (kopf's retry count
    counts the polls too); failures in a row double it; anything else starts again."""
    handlers = Handlers(
        Reconciler(Adapters("us-east-1", None), ClusterIdentity("unit")), sweep_seconds=60.0
    )
    for _ in range(6):
        assert handlers.setbacks("uid-1", Outcome.WAITING) == 0
    failed = StepResult(Outcome.FAILED, reason="INTERNAL_FAILURE")
    assert retry_delay(failed, handlers.setbacks("uid-1", Outcome.FAILED)) == 30.0
    assert retry_delay(failed, handlers.setbacks("uid-1", Outcome.FAILED)) == 60.0
    assert handlers.setbacks("uid-2", Outcome.ERROR) == 0, "counted per resource"
    assert handlers.setbacks("uid-1", Outcome.IN_SYNC) == 0
    assert handlers.setbacks("uid-1", Outcome.BLOCKED) == 0


def test_a_service_created_with_its_namespace_waits_for_it_at_a_steady_pace() -> None:
    """Its CloudMapNamespace is there and its AWS namespace is being created (NamespaceNotReady,
    as CreateService raises it): polled every NAMESPACE_PENDING_SECONDS for the first minute, as
    a missing namespace is, not backed off from AWS errors' 10 s (a cold start of a namespace
    and its services waited 10 s, then 20 s, for a namespace ready within seconds)."""
    not_ready = StepResult(Outcome.ERROR, reason="NamespaceNotReady", retry_after=10.0)
    delays = [retry_delay(not_ready, retry) for retry in range(NAMESPACE_PENDING_RETRIES)]
    assert delays == [NAMESPACE_PENDING_SECONDS] * NAMESPACE_PENDING_RETRIES
    assert retry_delay(not_ready, NAMESPACE_PENDING_RETRIES) > NAMESPACE_PENDING_SECONDS
