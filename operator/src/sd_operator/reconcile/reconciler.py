"""One reconcile step: observe AWS, plan, carry out the plan, and say what the status should be.

Shared by the kopf handlers and the CLI. A step submits at most one asynchronous Cloud Map
operation and returns at once with it in `status["operation"]`; the caller persists that before
anything waits on it, so a restarted operator resumes polling instead of repeating the call.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any
from uuid import uuid4

from sd_operator.aws.clients import (
    AwsConfig,
    cloudmap_client,
    ecs_client,
    route53_client,
    tagging_client,
)
from sd_operator.aws.cloudmap import CloudMap
from sd_operator.aws.ecs import EcsAdapter
from sd_operator.aws.errors import Conflict, NotFound, Retryable, Terminal
from sd_operator.aws.route53 import Route53
from sd_operator.aws.tagging import Tagging
from sd_operator.model import conditions as cond
from sd_operator.model.actions import (
    Action,
    Blocked,
    Change,
    CreateNamespace,
    CreateService,
    DeleteNamespace,
    DeleteService,
    Plan,
    TagResource,
    UntagResource,
    UpdateEcsService,
    UpdateNamespace,
    UpdateService,
)
from sd_operator.model.observed import ObservedNamespace, ObservedService, OperationStatus
from sd_operator.model.spec import (
    KIND_NAMESPACE,
    DriftPolicy,
    Identity,
    NamespaceSpec,
    NamespaceType,
    Resource,
    ServiceDiscoverySpec,
)
from sd_operator.reconcile.drift_policy import Held, hold
from sd_operator.reconcile.ecs_plan import ecs_service_label, plan_ecs, plan_ecs_delete
from sd_operator.reconcile.ownership import Ownership, creator_request_id, owner_tags, ownership
from sd_operator.reconcile.plan import (
    REASON_NAMESPACE_NOT_FOUND,
    REASON_NAMESPACE_NOT_OWNED,
    plan_namespace,
    plan_namespace_delete,
    plan_service,
    plan_service_delete,
)
from sd_operator.reconcile.reader import AccountView, Adapters, FreshReader, Reader, ViewReader
from sd_operator.reconcile.render import describe_changes, performed_line
from sd_operator.reconcile.result import Outcome, StepResult, utc_now

OPERATION_POLL_SECONDS = 1.0
REQUEST_RECORD_SECONDS = 0.1
REQUEST_ID = "creatorRequestId"
CREATES = (CreateNamespace, CreateService)
MAX_SYNC_ROUNDS = 3


def _operation_type(action: Action) -> str:
    return {
        CreateNamespace: "CREATE_NAMESPACE",
        UpdateNamespace: "UPDATE_NAMESPACE",
        DeleteNamespace: "DELETE_NAMESPACE",
        UpdateService: "UPDATE_SERVICE",
    }[type(action)]


@dataclass(frozen=True)
class Observation:
    """What one step saw: the namespace it works in, and the plan from there."""

    namespace: ObservedNamespace | None
    plan: Plan
    ids: Mapping[str, str | None]  # None: the step found that the recorded id no longer applies
    reported: tuple[Change, ...] = ()


class Reconciler:
    def __init__(
        self,
        default_region: str,
        endpoint_url: str | None,
        cluster: str,
        clock: Callable[[], str] = utc_now,
        view_ttl: float = 30.0,
    ) -> None:
        self.default_region = default_region
        self.endpoint_url = endpoint_url
        self.cluster = cluster
        self._clock = clock
        self._ecs: dict[str, EcsAdapter] = {}
        adapters = Adapters(
            cloudmap=self.cloudmap, ecs=self.ecs, route53=self.route53, tagging=self.tagging
        )
        self.view = AccountView(adapters, view_ttl, cluster)
        self._fresh = FreshReader(adapters, self.view)
        self.view_reader = ViewReader(self.view, self._fresh)

    def _config(self, region: str | None) -> AwsConfig:
        return AwsConfig(region or self.default_region, self.endpoint_url)

    def cloudmap(self, region: str | None) -> CloudMap:
        return CloudMap(cloudmap_client(self._config(region)))

    def tagging(self, region: str | None) -> Tagging:
        return Tagging(tagging_client(self._config(region)))

    def route53(self, region: str | None) -> Route53:
        return Route53(route53_client(self._config(region)))

    def ecs(self, region: str | None) -> EcsAdapter:
        """One adapter per region, kept: it caches task definitions, which never change."""
        config = self._config(region)
        if config.region not in self._ecs:
            self._ecs[config.region] = EcsAdapter(ecs_client(config))
        return self._ecs[config.region]

    # Observation and planning --------------------------------------------------------------

    def announce(self, res: Resource, namespace: NamespaceSpec | None) -> None:
        """Tell the account view about a resource's ECS service before anything is read, so the
        first DescribeServices batch already carries every service (10 per call)."""
        if isinstance(res.spec, ServiceDiscoverySpec) and res.spec.ecs is not None:
            region = _region(res, namespace) or self.default_region
            self.view.want(region, res.spec.ecs.cluster, res.spec.ecs.service)

    def observe(
        self,
        res: Resource,
        *,
        deleting: bool = False,
        namespace: NamespaceSpec | None = None,
        reader: Reader | None = None,
        known: Mapping[str, Any] | None = None,
        hold_reported: bool = False,
    ) -> Observation:
        """`known`: the ids a previous step recorded (status): what has an id is read by id,
        and only AWS's NotFound for that id counts as gone; a scan by name serves only what
        was never seen. `hold_reported`: AWS matched this generation before, so a difference
        in a spec.driftFields Report field is drift to record, not a spec change to carry out."""
        read = reader or self._fresh
        ids = {k: str(v) for k, v in (known or {}).items() if k in _ID_KEYS and v}
        if isinstance(res.spec, NamespaceSpec):
            return self._observe_namespace(read, res.identity, res.spec, deleting, ids)
        spec = res.spec
        seen = self._observe_discovery(read, res.identity, spec, deleting, namespace, ids)
        held = Held(seen.plan)
        if not deleting:
            held = hold(seen.plan, spec.drift_ignore, spec.drift_report if hold_reported else ())
        region = _region(res, namespace) or self.default_region
        arn = seen.namespace.arn if seen.namespace else None
        plan = self._with_clients(held.plan, region, arn, seen.ids)
        return replace(seen, plan=plan, reported=held.reported)

    def _observe_namespace(
        self,
        read: Reader,
        identity: Identity,
        spec: NamespaceSpec,
        deleting: bool,
        known: Mapping[str, str],
    ) -> Observation:
        region = spec.region or self.default_region
        observed: ObservedNamespace | None = None
        renamed: ObservedNamespace | None = None
        gone = False
        if "namespaceId" in known:
            by_id = read.get_namespace(region, known["namespaceId"], with_tags=True)
            gone = by_id is None
            ours = by_id is not None and _is_ours(by_id.tags, identity, self.cluster)
            if by_id is not None and (by_id.name == spec.name or (deleting and ours)):
                observed = by_id
            elif ours:
                renamed = by_id
        if deleting and "namespaceId" not in known:
            # No id to read (the CLI has no status): the ownership tags name it, as for a
            # service (_service_to_delete).
            observed = read.tagged_namespace(region, owner_tags(identity, self.cluster))
        if observed is None and renamed is None and not (deleting and gone):
            observed = read.find_namespace(region, spec.name, with_tags=True)
        # Only a namespace this resource manages is its namespaceId: one that exists under
        # another owner, or whose adoption is refused, is not (status would call it Ready).
        managed = observed is not None and _is_ours(observed.tags, identity, self.cluster)
        ids: dict[str, str | None] = (
            {"namespaceId": observed.id, "namespaceArn": observed.arn}
            if observed is not None and managed
            else {"namespaceId": None, "namespaceArn": None}
            if not deleting
            else {}
        )
        if deleting:
            services = read.list_services(region, observed.id, settled=True) if observed else []
            plan = plan_namespace_delete(spec, identity, self.cluster, observed, services)
        else:
            if observed is None and renamed is None:
                owner = owner_tags(identity, self.cluster)
                renamed = read.owned_namespace(region, owner)
            elif observed is not None:
                observed = _with_vpcs(read, region, observed)
            plan = plan_namespace(spec, identity, self.cluster, observed, renamed)
        return Observation(observed, plan, ids)

    def _observe_discovery(
        self,
        read: Reader,
        identity: Identity,
        spec: ServiceDiscoverySpec,
        deleting: bool,
        namespace: NamespaceSpec | None,
        known: Mapping[str, str],
    ) -> Observation:
        if spec.cloud_map_namespace is not None:
            ns_name, region = spec.cloud_map_namespace.name, spec.region
        elif namespace is not None:
            ns_name, region = namespace.name, namespace.region or spec.region
        else:
            blocked = Blocked(
                REASON_NAMESPACE_NOT_FOUND,
                f"CloudMapNamespace {spec.namespace_ref} (spec.namespaceRef) does not exist in "
                f"Kubernetes namespace {identity.namespace}",
                15.0,
            )
            if deleting and spec.service is not None and "serviceId" in known:
                # The CloudMapNamespace may be deleted first; the service this resource made is
                # still its to delete, and the recorded id says where it is.
                region = spec.region or self.default_region
                observed = read.get_service(region, known["serviceId"])
                plan = plan_service_delete(
                    spec.service, identity, self.cluster, spec.deletion_policy, observed
                )
                if spec.ecs is not None:
                    plan = Plan(blocked=blocked)  # ECS first, and its namespace is unknown
                return Observation(None, plan, {})
            return Observation(None, Plan(blocked=blocked), {})
        region = region or self.default_region
        manager = (
            Identity(KIND_NAMESPACE, identity.namespace, spec.namespace_ref)
            if spec.namespace_ref
            else None
        )
        ns: ObservedNamespace | None = None
        ns_gone = False
        if not deleting:
            # What the step checks, not what it changes: from the account view, one batched
            # read for every service of the namespace (docs/aws-budget.md).
            ns = read.namespace_of_service(region, ns_name, with_tags=manager is not None)
        elif "namespaceId" in known:
            by_id = read.get_namespace(region, known["namespaceId"], with_tags=manager is not None)
            ns_gone = by_id is None
            ns = by_id if by_id is not None and by_id.name == ns_name else None
        if ns is None and deleting and not ns_gone:
            ns = read.find_namespace(region, ns_name, with_tags=manager is not None)
        ids: dict[str, str | None] = {"namespaceId": ns.id} if ns else {}
        if (
            ns is not None
            and manager is not None
            and not deleting
            and ownership(ns.tags, manager, self.cluster) is not Ownership.OURS
        ):
            # A namespace of that name that our CloudMapNamespace does not (yet) own is someone
            # else's: writing services into it would be touching what we do not own.
            blocked = Blocked(
                REASON_NAMESPACE_NOT_OWNED,
                f"Cloud Map namespace {ns_name} ({ns.id}) is not managed by CloudMapNamespace "
                f"{identity.namespace}/{spec.namespace_ref} (see its conditions); services "
                "are created only in a namespace it owns",
                15.0,
            )
            return Observation(ns, Plan(blocked=blocked), ids)
        plan = Plan()
        if spec.service is not None:
            observed, previous, gone = self._observe_service(
                read, region, identity, spec.service.name, ns, deleting, known
            )
            managed = observed is not None and _is_ours(observed.tags, identity, self.cluster)
            if observed is not None and managed:
                ids.update(serviceId=observed.id, serviceArn=observed.arn)
            elif not deleting:
                ids.update(serviceId=None, serviceArn=None)
            if deleting:
                plan = plan_service_delete(
                    spec.service, identity, self.cluster, spec.deletion_policy, observed
                )
            elif ns is None and namespace is None:
                plan = Plan(
                    blocked=Blocked(
                        REASON_NAMESPACE_NOT_FOUND,
                        f"Cloud Map namespace {ns_name} (spec.cloudMapNamespace.name) does not "
                        "exist",
                        30.0,
                    )
                )
            else:
                if previous is None and ns is not None and observed is None and not gone:
                    owner = owner_tags(identity, self.cluster)
                    previous = read.owned_service(region, ns.id, owner)
                plan = plan_service(
                    spec.service,
                    identity,
                    self.cluster,
                    spec.adoption_policy,
                    spec.max_ttl_seconds,
                    ns.type if ns else namespace.type,  # type: ignore[union-attr]
                    ns_name,
                    ns.id if ns else None,
                    observed,
                    previous,
                )
        if spec.ecs is not None:
            ecs = spec.ecs
            self.view.want(region, ecs.cluster, ecs.service)
            observed_ecs = read.describe_ecs(region, ecs.cluster, ecs.service)
            if observed_ecs is not None:
                ids["ecsServiceArn"] = observed_ecs.arn
            if deleting:
                # ECS first: AWS keeps a Cloud Map service while ECS tasks are registered in it.
                plan = plan_ecs_delete(ecs, spec.deletion_policy, observed_ecs).then(plan)
            else:
                plan = plan.then(
                    plan_ecs(
                        ecs,
                        observed=observed_ecs,
                        namespace_name=ns_name,
                        namespace_arn=ns.arn if ns else None,
                        cloud_map_service_arn=ids.get("serviceArn"),
                        region=region,
                    )
                )
        return Observation(ns, plan, ids)

    def _observe_service(
        self,
        read: Reader,
        region: str,
        identity: Identity,
        name: str,
        ns: ObservedNamespace | None,
        deleting: bool,
        known: Mapping[str, str],
    ) -> tuple[ObservedService | None, ObservedService | None, bool]:
        """(the service `name` stands for, one this resource made under another name or in
        another namespace, whether the recorded id is proven gone)."""
        service_id = known.get("serviceId")
        if service_id:
            ns_id = ns.id if ns else None
            by_id = read.get_service(region, service_id, namespace_id=ns_id)
            if by_id is None:
                if deleting:
                    return None, None, True
            elif deleting or (by_id.name == name and by_id.namespace_id == ns_id):
                return by_id, None, False
            elif _is_ours(by_id.tags, identity, self.cluster):
                return None, by_id, False
        if deleting:
            return self._service_to_delete(read, region, identity, name, ns), None, False
        if ns is None:
            return None, None, False
        return read.find_service(region, ns.id, name), None, False

    def _service_to_delete(
        self,
        read: Reader,
        region: str,
        identity: Identity,
        name: str,
        ns: ObservedNamespace | None,
    ) -> ObservedService | None:
        """A delete without a recorded id (the CLI has no status): the id from the ownership
        tags, else from a scan by name repeated until two scans agree, then read by id. The
        account view is not asked: a list read while other deletes shift its pages can miss
        a service that is still there (docs/aws-facts.md, "Reading: lists and ids")."""
        tagged = read.tagged_service(region, owner_tags(identity, self.cluster))
        if tagged is not None or ns is None:
            return tagged
        services = read.list_services(region, ns.id, settled=True)
        listed = next((s for s in services if s.name == name), None)
        return read.get_service(region, listed.id) if listed else None

    def _with_clients(
        self, plan: Plan, region: str, namespace_arn: str | None, ids: Mapping[str, str | None]
    ) -> Plan:
        """Name the services that must be redeployed to see a changed Service Connect
        endpoint (docs/aws-facts.md, ECS: clients learn endpoints only when their tasks are
        replaced)."""
        if namespace_arn is None or not any(
            isinstance(a, UpdateEcsService) and a.endpoints_change for a in plan.actions
        ):
            return plan
        own = ids.get("ecsServiceArn")
        clients = tuple(
            ecs_service_label(arn)
            for arn in self.ecs(region).services_in_namespace(namespace_arn)
            if arn != own
        )
        actions = tuple(
            replace(a, clients=clients)
            if isinstance(a, UpdateEcsService) and a.endpoints_change
            else a
            for a in plan.actions
        )
        return replace(plan, actions=actions)

    # One step ------------------------------------------------------------------------------

    def step(
        self,
        res: Resource,
        status: Mapping[str, Any],
        *,
        deleting: bool = False,
        namespace: NamespaceSpec | None = None,
        from_view: bool = False,
    ) -> StepResult:
        """Advance `res` towards its spec (or its deletion) as far as AWS allows right now.

        `from_view` (the drift sweep) reads through the account view first; anything but "in
        sync" is read again fresh before it is acted on or reported."""
        try:
            return self._step(res, status, deleting, namespace, from_view)
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
    ) -> StepResult:
        region = _region(res, namespace) or self.default_region
        cm = self.cloudmap(region)
        updates: dict[str, Any] = {}
        operation = status.get("operation")
        if operation:
            waited = self._poll_operation(cm, operation, updates)
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
            reader = self.view_reader if from_view else self._fresh.answering(answered)
            known = {**status, **updates}
            seen = self.observe(
                res,
                deleting=deleting,
                namespace=namespace,
                reader=reader,
                known=known,
                hold_reported=hold_reported,
            )
            if from_view and (not seen.plan.in_sync or seen.reported):
                seen = self.observe(
                    res,
                    deleting=deleting,
                    namespace=namespace,
                    known=known,
                    hold_reported=hold_reported,
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
                if _drift_policy(res) is DriftPolicy.REPORT:
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
                # Recorded (persisted by the caller) before it is ever sent: see
                # ownership.creator_request_id.
                updates[REQUEST_ID] = creator_request_id(res.identity, self.cluster, uuid4().hex)
                return StepResult(
                    Outcome.WAITING,
                    plan,
                    updates,
                    tuple(performed),
                    drift,
                    reported=seen.reported,
                    reason="RecordingRequest",
                    message="recorded the create request's id before sending it",
                    retry_after=REQUEST_RECORD_SECONDS,
                )
            # The view is not invalidated: what was changed is read by id from now on, and
            # the next sweep reads the account again anyway.
            submitted = self._execute(
                cm, self.ecs(region), plan, updates, performed, str(request_id or ""), answered
            )
            if submitted:
                return StepResult(
                    Outcome.WAITING,
                    plan,
                    updates,
                    tuple(performed),
                    drift,
                    reported=seen.reported,
                    reason="OperationPending",
                    message=f"waiting for Cloud Map operation {submitted}",
                    retry_after=OPERATION_POLL_SECONDS,
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
        self, cm: CloudMap, operation: Mapping[str, Any], updates: dict[str, Any]
    ) -> StepResult | None:
        try:
            op = cm.get_operation(operation["id"])
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

    def _execute(
        self,
        cm: CloudMap,
        ecs: EcsAdapter,
        plan: Plan,
        updates: dict[str, Any],
        performed: list[str],
        request_id: str,
        answered: dict[str, ObservedService],
    ) -> str | None:
        """Carry out synchronous actions in order; stop at the first asynchronous one.
        `answered`: what a write's own answer showed, by id, for the next round to read."""
        for action in plan.actions:
            operation_id: str | None = None
            match action:
                case CreateNamespace():
                    operation_id = cm.create_namespace(action, request_id)
                case UpdateNamespace():
                    operation_id = cm.update_namespace(action)
                case DeleteNamespace():
                    # NotFound: gone already; the next read by id confirms it.
                    with contextlib.suppress(NotFound):
                        operation_id = cm.delete_namespace(action.id)
                case UpdateService():
                    operation_id = cm.update_service(action)
                case CreateService():
                    namespace_id = action.namespace_id or updates.get("namespaceId")
                    if not namespace_id:
                        raise Retryable(
                            "CreateService",
                            "NamespaceNotReady",
                            f"namespace {action.namespace_name} is not created yet",
                        )
                    try:
                        made = cm.create_service(action, namespace_id, request_id)
                    except Conflict as exc:
                        if exc.existing_id is None:
                            raise
                        # The account view did not list it yet (it is read once per
                        # interval): read that one by id next round, where ownership decides
                        # (ours, adopt, or AlreadyExists). Nothing was created.
                        updates.update(serviceId=exc.existing_id, namespaceId=namespace_id)
                        return None
                    updates.update(serviceId=made.id, serviceArn=made.arn)
                    answered[made.id] = made
                case DeleteService():
                    with contextlib.suppress(NotFound):  # as for DeleteNamespace
                        cm.delete_service(action.id)
                case UpdateEcsService():
                    updates["ecsServiceArn"] = ecs.update(action)
                case TagResource():
                    cm.tag(action.arn, action.tags)
                case UntagResource():
                    cm.untag(action.arn, action.keys)
                case _:
                    raise TypeError(f"no executor for {type(action).__name__}")
            performed.append(performed_line(action, plan.changes))
            if operation_id is not None:
                updates["operation"] = {
                    "id": operation_id,
                    "type": _operation_type(action),
                    "submittedAt": self._clock(),
                }
                return operation_id
        return None


_ID_KEYS = ("namespaceId", "namespaceArn", "serviceId", "serviceArn")


def _is_ours(tags: Mapping[str, str], identity: Identity, cluster: str) -> bool:
    return ownership(tags, identity, cluster) is Ownership.OURS


def _with_vpcs(read: Reader, region: str, observed: ObservedNamespace) -> ObservedNamespace:
    """A DnsPrivate namespace's VPCs, which only its hosted zone knows (spec.vpc forces a
    replacement, so the plan must see it). One Route 53 GetHostedZone per private namespace per
    observation, from the account view or fresh: the namespace's own resource only, never a
    ServiceDiscovery's lookup. A zone that is gone leaves the VPCs unknown (None) rather than
    failing the step."""
    if observed.type is not NamespaceType.DNS_PRIVATE or not observed.hosted_zone_id:
        return observed
    try:
        vpcs = read.hosted_zone_vpcs(region, observed.hosted_zone_id)
    except NotFound:
        return observed
    return replace(observed, vpcs=vpcs)


def _region(res: Resource, namespace: NamespaceSpec | None) -> str | None:
    """A ServiceDiscovery lives in its namespace's region; spec.region serves external ones."""
    if isinstance(res.spec, ServiceDiscoverySpec) and namespace is not None:
        return namespace.region or res.spec.region
    return res.spec.region


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
