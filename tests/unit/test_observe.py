"""Observe -> plan through a fake Reader, with no AWS: every read a step makes goes through the
Reader it is given (one that went around it would reach for boto3 here), and what is read
depends on what was seen, not on the plan (but for the Service Connect clients)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from builders import CLUSTER, REGION, discovery, namespace, namespace_spec
from sd_operator.aws.adapters import Adapters
from sd_operator.model.actions import CreateNamespace, UpdateEcsService
from sd_operator.model.observed import (
    NamedPort,
    ObservedEcsService,
    ObservedNamespace,
    ObservedOperation,
    ObservedService,
    ObservedServiceDeployment,
)
from sd_operator.model.reasons import REASON_NAMESPACE_NOT_OWNED
from sd_operator.model.spec import (
    KIND_NAMESPACE,
    EcsSpec,
    Identity,
    NamespaceType,
    Resource,
    ServiceConnect,
    ServiceConnectService,
)
from sd_operator.model.status import ServiceConnectResource, patch_to_wire
from sd_operator.reconcile.ownership import PART_SET, EcsPart, ecs_marker, owner_tags
from sd_operator.reconcile.reader import Reader
from sd_operator.reconcile.reconciler import Reconciler

NS_ARN = "arn:aws:servicediscovery:us-east-1:123456789012:namespace/ns-1"
ECS_ARN = "arn:aws:ecs:us-east-1:123456789012:service/prod/user-service"
CLIENT_ARN = "arn:aws:ecs:us-east-1:123456789012:service/prod/web"
MANAGER = Identity(KIND_NAMESPACE, "payments", "myapp")


@dataclass
class FakeReader:
    """Answers from what it is given; records each read by name."""

    namespace: ObservedNamespace | None = None
    ecs: ObservedEcsService | None = None
    users: tuple[str, ...] = ()
    calls: list[str] = field(default_factory=list)

    def _read(self, name: str) -> None:
        self.calls.append(name)

    def find_namespace(
        self, region: str, name: str, *, with_tags: bool
    ) -> ObservedNamespace | None:
        self._read("find_namespace")
        return self.namespace

    def get_namespace(
        self, region: str, namespace_id: str, *, with_tags: bool
    ) -> ObservedNamespace | None:
        self._read("get_namespace")
        return self.namespace

    def namespace_of_service(
        self, region: str, name: str, *, with_tags: bool
    ) -> ObservedNamespace | None:
        self._read("namespace_of_service")
        return self.namespace

    def hosted_zone_vpcs(self, region: str, hosted_zone_id: str) -> frozenset[str]:
        self._read("hosted_zone_vpcs")
        return frozenset()

    def list_services(
        self, region: str, namespace_id: str, *, settled: bool = False
    ) -> list[ObservedService]:
        self._read("list_services")
        return []

    def find_service(self, region: str, namespace_id: str, name: str) -> ObservedService | None:
        self._read("find_service")
        return None

    def get_service(
        self, region: str, service_id: str, *, namespace_id: str | None = None
    ) -> ObservedService | None:
        self._read("get_service")
        return None

    def owned_service(
        self, region: str, namespace_id: str, owner: Mapping[str, str]
    ) -> ObservedService | None:
        self._read("owned_service")
        return None

    def owned_namespace(self, region: str, owner: Mapping[str, str]) -> ObservedNamespace | None:
        self._read("owned_namespace")
        return None

    def tagged_namespace(self, region: str, owner: Mapping[str, str]) -> ObservedNamespace | None:
        self._read("tagged_namespace")
        return None

    def tagged_service(self, region: str, owner: Mapping[str, str]) -> ObservedService | None:
        self._read("tagged_service")
        return None

    def want(self, region: str, cluster: str, service: str) -> None:
        pass  # a note for the account view's batch, not a read

    def describe_ecs(self, region: str, cluster: str, service: str) -> ObservedEcsService | None:
        self._read("describe_ecs")
        return self.ecs

    def service_deployment(
        self, region: str, cluster: str, service: str, deployment_id: str
    ) -> ObservedServiceDeployment | None:
        self._read("service_deployment")
        return None

    def services_in_namespace(self, region: str, namespace_arn: str) -> tuple[str, ...]:
        self._read("services_in_namespace")
        return self.users

    def get_operation(self, region: str, operation_id: str) -> ObservedOperation:
        raise AssertionError("planning never polls an operation")

    def service_attributes(self, region: str, service_id: str) -> dict[str, str]:
        self._read("service_attributes")
        return {}


def reconciler() -> Reconciler:
    # No endpoint and no credentials: a read that went around the Reader would fail.
    return Reconciler(Adapters(REGION, None), CLUSTER)


def plan_with(reader: Reader, res: Resource, **kwargs: Any) -> Any:
    return reconciler().plan(res, reader=reader, **kwargs)


def cloud_map_namespace(tags: Mapping[str, str]) -> ObservedNamespace:
    return ObservedNamespace("ns-1", NS_ARN, "myapp.local", NamespaceType.DNS_PRIVATE, tags=tags)


def test_a_new_namespace_is_planned_from_the_reader_alone() -> None:
    reader = FakeReader()
    seen = plan_with(reader, namespace())
    assert [type(a) for a in seen.plan.actions] == [CreateNamespace]
    # Nothing by name: is there one this resource made under another name?
    assert reader.calls == ["find_namespace", "owned_namespace"]
    assert patch_to_wire(seen.ids) == {"namespaceId": None, "namespaceArn": None}


def test_a_namespace_someone_else_owns_blocks_without_reading_what_is_in_it() -> None:
    reader = FakeReader(namespace=cloud_map_namespace({"owner": "someone-else"}))
    seen = plan_with(reader, discovery(), namespace=namespace_spec())
    assert seen.plan.blocked is not None
    assert seen.plan.blocked.reason == REASON_NAMESPACE_NOT_OWNED
    assert reader.calls == ["namespace_of_service"]


SC = ServiceConnect(True, None, (ServiceConnectService("http", discovery_name="users"),))


def ecs_observed(service_connect: ServiceConnect) -> ObservedEcsService:
    """Service Connect the ServiceDiscovery set: the ECS service carries its marker."""
    ports = {"http": NamedPort("app", 8080, "http")}
    marker = ecs_marker(discovery().identity, CLUSTER, {EcsPart.SERVICE_CONNECT: PART_SET})
    return ObservedEcsService(
        ECS_ARN,
        "prod",
        "user-service",
        "ACTIVE",
        "ECS",
        "td:1",
        "awsvpc",
        ports,
        (),
        service_connect,
        tags=marker,
    )


def ecs_discovery() -> Resource:
    """ECS only: Service Connect in namespace payments/myapp."""
    res = discovery()
    ecs = EcsSpec("prod", "user-service", service_connect=SC)
    return replace(res, spec=replace(res.spec, service=None, ecs=ecs))


def test_a_changed_endpoint_asks_the_reader_which_services_to_redeploy() -> None:
    renamed = replace(SC, services=(replace(SC.services[0], discovery_name="people"),))
    reader = FakeReader(
        namespace=cloud_map_namespace(owner_tags(MANAGER, CLUSTER)),
        ecs=ecs_observed(replace(renamed, namespace=NS_ARN)),
        users=(ECS_ARN, CLIENT_ARN),
    )
    seen = plan_with(reader, ecs_discovery(), namespace=namespace_spec())
    (action,) = seen.plan.actions
    assert isinstance(action, UpdateEcsService)
    assert action.endpoints_change
    assert action.clients == ("prod/web",)  # every user of the namespace but itself
    assert reader.calls == ["namespace_of_service", "describe_ecs", "services_in_namespace"]


def test_an_unchanged_endpoint_reads_no_clients() -> None:
    reader = FakeReader(
        namespace=cloud_map_namespace(owner_tags(MANAGER, CLUSTER)),
        ecs=ecs_observed(replace(SC, namespace=NS_ARN)),
        users=(CLIENT_ARN,),
    )
    seen = plan_with(reader, ecs_discovery(), namespace=namespace_spec())
    assert seen.plan.in_sync
    assert reader.calls == ["namespace_of_service", "describe_ecs"]


def test_the_service_connect_resources_of_the_primary_deployment_go_to_status() -> None:
    """status.serviceConnectResources follows what ECS reports: set while Service Connect
    names Cloud Map services, removed when it names none."""
    made = (ServiceConnectResource("users", "arn:aws:servicediscovery:us-east-1:1:service/srv-u"),)
    with_resources = replace(
        ecs_observed(replace(SC, namespace=NS_ARN)), service_connect_resources=made
    )
    namespace_ = cloud_map_namespace(owner_tags(MANAGER, CLUSTER))
    seen = plan_with(
        FakeReader(namespace=namespace_, ecs=with_resources),
        ecs_discovery(),
        namespace=namespace_spec(),
    )
    assert patch_to_wire(seen.ids)["serviceConnectResources"] == [
        {"discoveryName": "users", "discoveryArn": made[0].discovery_arn}
    ]
    without = FakeReader(namespace=namespace_, ecs=ecs_observed(replace(SC, namespace=NS_ARN)))
    seen = plan_with(without, ecs_discovery(), namespace=namespace_spec())
    assert patch_to_wire(seen.ids)["serviceConnectResources"] is None
