"""Import: the healthy instances of a Cloud Map service as a selectorless Kubernetes Service
plus EndpointSlices, so pods reach ECS tasks (or any Cloud Map service) by a Kubernetes name.

Pure: discovered instances in, the Kubernetes objects the operator maintains out.
"""

from __future__ import annotations

import ipaddress
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any

from sd_operator.hybrid.export import IPV4, IPV6, MANAGED_BY_LABEL, PORT, SERVICE_NAME_LABEL
from sd_operator.model.observed import DiscoveredInstance
from sd_operator.model.schema import kinds
from sd_operator.model.spec import GROUP, KIND_IMPORT

MANAGED_BY = "sd-operator.io"
IMPORT_LABEL = "sd-operator.io/import"
# The API server accepts up to 1,000 endpoints per slice; Cloud Map holds at most 1,000
# instances per service, so one slice per address family and port always suffices.
MAX_SLICE_ENDPOINTS = 1000


@dataclass(frozen=True)
class ImportSpec:
    """spec of a CloudMapImport (see crds/cloudmapimports.yaml)."""

    namespace_ref: str | None
    cloud_map_namespace: str | None
    service_name: str
    port: int
    port_name: str = "http"
    target_port: int | None = None
    protocol: str = "TCP"
    region: str | None = None


def parse_import(body: Mapping[str, Any]) -> ImportSpec:
    """A CloudMapImport's spec, checked against its CRD and defaulted as the other kinds are
    (`sd_operator.model.schema`); `Invalid` if it does not pass."""
    valid = kinds(GROUP)[KIND_IMPORT].validate(body)
    spec, name = valid["spec"], valid["metadata"]["name"]
    ref = spec.get("namespaceRef") or {}
    external = spec.get("cloudMapNamespace") or {}
    return ImportSpec(
        namespace_ref=ref.get("name"),
        cloud_map_namespace=external.get("name"),
        service_name=str(spec.get("serviceName") or name),
        port=int(spec["port"]),
        port_name=str(spec.get("portName") or "http"),
        target_port=spec.get("targetPort"),
        protocol=str(spec.get("protocol") or "TCP"),
        region=spec.get("region"),
    )


@dataclass(frozen=True)
class Owner:
    """The CloudMapImport that owns the objects (ownerReferences)."""

    api_version: str
    kind: str
    name: str
    uid: str


IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class ImportLimits:
    """What the operator lets any CloudMapImport read (--import-from-namespaces) and write
    (--import-exclude-cidrs). The defaults are what sd-operator did before the flags: any
    namespace of the account, every address but the special ones."""

    # Cloud Map namespace names or globs an import may read; None: every namespace.
    from_namespaces: tuple[str, ...] | None = None
    # The cluster's own ranges (Service and Pod CIDRs): an imported endpoint there would
    # route traffic meant for Cloud Map to whatever in the cluster holds that address.
    excluded: tuple[IpNetwork, ...] = ()

    def permits(self, namespace_name: str) -> bool:
        return self.from_namespaces is None or any(
            fnmatchcase(namespace_name, pattern) for pattern in self.from_namespaces
        )


def address_refusal(text: str, excluded: Sequence[IpNetwork] = ()) -> str | None:
    """Why an instance address is never written into an EndpointSlice, None when it may be.
    The API server refuses a slice holding an unspecified, loopback or link-local address
    (422, the whole slice); multicast and the cluster's own ranges would reach something other
    than the instance (the CVE-2021-25740 class: a shared ingress or proxy forwarding to them)."""
    address = ipaddress.ip_address(text)
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        # ::ffff:127.0.0.1 is 127.0.0.1 on the wire; Python 3.11 does not say it is loopback.
        address = address.ipv4_mapped
    for reason, matches in (
        ("unspecified", address.is_unspecified),
        ("loopback", address.is_loopback),
        ("link-local", address.is_link_local),
        ("multicast", address.is_multicast),
    ):
        if matches:
            return reason
    if any(address.version == net.version and address in net for net in excluded):
        return "cluster-range"
    return None


@dataclass(frozen=True)
class Endpoints:
    ipv4: Mapping[int, tuple[str, ...]]
    ipv6: Mapping[int, tuple[str, ...]]
    skipped: tuple[str, ...]  # instances without an IP or a port: not importable
    # Addresses refused by address_refusal, counted by reason (the addresses are not shown).
    dropped: Mapping[str, int] = field(default_factory=dict)

    @property
    def count(self) -> int:
        return sum(len(a) for a in self.ipv4.values()) + sum(len(a) for a in self.ipv6.values())


def group(
    instances: Iterable[DiscoveredInstance],
    target_port: int | None,
    excluded: Sequence[IpNetwork] = (),
) -> Endpoints:
    """Addresses by family and port. An instance without AWS_INSTANCE_PORT uses targetPort;
    without either (or without a valid IP: CNAME or alias instances) it is skipped. An address
    address_refusal refuses is dropped and counted by reason."""
    v4: dict[int, set[str]] = {}
    v6: dict[int, set[str]] = {}
    skipped: list[str] = []
    dropped: Counter[str] = Counter()
    for inst in instances:
        port = _port(inst.attributes.get(PORT)) or target_port
        placed = False
        if port is not None:
            for key, family, bucket in ((IPV4, 4, v4), (IPV6, 6, v6)):
                address = inst.attributes.get(key)
                if not (address and _is_ip(address, family)):
                    continue
                refusal = address_refusal(address, excluded)
                if refusal is None:
                    bucket.setdefault(port, set()).add(address)
                else:
                    dropped[refusal] += 1
                placed = True
        if not placed:
            skipped.append(inst.id)
    return Endpoints(
        {p: tuple(sorted(a)) for p, a in sorted(v4.items())},
        {p: tuple(sorted(a)) for p, a in sorted(v6.items())},
        tuple(sorted(skipped)),
        dict(sorted(dropped.items())),
    )


def _port(text: str | None) -> int | None:
    if text is None or not text.isdigit():
        return None
    value = int(text)
    return value if 1 <= value <= 65535 else None


def _is_ip(text: str, family: int) -> bool:
    try:
        return ipaddress.ip_address(text).version == family
    except ValueError:
        return False


def _metadata(name: str, namespace: str, owner: Owner, labels: Mapping[str, str]) -> dict[str, Any]:
    return {
        "name": name,
        "namespace": namespace,
        "labels": {IMPORT_LABEL: owner.name, **labels},
        "ownerReferences": [
            {
                "apiVersion": owner.api_version,
                "kind": owner.kind,
                "name": owner.name,
                "uid": owner.uid,
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ],
    }


def service_body(spec: ImportSpec, name: str, namespace: str, owner: Owner) -> dict[str, Any]:
    """A Service without a selector: the endpoints come from our EndpointSlices only."""
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _metadata(name, namespace, owner, {}),
        "spec": {
            "type": "ClusterIP",
            "ports": [
                {
                    "name": spec.port_name,
                    "port": spec.port,
                    "protocol": spec.protocol,
                    "targetPort": spec.target_port or spec.port,
                }
            ],
        },
    }


def slice_bodies(
    spec: ImportSpec, name: str, namespace: str, owner: Owner, endpoints: Endpoints
) -> dict[str, dict[str, Any]]:
    """One EndpointSlice per address family and port, named after the Service."""
    labels = {SERVICE_NAME_LABEL: name, MANAGED_BY_LABEL: MANAGED_BY}
    bodies: dict[str, dict[str, Any]] = {}
    for family, by_port in (("IPv4", endpoints.ipv4), ("IPv6", endpoints.ipv6)):
        for port, addresses in by_port.items():
            slice_name = f"{name}-{family.lower()}-{port}"
            bodies[slice_name] = {
                "apiVersion": "discovery.k8s.io/v1",
                "kind": "EndpointSlice",
                "metadata": _metadata(slice_name, namespace, owner, labels),
                "addressType": family,
                "ports": [{"name": spec.port_name, "port": port, "protocol": spec.protocol}],
                "endpoints": [
                    {"addresses": [a], "conditions": {"ready": True}}
                    for a in addresses[:MAX_SLICE_ENDPOINTS]
                ],
            }
    return bodies


def needs_update(current: Mapping[str, Any], desired: Mapping[str, Any]) -> bool:
    """Compare only what we set, so the API server's defaults (clusterIP, ...) are no change."""
    return _subset(desired, current) is False


def _subset(want: Any, have: Any) -> bool:
    if isinstance(want, Mapping):
        return isinstance(have, Mapping) and all(_subset(v, have.get(k)) for k, v in want.items())
    if isinstance(want, list):
        return (
            isinstance(have, list)
            and len(want) == len(have)
            and all(_subset(w, h) for w, h in zip(want, have, strict=True))
        )
    return bool(want == have)


def owned_by(obj: Mapping[str, Any], owner: Owner) -> bool:
    refs = (obj.get("metadata") or {}).get("ownerReferences") or []
    return any(r.get("uid") == owner.uid for r in refs)
