"""What AWS holds, as frozen values the pure plan can compare with the spec."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import NamedTuple

from sd_operator.model.spec import DnsConfig, HealthCheck, NamespaceType, ServiceConnect
from sd_operator.model.status import EcsDeployment, ServiceConnectResource, StatusPatch


def is_foreign(creator: str | None, account: str | None) -> bool:
    """AWS says another account than ours owns or created it (ResourceOwner,
    CreatedByAccount): ours to read, never to change or delete. Unknown on either side is not
    foreign (our markers still decide)."""
    return creator is not None and account is not None and creator != account


@dataclass(frozen=True)
class ObservedNamespace:
    id: str
    arn: str
    name: str
    type: NamespaceType
    description: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)
    hosted_zone_id: str | None = None
    # VPC ids of a DnsPrivate namespace's hosted zone (Route 53 GetHostedZone): Cloud Map does
    # not return the VPC. None = not read (other types, or lookups that do not need it).
    vpcs: frozenset[str] | None = None
    # Cloud Map's ResourceOwner: the account that owns it (another one's when shared through
    # AWS RAM). None = not reported.
    owner_account: str | None = None


@dataclass(frozen=True)
class ObservedService:
    id: str
    arn: str
    name: str
    namespace_id: str
    description: str | None = None
    dns: DnsConfig | None = None
    health_check: HealthCheck | None = None
    tags: Mapping[str, str] = field(default_factory=dict)
    instance_count: int = 0
    # HTTP (API-only: DiscoverInstances, no DNS), DNS_HTTP or DNS; None when not reported
    type: str | None = None
    # CreatedByAccount (else ResourceOwner, which names the namespace's owner): the account
    # that created it; in a shared namespace services of several accounts sit side by side.
    # None = not reported.
    created_by_account: str | None = None
    # GetServiceAttributes; None: not read (nothing declared or recorded asks for it)
    attributes: Mapping[str, str] | None = None


class OperationStatus(StrEnum):
    SUBMITTED = "SUBMITTED"
    PENDING = "PENDING"
    SUCCESS = "SUCCESS"
    FAIL = "FAIL"

    @property
    def done(self) -> bool:
        return self in (OperationStatus.SUCCESS, OperationStatus.FAIL)


@dataclass(frozen=True)
class ObservedOperation:
    id: str
    type: str
    status: OperationStatus
    error_code: str | None = None
    error_message: str | None = None
    targets: Mapping[str, str] = field(default_factory=dict)


class NamedPort(NamedTuple):
    """A task definition `portMappings[]` entry that has a `name` (the only ones SC can use)."""

    container_name: str
    container_port: int
    app_protocol: str | None = None


@dataclass(frozen=True)
class ObservedRegistry:
    """One `serviceRegistries` entry, as ECS reports it and as UpdateService sends it."""

    registry_arn: str
    port: int | None = None
    container_name: str | None = None
    container_port: int | None = None


class EcsUpdated(NamedTuple):
    """What UpdateService answered: the service, and the PRIMARY deployment it started."""

    arn: str
    deployment_id: str | None


@dataclass(frozen=True)
class ObservedDeployment:
    """One of an ECS service's `deployments[]`: PRIMARY (the configuration it runs towards) or
    ACTIVE (one it replaces); `rollout_state` IN_PROGRESS, COMPLETED or FAILED."""

    id: str
    status: str
    rollout_state: str | None = None
    rollout_state_reason: str | None = None
    task_definition: str | None = None


@dataclass(frozen=True)
class ObservedServiceDeployment:
    """What ECS's service deployments API keeps of a deployment after it left `deployments[]`:
    `status` (SUCCESSFUL, STOPPED, ROLLBACK_SUCCESSFUL, ...), `rolled_back` (it has a
    `rollback`), `failed` (its circuit breaker or alarms TRIGGERED)."""

    status: str
    status_reason: str | None = None
    rolled_back: bool = False
    failed: bool = False


@dataclass(frozen=True)
class ObservedEcsService:
    """An ECS service as DescribeServices (+ DescribeTaskDefinition) reports it.

    `service_connect` comes from the PRIMARY deployment and is None when absent or disabled there.
    """

    arn: str
    cluster: str
    name: str
    status: str
    deployment_controller: str
    task_definition: str
    network_mode: str
    port_mappings: Mapping[str, NamedPort] = field(default_factory=dict)
    registries: tuple[ObservedRegistry, ...] = ()
    service_connect: ServiceConnect | None = None
    # The PRIMARY deployment's serviceConnectResources: the Cloud Map services ECS created.
    service_connect_resources: tuple[ServiceConnectResource, ...] = ()
    running_count: int | None = None
    desired_count: int | None = None
    # The service's tags (DescribeServices include=TAGS): the ownership marker of its discovery
    # configuration is read from them (reconcile/ownership.py).
    tags: Mapping[str, str] = field(default_factory=dict)
    deployments: tuple[ObservedDeployment, ...] = ()


@dataclass(frozen=True)
class ObservedInstance:
    id: str
    attributes: Mapping[str, str]
    # Custom health status when known (None: no custom health check, or not read)
    healthy: bool | None = None
    # CreatedByAccount: who registered it (None = not reported); in a shared namespace only
    # our account's instances are ours to deregister.
    created_by_account: str | None = None


@dataclass(frozen=True)
class DiscoveredInstance:
    id: str
    attributes: Mapping[str, str]
    health: str = "HEALTHY"  # HEALTHY | UNHEALTHY | UNKNOWN, as DiscoverInstances reports


# What one reconcile step saw for a resource (reconcile/observe.py reads it, reconcile/plan.py
# plans from it): kept here, with the rest of what AWS holds, so the pure plan needs no reader.


@dataclass(frozen=True)
class NamespaceObservation:
    """A CloudMapNamespace's step. `ids`: what status should record (None: the recorded id no
    longer applies)."""

    region: str
    # The namespace spec.name stands for (for a delete: the one this resource made), if any.
    namespace: ObservedNamespace | None
    # One this resource made under another name (a rename in the manifest).
    renamed: ObservedNamespace | None
    # Deleting: the services still in it (a settled list).
    services: tuple[ObservedService, ...]
    ids: StatusPatch


@dataclass(frozen=True)
class ShareObservation:
    """What our account can learn of a namespace another account shares with it through AWS
    RAM. None in a field: it could not be read (the plan then advises, never guesses)."""

    # The RAM permissions of the share(s) carrying the namespace to our account.
    permissions: frozenset[str] | None = None
    # Whether the namespace's hosted zone is associated with spec.cloudMapNamespace.vpc
    # (a shared DnsPrivate namespace only).
    vpc_associated: bool | None = None


@dataclass(frozen=True)
class DiscoveryObservation:
    """A ServiceDiscovery's step."""

    region: str
    # None: the CloudMapNamespace spec.namespaceRef names is not in Kubernetes.
    namespace_name: str | None
    namespace: ObservedNamespace | None
    # The namespace exists but the CloudMapNamespace managing it does not own it: nothing
    # else was read.
    foreign_namespace: bool
    service: ObservedService | None
    # One this resource made under another name or in another namespace.
    previous: ObservedService | None
    # Status records a serviceId (what a delete without a namespace still may act on).
    service_recorded: bool
    ecs: ObservedEcsService | None
    ids: StatusPatch
    # The account this step acts in (None: not known), which is what ResourceOwner and
    # CreatedByAccount are compared with.
    account: str | None = None
    # A namespace addressed by ARN (spec.cloudMapNamespace.name) and owned by another account.
    share: ShareObservation | None = None
    # The deployment our last UpdateService started, as this observation leaves it
    # (reconcile/deployments.followed), and the refresh annotation's value status records.
    deployment: EcsDeployment | None = None
    refresh: str | None = None


Observed = NamespaceObservation | DiscoveryObservation
