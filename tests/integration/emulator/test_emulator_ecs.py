"""ECS fidelity: each test names the docs/aws-facts.md behaviour it checks the emulator for."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from emulator_helpers import REGION, make_namespace

from sd_devkit.emulator import Emulator, client

pytestmark = pytest.mark.integration

CLUSTER = "prod"
SC: dict[str, Any] = {
    "enabled": True,
    "namespace": "app.local",
    "services": [
        {
            "portName": "http",
            "discoveryName": "user-service",
            "clientAliases": [{"port": 80, "dnsName": "user-svc"}],
        }
    ],
}


@pytest.fixture
def task_definition(ecs: Any) -> str:
    ecs.create_cluster(clusterName=CLUSTER)
    answer = ecs.register_task_definition(
        family="user-service",
        containerDefinitions=[
            {
                "name": "app",
                "image": "app:1",
                "memory": 128,
                "portMappings": [{"containerPort": 3000, "name": "http"}],
            }
        ],
    )
    return str(answer["taskDefinition"]["taskDefinitionArn"])


def _describe(ecs: Any, name: str = "user-service") -> dict[str, Any]:
    answer = ecs.describe_services(cluster=CLUSTER, services=[name])
    assert answer["failures"] == [], answer["failures"]
    service: dict[str, Any] = answer["services"][0]
    return service


def _primary(service: dict[str, Any]) -> dict[str, Any]:
    primaries: list[dict[str, Any]] = [
        d for d in service["deployments"] if d["status"] == "PRIMARY"
    ]
    assert len(primaries) == 1, service["deployments"]
    return primaries[0]


def _create(ecs: Any, task_definition: str, name: str = "user-service", **kw: Any) -> Any:
    return ecs.create_service(
        cluster=CLUSTER, serviceName=name, taskDefinition=task_definition, desiredCount=1, **kw
    )


def test_service_connect_is_on_the_primary_deployment(
    ecs: Any, task_definition: str, emulator: Emulator
) -> None:
    """docs/aws-facts.md, ECS: "Service Connect configuration is NOT returned at the top level of
    DescribeServices: read it from the deployment whose status is PRIMARY"; moto drops it."""
    created = _create(ecs, task_definition, serviceConnectConfiguration=SC)["service"]
    assert _primary(created)["serviceConnectConfiguration"] == SC
    service = _describe(ecs)
    assert "serviceConnectConfiguration" not in service
    assert _primary(service)["serviceConnectConfiguration"] == SC
    assert emulator.deployments(CLUSTER, "user-service") == 1


def test_update_service_connect_starts_a_deployment(
    ecs: Any, task_definition: str, emulator: Emulator
) -> None:
    """docs/aws-facts.md, ECS: "UpdateService with serviceConnectConfiguration or serviceRegistries
    starts a new deployment"; absent from the PRIMARY deployment means disabled."""
    _create(ecs, task_definition)
    assert "serviceConnectConfiguration" not in _primary(_describe(ecs))
    updated = ecs.update_service(
        cluster=CLUSTER, service="user-service", serviceConnectConfiguration=SC
    )["service"]
    assert _primary(updated)["serviceConnectConfiguration"] == SC
    service = _describe(ecs)
    statuses = [d["status"] for d in service["deployments"]]
    assert statuses == ["PRIMARY", "ACTIVE"]
    assert "serviceConnectConfiguration" not in service["deployments"][1]
    assert emulator.deployments(CLUSTER, "user-service") == 2
    ecs.update_service(
        cluster=CLUSTER, service="user-service", serviceConnectConfiguration={"enabled": False}
    )
    service = _describe(ecs)
    assert "serviceConnectConfiguration" not in _primary(service)
    assert emulator.deployments(CLUSTER, "user-service") == 3


def test_desired_count_alone_starts_no_deployment(
    ecs: Any, task_definition: str, emulator: Emulator
) -> None:
    _create(ecs, task_definition, serviceConnectConfiguration=SC)
    ecs.update_service(cluster=CLUSTER, service="user-service", desiredCount=3)
    service = _describe(ecs)
    assert [d["status"] for d in service["deployments"]] == ["PRIMARY"]
    assert _primary(service)["serviceConnectConfiguration"] == SC  # carried, untouched
    assert emulator.deployments(CLUSTER, "user-service") == 1


def test_service_registries_update_is_stored_and_deploys(
    ecs: Any, task_definition: str, emulator: Emulator
) -> None:
    _create(ecs, task_definition, serviceConnectConfiguration=SC)
    registry = {
        "registryArn": "arn:aws:servicediscovery:us-east-1:123456789012:service/srv-abc",
        "containerName": "app",
        "containerPort": 3000,
    }
    ecs.update_service(cluster=CLUSTER, service="user-service", serviceRegistries=[registry])
    service = _describe(ecs)
    assert service["serviceRegistries"] == [registry]
    assert _primary(service)["serviceConnectConfiguration"] == SC  # carried over
    assert emulator.deployments(CLUSTER, "user-service") == 2


def test_service_connect_port_name_must_exist(ecs: Any, task_definition: str) -> None:
    """docs/aws-facts.md, ECS: "portName must name a `portMappings[].name` in the service's task
    definition"."""
    _create(ecs, task_definition)
    bad = {**SC, "services": [{**SC["services"][0], "portName": "grpc"}]}
    with pytest.raises(ClientError) as exc:
        ecs.update_service(cluster=CLUSTER, service="user-service", serviceConnectConfiguration=bad)
    assert exc.value.response["Error"]["Code"] == "InvalidParameterException"
    # The task definition named by family (its latest revision) or family:revision, too.
    for ref in ("user-service", "user-service:1"):
        with pytest.raises(ClientError) as exc:
            _create(ecs, ref, name="other", serviceConnectConfiguration=bad)
        assert "portName 'grpc'" in exc.value.response["Error"]["Message"]


def test_code_deploy_service_cannot_change_registries(ecs: Any, task_definition: str) -> None:
    """docs/aws-facts.md, ECS: "CODE_DEPLOY deployment controller: UpdateService cannot change
    registries"."""
    _create(ecs, task_definition, deploymentController={"type": "CODE_DEPLOY"})
    with pytest.raises(ClientError) as exc:
        ecs.update_service(
            cluster=CLUSTER,
            service="user-service",
            serviceRegistries=[{"registryArn": "arn:aws:servicediscovery:::service/srv-1"}],
        )
    assert exc.value.response["Error"]["Code"] == "InvalidParameterException"


def test_deleted_service_is_inactive_and_unlisted(ecs: Any, task_definition: str) -> None:
    """DeleteService API reference: a deleted service "is no longer visible ... in the
    ListServices API operation" but "can still be viewed with the DescribeServices API
    operation" (status INACTIVE); docs/aws-facts.md, ECS: "INACTIVE services count as not found"."""
    _create(ecs, task_definition)
    _create(ecs, task_definition, name="keep")
    ecs.delete_service(cluster=CLUSTER, service="user-service", force=True)
    answer = ecs.describe_services(cluster=CLUSTER, services=["user-service", "never-existed"])
    assert [s["status"] for s in answer["services"]] == ["INACTIVE"]
    assert [f["reason"] for f in answer["failures"]] == ["MISSING"]
    arns = ecs.list_services(cluster=CLUSTER)["serviceArns"]
    assert [a.split("/")[-1] for a in arns] == ["keep"]
    with pytest.raises(ClientError) as exc:
        ecs.update_service(cluster=CLUSTER, service="user-service", desiredCount=0)
    assert exc.value.response["Error"]["Code"] == "ServiceNotActiveException"
    _create(ecs, task_definition)  # the name is free again
    assert _describe(ecs)["status"] == "ACTIVE"


def test_create_over_active_service_is_refused(ecs: Any, task_definition: str) -> None:
    """moto overwrites; AWS: "If you attempt to create a new service with the same name as an
    existing service in either ACTIVE or DRAINING status, you receive an error"."""
    _create(ecs, task_definition, serviceConnectConfiguration=SC)
    with pytest.raises(ClientError) as exc:
        _create(ecs, task_definition)
    assert exc.value.response["Error"]["Code"] == "InvalidParameterException"
    assert _primary(_describe(ecs))["serviceConnectConfiguration"] == SC


def test_describe_services_takes_at_most_ten(ecs: Any, task_definition: str) -> None:
    """docs/aws-facts.md, ECS: "DescribeServices takes up to 10 services per call"."""
    with pytest.raises(ClientError) as exc:
        ecs.describe_services(cluster=CLUSTER, services=[f"s{n}" for n in range(11)])
    assert exc.value.response["Error"]["Code"] == "InvalidParameterException"


@pytest.mark.paged
def test_list_services_paginates(ecs: Any, task_definition: str) -> None:
    for n in range(5):
        _create(ecs, task_definition, name=f"svc-{n}")
    names: list[str] = []
    pages = 0
    token = None
    while True:
        answer = ecs.list_services(cluster=CLUSTER, **({"nextToken": token} if token else {}))
        pages += 1
        names += [a.split("/")[-1] for a in answer["serviceArns"]]
        token = answer.get("nextToken")
        if not token:
            break
    assert sorted(names) == [f"svc-{n}" for n in range(5)]
    assert pages == 3
    assert len(ecs.list_services(cluster=CLUSTER, maxResults=1)["serviceArns"]) == 1


def test_list_services_by_namespace(ecs: Any, sd: Any, task_definition: str) -> None:
    """moto: "ListServicesByNamespace is not implemented (HTTP 500 in server mode)"."""
    ns_id = make_namespace(sd, "app.local")
    arn = sd.get_namespace(Id=ns_id)["Namespace"]["Arn"]
    _create(ecs, task_definition, serviceConnectConfiguration=SC)
    _create(ecs, task_definition, name="no-sc")
    by_name = ecs.list_services_by_namespace(namespace="app.local")["serviceArns"]
    by_arn = ecs.list_services_by_namespace(namespace=arn)["serviceArns"]
    assert [a.split("/")[-1] for a in by_name] == ["user-service"]
    assert by_arn == by_name
    with pytest.raises(ClientError) as exc:
        ecs.list_services_by_namespace(namespace="nope.local")
    assert exc.value.response["Error"]["Code"] == "NamespaceNotFoundException"


def test_service_connect_creates_one_api_only_cloud_map_service_per_discovery_name(
    ecs: Any, sd: Any, task_definition: str
) -> None:
    """docs/aws-facts.md, ECS: "ECS itself creates the Cloud Map service named by
    `discoveryName` (API-only, not in DNS)"; ECS API reference, Deployment.
    serviceConnectResources: {discoveryName, discoveryArn} of each, on the deployment;
    ServiceConnectService.discoveryName defaults to the portName. A redeployment keeps the
    service; one no deployment names any more is removed (docs/aws-facts.md, Deletion order:
    the namespace can then be deleted)."""
    ns_id = make_namespace(sd, "app.local")
    created = _create(ecs, task_definition, serviceConnectConfiguration=SC)["service"]
    (resource,) = _primary(created)["serviceConnectResources"]
    assert resource["discoveryName"] == "user-service"
    made = sd.get_service(Id=resource["discoveryArn"].split("/")[-1])["Service"]
    assert (made["Name"], made["NamespaceId"], made["Type"]) == ("user-service", ns_id, "HTTP")
    assert "DnsConfig" not in made  # API-only: no DNS records
    tags = sd.list_tags_for_resource(ResourceARN=made["Arn"])["Tags"]
    assert {"Key": "AmazonECSManaged", "Value": "true"} in tags

    ecs.update_service(cluster=CLUSTER, service="user-service", serviceConnectConfiguration=SC)
    assert _primary(_describe(ecs))["serviceConnectResources"] == [resource]  # not a twin

    by_port = {"portName": "http", "clientAliases": [{"port": 8080}]}
    ecs.update_service(
        cluster=CLUSTER,
        service="user-service",
        serviceConnectConfiguration={**SC, "services": [by_port]},
    )
    (again,) = _primary(_describe(ecs))["serviceConnectResources"]
    assert again["discoveryName"] == "http"  # the portName
    listed = sd.list_services(Filters=[{"Name": "NAMESPACE_ID", "Values": [ns_id]}])
    assert [s["Name"] for s in listed["Services"]] == ["http"]

    ecs.update_service(
        cluster=CLUSTER, service="user-service", serviceConnectConfiguration={"enabled": False}
    )
    assert "serviceConnectResources" not in _primary(_describe(ecs))
    assert sd.list_services(Filters=[{"Name": "NAMESPACE_ID", "Values": [ns_id]}])["Services"] == []


RULES = {"header": {"name": "x-canary", "value": {"exact": "yes"}}}


def test_test_traffic_rules_are_kept_on_the_primary_deployment(
    ecs: Any, task_definition: str
) -> None:
    """ECS API reference, ServiceConnectClientAlias.testTrafficRules (blue/green test traffic,
    header match rules): part of the configuration a deployment carries; a value-less header
    rule (`value` is optional) is accepted too."""
    alias = {"port": 80, "dnsName": "user-svc", "testTrafficRules": RULES}
    sc = {**SC, "services": [{**SC["services"][0], "clientAliases": [alias]}]}
    created = _create(ecs, task_definition, serviceConnectConfiguration=sc)["service"]
    assert _primary(created)["serviceConnectConfiguration"] == sc
    bare = {**alias, "testTrafficRules": {"header": {"name": "x-canary"}}}
    sc = {**SC, "services": [{**SC["services"][0], "clientAliases": [bare]}]}
    ecs.update_service(cluster=CLUSTER, service="user-service", serviceConnectConfiguration=sc)
    assert _primary(_describe(ecs))["serviceConnectConfiguration"] == sc


@pytest.mark.parametrize(
    ("rules", "missing"),
    [
        ({}, "header.name"),
        ({"header": {"value": {"exact": "yes"}}}, "header.name"),
        ({"header": {"name": "x-canary", "value": {}}}, "header.value.exact"),
    ],
)
def test_test_traffic_rules_without_a_required_member_are_refused(
    emulator: Emulator, task_definition: str, rules: dict[str, Any], missing: str
) -> None:
    """ECS API reference: ServiceConnectTestTrafficRules.header, ServiceConnectTestTraffic-
    HeaderRules.name and ServiceConnectTestTrafficHeaderMatchRules.exact are required (botocore
    checks them first: its validation is off here to see what the service answers)."""
    unchecked = client(
        "ecs",
        emulator.endpoint_url,
        REGION,
        config=Config(parameter_validation=False, retries={"total_max_attempts": 1}),
    )
    alias = {"port": 80, "testTrafficRules": rules}
    sc = {**SC, "services": [{**SC["services"][0], "clientAliases": [alias]}]}
    with pytest.raises(ClientError) as exc:
        _create(unchecked, task_definition, serviceConnectConfiguration=sc)
    assert exc.value.response["Error"]["Code"] == "InvalidParameterException"
    assert missing in exc.value.response["Error"]["Message"]
