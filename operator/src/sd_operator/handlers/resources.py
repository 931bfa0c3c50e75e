"""Thin kopf handlers: parse the object, run one reconcile step, patch status, post events."""

from __future__ import annotations

import copy
import logging
import math
import threading
import zlib
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import kopf

from sd_operator import logs, metrics
from sd_operator.aws.cloudmap import CloudMap
from sd_operator.aws.errors import AwsError
from sd_operator.hybrid.export import SERVICE_NAME_LABEL, SliceView, slice_view
from sd_operator.hybrid.exporter import Exporter, ExportOutcome, ExportResult
from sd_operator.model import conditions as cond
from sd_operator.model import reasons
from sd_operator.model.actions import CONFLICT_RETRY_SECONDS, Plan
from sd_operator.model.parse import SpecError, parse_resource
from sd_operator.model.redact import redact
from sd_operator.model.spec import (
    GROUP,
    PLURAL_DISCOVERY,
    PLURAL_NAMESPACE,
    REFRESH_ANNOTATION,
    VERSION,
    DeletionPolicy,
    EndpointsSpec,
    Identity,
    NamespaceSpec,
    Resource,
    ServiceDiscoverySpec,
)
from sd_operator.model.status import (
    DiscoveryStatus,
    Refresh,
    StatusPatch,
    given,
    is_heartbeat,
    patch_from_wire,
    patch_to_wire,
    status_changes,
    status_from_wire,
)
from sd_operator.model.timestamps import parse_time, utc_now
from sd_operator.reconcile import conflicts
from sd_operator.reconcile import status as status_rules
from sd_operator.reconcile.reconciler import Reconciler, error_result
from sd_operator.reconcile.render import describe_changes
from sd_operator.reconcile.result import Outcome, StepResult, merge_status
from sd_operator.reconcile.status import Derived

log = logs.get(__name__)

RETRY_ON_ERROR_SECONDS = 30.0
MAX_RETRY_SECONDS = 300.0
INSTANCE_POLL_SECONDS = 1.0
_SETBACKS = (Outcome.ERROR, Outcome.BLOCKED, Outcome.FAILED, Outcome.REFUSED)
_EXPORT_AFTER = (Outcome.IN_SYNC, Outcome.DRIFT_REPORTED)
Slices = kopf.Index[tuple[str, str], SliceView]
# Status is written when something in it changes; lastObservedTime alone is a heartbeat, written
# at most every HEARTBEAT_INTERVALS sweep intervals and, with more resources, at most
# HEARTBEAT_WRITES_PER_SWEEP in one sweep: each write costs the operator about 5 ms of CPU (the
# PATCH and kopf's processing of the watch event it causes), so at N = 1,000 heartbeats every
# 5 intervals alone cost a second per sweep (docs/drift.md).
HEARTBEAT_INTERVALS = 5
HEARTBEAT_WRITES_PER_SWEEP = 50
NAMESPACE_PENDING = (
    reasons.REASON_NAMESPACE_NOT_FOUND,
    reasons.REASON_NAMESPACE_NOT_OWNED,
    reasons.REASON_NAMESPACE_NOT_READY,
)
NAMESPACE_PENDING_SECONDS = 5.0
NAMESPACE_PENDING_RETRIES = 12

# (body, "Normal" | "Warning", reason, message): kopf's event queue in handlers, the API
# server directly from the sweep thread.
Post = Callable[[Mapping[str, Any], str, str, str], None]
Namespaces = Mapping[tuple[str, str], Collection[NamespaceSpec]]


def kopf_post(body: Mapping[str, Any], type_: str, reason: str, message: str) -> None:
    assert isinstance(body, kopf.Body)
    if type_ == "Warning":
        kopf.warn(body, reason=reason, message=message)
    else:
        kopf.info(body, reason=reason, message=message)


class ParsedResources:
    """Each resource parsed once per generation. Every status write comes back as a watch
    event to the index handlers, and the sweep steps every resource each interval: validating
    against the CRD schema costs about 1 ms a time, and the spec (so the `Resource`) changes
    only with metadata.generation."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._parsed: dict[str, tuple[int, Resource | None]] = {}

    def get(self, body: Mapping[str, Any]) -> Resource | None:
        """None: the spec is invalid (its change handler reports why)."""
        meta = body.get("metadata") or {}
        uid, generation = str(meta.get("uid") or ""), int(meta.get("generation") or 0)
        with self._lock:
            cached = self._parsed.get(uid) if uid else None
        if cached is not None and cached[0] == generation:
            return cached[1]
        try:
            res: Resource | None = parse_resource(body)
        except SpecError:
            res = None
        if uid:
            with self._lock:
                self._parsed[uid] = (generation, res)
        return res

    def forget(self, uid: str) -> None:
        with self._lock:
            self._parsed.pop(uid, None)


class Handlers:
    """Everything the handlers share: the reconciler and a lock per object, so the drift sweep
    and a change handler never step the same resource at once."""

    def __init__(
        self,
        reconciler: Reconciler,
        sweep_seconds: float,
        cloudmap: Callable[[str | None], CloudMap],
    ) -> None:
        """`cloudmap`: the Cloud Map adapter per region of the hybrid exporter and importer,
        which call more of it (instances) than the reconciler's adapters offer."""
        self.reconciler = reconciler
        self.sweep_seconds = sweep_seconds
        self.cloudmap = cloudmap
        self.exporter = Exporter(reconciler.cluster, cloudmap)
        self.heartbeat_seconds = 0.0
        self.size_heartbeats(0)  # the sweep sizes it for the resources it finds
        self.parsed = ParsedResources()
        self.on_forget: list[Callable[[str], None]] = []  # a resource is gone
        # kopf's live indexes, as the handlers last received them: the sweep runs outside
        # kopf's handlers and uses them for exports and claims.
        self.slices: Slices | None = None
        self.claimants: Sequence[ClaimIndex | None] = ()
        self._locks: dict[str, threading.Lock] = {}
        self._setbacks: dict[str, int] = {}
        self._guard = threading.Lock()

    def lock(self, uid: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(uid, threading.Lock())

    def setbacks(self, uid: str, outcome: Outcome) -> int:
        """Failed or blocked steps in a row before this one, the exponent of the back-off. Not
        kopf's retry count: that also counts the polls of a pending operation, so one FAIL after
        a few polls would wait the 5-minute ceiling instead of 30 s."""
        with self._guard:
            if outcome in _SETBACKS:
                before = self._setbacks.get(uid, 0)
                self._setbacks[uid] = before + 1
                return before
            self._setbacks.pop(uid, None)
            return 0

    def forget(self, uid: str) -> None:
        with self._guard:
            self._locks.pop(uid, None)
            self._setbacks.pop(uid, None)
        self.parsed.forget(uid)
        metrics.RESOURCES.forget(uid)
        self.exporter.forget(uid)
        for forget in self.on_forget:
            forget(uid)

    # One path per intent: apply the spec, or delete what the resource made ------------------

    def handle(
        self,
        body: kopf.Body,
        patch: kopf.Patch,
        namespaces: Namespaces | None,
        *,
        from_view: bool = False,
        slices: Slices | None = None,
        claimants: Sequence[ClaimIndex | None] = (),
    ) -> None:
        """Apply the spec (create, update, resume, refresh): one step; kopf retries while it
        waits or is held up."""
        try:
            res = _parse(body)
        except SpecError as exc:
            self._write(body, patch, dict(body.get("status") or {}), _invalid(exc), res=None)
            return
        result = self.step_and_write(
            body,
            patch,
            res,
            namespaces,
            from_view=from_view,
            slices=slices,
            claimants=claimants,
        )
        assert result is not None  # waited for the lock
        setbacks = self.setbacks(res.identity.uid, result.outcome)
        if result.outcome in (Outcome.WAITING, Outcome.ERROR, Outcome.BLOCKED):
            raise _retry(result, setbacks)

    def handle_delete(
        self,
        body: kopf.Body,
        patch: kopf.Patch,
        namespaces: Namespaces | None,
        *,
        slices: Slices | None = None,
        claimants: Sequence[ClaimIndex | None] = (),
    ) -> None:
        """Delete what the resource made: kopf keeps the finalizer, and retries, until it is
        gone."""
        try:
            res = _parse(body)
        except SpecError:
            return  # nothing we could have created from a spec we cannot read
        result = self.delete_and_write(
            body, patch, res, namespaces, slices=slices, claimants=claimants
        )
        if result.outcome is Outcome.GONE:
            self.forget(res.identity.uid)
            return
        raise _retry(result, self.setbacks(res.identity.uid, result.outcome))

    def step_and_write(
        self,
        body: kopf.Body,
        patch: kopf.Patch,
        res: Resource,
        namespaces: Namespaces | None,
        *,
        from_view: bool,
        slices: Slices | None = None,
        claimants: Sequence[ClaimIndex | None] = (),
        post: Post = kopf_post,
        wait: bool = True,
    ) -> StepResult | None:
        """One step applying `res`'s spec, and its status into `patch`. `from_view`: read the
        account view first (the sweep, a resume). `wait=False` (the sweep): None at once if a
        change handler is stepping the resource."""
        namespace = _referenced(res, namespaces)

        def apply(status: Mapping[str, Any], clash: conflicts.Clash | None) -> StepResult:
            if clash is not None:
                return _held_by(clash)
            result = self.reconciler.step(res, status, namespace=namespace, from_view=from_view)
            if result.outcome not in _EXPORT_AFTER:
                return result
            return self._export(res, status, result, namespace, slices, refresh=from_view) or result

        step = _Step(apply, status_rules.derive, post, wait)
        return self._step_and_write(body, patch, res, namespaces, claimants, step)

    def delete_and_write(
        self,
        body: kopf.Body,
        patch: kopf.Patch,
        res: Resource,
        namespaces: Namespaces | None,
        *,
        slices: Slices | None = None,
        claimants: Sequence[ClaimIndex | None] = (),
    ) -> StepResult:
        """One step of the deletion of what `res` made, and its status into `patch`."""
        namespace = _referenced(res, namespaces)

        def delete(status: Mapping[str, Any], clash: conflicts.Clash | None) -> StepResult:
            if clash is not None:
                # A later claimant changes nothing in AWS, not even when it is deleted: what
                # is there belongs to the earlier one.
                return StepResult(
                    Outcome.GONE, reason=reasons.REASON_CONFLICT, message=clash.message
                )
            # Our instances go first: DeleteService is ResourceInUse while any remain.
            withdrawn = self._withdraw(res, status, namespace)
            return withdrawn or self.reconciler.delete_step(res, status, namespace=namespace)

        step = _Step(delete, status_rules.derive_teardown)
        result = self._step_and_write(body, patch, res, namespaces, claimants, step)
        assert result is not None  # waited for the lock
        return result

    def _step_and_write(
        self,
        body: kopf.Body,
        patch: kopf.Patch,
        res: Resource,
        namespaces: Namespaces | None,
        claimants: Sequence[ClaimIndex | None],
        step: _Step,
    ) -> StepResult | None:
        status: Mapping[str, Any] = dict(body.get("status") or {})
        # A Terminal resource is still swept: a refusal costs only reads, and what AWS refused
        # (IAM, a conflicting zone) may be fixed outside the spec; once per interval is no storm.
        clash = self.clash(res, _order(body), namespaces, claimants)
        lock = self.lock(res.identity.uid)
        if not lock.acquire(blocking=step.wait):
            return None
        try:
            with metrics.STEP_SECONDS.labels(res.identity.kind).time():
                result = step.run(status, clash)
        finally:
            lock.release()
        metrics.RECONCILES.labels(res.identity.kind, str(result.outcome)).inc()
        self._write(body, patch, status, result, res, step.post, step.derive)
        return result

    @staticmethod
    def retry_delay(result: StepResult, retry: int) -> float:
        return retry_delay(result, retry)

    def clash(
        self,
        res: Resource,
        order: tuple[str, str],
        namespaces: Namespaces | None,
        indexes: Sequence[ClaimIndex | None],
    ) -> conflicts.Clash | None:
        """The first claim of `res` that an earlier resource (creationTimestamp, then
        namespace/name) holds, from the claim indexes; None when it owns all it declares."""
        candidates = {res.identity.uid: Claimant(order, res)}
        for key in conflicts.coarse_keys(res):
            for index in indexes:
                held = index.get(key) if index is not None else None
                for other in held or ():
                    candidates.setdefault(other.resource.identity.uid, other)
        if len(candidates) == 1:
            return None
        ordered = sorted(candidates.values(), key=lambda c: c.order)
        region = self.reconciler.default_region
        found = conflicts.clashes(
            (
                conflicts.label(c.resource),
                conflicts.claims(c.resource, _referenced(c.resource, namespaces), region),
            )
            for c in ordered
        )
        mine = conflicts.label(res)
        return next((c for c in found if c.later == mine), None)

    # Hybrid export ---------------------------------------------------------------------------

    def _export(
        self,
        res: Resource,
        status: Mapping[str, Any],
        result: StepResult | None,
        namespace: NamespaceSpec | None,
        slices: Slices | None,
        *,
        refresh: bool = False,
    ) -> StepResult | None:
        """Run the endpoint export after a step that left the Cloud Map service in sync. None:
        nothing to export, the step's result stands."""
        target = _export_target(res, status, result)
        if target is None:
            return None
        spec, service_id = target
        wanted = spec.endpoints
        views = _slices_of(slices, res.identity.namespace, wanted.service) if wanted else ()
        export = self._sync_export(
            res.identity, spec, namespace, service_id, wanted, views, refresh, status
        )
        if isinstance(export, StepResult):
            return export
        return _merge_export(result, export, clear=wanted is None)

    def _withdraw(
        self, res: Resource, status: Mapping[str, Any], namespace: NamespaceSpec | None
    ) -> StepResult | None:
        """Before a delete step: deregister the instances the export registered. None: none
        is left, the delete step goes on."""
        target = _export_target(res, status, None)
        if target is None or res.spec.deletion_policy is DeletionPolicy.RETAIN:
            return None
        spec, service_id = target
        export = self._sync_export(
            res.identity, spec, namespace, service_id, None, (), False, status
        )
        if isinstance(export, StepResult):
            return export
        return _pending(None, export) if export.outcome is ExportOutcome.PENDING else None

    def _sync_export(
        self,
        identity: Identity,
        spec: ServiceDiscoverySpec,
        namespace: NamespaceSpec | None,
        service_id: str,
        wanted: EndpointsSpec | None,
        views: tuple[SliceView, ...],
        refresh: bool,
        status: Mapping[str, Any],
    ) -> ExportResult | StepResult:
        """The export of `wanted` (None: no instance of ours) into the service; an AWS error as
        the step's result."""
        assert spec.service is not None
        try:
            return self.exporter.sync(
                identity,
                wanted,
                region=(namespace.region if namespace else None) or spec.region,
                service_id=service_id,
                service_name=spec.service.name,
                custom_health=bool(spec.service.health_check and spec.service.health_check.custom),
                slices=views,
                refresh=refresh,
            )
        except AwsError as exc:
            return error_result(exc, status)

    def export_from_slice(
        self,
        body: Mapping[str, Any],
        namespaces: kopf.Index[tuple[str, str], NamespaceSpec] | None,
        slices: Slices | None,
    ) -> None:
        """An EndpointSlice changed: bring Cloud Map along now, not at the next sweep. The
        ServiceDiscovery's status follows on its own next step."""
        meta = body.get("metadata") or {}
        status = body.get("status") or {}
        if (
            meta.get("deletionTimestamp")
            or not status_from_wire(status, DiscoveryStatus).service_id
        ):
            return
        res = self.parsed.get(body)
        if (
            res is None
            or not isinstance(res.spec, ServiceDiscoverySpec)
            or res.spec.endpoints is None
        ):
            return
        namespace = _referenced(res, namespaces)
        with self.lock(res.identity.uid):
            result = self._export(res, status, None, namespace, slices)
        if result is not None:
            log.info(
                "exported",
                namespace=res.identity.namespace,
                name=res.identity.name,
                outcome=str(result.outcome),
                message=result.message,
                performed=list(result.performed),
            )

    def _write(
        self,
        body: kopf.Body,
        patch: kopf.Patch,
        previous: Mapping[str, Any],
        result: StepResult,
        res: Resource | None,
        post: Post = kopf_post,
        derive: Callable[[StepResult, Mapping[str, Any], int], Derived] = status_rules.derive,
    ) -> None:
        before = status_from_wire(previous, DiscoveryStatus)
        merged = status_from_wire(merge_status(previous, result), DiscoveryStatus)
        generation = int(body.metadata.get("generation") or 0)
        derived = derive(result, previous, generation)
        conditions = cond.merge(
            before.conditions,
            derived.conditions,
            generation,
            merged.last_observed_time or utc_now(),
        )
        after = replace(
            merged,
            conditions=tuple(map(cond.typed, conditions)),
            observed_generation=merged.observed_generation
            if derived.observed_generation is None
            else derived.observed_generation,
        )
        changes = status_changes(before, after)
        uid = str(body.metadata.uid or "")
        if is_heartbeat(changes) and not self._heartbeat_due(previous, uid):
            changes = {}
        for key, value in changes.items():
            patch.status[key] = value
        kind = res.identity.kind if res else str(body.get("kind", ""))
        metrics.RESOURCES.record(str(body.metadata.uid), kind, after.conditions)
        for line in result.performed:
            metrics.AWS_CHANGES.labels(kind).inc()
            post(body, "Normal", reasons.AWS_CHANGED, line)
        reported = result.outcome is Outcome.DRIFT_REPORTED
        # A reported drift stays until someone acts: one Event when status records it, not
        # one per sweep (an API server write every interval per drifted resource).
        drift_recorded = after.drift != before.drift
        if result.drift and (not reported or drift_recorded):
            metrics.DRIFT.labels(kind).inc(len(result.drift))
            drift = describe_changes(result.drift)
            verb = "reported" if reported else "correcting"
            post(body, "Warning", reasons.DRIFT_DETECTED, f"{verb}: {drift}")
        if result.outcome in (Outcome.REFUSED, Outcome.FAILED) and not _same_terminal(
            previous, result
        ):
            post(body, "Warning", result.reason, result.message)
        who = {"kind": kind, "namespace": body.metadata.namespace, "name": body.metadata.name}
        for change in result.drift if not reported or drift_recorded else ():
            shown = redact(change)
            log.warning(
                "drift",
                **who,
                field=f"spec.{change.field}",
                desired=shown.desired,
                observed=shown.observed,
                action="reported"
                if change in result.reported or result.outcome is Outcome.DRIFT_REPORTED
                else "corrected",
            )
        level = _LOG_LEVELS.get(result.outcome, logging.INFO)
        if level <= logging.INFO and not (
            (changes and not is_heartbeat(changes)) or result.performed or result.drift
        ):
            # A quiet sweep logs nothing per resource (1,000 lines per interval otherwise),
            # and neither does a heartbeat.
            level = logging.DEBUG
        log.log(
            level,
            "reconciled",
            **who,
            outcome=str(result.outcome),
            reason=result.reason,
            message=result.message if level > logging.INFO else None,
            performed=list(result.performed),
        )

    def size_heartbeats(self, resources: int) -> None:
        """The heartbeat window for `resources`: HEARTBEAT_INTERVALS sweeps, or as many as
        keep the heartbeats of one sweep within HEARTBEAT_WRITES_PER_SWEEP."""
        sweeps = max(HEARTBEAT_INTERVALS, math.ceil(resources / HEARTBEAT_WRITES_PER_SWEEP))
        self.heartbeat_seconds = sweeps * self.sweep_seconds

    def _heartbeat_due(self, previous: Mapping[str, Any], uid: str) -> bool:
        """Once per heartbeat window, at a point of the window set by the resource's uid: a
        restarted operator writes every status at once, and a fixed age would keep all those
        heartbeats due in the same sweep (356 of 1,000 in one sweep, docs/drift.md). Never
        within one interval of the last write, so sweeps run back to back write nothing."""
        try:
            last = parse_time(str(status_from_wire(previous, DiscoveryStatus).last_observed_time))
        except ValueError:
            return True
        now = datetime.now(UTC)
        if (now - last).total_seconds() < self.sweep_seconds:
            return False
        phase = zlib.crc32(uid.encode()) / 2**32
        window = self.heartbeat_seconds

        def slot(at: datetime) -> int:
            return math.floor(at.timestamp() / window + phase)

        return slot(now) > slot(last)


def _slices_of(slices: Slices | None, namespace: str, service: str) -> tuple[SliceView, ...]:
    found = slices.get((namespace, service)) if slices is not None else None
    return tuple(found) if found else ()


def _export_target(
    res: Resource, status: Mapping[str, Any], result: StepResult | None
) -> tuple[ServiceDiscoverySpec, str] | None:
    """(the spec, the Cloud Map service's id) when `res` exports endpoints, or did."""
    spec = res.spec
    if not isinstance(spec, ServiceDiscoverySpec) or spec.service is None:
        return None
    recorded = status_from_wire(status, DiscoveryStatus)
    if spec.endpoints is None and not recorded.endpoints:
        return None
    stepped = patch_from_wire(result.status) if result else StatusPatch()
    service_id = given(stepped.service_id) or recorded.service_id
    return (spec, str(service_id)) if service_id else None


def _pending(result: StepResult | None, export: ExportResult) -> StepResult:
    """The export waits for instances: the resource's outcome too (Reconciling), so GitOps
    tools see it."""
    return StepResult(
        Outcome.WAITING,
        result.plan if result else Plan(),
        {
            **(result.status if result else {}),
            **patch_to_wire(StatusPatch(endpoints=export.summary)),
        },
        (result.performed if result else ()) + export.performed,
        reason=reasons.INSTANCES_PENDING,
        message=export.message,
        retry_after=INSTANCE_POLL_SECONDS,
    )


def _merge_export(result: StepResult | None, export: ExportResult, *, clear: bool) -> StepResult:
    """Fold the export into the step's result: a refusal is the resource's outcome too
    (Stalled), so GitOps tools see it."""
    if export.outcome is ExportOutcome.PENDING:
        return _pending(result, export)
    summary = StatusPatch(endpoints=export.summary)
    if export.outcome is ExportOutcome.REFUSED:
        summary = StatusPatch()
    elif clear and export.outcome is ExportOutcome.IN_SYNC and not export.summary.registered:
        summary = StatusPatch(endpoints=None)  # nothing of ours is left: the export is over
    assert result is not None
    if export.outcome is ExportOutcome.REFUSED:
        return replace(
            result,
            outcome=Outcome.REFUSED,
            status={**result.status, **patch_to_wire(summary)},
            reason=reasons.ENDPOINTS_REFUSED,
            message=f"spec.{export.field}: {export.message}",
        )
    return replace(
        result,
        status={**result.status, **patch_to_wire(summary)},
        performed=result.performed + export.performed,
    )


# Refusals wait for a person (warning); what AWS rejected failed (error); the rest is routine.
_LOG_LEVELS = {Outcome.REFUSED: logging.WARNING, Outcome.FAILED: logging.ERROR}


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


def _same_terminal(previous: Mapping[str, Any], result: StepResult) -> bool:
    terminal = status_from_wire(previous, DiscoveryStatus).condition(cond.TERMINAL)
    return bool(terminal and terminal.is_true and terminal.message == result.message)


def _invalid(exc: SpecError) -> StepResult:
    return StepResult(Outcome.REFUSED, reason=reasons.INVALID_SPEC, message=str(exc))


@dataclass(frozen=True)
class Claimant:
    """A resource in the claim indexes, with its precedence (creationTimestamp, ns/name)."""

    order: tuple[str, str]
    resource: Resource


ClaimIndex = kopf.Index[tuple[str, ...], Claimant]


def _order(body: kopf.Body) -> tuple[str, str]:
    # RFC 3339 UTC timestamps of one format sort as strings.
    created = str(body.metadata.get("creationTimestamp") or "")
    return created, f"{body.metadata.namespace}/{body.metadata.name}"


def _held_by(clash: conflicts.Clash) -> StepResult:
    return StepResult(
        Outcome.BLOCKED,
        reason=reasons.REASON_CONFLICT,
        message=f"{clash.message}; nothing was changed in AWS",
        retry_after=CONFLICT_RETRY_SECONDS,
    )


def _parse(body: kopf.Body) -> Resource:
    return parse_resource(body, source=f"{body.metadata.namespace}/{body.metadata.name}")


def _retry(result: StepResult, setbacks: int) -> kopf.TemporaryError:
    return kopf.TemporaryError(
        f"{result.reason}: {result.message}", delay=retry_delay(result, setbacks)
    )


@dataclass(frozen=True)
class _Step:
    """One intent's step for `_step_and_write`: `run(status, clash)` (the clash: an earlier
    claimant of what `res` declares, if any) and how its status is derived."""

    run: Callable[[Mapping[str, Any], conflicts.Clash | None], StepResult]
    derive: Callable[[StepResult, Mapping[str, Any], int], Derived]
    post: Post = kopf_post
    wait: bool = True


def _claims_index(
    body: kopf.Body, parsed: ParsedResources
) -> dict[tuple[str, ...], Claimant] | None:
    res = parsed.get(body)
    if res is None:
        return None
    claimant = Claimant(_order(body), res)
    return {key: claimant for key in conflicts.coarse_keys(res)}


def _referenced(res: Resource, namespaces: Namespaces | None) -> NamespaceSpec | None:
    if not isinstance(res.spec, ServiceDiscoverySpec) or not res.spec.namespace_ref:
        return None
    if namespaces is None:
        return None
    found = namespaces.get((res.identity.namespace, res.spec.namespace_ref))
    return next(iter(found), None) if found else None


def register(
    registry: kopf.OperatorRegistry,
    handlers: Handlers,
    seen: Callable[[str | None, Mapping[str, Any]], None] | None = None,
) -> None:
    """Wire the handlers for both kinds into `registry`; `seen` gets every watch event (the
    drift sweep's list of resources)."""

    # Explicit ids: kopf derives kwarg names and annotation keys from them, and the default
    # (the qualified name of a nested function) is neither a usable kwarg nor a valid key.
    # The index handlers run for every watch event, including the one each status write
    # causes: async, on kopf's event loop, because kopf runs a sync handler in an executor
    # thread, a hop that cost more than the handler (docs/drift.md, step 3).
    @kopf.index(GROUP, VERSION, PLURAL_NAMESPACE, registry=registry, id="cloudmap_namespaces")
    async def cloudmap_namespaces(
        body: kopf.Body, namespace: str | None, name: str | None, **_: Any
    ) -> dict[tuple[str, str], NamespaceSpec] | None:
        res = handlers.parsed.get(body)
        if res is None:
            return None
        assert isinstance(res.spec, NamespaceSpec)
        return {(namespace or "", name or ""): res.spec}

    @kopf.index(
        "discovery.k8s.io",
        "v1",
        "endpointslices",
        registry=registry,
        id="endpointslices",
        labels={SERVICE_NAME_LABEL: kopf.PRESENT},
    )
    async def endpointslices(
        body: kopf.Body, namespace: str | None, labels: kopf.Labels, **_: Any
    ) -> dict[tuple[str, str], SliceView]:
        return {(namespace or "", labels[SERVICE_NAME_LABEL]): slice_view(body)}

    @kopf.index(GROUP, VERSION, PLURAL_DISCOVERY, registry=registry, id="exports")
    async def exports(
        body: kopf.Body, namespace: str | None, spec: kopf.Spec, **_: Any
    ) -> dict[tuple[str, str], dict[str, Any]] | None:
        source = (spec.get("endpoints") or {}).get("fromService") or {}
        if not source.get("name"):
            return None
        return {(namespace or "", str(source["name"])): copy.deepcopy(dict(body))}

    @kopf.on.event(
        "discovery.k8s.io",
        "v1",
        "endpointslices",
        registry=registry,
        id="export",
        labels={SERVICE_NAME_LABEL: kopf.PRESENT},
    )
    def handle_slice_event(
        type: str | None,
        namespace: str | None,
        labels: kopf.Labels,
        exports: Any = None,
        endpointslices: Any = None,
        cloudmap_namespaces: Any = None,
        **_: Any,
    ) -> None:
        if type is None:  # the initial listing: each ServiceDiscovery's resume exports
            return
        found = exports.get((namespace or "", labels[SERVICE_NAME_LABEL])) if exports else None
        for sd_body in found or ():
            handlers.export_from_slice(sd_body, cloudmap_namespaces, endpointslices)

    # Who else claims the AWS resources a resource declares (conflicts.coarse_keys).
    @kopf.index(GROUP, VERSION, PLURAL_NAMESPACE, registry=registry, id="namespace_claims")
    async def namespace_claims(body: kopf.Body, **_: Any) -> dict[tuple[str, ...], Claimant] | None:
        return _claims_index(body, handlers.parsed)

    @kopf.index(GROUP, VERSION, PLURAL_DISCOVERY, registry=registry, id="discovery_claims")
    async def discovery_claims(body: kopf.Body, **_: Any) -> dict[tuple[str, ...], Claimant] | None:
        return _claims_index(body, handlers.parsed)

    for plural in (PLURAL_NAMESPACE, PLURAL_DISCOVERY):
        _register_kind(registry, handlers, plural)
        if seen is not None:
            _register_watch(registry, plural, seen)


def _register_watch(
    registry: kopf.OperatorRegistry,
    plural: str,
    seen: Callable[[str | None, Mapping[str, Any]], None],
) -> None:
    # An index handler sees every watch event of the kind, like on.event, without a log line
    # per event; async: on kopf's event loop, no executor thread each. It indexes nothing.
    @kopf.index(GROUP, VERSION, plural, registry=registry, id=f"watch_{plural}")
    async def remember(body: kopf.Body, **_: Any) -> None:
        seen("MODIFIED", body)


def _register_kind(registry: kopf.OperatorRegistry, handlers: Handlers, plural: str) -> None:
    @kopf.on.resume(GROUP, VERSION, plural, registry=registry, id="reconcile")
    @kopf.on.create(GROUP, VERSION, plural, registry=registry, id="reconcile")
    @kopf.on.update(GROUP, VERSION, plural, registry=registry, id="reconcile", field="spec")
    def handle_reconcile(
        body: kopf.Body,
        patch: kopf.Patch,
        reason: str = "",
        retry: int = 0,
        cloudmap_namespaces: Any = None,
        endpointslices: Any = None,
        namespace_claims: Any = None,
        discovery_claims: Any = None,
        **_: Any,
    ) -> None:
        handlers.slices = endpointslices
        handlers.claimants = (namespace_claims, discovery_claims)
        # A restarted operator's first look at resources already in AWS reads the account view
        # (about 0.02 calls per resource), confirming by id only what looks different.
        resumed = reason == kopf.Reason.RESUME and retry == 0
        handlers.handle(
            body,
            patch,
            cloudmap_namespaces,
            from_view=resumed,
            slices=endpointslices,
            claimants=(namespace_claims, discovery_claims),
        )

    @kopf.on.field(
        GROUP,
        VERSION,
        plural,
        registry=registry,
        id="refresh",
        field=("metadata", "annotations", REFRESH_ANNOTATION),
    )
    def handle_refresh(
        body: kopf.Body,
        patch: kopf.Patch,
        new: Any,
        retry: int = 0,
        cloudmap_namespaces: Any = None,
        **_: Any,
    ) -> None:
        """A refresh request: observe AWS fresh and reconcile now, outside the sweep, once per
        new value (a value already in status.refresh was honoured before a restart)."""
        if not new or body.metadata.get("deletionTimestamp"):
            return
        honoured = status_from_wire(body.get("status"), DiscoveryStatus).refresh
        if retry == 0 and honoured is not None and honoured.requested_at == str(new):
            return
        if retry == 0:
            refresh = Refresh(requested_at=str(new), honoured_at=utc_now())
            patch.status.update(patch_to_wire(StatusPatch(refresh=refresh)))
            log.info(
                "refresh requested",
                kind=body.get("kind"),
                namespace=body.metadata.namespace,
                name=body.metadata.name,
                requested_at=str(new),
            )
        handlers.handle(body, patch, cloudmap_namespaces)

    @kopf.on.delete(GROUP, VERSION, plural, registry=registry, id="delete")
    def handle_delete(
        body: kopf.Body,
        patch: kopf.Patch,
        cloudmap_namespaces: Any = None,
        endpointslices: Any = None,
        namespace_claims: Any = None,
        discovery_claims: Any = None,
        **_: Any,
    ) -> None:
        handlers.handle_delete(
            body,
            patch,
            cloudmap_namespaces,
            slices=endpointslices,
            claimants=(namespace_claims, discovery_claims),
        )
