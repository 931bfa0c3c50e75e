"""The ECS adapter against the AWS emulator, with the pure ECS plan on top of what it reads."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.config import Config

from sd_devkit.emulator import Emulator, client
from sd_operator.aws.clients import AwsConfig, ecs_client
from sd_operator.aws.ecs import EcsAdapter
from sd_operator.aws.errors import NotFound, Retryable, Terminal
from sd_operator.model.actions import Plan, UpdateEcsService
from sd_operator.model.observed import NamedPort, ObservedEcsService, ObservedRegistry
from sd_operator.model.spec import (
    AccessLogConfiguration,
    CertificateAuthority,
    ClientAlias,
    DeletionPolicy,
    EcsSpec,
    LogConfiguration,
    Registry,
    SecretOption,
    ServiceConnect,
    ServiceConnectService,
    Timeout,
    Tls,
)
from sd_operator.reconcile.ecs_plan import plan_ecs, plan_ecs_delete
from sd_operator.reconcile.ownership import CLUSTER_TAG

pytestmark = pytest.mark.integration

REGION = "us-east-1"
CLUSTER = "production"
NAMESPACE = "myapp.local"
DESIRED_COUNT = 3
NO_RETRIES = Config(retries={"total_max_attempts": 1, "mode": "standard"})


@pytest.fixture
def ecs(emulator: Emulator) -> Any:
    return client("ecs", emulator.endpoint_url, REGION)


@pytest.fixture
def adapter(emulator: Emulator) -> EcsAdapter:
    return EcsAdapter(ecs_client(AwsConfig(REGION, emulator.endpoint_url)))


@pytest.fixture
def cloud_map(emulator: Emulator) -> dict[str, str]:
    """A private DNS namespace and the Cloud Map service a registry points at."""
    sd = client("servicediscovery", emulator.endpoint_url, REGION)
    operation = sd.create_private_dns_namespace(Name=NAMESPACE, Vpc="vpc-1")["OperationId"]
    namespace_id = sd.get_operation(OperationId=operation)["Operation"]["Targets"]["NAMESPACE"]
    namespace = sd.get_namespace(Id=namespace_id)["Namespace"]
    service = sd.create_service(
        Name="user-service",
        NamespaceId=namespace_id,
        DnsConfig={"RoutingPolicy": "MULTIVALUE", "DnsRecords": [{"Type": "A", "TTL": 10}]},
        HealthCheckCustomConfig={"FailureThreshold": 1},
    )["Service"]
    return {"namespace_arn": namespace["Arn"], "service_arn": service["Arn"]}


@pytest.fixture
def task_definition(ecs: Any) -> str:
    ecs.create_cluster(clusterName=CLUSTER)
    answer = ecs.register_task_definition(
        family="user-service",
        networkMode="awsvpc",
        containerDefinitions=[
            {
                "name": "app",
                "image": "app:1",
                "memory": 128,
                "portMappings": [
                    {"containerPort": 3000, "name": "http", "appProtocol": "http"},
                    {"containerPort": 9090, "name": "metrics"},
                    {"containerPort": 9999},
                ],
            }
        ],
    )
    return str(answer["taskDefinition"]["taskDefinitionArn"])


def create_service(ecs: Any, task_definition: str, name: str = "user-service", **kw: Any) -> str:
    # With the marker the operator writes before it updates a service (docs/ownership.md), so
    # the adapter's calls are the ones the IAM policy allows (docs/iam.md).
    marker = [{"key": CLUSTER_TAG, "value": "test-cluster"}]
    answer = ecs.create_service(
        cluster=CLUSTER,
        serviceName=name,
        taskDefinition=task_definition,
        desiredCount=DESIRED_COUNT,
        tags=marker,
        **kw,
    )
    return str(answer["service"]["serviceArn"])


def raw_service(ecs: Any, name: str = "user-service") -> dict[str, Any]:
    service: dict[str, Any] = ecs.describe_services(cluster=CLUSTER, services=[name])["services"][0]
    return service


def spec(registry: Registry | None = None) -> EcsSpec:
    return EcsSpec(
        cluster=CLUSTER,
        service="user-service",
        registry=registry,
        service_connect=ServiceConnect(
            services=(
                ServiceConnectService(
                    port_name="http",
                    discovery_name="user-api",
                    client_aliases=(ClientAlias(80, "user-svc"),),
                    timeout=Timeout(per_request_timeout_seconds=15),
                ),
            )
        ),
    )


def plan_for(
    ecs_spec: EcsSpec, observed: ObservedEcsService | None, cloud_map: dict[str, str]
) -> Plan:
    return plan_ecs(
        ecs_spec,
        observed=observed,
        namespace_name=NAMESPACE,
        namespace_arn=cloud_map["namespace_arn"],
        cloud_map_service_arn=cloud_map["service_arn"],
    )


def observe(adapter: EcsAdapter, name: str = "user-service") -> ObservedEcsService:
    observed = adapter.describe(CLUSTER, [name])[name]
    assert observed is not None
    return observed


def apply(adapter: EcsAdapter, plan: Plan) -> None:
    assert plan.refusal is None, plan.refusal
    assert plan.blocked is None, plan.blocked
    (action,) = plan.actions
    assert isinstance(action, UpdateEcsService)
    adapter.update(action)


# Observation ------------------------------------------------------------------------------------


def test_describe_batches_by_ten_and_reads_each_task_definition_once(
    ecs: Any, task_definition: str, adapter: EcsAdapter, emulator: Emulator
) -> None:
    names = [f"svc-{i:02d}" for i in range(12)]
    for name in names:
        create_service(ecs, task_definition, name)
    emulator.reset_calls()

    found = adapter.describe(CLUSTER, names)

    calls = emulator.calls()
    assert calls.get("ecs:DescribeServices") == 2
    assert calls.get("ecs:DescribeTaskDefinition") == 1
    assert sorted(found) == names
    for name in names:
        observed = found[name]
        assert observed is not None
        assert observed.name == name
        assert observed.status == "ACTIVE"
        assert observed.task_definition == task_definition
        assert observed.network_mode == "awsvpc"
        assert observed.deployment_controller == "ECS"
        assert observed.service_connect is None
        assert observed.registries == ()


def test_describe_reads_named_port_mappings_only(
    ecs: Any, task_definition: str, adapter: EcsAdapter
) -> None:
    create_service(ecs, task_definition)
    assert dict(observe(adapter).port_mappings) == {
        "http": NamedPort("app", 3000, "http"),
        "metrics": NamedPort("app", 9090, None),
    }


def test_missing_inactive_and_unknown_cluster_services_are_none(
    ecs: Any, task_definition: str, adapter: EcsAdapter
) -> None:
    create_service(ecs, task_definition, "alive")
    create_service(ecs, task_definition, "deleted")
    ecs.update_service(cluster=CLUSTER, service="deleted", desiredCount=0)
    ecs.delete_service(cluster=CLUSTER, service="deleted")

    found = adapter.describe(CLUSTER, ["alive", "deleted", "ghost"])

    assert found["alive"] is not None
    assert found["deleted"] is None
    assert found["ghost"] is None
    assert adapter.describe("no-such-cluster", ["alive"]) == {"alive": None}


def test_service_asked_for_by_arn_is_keyed_by_arn(
    ecs: Any, task_definition: str, adapter: EcsAdapter
) -> None:
    arn = create_service(ecs, task_definition)
    found = adapter.describe(CLUSTER, [arn])
    observed = found[arn]
    assert observed is not None
    assert observed.arn == arn


def test_missing_service_plans_a_blocked_wait(
    ecs: Any, task_definition: str, adapter: EcsAdapter, cloud_map: dict[str, str]
) -> None:
    observed = adapter.describe(CLUSTER, ["user-service"])["user-service"]
    plan = plan_for(spec(), observed, cloud_map)
    assert plan.blocked is not None
    assert plan.blocked.reason == "EcsServiceNotFound"


# Update -----------------------------------------------------------------------------------------


def test_service_connect_update_lands_on_primary_and_then_plans_nothing(
    ecs: Any,
    task_definition: str,
    adapter: EcsAdapter,
    emulator: Emulator,
    cloud_map: dict[str, str],
) -> None:
    create_service(ecs, task_definition)
    plan = plan_for(spec(), observe(adapter), cloud_map)
    assert [c.field for c in plan.changes] == ["ecs.serviceConnect.enabled"]

    apply(adapter, plan)

    primary = next(d for d in raw_service(ecs)["deployments"] if d["status"] == "PRIMARY")
    sent = primary["serviceConnectConfiguration"]
    assert sent["enabled"] is True
    assert sent["namespace"] == cloud_map["namespace_arn"]
    assert sent["services"][0]["portName"] == "http"
    observed = observe(adapter)
    assert observed.service_connect is not None
    assert plan_for(spec(), observed, cloud_map).in_sync
    assert raw_service(ecs)["desiredCount"] == DESIRED_COUNT
    assert emulator.deployments(CLUSTER, "user-service") == 2


def test_registry_update_then_plans_nothing(
    ecs: Any,
    task_definition: str,
    adapter: EcsAdapter,
    emulator: Emulator,
    cloud_map: dict[str, str],
) -> None:
    create_service(ecs, task_definition)
    wanted = spec(Registry(container_name="app", container_port=3000))

    apply(adapter, plan_for(wanted, observe(adapter), cloud_map))

    observed = observe(adapter)
    assert observed.registries == (ObservedRegistry(cloud_map["service_arn"], None, "app", 3000),)
    assert plan_for(wanted, observed, cloud_map).in_sync
    assert raw_service(ecs)["desiredCount"] == DESIRED_COUNT
    assert emulator.deployments(CLUSTER, "user-service") == 2


def test_every_service_connect_field_survives_the_round_trip(
    ecs: Any, task_definition: str, adapter: EcsAdapter, cloud_map: dict[str, str]
) -> None:
    create_service(ecs, task_definition)
    wanted = EcsSpec(
        cluster=CLUSTER,
        service="user-service",
        service_connect=ServiceConnect(
            services=(
                ServiceConnectService(
                    port_name="http",
                    client_aliases=(ClientAlias(80),),
                    ingress_port_override=3001,
                    timeout=Timeout(idle_timeout_seconds=60, per_request_timeout_seconds=0),
                    tls=Tls(
                        CertificateAuthority(
                            "arn:aws:acm-pca:us-east-1:123456789012:certificate-authority/ca"
                        ),
                        kms_key="alias/sc",
                        role_arn="arn:aws:iam::123456789012:role/sc-tls",
                    ),
                ),
                ServiceConnectService(port_name="metrics", discovery_name="user-metrics"),
            ),
            log_configuration=LogConfiguration(
                "awslogs",
                {"awslogs-group": "/ecs/service-connect", "awslogs-region": REGION},
                (SecretOption("token", "arn:aws:secretsmanager:us-east-1:1:secret:t"),),
            ),
            access_log_configuration=AccessLogConfiguration("JSON", "ENABLED"),
        ),
    )

    apply(adapter, plan_for(wanted, observe(adapter), cloud_map))

    observed = observe(adapter)
    assert observed.service_connect is not None
    assert wanted.service_connect is not None
    assert observed.service_connect.services[0].tls == wanted.service_connect.services[0].tls
    assert observed.service_connect.access_log_configuration == AccessLogConfiguration(
        "JSON", "ENABLED"
    )
    assert plan_for(wanted, observed, cloud_map).in_sync


def test_out_of_band_disable_is_seen_and_corrected(
    ecs: Any, task_definition: str, adapter: EcsAdapter, cloud_map: dict[str, str]
) -> None:
    create_service(ecs, task_definition)
    apply(adapter, plan_for(spec(), observe(adapter), cloud_map))
    ecs.update_service(
        cluster=CLUSTER, service="user-service", serviceConnectConfiguration={"enabled": False}
    )

    plan = plan_for(spec(), observe(adapter), cloud_map)

    assert [c.field for c in plan.changes] == ["ecs.serviceConnect.enabled"]
    apply(adapter, plan)
    assert plan_for(spec(), observe(adapter), cloud_map).in_sync


def test_update_sends_only_the_discovery_fields(
    ecs: Any, task_definition: str, emulator: Emulator, cloud_map: dict[str, str]
) -> None:
    """Never desiredCount (autoscaling owns it), never a task definition."""
    create_service(ecs, task_definition)
    sent: list[dict[str, Any]] = []
    recording = client("ecs", emulator.endpoint_url, REGION)
    recording.meta.events.register(
        "provide-client-params.ecs.UpdateService", lambda params, **_: sent.append(dict(params))
    )
    adapter = EcsAdapter(recording)
    wanted = spec(Registry(container_name="app", container_port=3000))

    apply(adapter, plan_for(wanted, observe(adapter), cloud_map))

    (params,) = sent
    assert sorted(params) == [
        "cluster",
        "service",
        "serviceConnectConfiguration",
        "serviceRegistries",
    ]


def test_registry_only_change_does_not_resend_service_connect(
    ecs: Any,
    task_definition: str,
    adapter: EcsAdapter,
    emulator: Emulator,
    cloud_map: dict[str, str],
) -> None:
    create_service(ecs, task_definition)
    apply(adapter, plan_for(spec(), observe(adapter), cloud_map))
    wanted = spec(Registry(container_name="app", container_port=3000))
    plan = plan_for(wanted, observe(adapter), cloud_map)
    (action,) = plan.actions
    assert isinstance(action, UpdateEcsService)
    assert action.set_registries
    assert not action.set_service_connect

    adapter.update(action)

    observed = observe(adapter)
    assert observed.service_connect is not None
    assert plan_for(wanted, observed, cloud_map).in_sync


def test_delete_removes_registry_and_service_connect_in_one_update(
    ecs: Any,
    task_definition: str,
    adapter: EcsAdapter,
    emulator: Emulator,
    cloud_map: dict[str, str],
) -> None:
    create_service(ecs, task_definition)
    wanted = spec(Registry(container_name="app", container_port=3000))
    apply(adapter, plan_for(wanted, observe(adapter), cloud_map))

    apply(adapter, plan_ecs_delete(wanted, DeletionPolicy.DELETE, observe(adapter)))

    observed = observe(adapter)
    assert observed.registries == ()
    assert observed.service_connect is None
    assert raw_service(ecs)["desiredCount"] == DESIRED_COUNT
    assert emulator.deployments(CLUSTER, "user-service") == 3
    assert plan_ecs_delete(wanted, DeletionPolicy.DELETE, observed).in_sync


def test_code_deploy_service_is_refused_before_any_call(
    ecs: Any,
    task_definition: str,
    adapter: EcsAdapter,
    emulator: Emulator,
    cloud_map: dict[str, str],
) -> None:
    create_service(ecs, task_definition, deploymentController={"type": "CODE_DEPLOY"})
    observed = observe(adapter)
    assert observed.deployment_controller == "CODE_DEPLOY"

    plan = plan_for(spec(Registry(container_name="app", container_port=3000)), observed, cloud_map)

    assert not plan.actions
    assert plan.refusal is not None
    assert plan.refusal.reason == "DeploymentControllerUnsupported"
    assert emulator.calls().get("ecs:UpdateService") is None


# Errors -----------------------------------------------------------------------------------------


def test_update_of_a_deleted_service_is_not_found(
    ecs: Any, task_definition: str, adapter: EcsAdapter
) -> None:
    create_service(ecs, task_definition)
    ecs.update_service(cluster=CLUSTER, service="user-service", desiredCount=0)
    ecs.delete_service(cluster=CLUSTER, service="user-service")
    action = UpdateEcsService(CLUSTER, "user-service", set_registries=True)
    with pytest.raises(NotFound):
        adapter.update(action)


def test_update_rejected_by_ecs_is_terminal(
    ecs: Any, task_definition: str, adapter: EcsAdapter
) -> None:
    create_service(ecs, task_definition)
    action = UpdateEcsService(
        CLUSTER,
        "user-service",
        set_service_connect=True,
        service_connect=ServiceConnect(
            namespace=NAMESPACE, services=(ServiceConnectService("nope"),)
        ),
    )
    with pytest.raises(Terminal):
        adapter.update(action)


def test_throttled_describe_is_retryable(
    ecs: Any, task_definition: str, emulator: Emulator
) -> None:
    create_service(ecs, task_definition)
    unretried = client("ecs", emulator.endpoint_url, REGION, config=NO_RETRIES)
    emulator.inject("ecs:DescribeServices", error="ThrottlingException", count=1)
    with pytest.raises(Retryable):
        EcsAdapter(unretried).describe(CLUSTER, ["user-service"])
