"""The manifests `generate` writes, from what it read of a region (`Inventory`): pure, no AWS.

One CloudMapNamespace per Cloud Map namespace; one ServiceDiscovery per Cloud Map service,
with the ECS service that registers into it; one per ECS service whose Service Connect is its
only link. Values AWS fills in by default, and the CRD defaults too, are left out, so `plan`
of the output compares what a person would have written. What the resources cannot express
is never dropped in silence: it becomes a note, written above the document and on stderr.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

from sd_operator.model import arns
from sd_operator.model.observed import ObservedEcsService, ObservedNamespace, ObservedService
from sd_operator.model.spec import (
    API_VERSION,
    KIND_DISCOVERY,
    KIND_NAMESPACE,
    HealthCheck,
    NamespaceType,
    Registry,
    RoutingPolicy,
    ServiceDiscoverySpec,
)
from sd_operator.model.wire import encode
from sd_operator.reconcile.ecs_plan import service_connect_spec
from sd_operator.reconcile.ownership import OWNER_TAG

# AWS reserves tag keys starting with aws: (TagResource refuses them): AWS's own, not the spec's.
_AWS_TAG_PREFIX = "aws:"
_OPERATOR_TAG_PREFIX = "sd-operator.io/"
# ECS tags the Cloud Map services Service Connect creates (and the namespaces it creates).
ECS_MANAGED_TAG = "AmazonECSManaged"
_NOT_NAME = re.compile(r"[^a-z0-9.-]+")
_NAME_MAX = 63


@dataclass(frozen=True)
class Inventory:
    """What `generate` read: the selected namespaces (tags and VPCs read), their services
    (tags read) and service attributes by service id, and the ECS services linked to them."""

    region: str
    namespaces: tuple[ObservedNamespace, ...]
    services: Mapping[str, tuple[ObservedService, ...]]
    attributes: Mapping[str, Mapping[str, str]]
    ecs: tuple[ObservedEcsService, ...]


@dataclass(frozen=True)
class Layout:
    """Where the manifests go: a Kubernetes namespace per Cloud Map namespace name
    (`mapping`, else `default_namespace`), and for what: observing (Observe, Retain) or
    adopting (Adopt, Manage)."""

    default_namespace: str
    mapping: Mapping[str, str] = field(default_factory=dict)
    adopt: bool = False

    def namespace_of(self, cloud_map_namespace: str) -> str:
        return self.mapping.get(cloud_map_namespace, self.default_namespace)

    def policies(self) -> dict[str, str]:
        if self.adopt:
            return {"adoptionPolicy": "Adopt", "managementPolicy": "Manage"}
        return {"managementPolicy": "Observe", "deletionPolicy": "Retain"}


@dataclass
class Manifest:
    """One document, its Kubernetes namespace, where it came from, and its notes."""

    namespace: str
    document: dict[str, Any]
    origin: str
    notes: list[str] = field(default_factory=list)

    @property
    def key(self) -> str:
        return f"{self.document['kind']} {self.namespace}/{self.document['metadata']['name']}"


def kubernetes_name(text: str) -> str:
    """A metadata.name for `text`: lower case, runs of other characters as '-'."""
    name = _NOT_NAME.sub("-", text.lower()).strip("-.")[:_NAME_MAX].rstrip("-.")
    return name or "unnamed"


class _Names:
    """Unique names per Kubernetes namespace and kind: a second `user-service` becomes
    `user-service-2`."""

    def __init__(self) -> None:
        self._taken: set[tuple[str, str, str]] = set()

    def take(self, kind: str, namespace: str, wanted: str) -> str:
        base = kubernetes_name(wanted)
        name, n = base, 1
        while (kind, namespace, name) in self._taken:
            n += 1
            name = f"{base[: _NAME_MAX - len(str(n)) - 1]}-{n}"
        self._taken.add((kind, namespace, name))
        return name


def _tags(tags: Mapping[str, str], notes: list[str]) -> dict[str, str]:
    kept = {}
    for key, value in sorted(tags.items()):
        if key.startswith((_AWS_TAG_PREFIX, _OPERATOR_TAG_PREFIX)):
            notes.append(f"tag {key}={value!r} not generated: a reserved key")
        else:
            kept[key] = value
    return kept


def _owned(tags: Mapping[str, str], what: str) -> str | None:
    owner = tags.get(OWNER_TAG)
    return None if owner is None else f"{what} is already managed by sd-operator ({owner})"


def _health_check(check: HealthCheck | None) -> dict[str, Any] | None:
    if check is None:
        return None
    if check.route53 is None:
        return {"custom": {}}
    route53: dict[str, Any] = {"type": check.route53.type.value}
    if check.route53.resource_path is not None:
        route53["resourcePath"] = check.route53.resource_path
    if check.route53.failure_threshold != 1:  # Cloud Map's default, and the CRD's
        route53["failureThreshold"] = check.route53.failure_threshold
    return {"route53": route53}


def _service_spec(service: ObservedService, name: str, notes: list[str]) -> dict[str, Any]:
    spec: dict[str, Any] = {}
    if service.name != name:
        spec["name"] = service.name
    if service.description:
        spec["description"] = service.description
    if tags := _tags(service.tags, notes):
        spec["tags"] = tags
    if service.dns is not None:
        dns: dict[str, Any] = {"records": [encode(r) for r in service.dns.records]}
        if service.dns.routing_policy is not RoutingPolicy.MULTIVALUE:
            dns["routingPolicy"] = service.dns.routing_policy.value
        spec["dns"] = dns
    if (check := _health_check(service.health_check)) is not None:
        spec["healthCheck"] = check
    return spec


def _ecs_spec(
    ecs: ObservedEcsService, namespace: ObservedNamespace, registry: bool
) -> dict[str, Any]:
    spec: dict[str, Any] = {"cluster": arns.resource_id(ecs.cluster), "service": ecs.name}
    if registry:
        found = ecs.registries[0]
        spec["registry"] = encode(Registry(found.port, found.container_name, found.container_port))
    sc = service_connect_spec(
        ecs.service_connect, namespace.name, namespace.arn, ecs.port_mappings, ecs.network_mode
    )
    if sc is not None:
        document = encode(sc)
        del document["enabled"]  # the CRD's default
        spec["serviceConnect"] = document
    return spec


def _document(kind: str, name: str, namespace: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION,
        "kind": kind,
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    }


@dataclass
class _Links:
    """Which ECS service goes into which ServiceDiscovery."""

    # Cloud Map service ARN -> the ECS service registering into it
    registering: dict[str, ObservedEcsService] = field(default_factory=dict)
    # ECS services linked only by Service Connect, with the namespace it uses
    connect_only: list[tuple[ObservedEcsService, ObservedNamespace]] = field(default_factory=list)
    # namespace id -> Cloud Map service names Service Connect publishes there
    published: dict[str, set[str]] = field(default_factory=dict)


def _namespace_of_ref(
    ref: str | None, namespaces: Sequence[ObservedNamespace]
) -> ObservedNamespace | None:
    return next((n for n in namespaces if ref in (n.name, n.arn, n.id)), None)


def _link(inventory: Inventory, notes: list[str]) -> _Links:
    links = _Links()
    service_arns = {s.arn for services in inventory.services.values() for s in services}
    for ecs in sorted(inventory.ecs, key=lambda e: e.arn):
        where = f"ECS service {arns.resource_path(ecs.arn)}"
        sc_namespace = _namespace_of_ref(
            ecs.service_connect.namespace if ecs.service_connect else None, inventory.namespaces
        )
        if sc_namespace is not None and ecs.service_connect is not None:
            links.published.setdefault(sc_namespace.id, set()).update(
                s.discovery_name or s.port_name for s in ecs.service_connect.services
            )
        if len(ecs.registries) > 1:
            notes.append(
                f"{where} not generated: it has {len(ecs.registries)} service registries, a "
                "ServiceDiscovery holds one"
            )
        elif ecs.registries:
            target = ecs.registries[0].registry_arn
            if target not in service_arns:
                notes.append(
                    f"{where} not generated: its registry {target} is not a service of the "
                    "namespaces generated"
                )
            elif target in links.registering:
                first = arns.resource_path(links.registering[target].arn)
                notes.append(
                    f"{where} not generated: it registers into {target} as {first} does, and "
                    "a Cloud Map service has one ServiceDiscovery"
                )
            else:
                links.registering[target] = ecs
        elif sc_namespace is not None:
            links.connect_only.append((ecs, sc_namespace))
        elif ecs.service_connect is not None:
            notes.append(
                f"{where} not generated: its Service Connect namespace "
                f"{ecs.service_connect.namespace} is not among the namespaces generated"
            )
    return links


def build(inventory: Inventory, layout: Layout) -> tuple[list[Manifest], list[str]]:
    """The manifests, and the notes about what none of them holds."""
    general: list[str] = []
    links = _link(inventory, general)
    names = _Names()
    namespaces = sorted(inventory.namespaces, key=lambda n: n.name)
    for first, second in pairwise(namespaces):
        if first.name == second.name:
            general.append(
                f"two Cloud Map namespaces are named {first.name} ({first.id}, {second.id}): "
                "sd-operator manages one namespace per name and region, so plan and apply "
                "refuse both manifests; remove one of them"
            )
    refs = {
        ns.id: names.take(KIND_NAMESPACE, layout.namespace_of(ns.name), ns.name)
        for ns in namespaces
    }
    out: list[Manifest] = []
    for ns in namespaces:
        out.append(_for_namespace(inventory, layout, refs[ns.id], ns))
        published = links.published.get(ns.id, set())
        for service in sorted(inventory.services.get(ns.id, ()), key=lambda s: s.name):
            if service.name in published:
                continue  # Service Connect's: generated with the ECS service that publishes it
            if service.tags.get(ECS_MANAGED_TAG) == "true":
                general.append(
                    f"Cloud Map service {service.name} in {ns.name} is ECS Service Connect's, "
                    "and no ECS service generated publishes it: not generated"
                )
                continue
            owned = _owned(service.tags, f"Cloud Map service {service.name} in {ns.name}")
            if owned is not None:
                general.append(f"{owned}: not generated")
                continue
            out.append(_for_service(inventory, layout, names, links, ns, refs[ns.id], service))
    for ecs, ns in links.connect_only:
        k8s = layout.namespace_of(ns.name)
        name = names.take(KIND_DISCOVERY, k8s, ecs.name)
        spec = {
            "namespaceRef": {"name": refs[ns.id]},
            "ecs": _ecs_spec(ecs, ns, registry=False),
            **layout.policies(),
        }
        out.append(
            Manifest(k8s, _document(KIND_DISCOVERY, name, k8s, spec), f"ECS service {ecs.arn}")
        )
    return out, general


def _for_namespace(
    inventory: Inventory, layout: Layout, name: str, ns: ObservedNamespace
) -> Manifest:
    k8s = layout.namespace_of(ns.name)
    manifest = Manifest(k8s, {}, f"Cloud Map namespace {ns.arn}")
    spec: dict[str, Any] = {"name": ns.name, "type": ns.type.value}
    if ns.type is NamespaceType.DNS_PRIVATE:
        vpcs = sorted(ns.vpcs or ())
        if vpcs:
            spec["vpc"] = vpcs[0]
        if len(vpcs) != 1:
            manifest.notes.append(
                f"its hosted zone lists {len(vpcs)} VPCs ({', '.join(vpcs) or 'none'}); "
                "spec.vpc holds one: check it"
            )
    if ns.description:
        spec["description"] = ns.description
    if tags := _tags(ns.tags, manifest.notes):
        spec["tags"] = tags
    spec["region"] = inventory.region
    spec.update(layout.policies())
    manifest.document = _document(KIND_NAMESPACE, name, k8s, spec)
    return manifest


def _for_service(
    inventory: Inventory,
    layout: Layout,
    names: _Names,
    links: _Links,
    ns: ObservedNamespace,
    ref: str,
    service: ObservedService,
) -> Manifest:
    k8s = layout.namespace_of(ns.name)
    name = names.take(KIND_DISCOVERY, k8s, service.name)
    manifest = Manifest(k8s, {}, f"Cloud Map service {service.arn}")
    spec: dict[str, Any] = {
        "namespaceRef": {"name": ref},
        "service": _service_spec(service, name, manifest.notes),
    }
    if attributes := inventory.attributes.get(service.id):
        spec["service"]["attributes"] = dict(sorted(attributes.items()))
    if (longest := _longest_ttl(service)) > ServiceDiscoverySpec.max_ttl_seconds:
        # The TTL is what AWS holds, not a choice to advise against: the plan stays clean.
        spec["maxTtlSeconds"] = longest
    ecs = links.registering.get(service.arn)
    if ecs is not None:
        spec["ecs"] = _ecs_spec(ecs, ns, registry=True)
        manifest.origin += f" and ECS service {ecs.arn}"
    spec.update(layout.policies())
    manifest.document = _document(KIND_DISCOVERY, name, k8s, spec)
    return manifest


def _longest_ttl(service: ObservedService) -> int:
    return max((r.ttl for r in service.dns.records), default=0) if service.dns else 0


def owned_namespace(ns: ObservedNamespace) -> str | None:
    """Why a namespace already managed by sd-operator is left out, or None."""
    return _owned(ns.tags, f"Cloud Map namespace {ns.name}")
