"""kopf registrations for CloudMapImport: refresh on create, change (an annotation change
refreshes on demand) and every sweep; explicit clean-up on delete."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import kopf

from sd_operator import logs
from sd_operator.aws.adapters import Adapters
from sd_operator.aws.errors import AwsError
from sd_operator.handlers.indexes import Grants, NamespaceLabels, namespace_in
from sd_operator.handlers.locks import Locks
from sd_operator.handlers.tenancy import every_grant, labels_of
from sd_operator.hybrid.importer import Importer, ImportResult
from sd_operator.hybrid.imports import ImportLimits, Owner, parse_import
from sd_operator.hybrid.k8s import Kube
from sd_operator.kube.client import ApiException
from sd_operator.model import conditions as cond
from sd_operator.model import reasons
from sd_operator.model.grants import Acting, NotGranted, Role, acting_role, import_denial
from sd_operator.model.schema import Invalid
from sd_operator.model.spec import API_VERSION, GROUP, KIND_IMPORT, PLURAL_IMPORT, VERSION
from sd_operator.model.status import ImportStatus, status_from_wire, status_to_wire
from sd_operator.model.timestamps import utc_now
from sd_operator.reconcile.reconciler import error_result
from sd_operator.reconcile.result import Outcome

NAMESPACE_RETRY_SECONDS = 15.0

log = logs.get(__name__)


def _owner(body: kopf.Body) -> Owner:
    return Owner(API_VERSION, KIND_IMPORT, str(body.metadata.name), str(body.metadata.uid))


def refresh(
    importers: Callable[[Role | None], Importer],
    locks: Locks,
    body: kopf.Body,
    patch: kopf.Patch,
    namespaces: Any,
    grants: Grants | None,
    labels: NamespaceLabels | None,
) -> None:
    name, namespace = str(body.metadata.name), str(body.metadata.namespace)
    try:
        spec = parse_import(body)
    except Invalid as exc:
        # As for the other kinds: reported, not retried; a new generation is parsed again.
        _write(body, patch, ImportResult(False, reasons.INVALID_SPEC, f"{exc.field}: {exc}"))
        return
    ns_name, region = spec.cloud_map_namespace, spec.region
    if spec.namespace_ref is not None:
        ns_spec = namespace_in(namespaces, namespace, spec.namespace_ref)
        if ns_spec is None:
            result = ImportResult(
                False,
                reasons.REASON_NAMESPACE_NOT_FOUND,
                f"CloudMapNamespace {spec.namespace_ref} (spec.namespaceRef) does not exist in "
                f"Kubernetes namespace {namespace}",
            )
            _write(body, patch, result)
            raise kopf.TemporaryError(result.message, delay=NAMESPACE_RETRY_SECONDS)
        ns_name, region = ns_spec.name, ns_spec.region
    spec = replace(spec, region=region)
    acting = _acting(grants, labels, namespace, str(ns_name))
    if isinstance(acting, str):
        _write(body, patch, ImportResult(False, reasons.NOT_GRANTED, f"{acting}; nothing was read"))
        return
    try:
        with locks.lock(str(body.metadata.uid)):
            result = importers(acting.role).sync(spec, str(ns_name), name, namespace, _owner(body))
    except AwsError as exc:
        failed = error_result(exc, body.get("status") or {})
        if failed.retry_after is None:
            result = ImportResult(False, failed.reason, failed.message)
        else:
            if failed.outcome is Outcome.BLOCKED:
                # Held up until someone fixes a role (AssumeRoleFailed): this import's condition
                # says so, and it is retried backing off; the imports of other grants' roles go
                # on. A transient error leaves the condition as it was.
                _write(body, patch, ImportResult(False, failed.reason, failed.message))
            raise kopf.TemporaryError(failed.message, delay=failed.retry_after) from exc
    except ApiException as exc:
        raise kopf.TemporaryError(f"Kubernetes API: {exc.status} {exc.reason}") from exc
    _write(body, patch, result)
    for line in result.performed:
        kopf.info(body, reason=reasons.KUBERNETES_CHANGED, message=line)
    log.info(
        "imported",
        namespace=namespace,
        name=name,
        reason=result.reason,
        **status_to_wire(result.status),
    )


def _acting(
    grants: Grants | None, labels: NamespaceLabels | None, namespace: str, source: str
) -> Acting | str:
    """The role an import in Kubernetes namespace `namespace` discovers through, as the other
    kinds act (a namespace shared through AWS RAM is read in the account it is shared with), or
    why it may not read Cloud Map namespace `source`. Before any AWS call, as for the other
    kinds (handlers/tenancy.py); the next sweep reads the grants again. Grants naming different
    roles are refused rather than one chosen."""
    ns_labels = labels_of(labels, namespace)
    acting = acting_role(every_grant(grants), namespace, ns_labels)
    if isinstance(acting, NotGranted):
        return acting.message
    return import_denial(every_grant(grants), namespace, ns_labels, source) or acting


def _importers(
    adapters: Adapters, limits: ImportLimits | None
) -> Callable[[Role | None], Importer]:
    """The Importer acting through a role (None: the operator's own credentials, which a
    deletion uses: it removes only Kubernetes objects)."""
    return lambda role: Importer(adapters.acting(role).cloudmap, Kube, limits)


def _write(body: kopf.Body, patch: kopf.Patch, result: ImportResult) -> None:
    previous = dict(body.get("status") or {})
    generation = int(body.metadata.get("generation") or 0)
    now = utc_now()
    conditions = cond.merge(
        status_from_wire(previous, ImportStatus).conditions,
        [cond.Condition(cond.READY, result.ready, result.reason, result.message)],
        generation,
        now,
    )
    new = status_to_wire(
        replace(
            result.status,
            observed_generation=generation,
            conditions=tuple(map(cond.typed, conditions)),
        )
    )
    changed = {k: v for k, v in new.items() if previous.get(k) != v}
    patch.status.update(changed)
    if changed or result.performed:
        patch.status.update(status_to_wire(ImportStatus(last_refresh_time=now)))


def register(
    registry: kopf.OperatorRegistry,
    adapters: Adapters,
    locks: Locks,
    interval: float,
    forget: Callable[[str], None],
    limits: ImportLimits | None = None,
) -> None:
    """Wire the import handlers into `registry`: `adapters`, the operator's own (a grant's
    imports act through its role); `locks`, shared with the other kinds' handlers; `interval`,
    the sweep's; `forget` gets the uid of each gone import; `limits`, what imports may do."""
    importers = _importers(adapters, limits)

    @kopf.on.resume(GROUP, VERSION, PLURAL_IMPORT, registry=registry, id="import")
    @kopf.on.create(GROUP, VERSION, PLURAL_IMPORT, registry=registry, id="import")
    @kopf.on.update(GROUP, VERSION, PLURAL_IMPORT, registry=registry, id="import")
    def handle_import(
        body: kopf.Body,
        patch: kopf.Patch,
        cloudmap_namespaces: Any = None,
        discovery_grants: Any = None,
        namespace_labels: Any = None,
        **_: Any,
    ) -> None:
        refresh(
            importers, locks, body, patch, cloudmap_namespaces, discovery_grants, namespace_labels
        )

    @kopf.timer(
        GROUP,
        VERSION,
        PLURAL_IMPORT,
        registry=registry,
        id="refresh",
        interval=interval,
        initial_delay=interval,
    )
    def handle_refresh(
        body: kopf.Body,
        patch: kopf.Patch,
        cloudmap_namespaces: Any = None,
        discovery_grants: Any = None,
        namespace_labels: Any = None,
        **_: Any,
    ) -> None:
        if body.metadata.get("deletionTimestamp"):
            return
        refresh(
            importers, locks, body, patch, cloudmap_namespaces, discovery_grants, namespace_labels
        )

    @kopf.on.delete(GROUP, VERSION, PLURAL_IMPORT, registry=registry, id="delete")
    def handle_delete_import(body: kopf.Body, **_: Any) -> None:
        try:
            importers(None).delete(
                str(body.metadata.name), str(body.metadata.namespace), _owner(body)
            )
        except ApiException as exc:
            raise kopf.TemporaryError(f"Kubernetes API: {exc.status} {exc.reason}") from exc
        forget(str(body.metadata.uid))
