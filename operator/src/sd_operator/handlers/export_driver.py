"""The hybrid export driven from a resource's step: register the instances a ServiceDiscovery's
EndpointSlices name, withdraw them before its deletion, follow an EndpointSlice as it changes."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

import kopf

from sd_operator import logs
from sd_operator.aws.errors import AwsError
from sd_operator.handlers.indexes import Slices
from sd_operator.handlers.indexes import referenced as _referenced
from sd_operator.handlers.parsed import ParsedResources
from sd_operator.hybrid.export import SliceView
from sd_operator.hybrid.exporter import Exporter, ExportOutcome, ExportResult
from sd_operator.model import reasons
from sd_operator.model.actions import Plan
from sd_operator.model.grants import Role
from sd_operator.model.spec import (
    DeletionPolicy,
    EndpointsSpec,
    NamespaceSpec,
    Resource,
    ServiceDiscoverySpec,
    is_paused,
    observe_only,
)
from sd_operator.model.status import (
    DiscoveryStatus,
    StatusPatch,
    given,
    status_from_wire,
)
from sd_operator.reconcile.reconciler import error_result
from sd_operator.reconcile.result import Outcome, StepResult

log = logs.get(__name__)

INSTANCE_POLL_SECONDS = 1.0


class ExportDriver:
    """The exporter run for one resource at a time, under that resource's lock."""

    def __init__(
        self,
        exporter: Exporter,
        parsed: ParsedResources,
        lock: Callable[[str], threading.Lock],
        enabled: bool = True,
        granted: Callable[[Resource, NamespaceSpec | None], bool] = lambda *_: True,
        role: Callable[[Resource], Role | StepResult | None] = lambda _: None,
    ) -> None:
        """`enabled` off (--no-export): no EndpointSlice is watched; spec.endpoints is refused,
        and what a resource exported is still deregistered when it is deleted or drops the
        field. `granted`: whether a resource's grants allow it now (handlers/tenancy.py); an
        EndpointSlice's change exports only for one they do, as its step does. `role`: the
        one a resource acts through, as its step's (None: the operator's own credentials), or
        the refusal of grants naming different ones."""
        self.exporter = exporter
        self.parsed = parsed
        self.lock = lock
        self.enabled = enabled
        self.granted = granted
        self.role = role

    def forget(self, uid: str) -> None:
        self.exporter.forget(uid)

    def export(
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
        if wanted is not None and not self.enabled:
            refused = ExportResult(
                ExportOutcome.REFUSED,
                message="spec.endpoints: this operator runs with --no-export (chart value "
                "export.enabled: false): nothing is exported",
                reason=reasons.EXPORT_DISABLED,
            )
            return _merge_export(result, refused, clear=False)
        views = _slices_of(slices, res.identity.namespace, wanted.service) if wanted else ()
        export = self._sync_export(res, spec, namespace, service_id, wanted, views, refresh, status)
        if isinstance(export, StepResult):
            return export
        return _merge_export(result, export, clear=wanted is None)

    def withdraw(
        self, res: Resource, status: Mapping[str, Any], namespace: NamespaceSpec | None
    ) -> StepResult | None:
        """Before a delete step: deregister the instances the export registered. None: none
        is left, the delete step goes on."""
        target = _export_target(res, status, None)
        if target is None or res.spec.deletion_policy is DeletionPolicy.RETAIN:
            return None
        spec, service_id = target
        export = self._sync_export(res, spec, namespace, service_id, None, (), False, status)
        if isinstance(export, StepResult):
            return export
        return _pending(None, export) if export.outcome is ExportOutcome.PENDING else None

    def _sync_export(
        self,
        res: Resource,
        spec: ServiceDiscoverySpec,
        namespace: NamespaceSpec | None,
        service_id: str,
        wanted: EndpointsSpec | None,
        views: tuple[SliceView, ...],
        refresh: bool,
        status: Mapping[str, Any],
    ) -> ExportResult | StepResult:
        """The export of `wanted` (None: no instance of ours) into the service, in the account
        of `res`'s role; an AWS error (AssumeRoleFailed too) as the step's result."""
        assert spec.service is not None
        role = self.role(res)
        if isinstance(role, StepResult):
            return role
        try:
            return self.exporter.sync(
                res.identity,
                wanted,
                region=(namespace.region if namespace else None) or spec.region,
                service_id=service_id,
                service_name=spec.service.name,
                custom_health=bool(spec.service.health_check and spec.service.health_check.custom),
                slices=views,
                refresh=refresh,
                role=role,
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
            or is_paused(meta)
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
        if not self.granted(res, namespace):
            return
        with self.lock(res.identity.uid):
            result = self.export(res, status, None, namespace, slices)
        if result is not None:
            log.info(
                "exported",
                namespace=res.identity.namespace,
                name=res.identity.name,
                outcome=str(result.outcome),
                message=result.message,
                performed=list(result.performed),
            )


def _slices_of(slices: Slices | None, namespace: str, service: str) -> tuple[SliceView, ...]:
    found = slices.get((namespace, service)) if slices is not None else None
    return tuple(found) if found else ()


def _export_target(
    res: Resource, status: Mapping[str, Any], result: StepResult | None
) -> tuple[ServiceDiscoverySpec, str] | None:
    """(the spec, the Cloud Map service's id) when `res` exports endpoints, or did. An
    observe-only resource registers and deregisters nothing."""
    spec = res.spec
    if not isinstance(spec, ServiceDiscoverySpec) or spec.service is None or observe_only(spec):
        return None
    recorded = status_from_wire(status, DiscoveryStatus)
    if spec.endpoints is None and not recorded.endpoints:
        return None
    stepped = result.status if result else StatusPatch()
    service_id = given(stepped.service_id) or recorded.service_id
    return (spec, str(service_id)) if service_id else None


def _pending(result: StepResult | None, export: ExportResult) -> StepResult:
    """The export waits for instances: the resource's outcome too (Reconciling), so GitOps
    tools see it."""
    return StepResult(
        Outcome.WAITING,
        result.plan if result else Plan(),
        (result.status if result else StatusPatch()).merged_with(
            StatusPatch(endpoints=export.summary)
        ),
        (result.performed if result else ()) + export.performed,
        reason=reasons.INSTANCES_PENDING,
        message=export.message,
        retry_after=INSTANCE_POLL_SECONDS,
    )


def _merge_export(result: StepResult | None, export: ExportResult, *, clear: bool) -> StepResult:
    """Fold the export into the step's result: a refusal is the resource's outcome too
    (Stalled), so GitOps tools see it. `result` None: no step ran (an EndpointSlice event)."""
    if export.outcome is ExportOutcome.PENDING:
        return _pending(result, export)
    summary = StatusPatch(endpoints=export.summary)
    if export.outcome is ExportOutcome.REFUSED:
        summary = StatusPatch()
    elif clear and export.outcome is ExportOutcome.IN_SYNC and not export.summary.registered:
        summary = StatusPatch(endpoints=None)  # nothing of ours is left: the export is over
    step = result or StepResult(Outcome.IN_SYNC)
    if export.outcome is ExportOutcome.REFUSED:
        return replace(
            step,
            outcome=Outcome.REFUSED,
            status=step.status.merged_with(summary),
            reason=export.reason,
            message=export.message,
        )
    return replace(
        step,
        status=step.status.merged_with(summary),
        performed=step.performed + export.performed,
    )
