"""One reconcile step, in three parts: observe AWS (observe.py, every read through a Reader),
plan (plan.py, pure), execute (execute.py, the only writer); then say what the status should be.

Shared by the kopf handlers and the CLI. Each intent has its own entry points, chosen once by
the caller: applying a spec is `Reconciler.plan` / `Reconciler.step`, the deletion of what a
resource made is `Reconciler.plan_delete` / `Reconciler.delete_step`; the CLI plans and steps
through them as the operator does. A step submits at most one asynchronous Cloud Map operation
and returns at once with it in status.operation; the caller persists that before anything
waits on it, so a restarted operator resumes polling instead of repeating the call.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field, replace
from typing import Any
from uuid import uuid4

from sd_operator.aws.api import AwsAdapters
from sd_operator.aws.errors import AssumeRoleFailed, AwsError, NotFound, Retryable
from sd_operator.model import conditions as cond
from sd_operator.model import reasons
from sd_operator.model.actions import Change, CreateNamespace, CreateService, Plan
from sd_operator.model.grants import Role
from sd_operator.model.observed import (
    Observed,
    ObservedNamespace,
    ObservedService,
    OperationStatus,
)
from sd_operator.model.redact import own_arns, redact_arns
from sd_operator.model.spec import (
    ClusterIdentity,
    DriftPolicy,
    NamespaceSpec,
    Resource,
    ServiceDiscoverySpec,
    resource_region,
)
from sd_operator.model.status import (
    DiscoveryStatus,
    Operation,
    StatusPatch,
    applied,
    given,
    status_from_wire,
)
from sd_operator.model.timestamps import utc_now
from sd_operator.reconcile.drift_policy import Held
from sd_operator.reconcile.ecs_plan import changes_endpoints, endpoints_namespace, with_clients
from sd_operator.reconcile.execute import OPERATION_TYPES, Executor
from sd_operator.reconcile.observe import Observer, ecs_clients
from sd_operator.reconcile.ownership import creator_request_id
from sd_operator.reconcile.plan import plan_resource, plan_teardown
from sd_operator.reconcile.reader import AccountView, FreshReader, Reader, ViewReader
from sd_operator.reconcile.render import describe_changes
from sd_operator.reconcile.result import Outcome, StepResult

OPERATION_POLL_SECONDS = 1.0
REQUEST_RECORD_SECONDS = 0.1
CREATES = (CreateNamespace, CreateService)
MAX_SYNC_ROUNDS = 3
CREATE_NAMESPACE = OPERATION_TYPES[CreateNamespace]
# The ids a previous step recorded: the status as stored, or typed.
Known = DiscoveryStatus | Mapping[str, Any] | None


@dataclass(frozen=True)
class Planned:
    """What one step saw and decided: the namespace it works in, and the plan from there."""

    namespace: ObservedNamespace | None
    plan: Plan
    ids: StatusPatch  # None: the step found that the recorded id no longer applies
    reported: tuple[Change, ...] = ()


class Reconciler:
    """The step loop: observe -> plan -> execute, rounds until AWS reflects what was done, and
    the verdict (drift policy, the create request id, the pending operation) for the status."""

    def __init__(
        self,
        adapters: AwsAdapters,
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
        self._view_ttl = view_ttl
        self.adapters = adapters
        self.view = AccountView(self.adapters, view_ttl, cluster)
        self._fresh = FreshReader(self.adapters, self.view)
        self.view_reader = ViewReader(self.view, self._fresh)
        self._observer = Observer(cluster, self.default_region)
        self._executor = Executor(self.adapters, clock)

    def for_role(self, role: Role) -> Reconciler:
        """A Reconciler like this one, acting in another account through `role`: its own
        adapters and account view (reconcile/accounts.py)."""
        return Reconciler(self.adapters.as_role(role), self.cluster, self._clock, self._view_ttl)

    def _region(self, res: Resource, namespace: NamespaceSpec | None) -> str:
        return resource_region(res, namespace) or self.default_region

    def account(self, res: Resource, namespace: NamespaceSpec | None) -> str:
        """The 12-digit account `res` lives in (status.account, the plan's)."""
        return self.adapters.account(self._region(res, namespace))

    def announce(self, res: Resource, namespace: NamespaceSpec | None) -> None:
        """Tell the account view about a resource's ECS service before anything is read, so the
        first DescribeServices batch already carries every service (10 per call)."""
        if isinstance(res.spec, ServiceDiscoverySpec) and res.spec.ecs is not None:
            self.view.want(self._region(res, namespace), res.spec.ecs.cluster, res.spec.ecs.service)

    def plan(
        self,
        res: Resource,
        *,
        namespace: NamespaceSpec | None = None,
        reader: Reader | None = None,
        known: Known = None,
        hold_reported: bool = False,
        from_view: bool = False,
    ) -> Planned:
        """Observe, then plan applying the spec: what the CLI's plan shows and each round of a
        step acts on.

        `known`: the ids a previous step recorded (status), read by id. `hold_reported`: AWS
        matched this generation before, so a difference in a spec.driftFields Report field is
        drift to record, not a spec change to carry out. `reader`: fresh unless given.
        `from_view` (the sweep, the CLI's plan): read through the account view first, and
        again with `reader` unless it says "in sync": the view is trusted only for that, as
        its batched tags (tag:GetResources) lag behind AWS, and some AWS-compatible endpoints
        answer it with no Cloud Map resources at all (docs/drift.md)."""

        def once(read: Reader) -> Planned:
            observed = self._observer.observe(read, res, namespace=namespace, known=_typed(known))
            held = plan_resource(
                res, observed, self.cluster, namespace=namespace, hold_reported=hold_reported
            )
            return self._planned(read, observed, held)

        return self._view_first(once, reader, from_view)

    def plan_delete(
        self,
        res: Resource,
        *,
        namespace: NamespaceSpec | None = None,
        reader: Reader | None = None,
        known: Known = None,
        from_view: bool = False,
    ) -> Planned:
        """Observe what `res` made, then plan its deletion: what the CLI's `plan --delete` shows
        and each round of a delete step acts on. `known`, `reader`, `from_view`: as for
        `plan`."""

        def once(read: Reader) -> Planned:
            observed = self._observer.observe_owned(
                read, res, namespace=namespace, known=_typed(known)
            )
            return self._planned(read, observed, Held(plan_teardown(res, observed, self.cluster)))

        return self._view_first(once, reader, from_view)

    def _view_first(
        self, once: Callable[[Reader], Planned], reader: Reader | None, from_view: bool
    ) -> Planned:
        if from_view:
            viewed = once(self.view_reader)
            if viewed.plan.in_sync and not viewed.reported:
                return viewed
        return once(reader or self._fresh)

    def _planned(self, read: Reader, observed: Observed, held: Held) -> Planned:
        plan = held.plan
        if observed.namespace is not None and changes_endpoints(plan):
            # The one read that follows the plan: ListServicesByNamespace (1 call/s) only for
            # a plan that changes an endpoint.
            namespace = endpoints_namespace(plan) or observed.namespace.arn
            users = ecs_clients(read, observed.region, namespace)
            plan = with_clients(plan, users, given(observed.ids.ecs_service_arn))
        return Planned(observed.namespace, plan, observed.ids, held.reported)

    # One step ------------------------------------------------------------------------------

    def step(
        self,
        res: Resource,
        status: Mapping[str, Any],
        *,
        namespace: NamespaceSpec | None = None,
        from_view: bool = False,
        durable: bool = True,
    ) -> StepResult:
        """Advance `res` towards its spec as far as AWS allows right now.

        `from_view` (the drift sweep) reads through the account view first; anything but "in
        sync" is read again fresh before it is acted on or reported. `durable`: the caller
        persists status between steps (the operator), so a create's request id is recorded
        (returned, RecordingRequest) before the create is sent; a caller whose status does not
        outlive it (the CLI's converge) has nothing to record first, and the same step sends
        the create instead of observing everything again in the next one."""
        steady = _was_steady(res, status_from_wire(status, DiscoveryStatus))

        def plan(read: Reader, known: DiscoveryStatus, from_view: bool) -> Planned:
            return self.plan(
                res,
                namespace=namespace,
                reader=read,
                known=known,
                hold_reported=steady,
                from_view=from_view,
            )

        intent = _Intent(plan, Outcome.IN_SYNC, steady)
        return _caught(
            lambda: self._step(res, status, intent, namespace, from_view, durable), status
        )

    def delete_step(
        self,
        res: Resource,
        status: Mapping[str, Any],
        *,
        namespace: NamespaceSpec | None = None,
        durable: bool = True,
    ) -> StepResult:
        """Advance the deletion of what `res` made (its deletionPolicy applies) as far as AWS
        allows right now; Gone once nothing of it is left to delete. `durable`: as for
        `step`."""

        def plan(read: Reader, known: DiscoveryStatus, from_view: bool) -> Planned:
            return self.plan_delete(res, namespace=namespace, reader=read, known=known)

        intent = _Intent(plan, Outcome.GONE)
        return _caught(lambda: self._step(res, status, intent, namespace, False, durable), status)

    def _step(
        self,
        res: Resource,
        status: Mapping[str, Any],
        intent: _Intent,
        namespace: NamespaceSpec | None,
        from_view: bool,
        durable: bool,
    ) -> StepResult:
        region = self._region(res, namespace)
        done = _Progress()
        done.updates.account = self.adapters.account(region)
        recorded = status_from_wire(status, DiscoveryStatus)
        if recorded.operation is not None:
            waited = self._poll_operation(
                region, recorded.operation, done.updates, own_arns(status)
            )
            if waited is not None:
                return waited
        for _ in range(MAX_SYNC_ROUNDS):
            reader = self._fresh.answering(done.answered)
            seen = intent.plan(reader, applied(recorded, done.updates), from_view)
            from_view = False
            done.updates.update(seen.ids)
            done.updates.last_observed_time = self._clock()
            verdict = _verdict(res, recorded, intent, seen, done)
            if verdict is None:
                verdict = self._carry_out(res, region, recorded, seen, done, durable)
            if verdict is not None:
                return verdict
        return done.result(
            Outcome.ERROR,
            seen.plan,
            reason=reasons.NOT_CONVERGING,
            message="AWS did not reflect the changes made; retrying",
            retry_after=OPERATION_POLL_SECONDS,
        )

    def _carry_out(
        self,
        res: Resource,
        region: str,
        status: DiscoveryStatus,
        seen: Planned,
        done: _Progress,
        durable: bool,
    ) -> StepResult | None:
        """Execute `seen`'s plan; a result if the step waits now (None: observe again)."""
        plan = seen.plan
        request_id = given(done.updates.creator_request_id) or status.creator_request_id
        if request_id is None and any(isinstance(a, CREATES) for a in plan.actions):
            # Recorded (persisted by a durable caller) before it is ever sent: see
            # ownership.creator_request_id.
            request_id = creator_request_id(res.identity, self.cluster, uuid4().hex)
            done.updates.creator_request_id = request_id
            if durable:
                return done.result(
                    Outcome.WAITING,
                    plan,
                    reported=seen.reported,
                    reason=reasons.RECORDING_REQUEST,
                    message="recorded the create request's id before sending it",
                    retry_after=REQUEST_RECORD_SECONDS,
                )
        # The view is not invalidated: what was changed is read by id from now on, and
        # the next sweep reads the account again anyway.
        executed = self._executor.execute(
            plan, region, str(request_id or ""), done.updates, done.answered
        )
        done.performed.extend(executed.performed)
        if not executed.submitted:
            return None
        return done.result(
            Outcome.WAITING,
            plan,
            reported=seen.reported,
            reason=reasons.OPERATION_PENDING,
            message=f"waiting for Cloud Map operation {executed.submitted}",
            retry_after=OPERATION_POLL_SECONDS,
        )

    def _poll_operation(
        self,
        region: str,
        operation: Operation,
        updates: StatusPatch,
        own: Collection[str],
    ) -> StepResult | None:
        try:
            op = self._fresh.get_operation(region, operation.id)
        except NotFound:
            updates.operation = None
            return None
        if not op.status.done:
            return StepResult(
                Outcome.WAITING,
                reason=reasons.OPERATION_PENDING,
                message=f"Cloud Map operation {op.id} ({op.type}) is {op.status}",
                retry_after=OPERATION_POLL_SECONDS,
            )
        updates.operation = None
        created = op.targets.get("NAMESPACE")
        if op.status is OperationStatus.SUCCESS and op.type == CREATE_NAMESPACE and created:
            # The namespace this resource created has an id now: from here on it is read by
            # id, which also tells the account view (reader.FreshReader.get_namespace), so the
            # services created with it find it at once.
            updates.namespace_id = created
        if op.status is OperationStatus.FAIL:
            # AWS may answer a reused CreatorRequestId with this failure again: the next
            # attempt draws a new one.
            updates.creator_request_id = None
            return StepResult(
                Outcome.FAILED,
                status=replace(updates),
                reason=op.error_code or reasons.OPERATION_FAILED,
                message=redact_arns(
                    f"Cloud Map operation {op.id} ({op.type}) failed: "
                    f"{op.error_code}: {op.error_message}",
                    own,
                ),
            )
        return None


def error_result(exc: AwsError, status: Mapping[str, Any]) -> StepResult:
    """An AWS error as a step's verdict, retried (`retry_after`) or failed: the one mapping from
    a classified AwsError to an outcome, reason, message and delay, which the export, the
    imports and the CLI's plan report too. Its text becomes condition messages and Events the
    resource's readers see: ARNs but those in `status` (as stored) are masked in it."""
    message = redact_arns(str(exc), own_arns(status))
    if isinstance(exc, AssumeRoleFailed):
        # Stalled until the role, its trust policy or the operator's permission is fixed
        # outside; retried, backing off, as any AWS error. The role is named (the grant is
        # the platform team's, not secret from its tenants); AWS's text is masked as above.
        cause = redact_arns(str(exc.cause), own_arns(status))
        return StepResult(
            Outcome.BLOCKED,
            reason=reasons.ASSUME_ROLE_FAILED,
            message=f"cannot assume role {exc.role} (its DiscoveryGrant's spec.aws): {cause}",
            retry_after=exc.delay,
        )
    if isinstance(exc, Retryable):
        return StepResult(Outcome.ERROR, reason=exc.code, message=message, retry_after=exc.delay)
    return StepResult(Outcome.FAILED, reason=exc.code, message=message)


def _caught(step: Callable[[], StepResult], status: Mapping[str, Any]) -> StepResult:
    """`step`, with an AWS error it raises as its result (`error_result`)."""
    try:
        return step()
    except AwsError as exc:
        return error_result(exc, status)


@dataclass(frozen=True)
class _Intent:
    """What a step plans each round, `plan(reader, known ids, from_view)`, and the outcome it
    ends in once nothing is left to do: applying the spec, or the deletion of what it made.
    `steady` (applying a generation AWS matched before): what the first round finds different
    was changed outside the operator, drift."""

    plan: Callable[[Reader, DiscoveryStatus, bool], Planned]
    done: Outcome
    steady: bool = False


@dataclass
class _Progress:
    """What a step has done so far, over its rounds."""

    updates: StatusPatch = field(default_factory=StatusPatch)
    performed: list[str] = field(default_factory=list)
    drift: tuple[Change, ...] = ()
    # A service this step created is read back from CreateService's answer, not with
    # GetService + ListTagsForResource (docs/aws-budget.md, cold convergence).
    answered: dict[str, ObservedService] = field(default_factory=dict)

    def result(self, outcome: Outcome, plan: Plan, **fields: Any) -> StepResult:
        """The step's result with what it has done: every result of a step is built here."""
        fields.setdefault("drift", self.drift)
        # A copy: the frozen result must not share the patch a step goes on filling in.
        return StepResult(outcome, plan, replace(self.updates), tuple(self.performed), **fields)


def _verdict(
    res: Resource,
    status: DiscoveryStatus,
    intent: _Intent,
    seen: Planned,
    done: _Progress,
) -> StepResult | None:
    """How the step ends before it acts on `seen`'s plan, if it does: refused, nothing left
    to do, or drift to report (None: carry the plan out)."""
    plan = seen.plan
    if plan.refusal is not None:
        return done.result(
            Outcome.REFUSED,
            plan,
            drift=(),
            reason=plan.refusal.reason,
            message=f"spec.{plan.refusal.field}: {plan.refusal.message}",
        )
    if not plan.actions:
        return _settled(status, intent, seen, done)
    if intent.steady and not done.performed:
        done.drift = plan.changes + seen.reported
        # A plan that only writes an ownership marker (an ECS service configured before
        # the marker existed) changes nothing of the spec's: not drift to report.
        if done.drift and _drift_policy(res) is DriftPolicy.REPORT:
            return done.result(
                Outcome.DRIFT_REPORTED,
                plan,
                reported=done.drift,
                reason=reasons.DRIFT_REPORTED,
                message=describe_changes(done.drift),
            )
    return None


def _settled(
    status: DiscoveryStatus, intent: _Intent, seen: Planned, done: _Progress
) -> StepResult:
    """A plan with no action left: blocked, drift reported, or done."""
    plan = seen.plan
    # Actions ahead of a block still run (e.g. create the Cloud Map service an ECS registry
    # waits for); only a plan with nothing left to do reports it.
    if plan.blocked is not None:
        return done.result(
            Outcome.BLOCKED,
            plan,
            reason=plan.blocked.reason,
            message=plan.blocked.message,
            retry_after=plan.blocked.retry_after,
        )
    if status.creator_request_id or given(done.updates.creator_request_id):
        done.updates.creator_request_id = None  # that create is done: the next one is new
    if seen.reported and not done.performed:
        return done.result(
            Outcome.DRIFT_REPORTED,
            plan,
            drift=seen.reported,
            reported=seen.reported,
            reason=reasons.DRIFT_REPORTED,
            message=describe_changes(seen.reported),
        )
    return done.result(intent.done, plan, reported=seen.reported)


def _drift_policy(res: Resource) -> DriftPolicy:
    return (
        res.spec.drift_policy if isinstance(res.spec, ServiceDiscoverySpec) else DriftPolicy.CORRECT
    )


def _was_steady(res: Resource, status: DiscoveryStatus) -> bool:
    """AWS matched this generation before: any difference now was made outside the operator."""
    if status.observed_generation != res.identity.generation:
        return False
    drifted = status.condition(cond.DRIFTED)
    return status.is_true(cond.SYNCED) or (
        drifted is not None and drifted.reason == reasons.DRIFT_REPORTED
    )


def _typed(known: Known) -> DiscoveryStatus:
    if isinstance(known, DiscoveryStatus):
        return known
    return status_from_wire(known, DiscoveryStatus)
