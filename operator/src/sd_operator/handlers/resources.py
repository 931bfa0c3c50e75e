"""Thin kopf handlers for CloudMapNamespace and ServiceDiscovery: parse the object, one step
through `Steps`, then kopf's retry, or forgetting a resource that is gone."""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import kopf

from sd_operator import logs
from sd_operator.handlers.claims import claims_index
from sd_operator.handlers.export_driver import ExportDriver
from sd_operator.handlers.indexes import Claimant, ClaimIndex, LiveIndexes, Namespaces, Slices
from sd_operator.handlers.parsed import ParsedResources
from sd_operator.handlers.retry import Setbacks, temporary_error
from sd_operator.handlers.steps import Steps
from sd_operator.handlers.units import Units
from sd_operator.hybrid.export import SERVICE_NAME_LABEL, SliceView, slice_view
from sd_operator.model.grants import Grant, parse_grant
from sd_operator.model.parse import SpecError, parse_resource
from sd_operator.model.spec import (
    GROUP,
    PAUSED_ANNOTATION,
    PLURAL_DISCOVERY,
    PLURAL_GRANT,
    PLURAL_NAMESPACE,
    REFRESH_ANNOTATION,
    VERSION,
    NamespaceSpec,
    Resource,
)
from sd_operator.model.status import (
    DiscoveryStatus,
    Refresh,
    StatusPatch,
    patch_to_wire,
    status_from_wire,
)
from sd_operator.model.timestamps import utc_now
from sd_operator.reconcile.result import Outcome

log = logs.get(__name__)

Seen = Callable[[str | None, Mapping[str, Any]], None]


class Handlers:
    """The change handlers' entry points, one per intent: apply the spec, or delete what the
    resource made. `forget`: a resource is gone."""

    def __init__(self, steps: Steps, forget: Callable[[str], None]) -> None:
        self._steps = steps
        self._setbacks = Setbacks()
        self._forget = forget

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
            self._steps.write_invalid(body, patch, exc)
            return
        result = self._steps.step_and_write(
            body,
            patch,
            res,
            namespaces,
            from_view=from_view,
            slices=slices,
            claimants=claimants,
        )
        assert result is not None  # waited for the lock
        setbacks = self._setbacks.count(res.identity.uid, result.outcome)
        if result.outcome in (Outcome.WAITING, Outcome.ERROR, Outcome.BLOCKED):
            raise temporary_error(result, setbacks)

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
        result = self._steps.delete_and_write(
            body, patch, res, namespaces, slices=slices, claimants=claimants
        )
        uid = res.identity.uid
        if result.outcome is Outcome.GONE:
            self._setbacks.forget(uid)
            self._forget(uid)
            return
        raise temporary_error(result, self._setbacks.count(uid, result.outcome))


def _parse(body: kopf.Body) -> Resource:
    return parse_resource(body, source=f"{body.metadata.namespace}/{body.metadata.name}")


def register(
    registry: kopf.OperatorRegistry,
    units: Units,
    forget: Callable[[str], None],
    seen: Seen | None = None,
) -> None:
    """Wire the handlers for both kinds into `registry`; `forget` gets the uid of each
    resource that is gone, `seen` every watch event (the drift sweep's list of resources)."""
    _register_indexes(registry, units.parsed)
    # EndpointSlices are watched only to export: an operator running with --no-export needs no
    # permission to read them.
    if units.exports.enabled:
        _register_export(registry, units.exports)
    handlers = Handlers(units.steps, forget)
    for plural in (PLURAL_NAMESPACE, PLURAL_DISCOVERY):
        _register_reconcile(registry, handlers, units.live, plural)
        _register_refresh(registry, handlers, units.live, plural)
        _register_pause(registry, handlers, units.live, plural)
        _register_delete(registry, handlers, units.live, plural)
        if seen is not None:
            _register_watch(registry, plural, seen)


# Explicit ids: kopf derives kwarg names and annotation keys from them, and the default (the
# qualified name of a nested function) is neither a usable kwarg nor a valid key. The index
# handlers run for every watch event, including the one each status write causes: async, on
# kopf's event loop, because kopf runs a sync handler in an executor thread, a hop that cost
# more than the handler (docs/drift.md, step 3).


def _register_indexes(registry: kopf.OperatorRegistry, parsed: ParsedResources) -> None:
    @kopf.index(GROUP, VERSION, PLURAL_NAMESPACE, registry=registry, id="cloudmap_namespaces")
    async def cloudmap_namespaces(
        body: kopf.Body, namespace: str | None, name: str | None, **_: Any
    ) -> dict[tuple[str, str], NamespaceSpec] | None:
        res = parsed.get(body)
        if res is None:
            return None
        assert isinstance(res.spec, NamespaceSpec)
        return {(namespace or "", name or ""): res.spec}

    # Who else claims the AWS resources a resource declares (conflicts.coarse_keys).
    @kopf.index(GROUP, VERSION, PLURAL_NAMESPACE, registry=registry, id="namespace_claims")
    async def namespace_claims(body: kopf.Body, **_: Any) -> dict[tuple[str, ...], Claimant] | None:
        return claims_index(body, parsed)

    @kopf.index(GROUP, VERSION, PLURAL_DISCOVERY, registry=registry, id="discovery_claims")
    async def discovery_claims(body: kopf.Body, **_: Any) -> dict[tuple[str, ...], Claimant] | None:
        return claims_index(body, parsed)

    # What each Kubernetes namespace may touch (handlers/tenancy.py): cluster-scoped, watched
    # cluster-wide even when the operator serves named namespaces only.
    @kopf.index(GROUP, VERSION, PLURAL_GRANT, registry=registry, id="discovery_grants")
    async def discovery_grants(body: kopf.Body, name: str | None, **_: Any) -> dict[str, Grant]:
        return {name or "": parse_grant(body)}

    @kopf.index("v1", "namespaces", registry=registry, id="namespace_labels")
    async def namespace_labels(
        name: str | None, labels: kopf.Labels, **_: Any
    ) -> dict[str, dict[str, str]]:
        return {name or "": dict(labels)}


def _register_export(registry: kopf.OperatorRegistry, driver: ExportDriver) -> None:
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
            driver.export_from_slice(sd_body, cloudmap_namespaces, endpointslices)


def _register_watch(registry: kopf.OperatorRegistry, plural: str, seen: Seen) -> None:
    # An index handler sees every watch event of the kind, like on.event, without a log line
    # per event; async: on kopf's event loop, no executor thread each. It indexes nothing.
    @kopf.index(GROUP, VERSION, plural, registry=registry, id=f"watch_{plural}")
    async def remember(body: kopf.Body, **_: Any) -> None:
        seen("MODIFIED", body)


def _register_reconcile(
    registry: kopf.OperatorRegistry, handlers: Handlers, live: LiveIndexes, plural: str
) -> None:
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
        discovery_grants: Any = None,
        namespace_labels: Any = None,
        **_: Any,
    ) -> None:
        live.slices = endpointslices
        live.claimants = (namespace_claims, discovery_claims)
        live.grants, live.namespace_labels = discovery_grants, namespace_labels
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


def _register_refresh(
    registry: kopf.OperatorRegistry, handlers: Handlers, live: LiveIndexes, plural: str
) -> None:
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
        discovery_grants: Any = None,
        namespace_labels: Any = None,
        **_: Any,
    ) -> None:
        """A refresh request: observe AWS fresh and reconcile now, outside the sweep, once per
        new value (a value already in status.refresh was honoured before a restart)."""
        live.grants, live.namespace_labels = discovery_grants, namespace_labels
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


def _register_pause(
    registry: kopf.OperatorRegistry, handlers: Handlers, live: LiveIndexes, plural: str
) -> None:
    @kopf.on.field(
        GROUP,
        VERSION,
        plural,
        registry=registry,
        id="pause",
        field=("metadata", "annotations", PAUSED_ANNOTATION),
    )
    def handle_pause(
        body: kopf.Body,
        patch: kopf.Patch,
        cloudmap_namespaces: Any = None,
        endpointslices: Any = None,
        namespace_claims: Any = None,
        discovery_claims: Any = None,
        discovery_grants: Any = None,
        namespace_labels: Any = None,
        **_: Any,
    ) -> None:
        """Paused: say so at once (the Paused condition, an Event); resumed: one step now,
        not at the next sweep. A deletion's own handler sees the annotation on its next try."""
        live.grants, live.namespace_labels = discovery_grants, namespace_labels
        if body.metadata.get("deletionTimestamp"):
            return
        handlers.handle(
            body,
            patch,
            cloudmap_namespaces,
            slices=endpointslices,
            claimants=(namespace_claims, discovery_claims),
        )


def _register_delete(
    registry: kopf.OperatorRegistry, handlers: Handlers, live: LiveIndexes, plural: str
) -> None:
    @kopf.on.delete(GROUP, VERSION, plural, registry=registry, id="delete")
    def handle_delete(
        body: kopf.Body,
        patch: kopf.Patch,
        cloudmap_namespaces: Any = None,
        endpointslices: Any = None,
        namespace_claims: Any = None,
        discovery_claims: Any = None,
        discovery_grants: Any = None,
        namespace_labels: Any = None,
        **_: Any,
    ) -> None:
        live.grants, live.namespace_labels = discovery_grants, namespace_labels
        handlers.handle_delete(
            body,
            patch,
            cloudmap_namespaces,
            slices=endpointslices,
            claimants=(namespace_claims, discovery_claims),
        )
