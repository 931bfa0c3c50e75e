"""The drift sweep's shared snapshot: batched reads for many resources, and never trusted to
act on without a fresh read."""

from __future__ import annotations

import math
from typing import Any

import pytest

from sd_operator.cli import plan_resources
from sd_operator.emulator import Emulator, client
from sd_operator.model.spec import (
    CloudMapServiceSpec,
    DnsConfig,
    DnsRecord,
    EcsSpec,
    HealthCheck,
    Identity,
    NamespaceSpec,
    NamespaceType,
    RecordType,
    Registry,
    Resource,
    RoutingPolicy,
    ServiceDiscoverySpec,
)
from sd_operator.reconcile.converge import converge
from sd_operator.reconcile.reconciler import Outcome, Reconciler

REGION = "us-east-1"
CLUSTER = "sweep"
NS = NamespaceSpec(name="sweep.local", type=NamespaceType.DNS_PRIVATE, vpc="vpc-0a1b2c3d4e5f6071")
STEADY = {"observedGeneration": 1, "conditions": [{"type": "Synced", "status": "True"}]}


def discovery(name: str) -> Resource:
    spec = ServiceDiscoverySpec(
        namespace_ref="sweep",
        service=CloudMapServiceSpec(
            name=name,
            dns=DnsConfig(RoutingPolicy.MULTIVALUE, (DnsRecord(RecordType.A, 10),)),
            health_check=HealthCheck(custom=True),
        ),
        ecs=EcsSpec(cluster=CLUSTER, service=name, registry=Registry()),
    )
    return Resource(Identity("ServiceDiscovery", "apps", name, uid=f"uid-{name}"), spec)


def seed_ecs(endpoint: str, names: list[str]) -> None:
    ecs = client("ecs", endpoint, REGION)
    ecs.create_cluster(clusterName=CLUSTER)
    task = ecs.register_task_definition(
        family="app",
        networkMode="awsvpc",
        containerDefinitions=[{"name": "app", "image": "app:1", "memory": 128}],
    )["taskDefinition"]["taskDefinitionArn"]
    for name in names:
        ecs.create_service(cluster=CLUSTER, serviceName=name, taskDefinition=task, desiredCount=1)


@pytest.fixture
def world(emulator: Emulator) -> tuple[Reconciler, list[Resource]]:
    names = [f"svc-{i:02d}" for i in range(23)]
    seed_ecs(emulator.endpoint_url, names)
    reconciler = Reconciler(REGION, emulator.endpoint_url, "sweep-test", snapshot_ttl=60)
    ns = Resource(Identity("CloudMapNamespace", "apps", "sweep", uid="uid-ns"), NS)
    converge(reconciler, ns, None, deleting=False, timeout=30)
    resources = [discovery(n) for n in names]
    for res in resources:
        done = converge(reconciler, res, NS, deleting=False, timeout=30)
        assert done.last is not None
        assert done.last.outcome is Outcome.IN_SYNC, done.last.message
    return reconciler, resources


def test_a_sweep_lists_and_describes_once_for_all_resources(
    emulator: Emulator, world: tuple[Reconciler, list[Resource]]
) -> None:
    reconciler, resources = world
    emulator.reset_calls()
    for res in resources:
        result = reconciler.step(res, STEADY, namespace=NS, cached=True)
        assert result.outcome is Outcome.IN_SYNC
    calls = emulator.calls()
    pages = math.ceil(len(resources) / emulator.page_size)
    assert calls["servicediscovery:ListNamespaces"] == 1
    assert calls["servicediscovery:ListServices"] == pages
    # Every resource was observed once before (at creation), so the first describe of the
    # sweep carries all of them, ten per call.
    assert calls["ecs:DescribeServices"] == math.ceil(len(resources) / 10)
    assert calls.get("ecs:UpdateService", 0) == 0


def test_fresh_reads_cost_a_list_per_resource(
    emulator: Emulator, world: tuple[Reconciler, list[Resource]]
) -> None:
    reconciler, resources = world
    emulator.reset_calls()
    for res in resources:
        assert reconciler.step(res, STEADY, namespace=NS).outcome is Outcome.IN_SYNC
    calls = emulator.calls()
    assert calls["servicediscovery:ListNamespaces"] >= len(resources)
    assert calls["ecs:DescribeServices"] == len(resources)


def test_drift_seen_in_the_snapshot_is_confirmed_fresh_and_corrected(
    emulator: Emulator, world: tuple[Reconciler, list[Resource]]
) -> None:
    reconciler, resources = world
    sd = client("servicediscovery", emulator.endpoint_url, REGION)
    target = resources[5]
    for res in resources:  # fill the snapshot
        reconciler.step(res, STEADY, namespace=NS, cached=True)
    assert target.spec.service is not None  # type: ignore[union-attr]
    ns_id = next(n["Id"] for n in sd.list_namespaces()["Namespaces"] if n["Name"] == NS.name)
    listed: list[Any] = []
    for page in sd.get_paginator("list_services").paginate(
        Filters=[{"Name": "NAMESPACE_ID", "Values": [ns_id], "Condition": "EQ"}]
    ):
        listed += page["Services"]
    service_id = next(s["Id"] for s in listed if s["Name"] == target.identity.name)
    sd.update_service(
        Id=service_id, Service={"DnsConfig": {"DnsRecords": [{"Type": "A", "TTL": 300}]}}
    )
    reconciler.snapshot.invalidate(REGION)  # the next interval's snapshot

    result = reconciler.step(target, STEADY, namespace=NS, cached=True)

    assert [c.field for c in result.drift] == ["service.dns.records[0].ttl"]
    assert result.performed


def test_a_stale_snapshot_never_creates_a_twin(emulator: Emulator) -> None:
    seed_ecs(emulator.endpoint_url, ["late"])
    sweeper = Reconciler(REGION, emulator.endpoint_url, "sweep-test", snapshot_ttl=60)
    writer = Reconciler(REGION, emulator.endpoint_url, "sweep-test")
    ns = Resource(Identity("CloudMapNamespace", "apps", "sweep", uid="uid-ns"), NS)
    converge(writer, ns, None, deleting=False, timeout=30)
    late = discovery("late")
    assert sweeper.step(late, {}, namespace=NS, cached=True).outcome  # snapshot: no service yet
    sweeper.snapshot.invalidate("eu-west-1")  # other regions only: ours stays stale
    converge(writer, late, NS, deleting=False, timeout=30)
    emulator.reset_calls()

    result = sweeper.step(late, STEADY, namespace=NS, cached=True)

    assert result.outcome is Outcome.IN_SYNC
    assert emulator.calls().get("servicediscovery:CreateService", 0) == 0


def test_a_cli_plan_over_many_resources_lists_once(
    emulator: Emulator, world: tuple[Reconciler, list[Resource]]
) -> None:
    _, resources = world
    fresh = Reconciler(REGION, emulator.endpoint_url, "sweep-test")
    emulator.reset_calls()

    ns = Resource(Identity("CloudMapNamespace", "apps", "sweep", uid="uid-ns"), NS)
    reports = plan_resources(fresh, [ns, *resources])

    assert all(r.plan is not None and r.plan.in_sync for r in reports)
    calls = emulator.calls()
    assert calls["servicediscovery:ListNamespaces"] == 1
    assert calls["ecs:DescribeServices"] == math.ceil(len(resources) / 10)


def test_a_sweep_of_resources_with_recorded_ids_still_lists_once(
    emulator: Emulator, world: tuple[Reconciler, list[Resource]]
) -> None:
    """Ids in status are read through the snapshot's lists: no GetNamespace or GetService per
    resource while the listed namespace and services hold them."""
    reconciler, resources = world
    statuses = [
        {**STEADY, **reconciler.step(res, STEADY, namespace=NS).status} for res in resources
    ]
    assert all(s.get("serviceId") and s.get("namespaceId") for s in statuses)
    emulator.reset_calls()
    for res, status in zip(resources, statuses, strict=True):
        assert reconciler.step(res, status, namespace=NS, cached=True).outcome is Outcome.IN_SYNC
    calls = emulator.calls()
    assert calls["servicediscovery:ListNamespaces"] == 1
    assert calls["servicediscovery:ListServices"] == math.ceil(len(resources) / emulator.page_size)
    assert calls.get("servicediscovery:GetNamespace", 0) == 0
    assert calls.get("servicediscovery:GetService", 0) == 0
