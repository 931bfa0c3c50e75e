"""Sharing an ECS service with ECS's own deployment safety: the pure rules.

Every UpdateService of ours starts an ECS deployment. When the deployment circuit breaker (or a
blue/green rollback) undoes it, the PRIMARY deployment carries the old configuration again, which
a plain comparison reads as drift: sending the failing configuration again would start another
deployment that fails again, for ever, each one replacing every task. So:

- the deployment each UpdateService of ours started is remembered in status.ecsDeployment, and
  `followed` keeps its fate (rolloutState, reason, the task definition ECS returned to) as
  DescribeServices' `deployments[]` reports it, with no read of its own; only when it left
  `deployments[]` while last seen in progress (the operator was not looking when it ended) is
  its end read from the service deployments API (`unseen_end`, `from_history`), so that a
  failure nobody saw is still never sent again;
- `gated` holds back an UpdateService while any deployment of the service (ours or someone
  else's) is IN_PROGRESS (Reconciling, DeploymentInProgress; `held_back`, which a delete's
  UpdateService waits for too), and refuses one for the generation
  whose deployment ECS failed (Stalled, DeploymentRolledBack / DeploymentFailed) until the spec
  changes or a refresh is requested.

No boto3, no kopf, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from sd_operator.model.actions import Blocked, Plan, Refusal
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
from sd_operator.model.status import EcsDeployment

IN_PROGRESS = "IN_PROGRESS"
FAILED = "FAILED"
COMPLETED = "COMPLETED"
PRIMARY = "PRIMARY"
# How long a service whose deployment is rolling out waits before it looks again.
DEPLOYMENT_RETRY_SECONDS = 30.0


@dataclass(frozen=True)
class Rollout:
    """What the gate needs of the resource: the deployment our last update started (status),
    the generation planned, and the refresh annotation's value status records."""

    recorded: EcsDeployment | None
    generation: int
    refresh: str | None = None


def _find(deployments: tuple[ObservedDeployment, ...], id_: str) -> ObservedDeployment | None:
    return next((d for d in deployments if d.id == id_), None)


def _primary(observed: ObservedEcsService) -> ObservedDeployment | None:
    return next((d for d in observed.deployments if d.status == PRIMARY), None)


def unseen_end(recorded: EcsDeployment | None, observed: ObservedEcsService | None) -> str | None:
    """The id of our deployment when, last seen not yet ended, it is no longer in
    `deployments[]`: how it ended is only in the service deployments API. One seen COMPLETED
    cannot fail any more, and one seen FAILED is kept: neither is worth a read."""
    if (
        recorded is None
        or observed is None
        or recorded.rollout_state in (FAILED, COMPLETED)
        or _find(observed.deployments, recorded.id) is not None
    ):
        return None
    return recorded.id


def followed(
    recorded: EcsDeployment | None,
    observed: ObservedEcsService | None,
    refresh: str | None,
    history: ObservedServiceDeployment | None = None,
) -> EcsDeployment | None:
    """The remembered deployment after this observation. A failure, once seen, is kept (the
    failed deployment leaves `deployments[]` when its tasks are gone); `refresh` is the refresh
    annotation's value now, recorded with a failure so that a new value releases it. A
    deployment no longer listed is judged by `history` (what the service deployments API kept
    of it, read when `unseen_end`): without a failure there, it was replaced by a newer one
    and nothing is left to remember."""
    if recorded is None or observed is None or recorded.rollout_state == FAILED:
        return recorded
    ours = _find(observed.deployments, recorded.id)
    if ours is None:
        return from_history(recorded, observed, refresh, history)
    if ours.rollout_state != FAILED:
        return replace(recorded, rollout_state=ours.rollout_state)
    primary = _primary(observed)
    rolled_back = primary is not None and primary.id != ours.id
    return replace(
        recorded,
        rollout_state=FAILED,
        reason=ours.rollout_state_reason,
        rolled_back_to=primary.task_definition if primary is not None and rolled_back else None,
        refresh=refresh,
    )


def from_history(
    recorded: EcsDeployment,
    observed: ObservedEcsService,
    refresh: str | None,
    history: ObservedServiceDeployment | None,
) -> EcsDeployment | None:
    """Our deployment as the service deployments API tells its end. A rollback returned the
    service to what its PRIMARY deployment now runs; STOPPED without a tripped circuit breaker
    or alarm is a deployment a newer request replaced, not a failure."""
    if history is None or not (history.rolled_back or history.failed):
        return None
    primary = _primary(observed)
    return replace(
        recorded,
        rollout_state=FAILED,
        reason=history.status_reason,
        rolled_back_to=primary.task_definition if history.rolled_back and primary else None,
        refresh=refresh,
    )


def stopped(rollout: Rollout) -> EcsDeployment | None:
    """The deployment ECS undid that carried this generation, if no refresh came since."""
    recorded = rollout.recorded
    if (
        recorded is not None
        and recorded.rollout_state == FAILED
        and recorded.generation == rollout.generation
        and recorded.refresh == rollout.refresh
    ):
        return recorded
    return None


def _refusal(recorded: EcsDeployment, field: str, where: str) -> Refusal:
    if recorded.rolled_back_to:
        return Refusal(
            DEPLOYMENT_ROLLED_BACK,
            field,
            f"ECS rolled back deployment {recorded.id} of ECS service {where} "
            f"({recorded.reason or 'no reason given'}) to {recorded.rolled_back_to}; this "
            "generation is not sent again: change the spec, or request a refresh to retry",
        )
    return Refusal(
        DEPLOYMENT_FAILED,
        field,
        f"ECS deployment {recorded.id} of ECS service {where} failed "
        f"({recorded.reason or 'no reason given'}); this generation is not sent again: change "
        "the spec, or request a refresh to retry",
    )


def gated(update: Plan, observed: ObservedEcsService, rollout: Rollout, where: str) -> Plan:
    """`update` (a plan carrying an UpdateService) as it may go now: refused for a generation
    ECS undid, held back while a deployment rolls out, or unchanged."""
    if not update.changes:
        return update
    undone = stopped(rollout)
    if undone is not None:
        return Plan(
            changes=update.changes, refusal=_refusal(undone, update.changes[0].field, where)
        )
    return held_back(update, observed, rollout.recorded, where)


def held_back(
    update: Plan, observed: ObservedEcsService, recorded: EcsDeployment | None, where: str
) -> Plan:
    """`update` held back while any deployment of the service rolls out (an UpdateService
    then would start another that stops it); deletes wait too, a failed generation does not
    stop them. `recorded`: the deployment our last update started, to say whose it is."""
    if not update.changes:
        return update
    rolling = next((d for d in observed.deployments if d.rollout_state == IN_PROGRESS), None)
    if rolling is None:
        return update
    whose = (
        "the one the operator started"
        if recorded is not None and recorded.id == rolling.id
        else "started outside sd-operator"
    )
    return Plan(
        changes=update.changes,
        blocked=Blocked(
            DEPLOYMENT_IN_PROGRESS,
            f"ECS deployment {rolling.id} of ECS service {where} ({whose}) is in progress: "
            "nothing is sent until it ends",
            DEPLOYMENT_RETRY_SECONDS,
            (f"ECS deployment {rolling.id}",),
        ),
    )
