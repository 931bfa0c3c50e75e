"""Carries out one CloudMapImport: DiscoverInstances (healthy only), then the Service and
EndpointSlices brought to match, changed only where they differ."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

from sd_operator.aws.cloudmap import CloudMap
from sd_operator.aws.errors import NotFound
from sd_operator.hybrid.imports import (
    IMPORT_LABEL,
    Endpoints,
    ImportLimits,
    ImportSpec,
    Owner,
    group,
    needs_update,
    owned_by,
    service_body,
    slice_bodies,
)
from sd_operator.hybrid.k8s import Kube, Rejected
from sd_operator.model import arns, reasons
from sd_operator.model.observed import DiscoveredInstance
from sd_operator.model.status import Dropped, ImportStatus

API_ONLY = "HTTP"  # Cloud Map service type of API-only services (no DNS records)
NOTHING = Endpoints({}, {}, ())


@dataclass(frozen=True)
class ImportResult:
    ready: bool
    reason: str
    message: str = ""
    status: ImportStatus = field(default_factory=ImportStatus)
    performed: tuple[str, ...] = ()
    refused: bool = False


class Importer:
    def __init__(
        self,
        cloudmap: Callable[[str | None], CloudMap],
        kube: Callable[[], Kube],
        limits: ImportLimits | None = None,
    ):
        self._cloudmap = cloudmap
        self._kube = kube
        self._limits = limits or ImportLimits()

    def sync(
        self, spec: ImportSpec, namespace_name: str, name: str, k8s_namespace: str, owner: Owner
    ) -> ImportResult:
        kube = self._kube()
        performed: list[str] = []
        if not self._limits.permits(namespace_name):
            # Addresses imported before the limit was set are not kept either.
            self._slices(kube, spec, name, k8s_namespace, owner, NOTHING, performed)
            return ImportResult(
                False,
                reasons.NAMESPACE_NOT_PERMITTED,
                f"Cloud Map namespace {namespace_name} is not one this operator imports from "
                "(--import-from-namespaces): nothing is imported",
                performed=tuple(performed),
                refused=True,
            )
        cm = self._cloudmap(spec.region)
        where = _locate(cm, namespace_name)
        instances = _healthy(cm, where, spec.service_name)
        found = instances is not None
        endpoints = group(instances or [], spec.target_port, self._limits.excluded)
        current = kube.service(k8s_namespace, name)
        desired = service_body(spec, name, k8s_namespace, owner)
        if current is not None and not owned_by(current, owner):
            return ImportResult(
                False,
                reasons.SERVICE_NOT_OWNED,
                f"Service {k8s_namespace}/{name} exists and is not owned by this CloudMapImport:"
                " it is left alone; delete it or name the import differently",
                refused=True,
            )
        status = ImportStatus(
            endpoints=endpoints.count,
            skipped=len(endpoints.skipped),
            dropped=tuple(Dropped(r, n) for r, n in endpoints.dropped.items()),
        )
        try:
            if current is None:
                kube.create_service(desired)
                performed.append(f"created Service {name}")
            elif needs_update(current, desired):
                kube.patch_service(desired)
                performed.append(f"updated Service {name}")
            self._slices(kube, spec, name, k8s_namespace, owner, endpoints, performed)
        except Rejected as exc:
            return ImportResult(False, reasons.WRITE_REJECTED, str(exc), status, tuple(performed))
        if not found:
            return ImportResult(
                False,
                reasons.SERVICE_NOT_FOUND,
                f"Cloud Map service {spec.service_name} in namespace {namespace_name} was not "
                "found; the EndpointSlices are empty",
                status,
                tuple(performed),
            )
        api_only = _api_only(cm, where, spec.service_name)
        status = replace(status, api_only=api_only)
        message = _imported(endpoints, f"{namespace_name}/{spec.service_name}", api_only)
        return ImportResult(True, reasons.IMPORTED, message, status, tuple(performed))

    @staticmethod
    def _slices(
        kube: Kube,
        spec: ImportSpec,
        name: str,
        k8s_namespace: str,
        owner: Owner,
        endpoints: Endpoints,
        performed: list[str],
    ) -> None:
        """Appends to `performed` as it goes: a write refused half-way still reports the
        writes before it."""
        desired = slice_bodies(spec, name, k8s_namespace, owner, endpoints)
        existing = {
            s["metadata"]["name"]: s
            for s in kube.slices(k8s_namespace, f"{IMPORT_LABEL}={owner.name}")
            if owned_by(s, owner)
        }
        for slice_name, body in desired.items():
            current = existing.get(slice_name)
            if current is None:
                kube.create_slice(body)
                performed.append(f"created EndpointSlice {slice_name}")
            elif needs_update(current, body):
                kube.patch_slice(body)
                performed.append(f"updated EndpointSlice {slice_name}")
        for slice_name in sorted(set(existing) - set(desired)):
            kube.delete_slice(k8s_namespace, slice_name)
            performed.append(f"deleted EndpointSlice {slice_name}")

    def delete(self, name: str, k8s_namespace: str, owner: Owner) -> None:
        """What garbage collection would do with ownerReferences, done here too: clusters
        without a controller-manager (and a Retain-less delete) must not keep stale objects."""
        kube = self._kube()
        for body in kube.slices(k8s_namespace, f"{IMPORT_LABEL}={owner.name}"):
            if owned_by(body, owner):
                kube.delete_slice(k8s_namespace, body["metadata"]["name"])
        current = kube.service(k8s_namespace, name)
        if current is not None and owned_by(current, owner):
            kube.delete_service(k8s_namespace, name)


@dataclass(frozen=True)
class _Where:
    """The namespace to import from: its name, and for one another account shares with ours
    through AWS RAM, its ARN and owner account (DiscoverInstances' OwnerAccount)."""

    name: str
    arn: str | None = None
    owner_account: str | None = None


def _locate(cm: CloudMap, namespace: str) -> _Where:
    """`namespace` is a name, or the ARN of a shared namespace, whose name DiscoverInstances
    needs (read with GetNamespace; not found: the ARN stands in, and discovery finds nothing)."""
    arn = arns.parse(namespace)
    if arn is None:
        return _Where(namespace)
    shared = cm.get_namespace(namespace, with_tags=False)
    return _Where(shared.name if shared else namespace, namespace, arn.account)


def _api_only(cm: CloudMap, where: _Where, service_name: str) -> bool:
    if where.arn is not None:
        # Our account's services in another's namespace: only a list by its ARN names them.
        listed_in: str | None = where.arn
    else:
        ns = cm.find_namespace(where.name, with_tags=False)
        listed_in = ns.id if ns else None
    if listed_in is None:
        return False
    service = next((s for s in cm.list_services(listed_in) if s.name == service_name), None)
    return service is not None and service.type == API_ONLY


def _healthy(cm: CloudMap, where: _Where, service_name: str) -> list[DiscoveredInstance] | None:
    """The service's healthy instances; None when it does not exist."""
    try:
        return cm.discover_instances(where.name, service_name, "HEALTHY", where.owner_account)
    except NotFound:
        # Stale addresses are worse than none: the slices empty, the Service stays.
        return None


def _imported(endpoints: Endpoints, service: str, api_only: bool) -> str:
    message = f"{endpoints.count} healthy instance(s) of {service}"
    if endpoints.dropped:
        left_out = ", ".join(f"{n} {r}" for r, n in endpoints.dropped.items())
        message += f"; addresses left out (status.dropped): {left_out}"
    if api_only:
        message += (
            " (an API-only service, as ECS Service Connect creates: pods reach the tasks"
            " directly at their registered address and port, without the Service Connect"
            " proxy)"
        )
    return message
