"""The ECS side of the demo world: what examples/myapp expects to exist before it is applied.

sd-operator never creates ECS services (docs/aws-facts.md, ECS), so a local run needs them made
first: cluster `production`, task definitions with named ports, and the two services.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from .clients import client

if TYPE_CHECKING:
    from mypy_boto3_ecs.type_defs import ContainerDefinitionTypeDef

CLUSTER = "production"
# service -> (container port, port name, appProtocol)
DEMO_SERVICES: dict[str, tuple[int, str, Literal["http", "http2", "grpc"]]] = {
    "user-service": (3000, "http", "http"),
    "payment-service": (8443, "https", "http2"),
}


def seed_demo_ecs(endpoint_url: str, region: str = "us-east-1") -> list[str]:
    """Create cluster `production`, a task definition per demo service and the services;
    returns the ARNs of the services."""
    ecs = client("ecs", endpoint_url, region)
    arns: list[str] = []
    ecs.create_cluster(clusterName=CLUSTER)
    for service, (port, port_name, protocol) in DEMO_SERVICES.items():
        container: ContainerDefinitionTypeDef = {
            "name": "app",
            "image": f"public.ecr.aws/example/{service}:1",
            "essential": True,
            "portMappings": [{"name": port_name, "containerPort": port, "appProtocol": protocol}],
        }
        task = ecs.register_task_definition(
            family=service,
            networkMode="awsvpc",
            requiresCompatibilities=["FARGATE"],
            cpu="256",
            memory="512",
            containerDefinitions=[container],
        )["taskDefinition"]
        created = ecs.create_service(
            cluster=CLUSTER,
            serviceName=service,
            taskDefinition=task["taskDefinitionArn"],
            desiredCount=2,
            launchType="FARGATE",
        )["service"]
        arns.append(created["serviceArn"])
    return arns
