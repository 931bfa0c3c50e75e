"""Team B's world beside team A's, made with boto3 as Terraform would (docs/ownership.md,
docs/tenancy.md): the tests of ownership and of grants change nothing of it, and compare it
before and after (`snapshot`).

Team B made its Http namespace `teamb`, its Cloud Map service `api` (tags team=b, CostCenter=42)
and its ECS service prod/teamb-api (a registry into `api`, Service Connect in `teamb`); team A's
own empty ECS service prod/teama-web (tag team=a) is beside it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from sd_devkit.emulator import Emulator, client
from support import cli, services_in

REGION = "us-east-1"
ECS_CLUSTER = "prod"
VICTIM = "teamb-api"


@dataclass(frozen=True)
class TeamB:
    namespace_arn: str
    api_id: str
    api_arn: str
    ecs_arn: str


def task_definition(ecs: Any, family: str) -> str:
    container = {
        "name": "app",
        "image": f"public.ecr.aws/example/{family}:1",
        "essential": True,
        "portMappings": [{"name": "http", "containerPort": 8080, "appProtocol": "http"}],
    }
    answer = ecs.register_task_definition(
        family=family,
        networkMode="awsvpc",
        requiresCompatibilities=["FARGATE"],
        cpu="256",
        memory="512",
        containerDefinitions=[container],
    )
    return str(answer["taskDefinition"]["taskDefinitionArn"])


def make_team_b(sd: Any, ecs: Any) -> TeamB:
    """Team B's world, made with boto3 as Terraform would; team A's own empty ECS service
    prod/teama-web (tag team=a) beside it."""
    op = sd.create_http_namespace(Name="teamb")["OperationId"]
    ns_id = sd.get_operation(OperationId=op)["Operation"]["Targets"]["NAMESPACE"]
    ns_arn = sd.get_namespace(Id=ns_id)["Namespace"]["Arn"]
    api = sd.create_service(
        Name="api",
        NamespaceId=ns_id,
        Tags=[{"Key": "team", "Value": "b"}, {"Key": "CostCenter", "Value": "42"}],
    )["Service"]
    ecs.create_cluster(clusterName=ECS_CLUSTER)
    created = ecs.create_service(
        cluster=ECS_CLUSTER,
        serviceName=VICTIM,
        taskDefinition=task_definition(ecs, VICTIM),
        desiredCount=2,
        launchType="FARGATE",
        serviceRegistries=[{"registryArn": api["Arn"]}],
        serviceConnectConfiguration={
            "enabled": True,
            "namespace": ns_arn,
            "services": [
                {"portName": "http", "discoveryName": "api", "clientAliases": [{"port": 80}]}
            ],
        },
        tags=[{"key": "team", "value": "b"}],
    )["service"]
    ecs.create_service(
        cluster=ECS_CLUSTER,
        serviceName="teama-web",
        taskDefinition=task_definition(ecs, "teama-web"),
        desiredCount=1,
        launchType="FARGATE",
        tags=[{"key": "team", "value": "a"}],
    )
    return TeamB(ns_arn, api["Id"], api["Arn"], created["serviceArn"])


def describe(ecs: Any, name: str) -> dict[str, Any]:
    found: dict[str, Any] = ecs.describe_services(
        cluster=ECS_CLUSTER, services=[name], include=["TAGS"]
    )["services"][0]
    return found


def ecs_state(ecs: Any, name: str) -> dict[str, Any]:
    """What an ECS service holds of discovery: registries, the PRIMARY deployment's Service
    Connect, and its tags."""
    service = describe(ecs, name)
    primary = next(d for d in service["deployments"] if d["status"] == "PRIMARY")
    return {
        "registries": service.get("serviceRegistries", []),
        "serviceConnect": primary.get("serviceConnectConfiguration"),
        "tags": {t["key"]: t["value"] for t in service.get("tags") or []},
    }


def cloud_map_tags(sd: Any, arn: str) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in sd.list_tags_for_resource(ResourceARN=arn)["Tags"]}


@dataclass(frozen=True)
class Snapshot:
    ecs: dict[str, Any]
    api_tags: dict[str, str]
    api_exists: bool
    deployments: int


def snapshot(emulator: Emulator, sd: Any, ecs: Any, team: TeamB) -> Snapshot:
    names = [s["Name"] for s in sd.list_services()["Services"]]
    return Snapshot(
        ecs_state(ecs, VICTIM),
        cloud_map_tags(sd, team.api_arn),
        "api" in names,
        emulator.deployments(ECS_CLUSTER, VICTIM),
    )


def write(directory: Path, *docs: str, service: str = VICTIM) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for old in directory.glob("*.yaml"):
        old.unlink()
    for i, doc in enumerate(docs):
        (directory / f"{i:02d}.yaml").write_text(doc.replace("SERVICE", service))
    return directory


def plan_json(
    emulator: Emulator, capsys: pytest.CaptureFixture[str], path: Path, *extra: str
) -> tuple[int, dict[str, Any]]:
    capsys.readouterr()
    code = cli(emulator, "plan", "-o", "json", "-f", str(path), *extra)
    return code, json.loads(capsys.readouterr().out)


def planned(document: dict[str, Any], kind: str, name: str) -> dict[str, Any]:
    found: dict[str, Any] = next(
        r for r in document["resources"] if r["kind"] == kind and r["name"] == name
    )
    return found


def team_b_as_read(emulator: Emulator, sd: Any) -> str:
    """Team B's AWS resources as the APIs describe them, as one JSON text."""
    ecs = client("ecs", emulator.endpoint_url, REGION)
    namespaces = [n for n in sd.list_namespaces()["Namespaces"] if n["Name"] == "teamb"]
    services = services_in(sd, namespaces[0]["Id"])
    seen = {
        "ecs": ecs.describe_services(cluster=ECS_CLUSTER, services=[VICTIM], include=["TAGS"])[
            "services"
        ],
        "namespaces": namespaces,
        "services": services,
        "tags": [sd.list_tags_for_resource(ResourceARN=s["Arn"])["Tags"] for s in services],
        "deployments": emulator.deployments(ECS_CLUSTER, VICTIM),
    }
    return json.dumps(seen, sort_keys=True, default=str)
