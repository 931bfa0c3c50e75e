"""ServiceDiscovery with ECS through the reconciler against the emulator: Service Connect set and
read back from the PRIMARY deployment, out-of-band disable corrected, and no redeploys while
nothing changes."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from fake_time import FakeTime
from sd_devkit.emulator import Emulator, client
from sd_devkit.emulator.seed import CLUSTER, seed_demo_ecs
from sd_operator.aws.adapters import Adapters
from sd_operator.cli import namespace_lookup, referenced_namespace
from sd_operator.cli.plan import plan_resources
from sd_operator.model import conditions as cond
from sd_operator.model import reasons
from sd_operator.model.actions import Plan
from sd_operator.model.parse import load_manifests
from sd_operator.model.spec import ClusterIdentity, Resource
from sd_operator.reconcile.reconciler import Reconciler
from sd_operator.reconcile.result import Outcome, StepResult, merge_status

REGION = "us-east-1"
EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "myapp"


@pytest.fixture
def world(emulator: Emulator) -> tuple[Reconciler, list[Resource]]:
    seed_demo_ecs(emulator.endpoint_url, REGION)
    reconciler = Reconciler(Adapters(REGION, emulator.endpoint_url), ClusterIdentity("ecs-test"))
    resources = load_manifests([str(EXAMPLES)])
    namespaces = namespace_lookup(resources)
    for res in resources:
        done = FakeTime().converge(
            reconciler, res, referenced_namespace(res, namespaces), timeout=30
        )
        assert done.last is not None
        assert done.last.outcome is Outcome.IN_SYNC, done.last.message
    return reconciler, resources


def primary(ecs: Any, service: str) -> dict[str, Any]:
    described = ecs.describe_services(cluster=CLUSTER, services=[service])["services"][0]
    assert "serviceConnectConfiguration" not in described  # AWS: only under deployments
    return next(d for d in described["deployments"] if d["status"] == "PRIMARY")


def test_service_connect_lands_in_the_primary_deployment(
    emulator: Emulator, world: tuple[Reconciler, list[Resource]]
) -> None:
    ecs = client("ecs", emulator.endpoint_url, REGION)
    config = primary(ecs, "payment-service")["serviceConnectConfiguration"]
    assert config["enabled"] is True
    entry = config["services"][0]
    assert entry["portName"] == "https"
    assert entry["clientAliases"][0]["port"] == 443
    assert entry["timeout"]["perRequestTimeoutSeconds"] == 15
    assert entry["tls"]["issuerCertificateAuthority"]["awsPcaAuthorityArn"].startswith(
        "arn:aws:acm-pca:"
    )
    described = ecs.describe_services(cluster=CLUSTER, services=["user-service"])["services"][0]
    assert described["serviceRegistries"][0]["containerPort"] == 3000
    assert described["desiredCount"] == 2


def test_unchanged_spec_over_many_sweeps_makes_no_update(
    emulator: Emulator, world: tuple[Reconciler, list[Resource]]
) -> None:
    reconciler, resources = world
    namespaces = namespace_lookup(resources)
    emulator.reset_calls()
    for _ in range(5):
        reconciler.view.refresh(REGION)  # each sweep starts with one read of the account
        for res in resources:
            plan = reconciler.plan(res, namespace=referenced_namespace(res, namespaces)).plan
            assert plan.in_sync, (res.identity.key, plan)
    calls = emulator.calls()
    assert calls.get("ecs:UpdateService", 0) == 0
    assert calls.get("servicediscovery:UpdateService", 0) == 0
    assert emulator.deployments(CLUSTER, "payment-service") == 2  # create + the one we set


def test_out_of_band_disable_is_restored_and_recorded_as_drift(
    emulator: Emulator, world: tuple[Reconciler, list[Resource]]
) -> None:
    reconciler, resources = world
    ecs = client("ecs", emulator.endpoint_url, REGION)
    ecs.update_service(
        cluster=CLUSTER, service="payment-service", serviceConnectConfiguration={"enabled": False}
    )
    assert "serviceConnectConfiguration" not in primary(ecs, "payment-service")
    payment = next(r for r in resources if r.identity.name == "payment-service")
    steady = {"observedGeneration": 1, "conditions": [{"type": cond.SYNCED, "status": "True"}]}
    reconciler.view.refresh(REGION)  # the sweep's read of the account finds the ids

    result = reconciler.step(
        payment, steady, namespace=referenced_namespace(payment, namespace_lookup(resources))
    )

    assert result.outcome is Outcome.IN_SYNC
    assert [(c.field, c.desired, c.observed) for c in result.drift] == [
        ("ecs.serviceConnect.enabled", True, False)
    ]
    assert primary(ecs, "payment-service")["serviceConnectConfiguration"]["enabled"] is True


# Sharing the service with ECS's deployments (reconcile/deployments.py) -------------------------


def _payment(resources: list[Resource]) -> Resource:
    return next(r for r in resources if r.identity.name == "payment-service")


def _disable_out_of_band(emulator: Emulator) -> None:
    client("ecs", emulator.endpoint_url, REGION).update_service(
        cluster=CLUSTER, service="payment-service", serviceConnectConfiguration={"enabled": False}
    )
    emulator.reset_calls()


def _steps(
    reconciler: Reconciler, res: Resource, resources: list[Resource], status: dict[str, Any], n: int
) -> tuple[list[StepResult], dict[str, Any]]:
    """`n` steps of `res`, each from the status the previous one left (and, as a sweep's, after a
    read of the account that finds the ids)."""
    results = []
    for _ in range(n):
        reconciler.view.refresh(REGION)
        result = reconciler.step(
            res, status, namespace=referenced_namespace(res, namespace_lookup(resources))
        )
        status = merge_status(status, result)
        results.append(result)
    return results, status


def _planned(
    reconciler: Reconciler, resources: list[Resource], status: dict[str, Any] | None
) -> Plan:
    """The CLI's plan of payment-service, read from the cluster with `status`."""
    from_cluster = [
        replace(r, status=status) if r.identity.name == "payment-service" else r for r in resources
    ]
    reconciler.view.refresh(REGION)
    (shown,) = [
        r.plan
        for r in plan_resources(reconciler, from_cluster)
        if r.resource.identity.name == "payment-service"
    ]
    assert shown is not None
    return shown


def _sent_again(
    emulator: Emulator,
    reconciler: Reconciler,
    res: Resource,
    resources: list[Resource],
    status: dict[str, Any],
) -> None:
    """One step from `status` sends the configuration once more, and ECS keeps it this time."""
    results, _ = _steps(reconciler, res, resources, status, 1)
    assert results[0].outcome is Outcome.IN_SYNC, results[0].message
    assert emulator.calls()["ecs:UpdateService"] == 2


STEADY: dict[str, Any] = {
    "observedGeneration": 1,
    "conditions": [{"type": cond.SYNCED, "status": "True"}],
}


def test_a_correction_ecs_rolls_back_is_sent_once_then_refused(
    emulator: Emulator, world: tuple[Reconciler, list[Resource]]
) -> None:
    reconciler, resources = world
    _disable_out_of_band(emulator)
    emulator.fail_deployments(CLUSTER, "payment-service", "tasks failed to start", count=1)

    results, status = _steps(reconciler, _payment(resources), resources, dict(STEADY), 3)

    assert [r.outcome for r in results] == [Outcome.REFUSED] * 3, [
        (r.reason, r.message) for r in results
    ]
    assert {r.reason for r in results} == {reasons.DEPLOYMENT_ROLLED_BACK}
    assert "tasks failed to start" in results[0].message
    assert "payment-service:" in results[0].message  # the task definition it returned to
    assert emulator.calls().get("ecs:UpdateService", 0) == 1
    assert status["ecsDeployment"]["rolloutState"] == "FAILED"
    # plan --from-cluster reads the status the operator wrote, and shows the same refusal
    refusal = _planned(reconciler, resources, status).refusal
    assert refusal is not None
    assert refusal.reason == reasons.DEPLOYMENT_ROLLED_BACK

    newer = replace(
        _payment(resources), identity=replace(_payment(resources).identity, generation=2)
    )
    _sent_again(emulator, reconciler, newer, resources, status)


def test_a_refresh_request_retries_a_rolled_back_generation(
    emulator: Emulator, world: tuple[Reconciler, list[Resource]]
) -> None:
    reconciler, resources = world
    _disable_out_of_band(emulator)
    emulator.fail_deployments(CLUSTER, "payment-service", count=1)
    results, status = _steps(reconciler, _payment(resources), resources, dict(STEADY), 1)
    assert results[0].reason == reasons.DEPLOYMENT_ROLLED_BACK

    refreshed = {**status, "refresh": {"requestedAt": "2026-12-07T14:00:00Z"}}
    _sent_again(emulator, reconciler, _payment(resources), resources, refreshed)


def test_a_deployment_someone_else_started_is_left_to_finish(
    emulator: Emulator, world: tuple[Reconciler, list[Resource]]
) -> None:
    reconciler, resources = world
    emulator.hold_deployments(polls=8)
    _disable_out_of_band(emulator)
    blocked = _planned(reconciler, resources, None).blocked
    assert blocked is not None
    assert blocked.reason == reasons.DEPLOYMENT_IN_PROGRESS

    status = dict(STEADY)
    waited = 0
    while True:
        results, status = _steps(reconciler, _payment(resources), resources, status, 1)
        if results[0].outcome is not Outcome.BLOCKED:
            break
        assert results[0].reason == reasons.DEPLOYMENT_IN_PROGRESS
        assert "started outside sd-operator" in results[0].message
        assert emulator.calls().get("ecs:UpdateService", 0) == 0
        waited += 1
        assert waited < 10, "the foreign deployment never ended"
    assert waited >= 1
    assert emulator.calls()["ecs:UpdateService"] == 1  # corrected once it ended


def test_a_rollback_that_ended_while_the_operator_was_down_is_not_sent_again(
    emulator: Emulator, world: tuple[Reconciler, list[Resource]]
) -> None:
    reconciler, resources = world
    _disable_out_of_band(emulator)
    emulator.hold_deployments(polls=20)
    emulator.fail_deployments(CLUSTER, "payment-service", "tasks failed to start", forget=True)
    results, status = _steps(reconciler, _payment(resources), resources, dict(STEADY), 1)
    ours = status["ecsDeployment"]
    assert ours["rolloutState"] == "IN_PROGRESS", (results[0].reason, results[0].message)

    # The operator is down: others' reads move ECS on until the failed deployment, rolled
    # back, has left deployments[] (only the service deployments API remembers it).
    ecs = client("ecs", emulator.endpoint_url, REGION)
    for _ in range(100):
        described = ecs.describe_services(cluster=CLUSTER, services=["payment-service"])
        listed = described["services"][0]["deployments"]
        if len(listed) == 1 and listed[0]["rolloutState"] == "COMPLETED":
            break
    assert [d["id"] for d in listed if d["id"] == ours["id"]] == []
    assert listed[0]["rolloutState"] == "COMPLETED"
    emulator.reset_calls()

    results, status = _steps(reconciler, _payment(resources), resources, status, 3)

    assert [r.reason for r in results] == [reasons.DEPLOYMENT_ROLLED_BACK] * 3
    assert "tasks failed to start" in results[0].message
    assert emulator.calls().get("ecs:UpdateService", 0) == 0
    assert emulator.calls()["ecs:ListServiceDeployments"] == 1  # read once, then remembered
    assert status["ecsDeployment"]["rolloutState"] == "FAILED"


def test_a_delete_waits_for_a_deployment_in_progress(
    emulator: Emulator, world: tuple[Reconciler, list[Resource]]
) -> None:
    """An UpdateService mid-rollout starts another deployment that stops the one rolling out:
    the delete's UpdateService waits for it to end, as a correction does."""
    reconciler, resources = world
    emulator.hold_deployments(polls=3)
    client("ecs", emulator.endpoint_url, REGION).update_service(
        cluster=CLUSTER, service="payment-service", forceNewDeployment=True
    )
    emulator.reset_calls()
    payment = _payment(resources)
    namespace = referenced_namespace(payment, namespace_lookup(resources))
    status = dict(STEADY)
    waited = 0
    while True:
        reconciler.view.refresh(REGION)
        result = reconciler.delete_step(payment, status, namespace=namespace)
        status = merge_status(status, result)
        if result.outcome is not Outcome.BLOCKED:
            break
        assert result.reason == reasons.DEPLOYMENT_IN_PROGRESS
        assert "started outside sd-operator" in result.message
        assert emulator.calls().get("ecs:UpdateService", 0) == 0
        waited += 1
        assert waited < 10, "the deployment never ended"
    assert waited >= 1
    assert emulator.calls()["ecs:UpdateService"] == 1  # sent once it ended
    described = client("ecs", emulator.endpoint_url, REGION).describe_services(
        cluster=CLUSTER, services=["payment-service"]
    )["services"][0]
    primary = next(d for d in described["deployments"] if d["status"] == "PRIMARY")
    assert "serviceConnectConfiguration" not in primary or not (
        primary["serviceConnectConfiguration"].get("enabled")
    )
