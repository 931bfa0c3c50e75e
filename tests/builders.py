"""The resources the reconciler tests build, in one place: a CloudMapNamespace payments/myapp
(myapp.local, DnsPrivate in VPC) and a ServiceDiscovery payments/user-service in it, each with
keyword overrides of its spec; and team A's manifests of the ECS ownership tests (YAML, as users
write them). Shared by the integration tests and the unit tests."""

from __future__ import annotations

from typing import Any

from sd_operator.aws.adapters import Adapters
from sd_operator.handlers.units import Units
from sd_operator.hybrid.export import SliceView, slice_view
from sd_operator.model.grants import parse_grant
from sd_operator.model.spec import (
    CloudMapServiceSpec,
    ClusterIdentity,
    DnsConfig,
    DnsRecord,
    HealthCheck,
    Identity,
    NamespaceSpec,
    NamespaceType,
    RecordType,
    Resource,
    RoutingPolicy,
    ServiceDiscoverySpec,
)
from sd_operator.reconcile.reconciler import Reconciler

REGION = "us-east-1"
CLUSTER = ClusterIdentity("test-cluster")
VPC = "vpc-0a1b2c3d4e5f60718"


def namespace_spec(**overrides: Any) -> NamespaceSpec:
    fields: dict[str, Any] = {"name": "myapp.local", "type": NamespaceType.DNS_PRIVATE, "vpc": VPC}
    return NamespaceSpec(**{**fields, **overrides})


def namespace(**overrides: Any) -> Resource:
    identity = Identity("CloudMapNamespace", "payments", "myapp", uid="u-ns")
    return Resource(identity, namespace_spec(**overrides))


def discovery(
    ttl: int = 10,
    *,
    generation: int = 1,
    description: str | None = None,
    name: str = "user-service",
    namespace: str = "payments",
    namespace_ref: str = "myapp",
    uid: str = "u-sd",
    **overrides: Any,
) -> Resource:
    """ServiceDiscovery `namespace`/`name` (its Cloud Map service `name` too) in the
    CloudMapNamespace `namespace_ref`: one A record of `ttl`, a custom health check.
    `overrides`: ServiceDiscoverySpec fields (drift_policy, drift_ignore, ecs, ...)."""
    spec = ServiceDiscoverySpec(
        namespace_ref=namespace_ref,
        service=CloudMapServiceSpec(
            name=name,
            description=description,
            dns=DnsConfig(RoutingPolicy.MULTIVALUE, (DnsRecord(RecordType.A, ttl),)),
            health_check=HealthCheck(custom=True),
        ),
        **overrides,
    )
    identity = Identity("ServiceDiscovery", namespace, name, uid, generation)
    return Resource(identity, spec)


# Team A's manifests beside team B's world (docs/ownership.md): test_ecs_ownership through the
# CLI and the emulator, test_reconciler_states in process. SERVICE: the ECS service named.

TEAM_A_NAMESPACE = """\
apiVersion: sd-operator.io/v1alpha1
kind: CloudMapNamespace
metadata: {name: teama, namespace: team-a}
spec: {name: teama, type: Http}
"""
# Service Connect in team A's own namespace, on team B's ECS service.
SERVICE_CONNECT_ON_VICTIM = """\
apiVersion: sd-operator.io/v1alpha1
kind: ServiceDiscovery
metadata: {name: api, namespace: team-a}
spec:
  namespaceRef: {name: teama}
  ecs:
    cluster: prod
    service: SERVICE
    serviceConnect:
      enabled: true
      services: [{portName: http, discoveryName: api-a, clientAliases: [{port: 80}]}]
"""
# Only a registry (into team A's own Cloud Map service), on team B's ECS service.
REGISTRY_ON_VICTIM = """\
apiVersion: sd-operator.io/v1alpha1
kind: ServiceDiscovery
metadata: {name: api, namespace: team-a}
spec:
  namespaceRef: {name: teama}
  service: {name: api-a}
  ecs:
    cluster: prod
    service: SERVICE
    registry: {containerName: app, containerPort: 8080}
"""
# Team A's own ECS service, both parts, in its own namespace.
BOTH_ON_OWN = """\
apiVersion: sd-operator.io/v1alpha1
kind: ServiceDiscovery
metadata: {name: web, namespace: team-a}
spec:
  namespaceRef: {name: teama}
  service: {name: web}
  ecs:
    cluster: prod
    service: teama-web
    registry: {containerName: app, containerPort: 8080}
    serviceConnect:
      enabled: true
      services: [{portName: http, discoveryName: web-sc, clientAliases: [{port: 80}]}]
"""
ADOPT_API = """\
apiVersion: sd-operator.io/v1alpha1
kind: ServiceDiscovery
metadata: {name: api, namespace: team-a}
spec:
  cloudMapNamespace: {name: teamb}
  adoptionPolicy: Adopt
  service: {name: api}
"""
# Team B's Service Connect, declared as it is, adopted.
ADOPT_SERVICE_CONNECT = """\
apiVersion: sd-operator.io/v1alpha1
kind: ServiceDiscovery
metadata: {name: api, namespace: team-a}
spec:
  cloudMapNamespace: {name: teamb}
  adoptionPolicy: Adopt
  ecs:
    cluster: prod
    service: teamb-api
    serviceConnect:
      enabled: true
      services: [{portName: http, discoveryName: api, clientAliases: [{port: 80}]}]
"""


def units_granting_all(
    reconciler: Reconciler, adapters: Adapters, sweep_seconds: float = 30
) -> Units:
    """The handler units, handed what kopf's indexes hold with the chart's `grants.mode:
    allowAll` (docs/tenancy.md): what the tests of anything but tenancy run under."""
    units = Units.build(reconciler, adapters, sweep_seconds)
    units.live.grants, units.live.namespace_labels = {ALLOW_ALL.name: [ALLOW_ALL]}, {}
    return units


ALLOW_ALL = parse_grant(
    {
        "metadata": {"name": "all"},
        "spec": {
            "namespaces": {"selector": {}},
            "regions": ["*"],
            "cloudMapNamespaces": {
                "create": {"names": ["*"], "vpcs": ["*"]},
                "use": ["*"],
                "adopt": ["*"],
            },
            "ecs": [{"cluster": "*", "services": ["*"]}],
            "export": {"cloudMapNamespaces": ["*"]},
            "import": {"cloudMapNamespaces": ["*"]},
        },
    }
)


def pay_slice(*ips: str) -> SliceView:
    """EndpointSlice pay-1 of Service `pay`, as the EndpointSlice controller writes it: one
    endpoint per address, port 8080."""
    return slice_view(
        {
            "metadata": {
                "name": "pay-1",
                "labels": {
                    "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io"
                },
            },
            "addressType": "IPv4",
            "ports": [{"name": "", "port": 8080}],
            "endpoints": [{"addresses": [ip]} for ip in ips],
        }
    )
