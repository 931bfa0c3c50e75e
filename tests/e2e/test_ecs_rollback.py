"""The operator and ECS's own deployments share a service (docs/drift.md, ECS deployments), as its
own process against the local control plane and the emulator's demo ECS world: a Service Connect
change whose deployment the emulator fails and rolls back is sent once, then the resource is
Stalled DeploymentRolledBack over sweeps with no further UpdateService, and converges after a
spec change; a deployment somebody else started is left to finish before the correction."""

from __future__ import annotations

from typing import Any

import pytest
from e2e_support import (
    DISCOVERIES,
    JSON,
    Kubectl,
    StartOperator,
    condition,
    holds_over_sweeps,
    is_condition,
    ready_and_synced,
    wait_for,
)
from test_ecs import FAST_SWEEP, UPDATE_SERVICE, create_stack, event_messages, service_connect

from sd_devkit.emulator import Emulator, client
from sd_devkit.emulator.seed import CLUSTER, seed_demo_ecs
from support import calls_since

REGION = "us-east-1"
SERVICE = "user-service"
ROLLED_BACK = "DeploymentRolledBack"
IN_PROGRESS = "DeploymentInProgress"
CIRCUIT_BREAKER = "ECS deployment circuit breaker: tasks failed to start."


@pytest.fixture
def ecs(emulator: Emulator) -> Any:
    seed_demo_ecs(emulator.endpoint_url, REGION)
    return client("ecs", emulator.endpoint_url, REGION)


def _services(alias: str) -> list[JSON]:
    """spec.ecs.serviceConnect.services of the example with another client alias."""
    return [
        {
            "portName": "http",
            "discoveryName": "user-svc",
            "clientAliases": [{"port": 80, "dnsName": alias}],
        }
    ]


def _declare_alias(kubectl: Kubectl, namespace: str, alias: str) -> None:
    patch = {"spec": {"ecs": {"serviceConnect": {"services": _services(alias)}}}}
    kubectl.merge_patch(DISCOVERIES, SERVICE, namespace, patch)


def _alias(ecs: Any) -> str | None:
    described = ecs.describe_services(cluster=CLUSTER, services=[SERVICE])["services"][0]
    sc = service_connect(described)
    return None if sc is None else str(sc["services"][0]["clientAliases"][0]["dnsName"])


def _stalled_rolled_back(obj: JSON) -> bool:
    stalled = condition(obj, "Stalled") or {}
    return stalled.get("status") == "True" and stalled.get("reason") == ROLLED_BACK


def test_a_rolled_back_change_is_sent_once_and_left_until_the_spec_changes(
    kubectl: Kubectl,
    namespace: str,
    start_operator: StartOperator,
    emulator: Emulator,
    ecs: Any,
) -> None:
    op = start_operator("op", "--sweep-seconds", str(FAST_SWEEP))
    create_stack(kubectl, namespace, (SERVICE,))
    emulator.fail_deployments(CLUSTER, SERVICE, CIRCUIT_BREAKER)
    before = emulator.calls()

    _declare_alias(kubectl, namespace, "users-v2")
    obj = kubectl.wait_for_object(
        DISCOVERIES, SERVICE, namespace, _stalled_rolled_back, "Stalled DeploymentRolledBack"
    )

    assert calls_since(emulator, before).get(UPDATE_SERVICE) == 1
    stalled = condition(obj, "Stalled") or {}
    deployment = obj["status"]["ecsDeployment"]
    assert deployment["id"] in stalled["message"], stalled
    assert CIRCUIT_BREAKER in stalled["message"], stalled
    assert deployment["rolledBackTo"] in stalled["message"], stalled
    assert deployment["generation"] == obj["metadata"]["generation"], deployment
    assert _alias(ecs) == "user-svc"  # ECS runs the configuration it returned to
    events = wait_for(
        lambda: event_messages(kubectl, namespace, SERVICE, ROLLED_BACK),
        "a DeploymentRolledBack event",
        timeout=15,
    )
    assert any(deployment["id"] in m for m in events), events

    def still_stalled_after_one_update() -> bool:
        current = kubectl.get(DISCOVERIES, SERVICE, namespace) or {}
        return calls_since(emulator, before).get(UPDATE_SERVICE) == 1 and _stalled_rolled_back(
            current
        )

    holds_over_sweeps(
        op, still_stalled_after_one_update, "Stalled with one UpdateService", sweeps=3
    )

    emulator.clear_deployment_rules()
    _declare_alias(kubectl, namespace, "users-v3")
    kubectl.wait_for_object(DISCOVERIES, SERVICE, namespace, ready_and_synced, "Ready and Synced")
    assert _alias(ecs) == "users-v3"
    assert calls_since(emulator, before).get(UPDATE_SERVICE) == 2


def test_a_deployment_started_elsewhere_is_left_to_finish_before_the_correction(
    kubectl: Kubectl,
    namespace: str,
    start_operator: StartOperator,
    emulator: Emulator,
    ecs: Any,
) -> None:
    start_operator("op", "--sweep-seconds", str(FAST_SWEEP))
    create_stack(kubectl, namespace, (SERVICE,))
    # ECS keeps the pipeline's deployment IN_PROGRESS through several of the operator's reads.
    emulator.hold_deployments(polls=6)
    before = emulator.calls()
    ecs.update_service(
        cluster=CLUSTER, service=SERVICE, serviceConnectConfiguration={"enabled": False}
    )

    def waiting(obj: JSON) -> bool:
        reconciling = condition(obj, "Reconciling") or {}
        return reconciling.get("status") == "True" and reconciling.get("reason") == IN_PROGRESS

    obj = kubectl.wait_for_object(DISCOVERIES, SERVICE, namespace, waiting, IN_PROGRESS)
    assert "started outside sd-operator" in (condition(obj, "Reconciling") or {})["message"]
    assert calls_since(emulator, before).get(UPDATE_SERVICE) == 1  # the pipeline's alone

    obj = kubectl.wait_for_object(
        DISCOVERIES,
        SERVICE,
        namespace,
        lambda o: ready_and_synced(o) and is_condition(o, "Reconciling", "False"),
        "corrected once the deployment ended",
    )
    assert calls_since(emulator, before).get(UPDATE_SERVICE) == 2
    assert _alias(ecs) == "user-svc"
    # The pipeline's deployment ran to its end: a correction sent mid-rollout would have
    # replaced it (STOPPED).
    statuses = [
        d["status"]
        for d in ecs.list_service_deployments(cluster=CLUSTER, service=SERVICE)[
            "serviceDeployments"
        ]
    ]
    assert "STOPPED" not in statuses, statuses
