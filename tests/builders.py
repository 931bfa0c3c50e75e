"""The resources the reconciler tests build, in one place: a CloudMapNamespace payments/myapp
(myapp.local, DnsPrivate in VPC) and a ServiceDiscovery payments/user-service in it, each with
keyword overrides of its spec. Shared by the integration tests (and free for unit tests)."""

from __future__ import annotations

from typing import Any

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
