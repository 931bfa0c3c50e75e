"""Export: the ready endpoints of a Kubernetes Service (its EndpointSlices) as the Cloud Map
instances one ServiceDiscovery owns, and the smallest set of calls that gets AWS there.

Pure: EndpointSlice bodies and instance attributes in, frozen values out. docs/hybrid.md
describes the rules (ids, attributes, ownership, quotas) for users.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sd_operator.model.observed import ObservedInstance, is_foreign
from sd_operator.model.spec import ClusterIdentity, Identity

SERVICE_NAME_LABEL = "kubernetes.io/service-name"
MANAGED_BY_LABEL = "endpointslice.kubernetes.io/managed-by"
# The EndpointSlice controller's slices hold the addresses of the Service's own pods. A slice
# anyone else writes (a tenant's hand-made one, our own import) could name any address, and
# exporting it would register that address under this cluster's name.
EXPORTED_MANAGER = "endpointslice-controller.k8s.io"
OWNER_ATTRIBUTE = "sd-operator.io/owner"
CLUSTER_ATTRIBUTE = "sd-operator.io/cluster"
CLUSTER_ID_ATTRIBUTE = "sd-operator.io/cluster-id"
NAMESPACE_ATTRIBUTE = "sd-operator.io/namespace"
SERVICE_ATTRIBUTE = "sd-operator.io/service"
POD_ATTRIBUTE = "sd-operator.io/pod"
NODE_ATTRIBUTE = "sd-operator.io/node"
ZONE_ATTRIBUTE = "sd-operator.io/zone"
IPV4 = "AWS_INSTANCE_IPV4"
IPV6 = "AWS_INSTANCE_IPV6"
PORT = "AWS_INSTANCE_PORT"
INIT_HEALTH = "AWS_INIT_HEALTH_STATUS"
# AWS quotas: 1,000 instances per service (not adjustable), 30 custom attributes per instance.
MAX_INSTANCES = 1000
MAX_CUSTOM_ATTRIBUTES = 30
MAX_INSTANCE_ID = 64
_INSTANCE_ID = re.compile(r"^[0-9a-zA-Z_/:.@-]+$")
_FAMILIES = {"IPv4": IPV4, "IPv6": IPV6}


@dataclass(frozen=True)
class Endpoint:
    """One address of a Service, merged over its EndpointSlices."""

    address: str
    family: str  # IPv4 | IPv6
    port: int
    ready: bool
    pod: str | None = None
    node: str | None = None
    zone: str | None = None


@dataclass(frozen=True)
class SlicePort:
    name: str
    port: int | None


@dataclass(frozen=True)
class SliceEndpoint:
    address: str
    ready: bool
    pod: str | None = None
    node: str | None = None
    zone: str | None = None


@dataclass(frozen=True)
class SliceView:
    """What the operator keeps of an EndpointSlice (its index holds these, not bodies)."""

    name: str
    address_type: str
    ports: tuple[SlicePort, ...]
    endpoints: tuple[SliceEndpoint, ...]
    managed_by: str | None = None


def slice_view(body: Mapping[str, Any]) -> SliceView:
    """EndpointConditions: ready nil means true, terminating nil means false; a terminating
    endpoint is not exported even where ready says true (publishNotReadyAddresses)."""
    endpoints = []
    for ep in body.get("endpoints") or []:
        addresses = ep.get("addresses") or []
        if not addresses:
            continue
        conditions = ep.get("conditions") or {}
        ready = conditions.get("ready") is not False and conditions.get("terminating") is not True
        ref = ep.get("targetRef") or {}
        endpoints.append(
            SliceEndpoint(
                # "clients may choose to only use the first element" (EndpointSlice API)
                address=str(addresses[0]),
                ready=ready,
                pod=str(ref["name"]) if ref.get("kind") == "Pod" and ref.get("name") else None,
                node=ep.get("nodeName"),
                zone=ep.get("zone"),
            )
        )
    ports = tuple(
        SlicePort(str(p.get("name") or ""), p.get("port")) for p in body.get("ports") or []
    )
    meta = body.get("metadata") or {}
    return SliceView(
        name=str(meta.get("name", "")),
        address_type=str(body.get("addressType", "")),
        ports=ports,
        endpoints=tuple(endpoints),
        managed_by=(meta.get("labels") or {}).get(MANAGED_BY_LABEL),
    )


@dataclass(frozen=True)
class Refused:
    """The export cannot be done as specified: `field` is the spec path (YAML spelling)."""

    field: str
    message: str


def endpoints_of(
    slices: Iterable[SliceView], service: str, port_name: str | None
) -> tuple[Endpoint, ...] | Refused:
    """The Service's endpoints on one port. An address in several slices (a slice being
    replaced) is one endpoint, ready if any slice says so. FQDN slices carry no address Cloud
    Map can register, and slices the EndpointSlice controller did not write are not the
    Service's pods: both are left out."""
    merged: dict[tuple[str, str], Endpoint] = {}
    for view in sorted(slices, key=lambda v: v.name):
        if view.address_type not in _FAMILIES or view.managed_by != EXPORTED_MANAGER:
            continue
        port = _pick_port(view, port_name)
        if isinstance(port, Refused):
            return Refused("endpoints.fromService.port", f"Service {service}: {port.message}")
        if port is None:
            continue
        for ep in view.endpoints:
            key = (view.address_type, ep.address)
            before = merged.get(key)
            if before is not None and before.ready:
                continue
            merged[key] = Endpoint(
                ep.address, view.address_type, port, ep.ready, ep.pod, ep.node, ep.zone
            )
    return tuple(merged[k] for k in sorted(merged))


def _pick_port(view: SliceView, port_name: str | None) -> int | Refused | None:
    numbered = [p for p in view.ports if p.port is not None]
    if port_name is not None:
        return next((p.port for p in numbered if p.name == port_name), None)
    if len(numbered) > 1:
        names = ", ".join(sorted(p.name or "(unnamed)" for p in numbered))
        return Refused("", f"it has several ports ({names}): name one in port")
    return numbered[0].port if numbered else None


def instance_id(cluster: str, owner: Identity, address: str) -> str:
    """Stable per endpoint and owner, readable when it fits Cloud Map's InstanceId (64 chars,
    [0-9a-zA-Z_/:.@-]); otherwise the address plus a hash of the whole identity."""
    readable = f"{cluster}/{owner.namespace}/{owner.name}/{address}"
    if len(readable) <= MAX_INSTANCE_ID and _INSTANCE_ID.match(readable):
        return readable
    digest = hashlib.sha256(readable.encode()).hexdigest()[:16]
    return f"k8s-{address}-{digest}"


@dataclass(frozen=True)
class DesiredInstance:
    id: str
    attributes: Mapping[str, str]
    healthy: bool = True


def desired_instances(
    endpoints: Iterable[Endpoint],
    *,
    owner: Identity,
    cluster: ClusterIdentity,
    service: str,
    custom_health: bool,
    extra_attributes: Mapping[str, str] | None = None,
) -> dict[str, DesiredInstance] | Refused:
    """Ready endpoints become healthy instances. Not-ready ones stay registered as UNHEALTHY
    when the Cloud Map service has a custom health check (callers see the change at once,
    the pod keeps its place), and are left out otherwise."""
    wanted: dict[str, DesiredInstance] = {}
    for ep in endpoints:
        if not ep.ready and not custom_health:
            continue
        attributes = {
            **(extra_attributes or {}),
            _FAMILIES[ep.family]: ep.address,
            PORT: str(ep.port),
            OWNER_ATTRIBUTE: owner.key,
            CLUSTER_ATTRIBUTE: cluster.name,
            NAMESPACE_ATTRIBUTE: owner.namespace,
            SERVICE_ATTRIBUTE: service,
        }
        if cluster.id is not None:
            attributes[CLUSTER_ID_ATTRIBUTE] = cluster.id
        for key, value in ((POD_ATTRIBUTE, ep.pod), (NODE_ATTRIBUTE, ep.node)):
            if value:
                attributes[key] = value
        if ep.zone:
            attributes[ZONE_ATTRIBUTE] = ep.zone
        custom = [k for k in attributes if not k.startswith("AWS_")]
        if len(custom) > MAX_CUSTOM_ATTRIBUTES:
            return Refused(
                "endpoints.attributes",
                f"an instance would carry {len(custom)} custom attributes; AWS allows "
                f"{MAX_CUSTOM_ATTRIBUTES} per instance (sd-operator adds up to 8)",
            )
        # By name only, as before cluster ids: instances registered then keep their ids.
        iid = instance_id(cluster.name, owner, ep.address)
        wanted[iid] = DesiredInstance(iid, attributes, ep.ready)
    if len(wanted) > MAX_INSTANCES:
        return Refused(
            "endpoints.fromService",
            f"Service {service} has {len(wanted)} endpoints to export; AWS allows "
            f"{MAX_INSTANCES} instances per Cloud Map service (not adjustable)",
        )
    return wanted


def owned(
    instance: ObservedInstance,
    owner: Identity,
    cluster: ClusterIdentity,
    account: str | None = None,
) -> bool:
    """Registered by this resource in this cluster: the only instances export ever changes.
    One registered before cluster ids (none recorded) is ours by name; registering it again
    with our attributes records our id (docs/ownership.md, "Cluster identity"). `account`:
    ours; in a namespace shared through AWS RAM another account may register an instance
    carrying our attributes, and only CreatedByAccount tells (None: not known)."""
    attrs = instance.attributes
    other_id = attrs.get(CLUSTER_ID_ATTRIBUTE, cluster.id)
    return (
        not is_foreign(instance.created_by_account, account)
        and attrs.get(OWNER_ATTRIBUTE) == owner.key
        and attrs.get(CLUSTER_ATTRIBUTE) == cluster.name
        and other_id == cluster.id
    )


@dataclass(frozen=True)
class ExportPlan:
    register: tuple[DesiredInstance, ...] = ()
    deregister: tuple[str, ...] = ()
    set_health: tuple[tuple[str, bool], ...] = ()
    # Instance ids we would register that another writer holds: never overwritten.
    conflicts: tuple[str, ...] = ()

    @property
    def calls(self) -> int:
        return len(self.register) + len(self.deregister) + len(self.set_health)


def registration_attributes(instance: DesiredInstance, custom_health: bool) -> dict[str, str]:
    """What RegisterInstance is sent: a re-registration restarts a custom health check from
    AWS_INIT_HEALTH_STATUS, so it carries the endpoint's readiness."""
    attributes = dict(instance.attributes)
    if custom_health and not instance.healthy:
        attributes[INIT_HEALTH] = "UNHEALTHY"
    return attributes


def plan_export(
    desired: Mapping[str, DesiredInstance],
    observed: Iterable[ObservedInstance],
    *,
    owner: Identity,
    cluster: ClusterIdentity,
    custom_health: bool,
    account: str | None = None,
) -> ExportPlan:
    """Register what is missing or different, deregister what this resource registered and
    no longer wants, flip custom health where only readiness changed; nothing else.
    `account`: the one registering (`owned`)."""
    seen = {i.id: i for i in observed}
    register: list[DesiredInstance] = []
    set_health: list[tuple[str, bool]] = []
    conflicts: list[str] = []
    for iid in sorted(desired):
        want = desired[iid]
        have = seen.get(iid)
        if have is None:
            register.append(want)
        elif not owned(have, owner, cluster, account):
            conflicts.append(iid)
        elif _comparable(have.attributes) != dict(want.attributes):
            register.append(want)
        elif custom_health and have.healthy is not None and have.healthy != want.healthy:
            set_health.append((iid, want.healthy))
    deregister = tuple(
        iid
        for iid in sorted(seen)
        if iid not in desired and owned(seen[iid], owner, cluster, account)
    )
    return ExportPlan(tuple(register), deregister, tuple(set_health), tuple(conflicts))


def _comparable(attributes: Mapping[str, str]) -> dict[str, str]:
    return {k: v for k, v in attributes.items() if k != INIT_HEALTH}
