"""ServiceDiscovery with ECS through the reconciler against the emulator: Service Connect set and
read back from the PRIMARY deployment, out-of-band disable corrected, and no redeploys while
nothing changes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from fake_time import FakeTime
from sd_devkit.emulator import Emulator, client
from sd_devkit.emulator.seed import CLUSTER, seed_demo_ecs
from sd_operator.aws.adapters import Adapters
from sd_operator.cli import namespace_lookup, referenced_namespace
from sd_operator.model import conditions as cond
from sd_operator.model.parse import load_manifests
from sd_operator.model.spec import ClusterIdentity, Resource
from sd_operator.reconcile.reconciler import Reconciler
from sd_operator.reconcile.result import Outcome

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
