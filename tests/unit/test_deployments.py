"""Sharing an ECS service with ECS's deployments: what is remembered, and when an update waits or
is refused (reconcile/deployments.py)."""

from __future__ import annotations

import kopf
from prometheus_client import REGISTRY

from sd_operator.handlers.recorder import Written, record
from sd_operator.model import conditions as cond
from sd_operator.model.actions import Change, Plan, UpdateEcsService
from sd_operator.model.observed import (
    ObservedDeployment,
    ObservedEcsService,
    ObservedServiceDeployment,
)
from sd_operator.model.reasons import (
    DEPLOYMENT_FAILED,
    DEPLOYMENT_IN_PROGRESS,
    DEPLOYMENT_ROLLED_BACK,
)
from sd_operator.model.status import DiscoveryStatus, EcsDeployment, StatusCondition
from sd_operator.reconcile.deployments import Rollout, followed, gated, unseen_end
from sd_operator.reconcile.result import Outcome, StepResult

OLD_REVISION = "arn:aws:ecs:us-east-1:123456789012:task-definition/app:3"
OURS = "ecs-svc/1111"
ROLLBACK = "ecs-svc/2222"
REASON = "ECS deployment circuit breaker: tasks failed to start."
UPDATE = Plan(
    actions=(UpdateEcsService("prod", "app", set_service_connect=True),),
    changes=(Change("ecs.serviceConnect.enabled", True, False),),
)


def _service(*deployments: ObservedDeployment) -> ObservedEcsService:
    return ObservedEcsService(
        arn="arn:aws:ecs:us-east-1:123456789012:service/prod/app",
        cluster="prod",
        name="app",
        status="ACTIVE",
        deployment_controller="ECS",
        task_definition=OLD_REVISION,
        network_mode="awsvpc",
        deployments=deployments,
    )


def _deployment(id_: str, status: str, state: str, reason: str | None = None) -> ObservedDeployment:
    return ObservedDeployment(id_, status, state, reason, OLD_REVISION)


ROLLED_BACK = _service(
    _deployment(ROLLBACK, "PRIMARY", "COMPLETED"), _deployment(OURS, "ACTIVE", "FAILED", REASON)
)
STARTED = EcsDeployment(OURS, generation=4, rollout_state="IN_PROGRESS")


def test_a_rolled_back_deployment_is_remembered_with_its_reason_and_revision() -> None:
    remembered = followed(STARTED, ROLLED_BACK, refresh="r1")
    assert remembered == EcsDeployment(
        OURS, 4, "FAILED", REASON, rolled_back_to=OLD_REVISION, refresh="r1"
    )


def test_a_failure_is_kept_once_the_failed_deployment_is_no_longer_listed() -> None:
    remembered = followed(STARTED, ROLLED_BACK, refresh=None)
    assert followed(remembered, _service(_deployment(ROLLBACK, "PRIMARY", "COMPLETED")), None) == (
        remembered
    )


def test_a_completed_deployment_is_followed_and_a_replaced_one_forgotten() -> None:
    done = followed(STARTED, _service(_deployment(OURS, "PRIMARY", "COMPLETED")), None)
    assert done is not None
    assert done.rollout_state == "COMPLETED"
    assert followed(
        STARTED, _service(_deployment("ecs-svc/3333", "PRIMARY", "COMPLETED")), None
    ) is (None)


AFTER_ROLLBACK = _service(_deployment(ROLLBACK, "PRIMARY", "COMPLETED"))


def test_the_history_is_read_only_for_ours_gone_before_it_was_seen_to_end() -> None:
    assert unseen_end(STARTED, AFTER_ROLLBACK) == OURS
    assert unseen_end(STARTED, ROLLED_BACK) is None  # still listed: deployments[] tells
    assert unseen_end(None, AFTER_ROLLBACK) is None
    for seen in ("COMPLETED", "FAILED"):
        ended = EcsDeployment(OURS, 4, seen)
        assert unseen_end(ended, AFTER_ROLLBACK) is None


def test_a_rollback_only_the_history_tells_is_remembered() -> None:
    history = ObservedServiceDeployment("ROLLBACK_SUCCESSFUL", REASON, rolled_back=True)
    remembered = followed(STARTED, AFTER_ROLLBACK, "r1", history)
    assert remembered == EcsDeployment(
        OURS, 4, "FAILED", REASON, rolled_back_to=OLD_REVISION, refresh="r1"
    )
    stopped = ObservedServiceDeployment("STOPPED", REASON, failed=True)
    failed = followed(STARTED, AFTER_ROLLBACK, None, stopped)
    assert failed == EcsDeployment(OURS, 4, "FAILED", REASON)


def test_a_deployment_the_history_shows_replaced_or_done_is_forgotten() -> None:
    for history in (
        None,
        ObservedServiceDeployment("SUCCESSFUL"),
        ObservedServiceDeployment("STOPPED", "Superseded by deployment ecs-svc/3333."),
    ):
        assert followed(STARTED, AFTER_ROLLBACK, None, history) is None


def test_the_generation_ecs_rolled_back_is_refused_naming_the_deployment() -> None:
    remembered = followed(STARTED, ROLLED_BACK, refresh=None)
    plan = gated(UPDATE, ROLLED_BACK, Rollout(remembered, 4), "prod/app")
    assert plan.refusal is not None
    assert not plan.actions
    assert plan.refusal.reason == DEPLOYMENT_ROLLED_BACK
    assert plan.refusal.field == "ecs.serviceConnect.enabled"
    for part in (OURS, REASON, OLD_REVISION):
        assert part in plan.refusal.message


def test_a_failure_without_a_rollback_is_deployment_failed() -> None:
    failed = _service(_deployment(OURS, "PRIMARY", "FAILED", REASON))
    plan = gated(UPDATE, failed, Rollout(followed(STARTED, failed, None), 4), "prod/app")
    assert plan.refusal is not None
    assert plan.refusal.reason == DEPLOYMENT_FAILED


def test_a_new_generation_or_a_refresh_resumes_corrections() -> None:
    remembered = followed(STARTED, ROLLED_BACK, refresh="r1")
    assert gated(UPDATE, ROLLED_BACK, Rollout(remembered, 5, "r1"), "prod/app") == UPDATE
    assert gated(UPDATE, ROLLED_BACK, Rollout(remembered, 4, "r2"), "prod/app") == UPDATE
    assert gated(UPDATE, ROLLED_BACK, Rollout(remembered, 4, "r1"), "prod/app").refusal


def test_no_update_while_a_deployment_is_in_progress_ours_or_not() -> None:
    rolling = _service(_deployment(OURS, "PRIMARY", "IN_PROGRESS"))
    ours = gated(UPDATE, rolling, Rollout(STARTED, 4), "prod/app")
    foreign = gated(UPDATE, rolling, Rollout(None, 4), "prod/app")
    for plan in (ours, foreign):
        assert plan.blocked is not None
        assert not plan.actions
        assert plan.blocked.reason == DEPLOYMENT_IN_PROGRESS
        assert plan.changes == UPDATE.changes  # the plan still shows what would be sent
    assert ours.blocked is not None
    assert "the one the operator started" in ours.blocked.message
    assert foreign.blocked is not None
    assert "started outside sd-operator" in foreign.blocked.message


def test_nothing_to_send_is_never_held_back() -> None:
    rolling = _service(_deployment("ecs-svc/9", "PRIMARY", "IN_PROGRESS"))
    assert gated(Plan(), rolling, Rollout(None, 1), "prod/app") == Plan()


def _undone() -> float:
    value = REGISTRY.get_sample_value(
        "sd_operator_ecs_deployments_undone_total", {"reason": DEPLOYMENT_ROLLED_BACK}
    )
    return value or 0.0


def test_a_rollback_is_one_event_and_one_count_however_many_sweeps_repeat_it() -> None:
    body = kopf.Body({"metadata": {"name": "app", "namespace": "team", "uid": "u1"}})
    result = StepResult(Outcome.REFUSED, reason=DEPLOYMENT_ROLLED_BACK, message="rolled back")
    posted: list[tuple[str, str, str]] = []
    before = _undone()
    stalled = DiscoveryStatus(
        conditions=(StatusCondition(cond.TERMINAL, "True", DEPLOYMENT_ROLLED_BACK, "rolled back"),)
    )
    for previous in (DiscoveryStatus(), stalled, stalled):
        written = Written(body, "ServiceDiscovery", previous, result, {}, drift_recorded=False)
        record(
            written,
            [],
            lambda _body, type_, reason, message: posted.append((type_, reason, message)),
        )
    assert posted == [("Warning", DEPLOYMENT_ROLLED_BACK, "rolled back")]
    assert _undone() == before + 1
