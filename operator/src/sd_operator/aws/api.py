"""What the reconciler needs of AWS, as one Protocol per adapter: the reads (reconcile/reader.py)
and the writes (reconcile/execute.py) depend on these, not on the boto3-backed classes, so a
caller decides what the outside world is: `Adapters` (adapters.py) for AWS or an emulator, an
in-memory fake (tests/fakes.py) for the state-machine tests.

Each Protocol lists only the methods the reconciler calls; the adapters offer more (Cloud Map's
instance calls serve the hybrid exporter and importer, which take `CloudMap` itself). Errors
are the adapters' classified ones (errors.py): an implementation raises those, never botocore's.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Protocol

from sd_operator.model.actions import (
    CreateNamespace,
    CreateService,
    UpdateEcsService,
    UpdateNamespace,
    UpdateService,
)
from sd_operator.model.grants import Role
from sd_operator.model.observed import (
    EcsUpdated,
    ObservedEcsService,
    ObservedNamespace,
    ObservedOperation,
    ObservedService,
    ObservedServiceDeployment,
)


class CloudMapApi(Protocol):
    """One region's Cloud Map (cloudmap.CloudMap). get_* return None only for AWS's NotFound;
    find_* return None when a scan by name finds nothing, which is not proof of absence."""

    def tags(self, arn: str) -> dict[str, str]: ...

    def find_namespace(self, name: str, *, with_tags: bool = True) -> ObservedNamespace | None: ...

    def get_namespace(
        self, namespace_id: str, *, with_tags: bool = True
    ) -> ObservedNamespace | None: ...

    def list_namespaces(self) -> list[ObservedNamespace]:
        """Tags not read."""
        ...

    def owned_namespace(self, owner: Mapping[str, str]) -> ObservedNamespace | None: ...

    def list_services(self, namespace_id: str, *, settled: bool = False) -> list[ObservedService]:
        """Tags not read. `settled`: a scan two list reads in a row agree on."""
        ...

    def get_service(self, service_id: str) -> ObservedService | None:
        """With its tags."""
        ...

    def get_operation(self, operation_id: str) -> ObservedOperation: ...

    def create_namespace(self, action: CreateNamespace, creator_request_id: str) -> str:
        """The OperationId; the namespace exists once that operation succeeds."""
        ...

    def update_namespace(self, action: UpdateNamespace) -> str: ...

    def delete_namespace(self, namespace_id: str) -> str: ...

    def create_service(
        self, action: CreateService, namespace_id: str, creator_request_id: str
    ) -> ObservedService:
        """Synchronous: the service as AWS made it (for a resent CreatorRequestId, the one the
        first attempt made), with the tags sent along."""
        ...

    def update_service(self, action: UpdateService) -> str: ...

    def delete_service(self, service_id: str) -> None: ...

    def service_attributes(self, service_id: str) -> dict[str, str]:
        """GetServiceAttributes: one service per call (AWS has no batch read)."""
        ...

    def update_service_attributes(self, service_id: str, attributes: Mapping[str, str]) -> None: ...

    def delete_service_attributes(self, service_id: str, keys: tuple[str, ...]) -> None: ...

    def tag(self, arn: str, tags: Mapping[str, str]) -> None: ...

    def untag(self, arn: str, keys: tuple[str, ...]) -> None: ...


class EcsApi(Protocol):
    """One region's ECS (ecs.EcsAdapter): the discovery configuration of existing services."""

    def describe(
        self, cluster: str, services: Sequence[str]
    ) -> dict[str, ObservedEcsService | None]:
        """Keyed by the names asked for; a missing or inactive service is None."""
        ...

    def services_in_namespace(self, namespace: str) -> tuple[str, ...]: ...

    def service_deployment(
        self, cluster: str, service: str, deployment_id: str
    ) -> ObservedServiceDeployment | None:
        """What the service deployments API keeps of a deployment; None: it has no record."""
        ...

    def update(self, action: UpdateEcsService) -> EcsUpdated:
        """The ECS service's ARN and the deployment the update started."""
        ...

    def tag(self, arn: str, tags: Mapping[str, str]) -> None: ...

    def untag(self, arn: str, keys: Sequence[str]) -> None: ...


class TaggingApi(Protocol):
    """tag:GetResources (tagging.Tagging): eventually consistent, so a missing ARN proves
    nothing; Terminal when the endpoint or the role has no Tagging API."""

    def resources(
        self, resource_types: Iterable[str], tags: Mapping[str, str]
    ) -> dict[str, dict[str, str]]: ...


class Route53Api(Protocol):
    def hosted_zone_vpcs(self, hosted_zone_id: str) -> frozenset[str]: ...

    def zones_of_vpc(self, vpc_id: str, region: str) -> frozenset[str]: ...


class RamApi(Protocol):
    def share_permissions(self, resource_arn: str) -> frozenset[str]: ...


class AwsAdapters(Protocol):
    """The adapters of one AWS account, per region (None: `default_region`)."""

    @property
    def default_region(self) -> str: ...

    def account(self, region: str | None) -> str:
        """The 12-digit account they act in (status.account, the plan's)."""
        ...

    def as_role(self, role: Role) -> AwsAdapters:
        """The same endpoint's adapters acting through `role` (a DiscoveryGrant's spec.aws)."""
        ...

    def cloudmap(self, region: str | None) -> CloudMapApi: ...

    def ecs(self, region: str | None) -> EcsApi: ...

    def tagging(self, region: str | None) -> TaggingApi: ...

    def route53(self, region: str | None) -> Route53Api: ...

    def ram(self, region: str | None) -> RamApi: ...
