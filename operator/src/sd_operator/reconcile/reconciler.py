"""One reconcile step, in three parts: observe AWS (observe.py, every read through a Reader),
plan (plan.py, pure), execute (execute.py, the only writer); then say what the status should be.

Shared by the kopf handlers and the CLI: the CLI's plan is `Reconciler.plan`, its apply steps
with `Reconciler.step`, as the operator does. A step submits at most one asynchronous Cloud Map
operation and returns at once with it in `status["operation"]`; the caller persists that before
anything waits on it, so a restarted operator resumes polling instead of repeating the call.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from uuid import uuid4

from sd_operator.aws.adapters import Adapters
from sd_operator.aws.errors import Conflict, NotFound, Retryable, Terminal
from sd_operator.model import conditions as cond
from sd_operator.model.actions import Change, CreateNamespace, CreateService, Plan
from sd_operator.model.observed import ObservedNamespace, ObservedService, OperationStatus
from sd_operator.model.spec import (
    ClusterIdentity,
    DriftPolicy,
    NamespaceSpec,
    Resource,
    ServiceDiscoverySpec,
)
from sd_operator.reconcile.ecs_plan import changes_endpoints, with_clients
from sd_operator.reconcile.execute import OPERATION_TYPES, Executor
from sd_operator.reconcile.observe import Observer, ecs_clients, resource_region
from sd_operator.reconcile.ownership import creator_request_id
from sd_operator.reconcile.plan import plan_resource
from sd_operator.reconcile.reader import AccountView, FreshReader, Reader, ViewReader
from sd_operator.reconcile.render import describe_changes
from sd_operator.reconcile.result import Outcome, StepResult, utc_now

OPERATION_POLL_SECONDS = 1.0
REQUEST_RECORD_SECONDS = 0.1
REQUEST_ID = "creatorRequestId"
CREATES = (CreateNamespace, CreateService)
MAX_SYNC_ROUNDS = 3
CREATE_NAMESPACE = OPERATION_TYPES[CreateNamespace]


@dataclass(frozen=True)
class Planned:
    """What one step saw and decided: the namespace it works in, and the plan from there."""

    namespace: ObservedNamespace | None
    plan: Plan
    ids: Mapping[str, str | None]  # None: the step found that the recorded id no longer applies
    reported: tuple[Change, ...] = ()


class Reconciler:
    """The step loop: observe -> plan -> execute, rounds until AWS reflects what was done, and
    the verdict (drift policy, the create request id, the pending operation) for the status."""

    def __init__(
        self,
        adapters: Adapters,
        cluster: ClusterIdentity,
        clock: Callable[[], str] = utc_now,
        view_ttl: float = 30.0,
    ) -> None:
        """`adapters`: the AWS endpoint every read and write goes to, passed in so a caller
        decides what the outside world is (`Adapters(region, endpoint_url)` for AWS itself);
        their default region serves resources that name none."""
        self.default_region = adapters.default_region
        self.cluster = cluster
        self._clock = clock
        self.adapters = adapters
        self.view = AccountView(self.adapters, view_ttl, cluster)
        self._fresh = FreshReader(self.adapters, self.view)
        self.view_reader = ViewReader(self.view, self._fresh)
        self._observer = Observer(cluster, self.default_region)
        self._executor = Executor(self.adapters, clock)

    def _region(self, res: Resource, namespace: NamespaceSpec | None) -> str:
        return resource_region(res, namespace) or self.default_region

    def announce(self, res: Resource, namespace: NamespaceSpec | None) -> None:
        """Tell the account view about a resource's ECS service before anything is read, so the
        first DescribeServices batch already carries every service (10 per call)."""
        if isinstance(res.spec, ServiceDiscoverySpec) and res.spec.ecs is not None:
            self.view.want(self._region(res, namespace), res.spec.ecs.cluster, res.spec.ecs.service)

    def plan(
        self,
        res: Resource,
        *,
        deleting: bool = False,
        namespace: NamespaceSpec | None = None,
        reader: Reader | None = None,
        known: Mapping[str, Any] | None = None,
        hold_reported: bool = False,
        from_view: bool = False,
    ) -> Planned:
        """Observe, then plan: what the CLI's plan shows and each round of a step acts on.

        `known`: the ids a previous step recorded (status), read by id. `hold_reported`: AWS
        matched this generation before, so a difference in a spec.driftFields Report field is
        drift to record, not a spec change to carry out. `reader`: fresh unless given.
        `from_view` (the sweep, the CLI's plan): read through the account view first, and
        again with `reader` unless it says "in sync": the view is trusted only for that, as
        its batched tags (tag:GetResources) lag behind AWS, and some AWS-compatible endpoints
        answer it with no Cloud Map resources at all (docs/drift.md)."""
        read = reader or self._fresh
        if from_view:
            viewed = self._plan(res, self.view_reader, deleting, namespace, known, hold_reported)
            if viewed.plan.in_sync and not viewed.reported:
                return viewed
        return self._plan(res, read, deleting, namespace, known, hold_reported)

    def _plan(
        self,
        res: Resource,
        read: Reader,
        deleting: bool,
        namespace: NamespaceSpec | None,
        known: Mapping[str, Any] | None,
        hold_reported: bool,
    ) -> Planned:
        observed = self._observer.observe(
            read, res, deleting=deleting, namespace=namespace, known=known or {}
        )
        held = plan_resource(
            res,
            observed,
            self.cluster,
            deleting=deleting,
            namespace=namespace,
            hold_reported=hold_reported,
        )
        plan = held.plan
        if observed.namespace is not None and changes_endpoints(plan):
            # The one read that follows the plan: ListServicesByNamespace (1 call/s) only for
            # a plan that changes an endpoint.
            users = ecs_clients(read, observed.region, observed.namespace)
            plan = with_clients(plan, users, observed.ids.get("ecsServiceArn"))
        return Planned(observed.namespace, plan, observed.ids, held.reported)

    # One step ------------------------------------------------------------------------------

    def step(
        self,
        res: Resource,
        status: Mapping[str, Any],
        *,
        deleting: bool = False,
        namespace: NamespaceSpec | None = None,
        from_view: bool = False,
        durable: bool = True,
    ) -> StepResult:
        """Advance `res` towards its spec (or its deletion) as far as AWS allows right now.

        `from_view` (the drift sweep) reads through the account view first; anything but "in
        sync" is read again fresh before it is acted on or reported. `durable`: the caller
        persists status between steps (the operator), so a create's request id is recorded
        (returned, RecordingRequest) before the create is sent; a caller whose status does not
        outlive it (the CLI's converge) has nothing to record first, and the same step sends
        the create instead of observing everything again in the next one."""
        try:
            return self._step(res, status, deleting, namespace, from_view, durable)
        except Retryable as exc:
            return StepResult(
                Outcome.ERROR, reason=exc.code, message=str(exc), retry_after=exc.delay
            )
        except (Terminal, NotFound, Conflict) as exc:
            return StepResult(Outcome.FAILED, reason=exc.code, message=str(exc))

    def _step(
        self,
        res: Resource,
        status: Mapping[str, Any],
        deleting: bool,
        namespace: NamespaceSpec | None,
        from_view: bool,
        durable: bool,
    ) -> StepResult:
        region = self._region(res, namespace)
        updates: dict[str, Any] = {}
        operation = status.get("operation")
        if operation:
            waited = self._poll_operation(region, operation, updates)
            if waited is not None:
                return waited
        steady = _was_steady(res, status)
        performed: list[str] = []
        drift: tuple[Change, ...] = ()
        hold_reported = steady and not deleting
        # A service this step created is read back from CreateService's answer, not with
        # GetService + ListTagsForResource (docs/aws-budget.md, cold convergence).
        answered: dict[str, ObservedService] = {}
        for _ in range(MAX_SYNC_ROUNDS):
            seen = self.plan(
                res,
                deleting=deleting,
                namespace=namespace,
                reader=self._fresh.answering(answered),
                known={**status, **updates},
                hold_reported=hold_reported,
                from_view=from_view,
            )
            from_view = False
            updates.update(seen.ids)
            updates["lastObservedTime"] = self._clock()
            plan = seen.plan
            if plan.refusal is not None:
                return StepResult(
                    Outcome.REFUSED,
                    plan,
                    updates,
                    tuple(performed),
                    reason=plan.refusal.reason,
                    message=f"spec.{plan.refusal.field}: {plan.refusal.message}",
                )
            if not plan.actions:
                # Actions ahead of a block still run (e.g. create the Cloud Map service an
                # ECS registry waits for); only a plan with nothing left to do reports it.
                if plan.blocked is not None:
                    return StepResult(
                        Outcome.BLOCKED,
                        plan,
                        updates,
                        tuple(performed),
                        drift,
                        reason=plan.blocked.reason,
                        message=plan.blocked.message,
                        retry_after=plan.blocked.retry_after,
                    )
                if status.get(REQUEST_ID) or updates.get(REQUEST_ID):
                    updates[REQUEST_ID] = None  # that create is done: the next one is new
                if seen.reported and not performed:
                    return StepResult(
                        Outcome.DRIFT_REPORTED,
                        plan,
                        updates,
                        drift=seen.reported,
                        reported=seen.reported,
                        reason="DriftReported",
                        message=describe_changes(seen.reported),
                    )
                outcome = Outcome.GONE if deleting else Outcome.IN_SYNC
                return StepResult(
                    outcome, plan, updates, tuple(performed), drift, reported=seen.reported
                )
            if steady and not deleting and not performed:
                drift = plan.changes + seen.reported
                # A plan that only writes an ownership marker (an ECS service configured before
                # the marker existed) changes nothing of the spec's: not drift to report.
                if drift and _drift_policy(res) is DriftPolicy.REPORT:
                    return StepResult(
                        Outcome.DRIFT_REPORTED,
                        plan,
                        updates,
                        drift=drift,
                        reported=drift,
                        reason="DriftReported",
                        message=describe_changes(drift),
                    )
            request_id = updates.get(REQUEST_ID) or status.get(REQUEST_ID)
            if request_id is None and any(isinstance(a, CREATES) for a in plan.actions):
                # Recorded (persisted by a durable caller) before it is ever sent: see
                # ownership.creator_request_id.
                request_id = creator_request_id(res.identity, self.cluster, uuid4().hex)
                updates[REQUEST_ID] = request_id
                if durable:
                    return _waiting(
                        plan,
                        updates,
                        performed,
                        drift,
                        seen.reported,
                        "RecordingRequest",
                        "recorded the create request's id before sending it",
                        REQUEST_RECORD_SECONDS,
                    )
            # The view is not invalidated: what was changed is read by id from now on, and
            # the next sweep reads the account again anyway.
            done = self._executor.execute(plan, region, str(request_id or ""), updates, answered)
            performed.extend(done.performed)
            if done.submitted:
                return _waiting(
                    plan,
                    updates,
                    performed,
                    drift,
                    seen.reported,
                    "OperationPending",
                    f"waiting for Cloud Map operation {done.submitted}",
                    OPERATION_POLL_SECONDS,
                )
        return StepResult(
            Outcome.ERROR,
            plan,
            updates,
            tuple(performed),
            drift,
            reason="NotConverging",
            message="AWS did not reflect the changes made; retrying",
            retry_after=OPERATION_POLL_SECONDS,
        )

    def _poll_operation(
        self, region: str, operation: Mapping[str, Any], updates: dict[str, Any]
    ) -> StepResult | None:
        try:
            op = self._fresh.get_operation(region, operation["id"])
        except NotFound:
            updates["operation"] = None
            return None
        if not op.status.done:
            return StepResult(
                Outcome.WAITING,
                reason="OperationPending",
                message=f"Cloud Map operation {op.id} ({op.type}) is {op.status}",
                retry_after=OPERATION_POLL_SECONDS,
            )
        updates["operation"] = None
        created = op.targets.get("NAMESPACE")
        if op.status is OperationStatus.SUCCESS and op.type == CREATE_NAMESPACE and created:
            # The namespace this resource created has an id now: from here on it is read by
            # id, which also tells the account view (reader.FreshReader.get_namespace), so the
            # services created with it find it at once.
            updates["namespaceId"] = created
        if op.status is OperationStatus.FAIL:
            # AWS may answer a reused CreatorRequestId with this failure again: the next
            # attempt draws a new one.
            updates[REQUEST_ID] = None
            return StepResult(
                Outcome.FAILED,
                status=updates,
                reason=op.error_code or "OperationFailed",
                message=f"Cloud Map operation {op.id} ({op.type}) failed: "
                f"{op.error_code}: {op.error_message}",
            )
        return None


def _drift_policy(res: Resource) -> DriftPolicy:
    return (
        res.spec.drift_policy if isinstance(res.spec, ServiceDiscoverySpec) else DriftPolicy.CORRECT
    )


def _was_steady(res: Resource, status: Mapping[str, Any]) -> bool:
    """AWS matched this generation before: any difference now was made outside the operator."""
    if status.get("observedGeneration") != res.identity.generation:
        return False
    conditions = status.get("conditions")
    drifted = cond.find(conditions, cond.DRIFTED)
    return cond.is_true(conditions, cond.SYNCED) or (
        drifted is not None and drifted.get("reason") == "DriftReported"
    )


def _waiting(
    plan: Plan,
    updates: dict[str, Any],
    performed: list[str],
    drift: tuple[Change, ...],
    reported: tuple[Change, ...],
    reason: str,
    message: str,
    retry_after: float,
) -> StepResult:
    """A step that wrote what it could and waits: a create's request id being recorded, or a
    Cloud Map operation in flight."""
    return StepResult(
        Outcome.WAITING,
        plan,
        updates,
        tuple(performed),
        drift,
        reported=reported,
        reason=reason,
        message=message,
        retry_after=retry_after,
    )
