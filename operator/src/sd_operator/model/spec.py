"""Typed, frozen views of the two custom resources' specs.

Field names follow Python conventions; the field paths used in conditions, drift entries and
errors always use the YAML spelling (``service.dns.records[0].ttl``) so a user finds them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from sd_operator.model.arns import is_arn
from sd_operator.model.wire import encode, list_map

GROUP = "sd-operator.io"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"
KIND_NAMESPACE = "CloudMapNamespace"
KIND_DISCOVERY = "ServiceDiscovery"
PLURAL_NAMESPACE = "cloudmapnamespaces"
PLURAL_DISCOVERY = "servicediscoveries"
# CloudMapImport only writes Kubernetes objects (hybrid/importer.py): the CLI leaves it alone.
KIND_IMPORT = "CloudMapImport"
PLURAL_IMPORT = "cloudmapimports"
# Cluster-scoped, written by the platform team: what each namespace's resources may touch
# (model/grants.py, docs/tenancy.md).
KIND_GRANT = "DiscoveryGrant"
PLURAL_GRANT = "discoverygrants"
# Setting it (to a new value) asks the operator to observe and reconcile the resource now.
REFRESH_ANNOTATION = f"{GROUP}/reconcile-requested-at"
# "true" stops every AWS call for the resource, deletes included, until it is removed
# (docs/resources.md, Pause).
PAUSED_ANNOTATION = f"{GROUP}/paused"
PAUSED_MESSAGE = f'{PAUSED_ANNOTATION} is "true": no AWS call until it is removed'


class NamespaceType(StrEnum):
    HTTP = "Http"
    DNS_PRIVATE = "DnsPrivate"
    DNS_PUBLIC = "DnsPublic"


class DeletionPolicy(StrEnum):
    """spec.deletionPolicy; unset (None) deletes what the resource created and gives back
    what it adopted, DELETE deletes both (docs/ownership.md)."""

    DELETE = "Delete"
    RETAIN = "Retain"


class AdoptionPolicy(StrEnum):
    NEVER = "Never"
    ADOPT = "Adopt"


class ManagementPolicy(StrEnum):
    """spec.managementPolicy: Observe reads AWS and compares it with the spec, never writes
    (reconcile/management.py)."""

    MANAGE = "Manage"
    OBSERVE = "Observe"


class DriftPolicy(StrEnum):
    CORRECT = "Correct"
    REPORT = "Report"


class RoutingPolicy(StrEnum):
    MULTIVALUE = "MULTIVALUE"
    WEIGHTED = "WEIGHTED"


class RecordType(StrEnum):
    A = "A"
    AAAA = "AAAA"
    SRV = "SRV"
    CNAME = "CNAME"


class Route53CheckType(StrEnum):
    HTTP = "HTTP"
    HTTPS = "HTTPS"
    TCP = "TCP"


@dataclass(frozen=True)
class Identity:
    """Who a resource belongs to: the custom resource, as tagged onto everything it creates."""

    kind: str
    namespace: str
    name: str
    uid: str = ""
    generation: int = 1

    @property
    def key(self) -> str:
        return f"{self.kind}/{self.namespace}/{self.name}"


@dataclass(frozen=True)
class ClusterIdentity:
    """The Kubernetes cluster an operator (or the CLI) acts for, as tagged onto what it makes:
    the name people choose (--cluster-name) and an id unique to the cluster (--cluster-id, by
    default the UID of its kube-system namespace), so two clusters given the same name never
    take each other's resources for their own. `id` None: the CLI given no id
    (docs/ownership.md)."""

    name: str
    id: str | None = None

    def __str__(self) -> str:
        return self.name if self.id is None else f"{self.name} (id {self.id})"


@dataclass(frozen=True)
class NamespaceSpec:
    name: str
    type: NamespaceType
    vpc: str | None = None
    description: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)
    region: str | None = None
    deletion_policy: DeletionPolicy | None = None
    adoption_policy: AdoptionPolicy = AdoptionPolicy.NEVER
    management_policy: ManagementPolicy = ManagementPolicy.MANAGE


@dataclass(frozen=True)
class DnsRecord:
    type: RecordType
    ttl: int


@dataclass(frozen=True)
class DnsConfig:
    routing_policy: RoutingPolicy
    records: tuple[DnsRecord, ...]


@dataclass(frozen=True)
class Route53HealthCheck:
    type: Route53CheckType
    resource_path: str | None = None
    failure_threshold: int = 1


@dataclass(frozen=True)
class HealthCheck:
    """Exactly one of `custom` (ECS / API-reported health) or `route53` is set."""

    custom: bool = False
    route53: Route53HealthCheck | None = None

    def document(self) -> object:
        """The CRD spells `custom` as an empty object: `custom: {}` or `route53: {...}`."""
        check: dict[str, object] = {"custom": {}} if self.custom else {}
        if self.route53 is not None:
            check["route53"] = encode(self.route53)
        return check


@dataclass(frozen=True)
class CloudMapServiceSpec:
    name: str
    description: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)
    dns: DnsConfig | None = None
    health_check: HealthCheck | None = None
    # Cloud Map service attributes (Get/Update/DeleteServiceAttributes), not instance ones
    attributes: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Registry:
    """ECS serviceRegistries entry linking the ECS service to this resource's Cloud Map service."""

    port: int | None = None
    container_name: str | None = None
    container_port: int | None = None


# ECS Service Connect: these dataclasses are the shape of the CRD's spec.ecs.serviceConnect and of
# ECS's serviceConnectConfiguration alike (the same camelCase keys); model/wire.py derives the
# parsing, the UpdateService request, the DescribeServices reading and the plan's differences from
# them, and tests/unit/test_wire.py checks them against the CRD.


@dataclass(frozen=True)
class ServiceConnectTestTrafficHeaderMatchRules:
    exact: str


@dataclass(frozen=True)
class ServiceConnectTestTrafficHeaderRules:
    name: str
    value: ServiceConnectTestTrafficHeaderMatchRules | None = None


@dataclass(frozen=True)
class ServiceConnectTestTrafficRules:
    """Which requests reach the new revision during an ECS blue/green deployment."""

    header: ServiceConnectTestTrafficHeaderRules


@dataclass(frozen=True)
class ClientAlias:
    port: int
    dns_name: str | None = None
    test_traffic_rules: ServiceConnectTestTrafficRules | None = None


@dataclass(frozen=True)
class Timeout:
    idle_timeout_seconds: int | None = None
    per_request_timeout_seconds: int | None = None


@dataclass(frozen=True)
class CertificateAuthority:
    aws_pca_authority_arn: str


@dataclass(frozen=True)
class Tls:
    issuer_certificate_authority: CertificateAuthority
    kms_key: str | None = None
    role_arn: str | None = None


@dataclass(frozen=True)
class ServiceConnectService:
    port_name: str
    discovery_name: str | None = None
    client_aliases: tuple[ClientAlias, ...] = ()
    ingress_port_override: int | None = None
    timeout: Timeout | None = None
    tls: Tls | None = None


@dataclass(frozen=True)
class SecretOption:
    name: str
    value_from: str


@dataclass(frozen=True)
class LogConfiguration:
    log_driver: str
    options: Mapping[str, str] = field(default_factory=dict)
    secret_options: tuple[SecretOption, ...] = ()


@dataclass(frozen=True)
class AccessLogConfiguration:
    format: str
    include_query_parameters: str | None = None


@dataclass(frozen=True)
class ServiceConnect:
    enabled: bool = True
    namespace: str | None = None
    services: tuple[ServiceConnectService, ...] = list_map("port_name")
    log_configuration: LogConfiguration | None = None
    access_log_configuration: AccessLogConfiguration | None = None


@dataclass(frozen=True)
class EcsSpec:
    cluster: str
    service: str
    registry: Registry | None = None
    service_connect: ServiceConnect | None = None


@dataclass(frozen=True)
class ExternalNamespace:
    """A Cloud Map namespace managed elsewhere: read, never changed. `name` is its name, or
    its ARN: a namespace another account shares with ours through AWS RAM is addressed by ARN
    only (docs/tenancy.md, "Shared namespaces"). `vpc`: the VPC of our account whose tasks
    resolve a shared DnsPrivate namespace's names."""

    name: str
    vpc: str | None = None

    @property
    def arn(self) -> str | None:
        """The namespace's ARN when it is addressed by one, else None."""
        return self.name if is_arn(self.name) else None


@dataclass(frozen=True)
class EndpointsSpec:
    """spec.endpoints: export a Kubernetes Service's endpoints as Cloud Map instances."""

    service: str
    port: str | None = None
    attributes: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ServiceDiscoverySpec:
    namespace_ref: str | None = None
    cloud_map_namespace: ExternalNamespace | None = None
    service: CloudMapServiceSpec | None = None
    ecs: EcsSpec | None = None
    region: str | None = None
    # spec.driftPolicy, else spec.drift (its deprecated name); driftPolicy wins when both are set
    drift_policy: DriftPolicy = DriftPolicy.CORRECT
    # spec.driftFields: paths as the plan prints them (spec.service.dns.records[0].ttl)
    drift_ignore: tuple[str, ...] = ()
    drift_report: tuple[str, ...] = ()
    max_ttl_seconds: int = 60
    deletion_policy: DeletionPolicy | None = None
    adoption_policy: AdoptionPolicy = AdoptionPolicy.NEVER
    endpoints: EndpointsSpec | None = None
    management_policy: ManagementPolicy = ManagementPolicy.MANAGE


# The namespace type decides what a service in it may declare: the manifests' check (parse.py)
# and the plan (for a namespace outside them) refuse the same, in the same words.
HTTP_NAMESPACE_DNS = (
    "the namespace is an Http namespace, which has no DNS records: remove service.dns "
    "or use a DnsPrivate or DnsPublic namespace"
)
ROUTE53_NEEDS_PUBLIC = (
    "Route 53 health checks work only in DnsPublic namespaces: use healthCheck.custom"
)


def refused_in(
    service: CloudMapServiceSpec, namespace_type: NamespaceType
) -> tuple[str, str] | None:
    """(the field under `service`, why) of what a namespace of `namespace_type` does not
    allow, or None."""
    if namespace_type is NamespaceType.HTTP and service.dns is not None:
        return "dns", HTTP_NAMESPACE_DNS
    route53 = service.health_check.route53 if service.health_check else None
    if route53 is not None and namespace_type is not NamespaceType.DNS_PUBLIC:
        return "healthCheck.route53", ROUTE53_NEEDS_PUBLIC
    return None


@dataclass(frozen=True)
class Resource:
    """One custom resource: where it came from, who it is, and its parsed spec; `status`: what
    the cluster holds for it (`plan --from-cluster`), None for a manifest; `paused`: its
    metadata carries sd-operator.io/paused: "true" (`is_paused`)."""

    identity: Identity
    spec: NamespaceSpec | ServiceDiscoverySpec
    source: str = ""
    status: Mapping[str, Any] | None = field(default=None, compare=False)
    paused: bool = False


def observe_only(spec: NamespaceSpec | ServiceDiscoverySpec) -> bool:
    return spec.management_policy is ManagementPolicy.OBSERVE


def is_paused(metadata: Mapping[str, object]) -> bool:
    """The object's metadata carries sd-operator.io/paused: "true"."""
    annotations = metadata.get("annotations")
    return isinstance(annotations, Mapping) and annotations.get(PAUSED_ANNOTATION) == "true"


def referenced_identity(
    identity: Identity, spec: NamespaceSpec | ServiceDiscoverySpec
) -> Identity | None:
    """The CloudMapNamespace a ServiceDiscovery names in spec.namespaceRef: a reference never
    leaves the resource's own Kubernetes namespace."""
    if not isinstance(spec, ServiceDiscoverySpec) or spec.namespace_ref is None:
        return None
    return Identity(KIND_NAMESPACE, identity.namespace, spec.namespace_ref)


def resource_region(res: Resource, namespace: NamespaceSpec | None) -> str | None:
    """A ServiceDiscovery lives in its namespace's region; spec.region serves external ones."""
    if isinstance(res.spec, ServiceDiscoverySpec) and namespace is not None:
        return namespace.region or res.spec.region
    return res.spec.region
