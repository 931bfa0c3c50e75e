"""ECS deployments: rolloutState, the circuit breaker's rollback and the service deployments API.

Each test names the AWS documentation it checks the emulator against: the API reference's
Deployment (rolloutState COMPLETED | FAILED | IN_PROGRESS), ServiceDeployment and
ServiceDeploymentBrief (status PENDING | SUCCESSFUL | STOPPED | STOP_REQUESTED | IN_PROGRESS |
ROLLBACK_REQUESTED | ROLLBACK_IN_PROGRESS | ROLLBACK_SUCCESSFUL | ROLLBACK_FAILED), and the
developer guide's "View service history using Amazon ECS service deployments".
"""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from sd_devkit.emulator import Emulator, EmulatorControl

pytestmark = pytest.mark.integration

CLUSTER = "prod"
SERVICE = "user-service"


def _sc(dns_name: str) -> dict[str, Any]:
    return {
        "enabled": True,
        "namespace": "app.local",
        "services": [
            {
                "portName": "http",
                "discoveryName": SERVICE,
                "clientAliases": [{"port": 80, "dnsName": dns_name}],
            }
        ],
    }


@pytest.fixture
def service(ecs: Any) -> str:
    ecs.create_cluster(clusterName=CLUSTER)
    task_definition = ecs.register_task_definition(
        family=SERVICE,
        containerDefinitions=[
            {
                "name": "app",
                "image": "app:1",
                "memory": 128,
                "portMappings": [{"containerPort": 3000, "name": "http"}],
            }
        ],
    )["taskDefinition"]["taskDefinitionArn"]
    created = ecs.create_service(
        cluster=CLUSTER,
        serviceName=SERVICE,
        taskDefinition=task_definition,
        desiredCount=1,
        serviceConnectConfiguration=_sc("old-svc"),
    )
    return str(created["service"]["serviceArn"])


def _deployments(ecs: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = ecs.describe_services(cluster=CLUSTER, services=[SERVICE])[
        "services"
    ][0]["deployments"]
    return found


def _states(deployments: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(d["status"], d["rolloutState"]) for d in deployments]


def _update(ecs: Any, dns_name: str) -> dict[str, Any]:
    answer: dict[str, Any] = ecs.update_service(
        cluster=CLUSTER, service=SERVICE, serviceConnectConfiguration=_sc(dns_name)
    )["service"]["deployments"][0]
    return answer


def _alias(deployment: dict[str, Any]) -> str:
    return str(
        deployment["serviceConnectConfiguration"]["services"][0]["clientAliases"][0]["dnsName"]
    )


def _service_deployments(ecs: Any, **filters: Any) -> list[dict[str, Any]]:
    briefs: list[dict[str, Any]] = ecs.list_service_deployments(
        cluster=CLUSTER, service=SERVICE, **filters
    )["serviceDeployments"]
    return briefs


def test_a_deployment_is_in_progress_in_the_answer_then_completed(ecs: Any, service: str) -> None:
    """Deployment.rolloutState: the UpdateService answer shows the new deployment IN_PROGRESS;
    without a hold the next call finds it COMPLETED, its service deployment SUCCESSFUL."""
    started = _update(ecs, "new-svc")
    assert (started["status"], started["rolloutState"]) == ("PRIMARY", "IN_PROGRESS")
    deployments = _deployments(ecs)
    assert _states(deployments)[0] == ("PRIMARY", "COMPLETED")
    assert deployments[0]["id"] == started["id"]
    assert deployments[0]["rolloutStateReason"] == f"ECS deployment {started['id']} completed."
    newest = _service_deployments(ecs)[0]
    assert newest["status"] == "SUCCESSFUL"
    assert newest["serviceArn"] == service
    assert "finishedAt" in newest


def test_a_held_deployment_stays_in_progress_for_its_polls(
    ecs: Any, service: str, emulator: Emulator
) -> None:
    emulator.hold_deployments(polls=2)
    started = _update(ecs, "new-svc")
    assert _states(_deployments(ecs))[0] == ("PRIMARY", "IN_PROGRESS")
    assert _service_deployments(ecs, status=["IN_PROGRESS"])[0]["statusReason"] == (
        f"ECS deployment {started['id']} in progress."
    )
    assert _states(_deployments(ecs))[0] == ("PRIMARY", "IN_PROGRESS")
    assert _states(_deployments(ecs))[0] == ("PRIMARY", "COMPLETED")


def test_a_failing_deployment_is_rolled_back_to_the_configuration_it_replaced(
    ecs: Any, service: str, emulator: Emulator
) -> None:
    """Circuit breaker with rollback: the deployment goes FAILED (listed ACTIVE), ECS starts a
    PRIMARY deployment of the previous configuration; the service deployment goes
    ROLLBACK_IN_PROGRESS, then ROLLBACK_SUCCESSFUL with `rollback.serviceRevisionArn` the
    source revision."""
    emulator.hold_deployments(polls=2)
    emulator.fail_deployments(CLUSTER, SERVICE)
    started = _update(ecs, "new-svc")
    for _ in range(2):
        assert _states(_deployments(ecs))[0] == ("PRIMARY", "IN_PROGRESS")

    deployments = _deployments(ecs)
    assert _states(deployments) == [("PRIMARY", "IN_PROGRESS"), ("ACTIVE", "FAILED")]
    rollback, failed = deployments
    assert failed["id"] == started["id"]
    assert failed["rolloutStateReason"] == "ECS deployment circuit breaker: tasks failed to start."
    assert (_alias(rollback), _alias(failed)) == ("old-svc", "new-svc")
    assert _service_deployments(ecs)[0]["status"] == "ROLLBACK_IN_PROGRESS"

    assert _states(_deployments(ecs))[0] == ("PRIMARY", "IN_PROGRESS")
    assert _states(_deployments(ecs)) == [("PRIMARY", "COMPLETED"), ("ACTIVE", "FAILED")]
    brief = _service_deployments(ecs)[0]
    assert brief["status"] == "ROLLBACK_SUCCESSFUL"
    (described,) = ecs.describe_service_deployments(
        serviceDeploymentArns=[brief["serviceDeploymentArn"]]
    )["serviceDeployments"]
    assert described["rollback"]["reason"] == failed["rolloutStateReason"]
    assert (
        described["rollback"]["serviceRevisionArn"]
        == (described["sourceServiceRevisions"][0]["arn"])
    )
    assert described["deploymentCircuitBreaker"]["status"] == "TRIGGERED"
    assert emulator.deployments(CLUSTER, SERVICE) == 2  # the rollback is ECS's, not a request's


def test_a_forgetting_rule_drops_the_failed_deployment_once_rolled_back(
    ecs: Any, service: str, emulator: Emulator
) -> None:
    """AWS lists a failed deployment until its tasks are gone; the service deployments API
    keeps it (developer guide, "View service history"), its target revision that of the
    deployment (`ecs-svc/<number>` -> `service-revision/.../<number>`)."""
    emulator.fail_deployments(CLUSTER, SERVICE, forget=True)
    started = _update(ecs, "new-svc")
    assert _states(_deployments(ecs)) == [("PRIMARY", "COMPLETED")]
    assert _alias(_deployments(ecs)[0]) == "old-svc"
    brief = _service_deployments(ecs)[0]
    assert brief["status"] == "ROLLBACK_SUCCESSFUL"
    assert brief["targetServiceRevisionArn"].endswith("/" + started["id"].split("/")[-1])


def test_a_fail_rule_with_a_count_fails_that_many_deployments(
    ecs: Any, service: str, emulator: Emulator
) -> None:
    emulator.fail_deployments(CLUSTER, SERVICE, "tasks failed their health checks", count=1)
    _update(ecs, "new-svc")
    assert _deployments(ecs)[1]["rolloutStateReason"] == "tasks failed their health checks"
    _update(ecs, "new-svc")
    assert _states(_deployments(ecs))[0] == ("PRIMARY", "COMPLETED")
    assert _alias(_deployments(ecs)[0]) == "new-svc"


def test_a_deployment_replaced_mid_rollout_is_stopped(
    ecs: Any, service: str, emulator: Emulator
) -> None:
    emulator.hold_deployments(polls=5)
    _update(ecs, "first-svc")
    second = _update(ecs, "second-svc")
    briefs = _service_deployments(ecs)
    assert [b["status"] for b in briefs][:2] == ["IN_PROGRESS", "STOPPED"]
    assert briefs[1]["statusReason"] == f"Superseded by deployment {second['id']}."
    assert [b["status"] for b in _service_deployments(ecs, status=["STOPPED"])] == ["STOPPED"]


def test_list_service_deployments_filters_by_creation_time(ecs: Any, service: str) -> None:
    """ListServiceDeployments.createdAt: {after, before}."""
    first = _service_deployments(ecs)[0]
    _update(ecs, "new-svc")
    after = _service_deployments(ecs, createdAt={"after": first["createdAt"]})
    assert len(after) == 2
    before = _service_deployments(ecs, createdAt={"before": first["createdAt"]})
    assert [b["serviceDeploymentArn"] for b in before] == [first["serviceDeploymentArn"]]


def test_describe_service_deployments_reports_unknown_arns_and_takes_20(
    ecs: Any, service: str
) -> None:
    """DescribeServiceDeployments: "You can specify a maximum of 20 ARNs"; `failures`."""
    unknown = "arn:aws:ecs:us-east-1:123456789012:service-deployment/prod/user-service/1"
    answer = ecs.describe_service_deployments(serviceDeploymentArns=[unknown])
    assert answer["serviceDeployments"] == []
    assert answer["failures"] == [{"arn": unknown, "reason": "MISSING"}]
    with pytest.raises(ClientError) as refused:
        ecs.describe_service_deployments(serviceDeploymentArns=[unknown] * 21)
    assert refused.value.response["Error"]["Code"] == "InvalidParameterException"


def test_deployment_rules_over_the_control_api(ecs: Any, service: str, emulator: Emulator) -> None:
    control = EmulatorControl(emulator.endpoint_url)
    control.hold_deployments(polls=1)
    control.fail_deployments(CLUSTER, SERVICE)
    _update(ecs, "new-svc")
    _deployments(ecs)
    assert _states(_deployments(ecs))[1] == ("ACTIVE", "FAILED")
    control.clear_deployment_rules()
    _update(ecs, "new-svc")
    assert _states(_deployments(ecs))[0] == ("PRIMARY", "COMPLETED")
