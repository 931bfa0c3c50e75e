"""ECS deployment lifecycle: rolloutState IN_PROGRESS -> COMPLETED, or FAILED and a rollback.

AWS API reference, Deployment: `rolloutState` is COMPLETED, FAILED or IN_PROGRESS; "If you use
the deployment circuit breaker ... the rollout state is FAILED" when it trips, and with rollback
enabled "the service rolls back to the last deployment that completed successfully". moto marks a
deployment COMPLETED or IN_PROGRESS once, from its running count, and never moves it on, has no
failures and no service deployments API (ListServiceDeployments / DescribeServiceDeployments).

Time is the emulator's usual one (operations.py): a deployment stays IN_PROGRESS until its hold
has passed (`seconds` since it started AND `polls` DescribeServices answers showing it), then
completes, or, when a fail rule names its service, fails: the circuit breaker marks it FAILED
(still listed, ACTIVE) and a rollback deployment of the previous configuration becomes PRIMARY,
held in the same way. As in ecs.py, the deployment a new one replaced stays listed (ACTIVE)
until the next one starts, so a failed deployment is still seen next to its rollback; a fail
rule with `forget` drops it from `deployments[]` once its rollback completes, as AWS does when
its tasks are gone (then only the service deployments API remembers it). The answer
to the UpdateService (or CreateService) that started a deployment always shows it IN_PROGRESS,
as AWS's does; `settle()` runs before each ECS call.

Service deployments (AWS developer guide, "View service history using Amazon ECS service
deployments"): one per deployment a request started, IN_PROGRESS, then SUCCESSFUL, or
ROLLBACK_IN_PROGRESS and ROLLBACK_SUCCESSFUL (a rollback is part of the failed service deployment,
not one of its own); one that a newer request replaced mid-rollout is STOPPED.
"""

from __future__ import annotations

import copy
import secrets
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from ._wsgi import JSON, Call, Reply, page
from .moto_surface import EcsService, utcnow
from .operations import HeldRules, Hold

# Circuit breaker wording of a failed rollout (AWS troubleshooting guide, "deployment circuit
# breaker").
DEFAULT_FAILURE_REASON = "ECS deployment circuit breaker: tasks failed to start."
DESCRIBE_SERVICE_DEPLOYMENTS_MAX = 20  # "You can specify a maximum of 20 ARNs."
LIST_SERVICE_DEPLOYMENTS_DEFAULT = 20  # ListServiceDeployments maxResults default
ServiceKey = tuple[str, str, str, str]  # account, region, cluster name, service name
Lookup = Callable[[ServiceKey], EcsService | None]


@dataclass
class DeploymentFailRule:
    """Deployments of `service` in `cluster` started from now on fail and roll back;
    `forget`: the failed one leaves `deployments[]` once its rollback completes."""

    cluster: str
    service: str
    reason: str = DEFAULT_FAILURE_REASON
    count: int | None = None
    forget: bool = False
    fired: int = 0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Rollout:
    """One deployment in flight (a requested one, or the rollback of a failed one)."""

    key: ServiceKey
    deployment_id: str
    hold: Hold
    record: JSON  # the service deployment this rollout advances
    failure: DeploymentFailRule | None = None
    restore: JSON | None = None  # the PRIMARY deployment it replaced, for a rollback
    rollback_of: str | None = None  # the failed deployment's id, for a rollback
    forget: bool = False  # a rollback: drop the failed deployment from deployments[] once done
    started: float = field(default_factory=time.monotonic)
    polls: int = 0

    def done(self, now: float) -> bool:
        time_ok = self.hold.seconds is None or now - self.started >= self.hold.seconds
        polls_ok = self.hold.polls is None or self.polls >= self.hold.polls
        return time_ok and polls_ok


def _epoch(value: datetime) -> float:
    return value.timestamp()


def _deployment_id() -> str:
    return f"ecs-svc/{secrets.randbelow(32**12)}"  # the form moto's ids take


class DeploymentTracker(HeldRules[DeploymentFailRule]):
    """Rollouts in flight, fail rules, the hold, and every service deployment started."""

    def __init__(self) -> None:
        super().__init__()
        self._rollouts: dict[str, Rollout] = {}  # by deployment id
        self._records: list[JSON] = []  # service deployments, oldest first
        self._revisions: dict[str, str] = {}  # deployment id -> its service revision ARN

    def reset(self) -> None:
        self.clear_rules()
        with self._lock:
            self._rollouts.clear()
            self._records.clear()
            self._revisions.clear()

    # -- lifecycle -----------------------------------------------------------------------------

    def _failure(self, cluster: str, service: str) -> DeploymentFailRule | None:
        for rule in self._fail_rules:
            if rule.count is not None and rule.fired >= rule.count:
                continue
            if (rule.cluster, rule.service) == (cluster, service):
                rule.fired += 1
                return rule
        return None

    def _revision(self, key: ServiceKey, deployment_id: str) -> str:
        account, region, cluster, service = key
        number = deployment_id.rsplit("/", maxsplit=1)[-1]
        arn = f"arn:aws:ecs:{region}:{account}:service-revision/{cluster}/{service}/{number}"
        self._revisions[deployment_id] = arn
        return arn

    def started(
        self, key: ServiceKey, service: EcsService, new: JSON, replaced: JSON | None
    ) -> None:
        """A request started deployment `new` (already PRIMARY and IN_PROGRESS on `service`),
        replacing the PRIMARY `replaced` (None for a service's first deployment)."""
        account, region, cluster, name = key
        with self._lock:
            for rollout in [r for r in self._rollouts.values() if r.key == key]:
                del self._rollouts[rollout.deployment_id]
                if rollout.record["status"] == "IN_PROGRESS":
                    rollout.record.update(
                        status="STOPPED",
                        statusReason=f"Superseded by deployment {new['id']}.",
                        stoppedAt=_epoch(utcnow()),
                    )
            now = _epoch(new["createdAt"])
            number = str(new["id"]).rsplit("/", maxsplit=1)[-1]
            record: JSON = {
                "serviceDeploymentArn": (
                    f"arn:aws:ecs:{region}:{account}:service-deployment/{cluster}/{name}/{number}"
                ),
                "serviceArn": service.arn,
                "clusterArn": f"arn:aws:ecs:{region}:{account}:cluster/{cluster}",
                "createdAt": now,
                "startedAt": now,
                "updatedAt": now,
                "status": "IN_PROGRESS",
                "statusReason": f"ECS deployment {new['id']} in progress.",
                "targetServiceRevision": {"arn": self._revision(key, str(new["id"]))},
                "sourceServiceRevisions": (
                    [{"arn": self._revisions[replaced["id"]]}]
                    if replaced is not None and replaced.get("id") in self._revisions
                    else []
                ),
                "deploymentCircuitBreaker": {"status": "MONITORING", "failureCount": 0},
            }
            self._records.append(record)
            self._rollouts[str(new["id"])] = Rollout(
                key,
                str(new["id"]),
                self._hold,
                record,
                failure=self._failure(cluster, name),
                restore=copy.deepcopy(replaced) if replaced is not None else None,
            )

    def polled(self, service: EcsService) -> None:
        """A DescribeServices answer showed `service`: one poll of its rollouts in flight."""
        with self._lock:
            for deployment in service.deployments:
                rollout = self._rollouts.get(str(deployment.get("id")))
                if rollout is not None:
                    rollout.polls += 1

    def settle(self, lookup: Lookup) -> None:
        """Move on every rollout whose hold has passed (a finished failure starts its rollback,
        which may itself be due at once: repeat until nothing is)."""
        while True:
            now = time.monotonic()
            with self._lock:
                due = [r for r in self._rollouts.values() if r.done(now)]
                for rollout in due:
                    del self._rollouts[rollout.deployment_id]
            if not due:
                return
            for rollout in due:
                service = lookup(rollout.key)
                if service is not None and service.status == "ACTIVE":
                    self._finish(rollout, service)

    def _finish(self, rollout: Rollout, service: EcsService) -> None:
        ours = next((d for d in service.deployments if d.get("id") == rollout.deployment_id), None)
        if ours is None:
            return
        now = utcnow()
        if rollout.failure is None:
            ours.update(
                rolloutState="COMPLETED",
                rolloutStateReason=f"ECS deployment {rollout.deployment_id} completed.",
                updatedAt=now,
            )
            if rollout.forget:
                service.deployments = [
                    d for d in service.deployments if d.get("id") != rollout.rollback_of
                ]
            with self._lock:
                if rollout.rollback_of is None:
                    rollout.record.update(status="SUCCESSFUL", statusReason=None)
                else:
                    rollout.record.update(status="ROLLBACK_SUCCESSFUL")
                rollout.record.update(updatedAt=_epoch(now), finishedAt=_epoch(now))
            return
        reason = rollout.failure.reason
        ours.update(rolloutState="FAILED", rolloutStateReason=reason, updatedAt=now)
        with self._lock:
            rollout.record.update(
                status="ROLLBACK_IN_PROGRESS" if rollout.restore else "STOPPED",
                statusReason=reason,
                updatedAt=_epoch(now),
                deploymentCircuitBreaker={"status": "TRIGGERED", "failureCount": 1},
            )
        if rollout.restore is not None:
            self._roll_back(rollout, service, ours)

    def _roll_back(self, failed: Rollout, service: EcsService, ours: JSON) -> None:
        """The circuit breaker's rollback: a new PRIMARY deployment of the configuration the
        failed one replaced (its task definition and Service Connect), started by ECS."""
        assert failed.restore is not None
        assert failed.failure is not None
        now = utcnow()
        rollback = copy.deepcopy(failed.restore)
        rollback_id = _deployment_id()
        rollback.update(
            id=rollback_id,
            status="PRIMARY",
            createdAt=now,
            updatedAt=now,
            rolloutState="IN_PROGRESS",
            rolloutStateReason=f"ECS deployment {rollback_id} in progress.",
        )
        ours["status"] = "ACTIVE"
        service.deployments = [rollback, ours]
        service.task_definition = rollback.get("taskDefinition", service.task_definition)
        with self._lock:
            restored = self._revisions.get(str(failed.restore.get("id")), "")
            self._revisions[rollback_id] = restored
            failed.record["rollback"] = {
                "reason": failed.failure.reason,
                "startedAt": _epoch(now),
                "serviceRevisionArn": restored,
            }
            self._rollouts[rollback_id] = Rollout(
                failed.key,
                rollback_id,
                self._hold,
                failed.record,
                rollback_of=failed.deployment_id,
                forget=failed.failure.forget,
            )

    # -- the service deployments API -----------------------------------------------------------

    def list_service_deployments(self, call: Call, service: EcsService | None) -> Reply:
        """Newest first; `status` and `createdAt` ({after, before}, epoch seconds) filter."""
        if service is None:
            return Reply.error("ServiceNotFoundException", "Service not found.")
        wanted = set(call.body.get("status") or [])
        created = call.body.get("createdAt") or {}
        after, before = created.get("after"), created.get("before")
        with self._lock:
            briefs = [
                {
                    k: record[k]
                    for k in (
                        "serviceDeploymentArn",
                        "serviceArn",
                        "clusterArn",
                        "createdAt",
                        "startedAt",
                        "finishedAt",
                        "status",
                        "statusReason",
                    )
                    if record.get(k) is not None
                }
                | {"targetServiceRevisionArn": record["targetServiceRevision"]["arn"]}
                for record in reversed(self._records)
                if record["serviceArn"] == service.arn
                and (not wanted or record["status"] in wanted)
                and (after is None or record["createdAt"] >= float(after))
                and (before is None or record["createdAt"] <= float(before))
            ]
        max_results = call.body.get("maxResults")
        try:
            window, token = page(
                briefs,
                call.body.get("nextToken"),
                int(max_results) if max_results else None,
                0,
                LIST_SERVICE_DEPLOYMENTS_DEFAULT,
            )
        except ValueError as exc:
            return Reply.error("InvalidParameterException", str(exc))
        data: JSON = {"serviceDeployments": window}
        if token:
            data["nextToken"] = token
        return Reply.json_ok(data)

    def describe_service_deployments(self, call: Call) -> Reply:
        arns = [str(a) for a in call.body.get("serviceDeploymentArns") or []]
        if not arns or len(arns) > DESCRIBE_SERVICE_DEPLOYMENTS_MAX:
            return Reply.error(
                "InvalidParameterException", "serviceDeploymentArns must have 1 to 20 items."
            )
        with self._lock:
            known = {record["serviceDeploymentArn"]: record for record in self._records}
            found = [
                {k: v for k, v in copy.deepcopy(known[arn]).items() if v is not None}
                for arn in arns
                if arn in known
            ]
        failures = [{"arn": arn, "reason": "MISSING"} for arn in arns if arn not in known]
        return Reply.json_ok({"serviceDeployments": found, "failures": failures})
