"""managementPolicy: Observe over ECS through the reconciler against the emulator: the demo's
stack, once managed, switched to Observe with another Service Connect timeout in its spec is
Blocked ObservedDifferent naming the field, and neither that step nor the deletion of every
resource sends a single mutating call (no ECS UpdateService, no Cloud Map delete)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from fake_time import FakeTime
from sd_devkit.emulator import Emulator
from sd_devkit.emulator.seed import seed_demo_ecs
from sd_operator.aws.adapters import Adapters
from sd_operator.cli import namespace_lookup, referenced_namespace
from sd_operator.model.parse import load_manifests
from sd_operator.model.spec import (
    ClusterIdentity,
    ManagementPolicy,
    Resource,
    ServiceConnect,
    ServiceDiscoverySpec,
    Timeout,
)
from sd_operator.reconcile.reconciler import Reconciler
from sd_operator.reconcile.result import Outcome
from support import calls_since, mutating_calls

REGION = "us-east-1"
EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "myapp"


def observing(res: Resource) -> Resource:
    return replace(res, spec=replace(res.spec, management_policy=ManagementPolicy.OBSERVE))


def with_request_timeout(res: Resource, seconds: int) -> Resource:
    spec = res.spec
    assert isinstance(spec, ServiceDiscoverySpec)
    assert spec.ecs is not None
    assert spec.ecs.service_connect is not None
    sc: ServiceConnect = spec.ecs.service_connect
    first = sc.services[0]
    timeout = replace(first.timeout or Timeout(), per_request_timeout_seconds=seconds)
    services = (replace(first, timeout=timeout), *sc.services[1:])
    ecs = replace(spec.ecs, service_connect=replace(sc, services=services))
    return replace(res, spec=replace(spec, ecs=ecs))


def test_observed_ecs_difference_is_reported_and_nothing_is_written_or_deleted(
    emulator: Emulator,
) -> None:
    seed_demo_ecs(emulator.endpoint_url, REGION)
    reconciler = Reconciler(Adapters(REGION, emulator.endpoint_url), ClusterIdentity("ecs-test"))
    resources = load_manifests([str(EXAMPLES)])
    namespaces = namespace_lookup(resources)
    for res in resources:
        managed = FakeTime().converge(
            reconciler, res, referenced_namespace(res, namespaces), timeout=30
        )
        assert managed.last is not None
        assert managed.last.outcome is Outcome.IN_SYNC, managed.last.message
    before = emulator.calls()
    # A later run (the CLI's next apply), with an account view of its own.
    reconciler = Reconciler(Adapters(REGION, emulator.endpoint_url), ClusterIdentity("ecs-test"))

    observed = [observing(r) for r in resources]
    for res in observed:
        same = FakeTime().converge(
            reconciler, res, referenced_namespace(res, namespaces), timeout=30
        )
        assert same.last is not None
        assert same.last.outcome is Outcome.IN_SYNC, same.last.message
    payment = next(r for r in observed if r.identity.name == "payment-service")
    changed = with_request_timeout(payment, 30)
    differs = FakeTime().converge(
        reconciler, changed, referenced_namespace(changed, namespaces), timeout=30
    )
    for res in reversed(observed):
        gone = FakeTime().converge_delete(
            reconciler, res, referenced_namespace(res, namespaces), timeout=30
        )
        assert gone.last is not None
        assert gone.last.outcome is Outcome.GONE, gone.last.message

    assert mutating_calls(calls_since(emulator, before)) == {}
    assert differs.last is not None
    assert (differs.last.outcome, differs.last.reason) == (Outcome.BLOCKED, "ObservedDifferent")
    assert "perRequestTimeoutSeconds: desired 30, observed 15" in differs.last.message
