"""The account view the drift sweep reads once per interval: batched reads for all resources,
never trusted to act on without a fresh read by id; creates that read no other service's tags."""

from __future__ import annotations

import math
import threading
import time
from dataclasses import replace
from typing import Any

import pytest

import builders
from fake_time import FakeTime
from sd_devkit.emulator import Emulator, client
from sd_operator.aws.adapters import Adapters
from sd_operator.cli import plan_resources
from sd_operator.model.spec import (
    ClusterIdentity,
    EcsSpec,
    Identity,
    NamespaceSpec,
    NamespaceType,
    Registry,
    Resource,
)
from sd_operator.reconcile.reconciler import Reconciler
from sd_operator.reconcile.result import Outcome, merge_status

REGION = "us-east-1"
CLUSTER = "sweep"
NS = NamespaceSpec(name="sweep.local", type=NamespaceType.DNS_PRIVATE, vpc="vpc-0a1b2c3d4e5f6071")
STEADY = {"observedGeneration": 1, "conditions": [{"type": "Synced", "status": "True"}]}


def discovery(name: str) -> Resource:
    return builders.discovery(
        name=name,
        namespace="apps",
        namespace_ref="sweep",
        uid=f"uid-{name}",
        ecs=EcsSpec(cluster=CLUSTER, service=name, registry=Registry()),
    )


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


World = tuple[Reconciler, list[Resource], dict[str, dict[str, Any]]]
CLOUD_MAP_READS = ("servicediscovery:GetService", "servicediscovery:GetNamespace")
WRITES = ("servicediscovery:CreateService", "servicediscovery:UpdateService", "ecs:UpdateService")


def steady(status: dict[str, Any]) -> dict[str, Any]:
    return {**status, **STEADY}


@pytest.fixture
def world(emulator: Emulator) -> World:
    names = [f"svc-{i:02d}" for i in range(23)]
    seed_ecs(emulator.endpoint_url, names)
    reconciler = Reconciler(
        Adapters(REGION, emulator.endpoint_url), ClusterIdentity("sweep-test"), view_ttl=60
    )
    ns = Resource(Identity("CloudMapNamespace", "apps", "sweep", uid="uid-ns"), NS)
    FakeTime().converge(reconciler, ns, None, timeout=30)
    resources = [discovery(n) for n in names]
    statuses = {}
    for res in resources:
        done = FakeTime().converge(reconciler, res, NS, timeout=30)
        assert done.last is not None
        assert done.last.outcome is Outcome.IN_SYNC, done.last.message
        statuses[res.identity.name] = steady(done.status)
    return reconciler, resources, statuses


@pytest.mark.paged
def test_a_sweep_reads_the_account_once_for_all_resources(emulator: Emulator, world: World) -> None:
    reconciler, resources, statuses = world
    emulator.reset_calls()
    reconciler.view.refresh(REGION)
    for res in resources:
        result = reconciler.step(res, statuses[res.identity.name], namespace=NS, from_view=True)
        assert result.outcome is Outcome.IN_SYNC
        assert not result.performed
    calls = emulator.calls()
    pages = math.ceil(len(resources) / emulator.page_size)
    assert calls["servicediscovery:ListNamespaces"] == 1
    assert calls["servicediscovery:ListServices"] == pages
    # namespace + 23 services carry our cluster tag: one tag:GetResources page per 2 (test size)
    assert calls["tagging:GetResources"] == math.ceil((len(resources) + 1) / emulator.page_size)
    assert calls["ecs:DescribeServices"] == math.ceil(len(resources) / 10)
    assert calls.get("servicediscovery:ListTagsForResource", 0) == 0
    assert not any(calls.get(api) for api in CLOUD_MAP_READS + WRITES)


def test_acting_reads_by_id_never_a_list_per_resource(emulator: Emulator, world: World) -> None:
    reconciler, resources, statuses = world
    emulator.reset_calls()
    for res in resources:
        outcome = reconciler.step(res, statuses[res.identity.name], namespace=NS).outcome
        assert outcome is Outcome.IN_SYNC
    calls = emulator.calls()
    assert calls["servicediscovery:GetService"] == len(resources)
    assert calls["servicediscovery:ListTagsForResource"] == len(resources)  # its own tags only
    assert calls.get("servicediscovery:ListServices", 0) == 0
    assert calls.get("servicediscovery:ListNamespaces", 0) == 0  # from the view
    assert calls["ecs:DescribeServices"] == len(resources)


def test_creates_read_no_other_services_tags(emulator: Emulator) -> None:
    """main read every service's tags of the namespace twice per create (about 0.87 x N^2 tag
    reads for a cold start); now a create is CreateService, GetService and its own tags."""
    names = [f"new-{i:02d}" for i in range(12)]
    reconciler = Reconciler(
        Adapters(REGION, emulator.endpoint_url), ClusterIdentity("sweep-test"), view_ttl=60
    )
    ns = Resource(Identity("CloudMapNamespace", "apps", "sweep", uid="uid-ns"), NS)
    FakeTime().converge(reconciler, ns, None, timeout=30)
    emulator.reset_calls()
    for name in names:
        res = discovery(name)
        res = Resource(res.identity, replace(res.spec, ecs=None))  # Cloud Map only
        done = FakeTime().converge(reconciler, res, NS, timeout=30)
        assert done.last is not None
        assert done.last.outcome is Outcome.IN_SYNC, done.last
    calls = emulator.calls()
    assert calls["servicediscovery:CreateService"] == len(names)
    assert calls.get("servicediscovery:ListTagsForResource", 0) <= len(names) + 1
    per_resource = (sum(calls.values()) - calls.get("servicediscovery:GetOperation", 0)) / len(
        names
    )
    assert per_resource <= 3.5, calls


def test_without_the_tagging_api_tags_are_read_per_arn_once_per_interval(
    emulator: Emulator, world: World
) -> None:
    reconciler, resources, statuses = world
    emulator.inject("tagging:GetResources", error="AccessDeniedException", status=400)
    emulator.reset_calls()
    reconciler.view.refresh(REGION)
    for res in resources:
        result = reconciler.step(res, statuses[res.identity.name], namespace=NS, from_view=True)
        assert result.outcome is Outcome.IN_SYNC
    calls = emulator.calls()
    assert calls["servicediscovery:ListTagsForResource"] == len(resources) + 1
    assert not any(calls.get(api) for api in CLOUD_MAP_READS + WRITES)


def test_drift_seen_in_the_view_is_confirmed_by_id_and_corrected(
    emulator: Emulator, world: World
) -> None:
    reconciler, resources, statuses = world
    sd = client("servicediscovery", emulator.endpoint_url, REGION)
    target = resources[5]
    status = statuses[target.identity.name]
    sd.update_service(
        Id=status["serviceId"], Service={"DnsConfig": {"DnsRecords": [{"Type": "A", "TTL": 300}]}}
    )
    reconciler.view.refresh(REGION)  # the next interval's read
    emulator.reset_calls()

    result = reconciler.step(target, status, namespace=NS, from_view=True)

    assert [c.field for c in result.drift] == ["service.dns.records[0].ttl"]
    assert result.performed
    calls = emulator.calls()
    assert calls["servicediscovery:GetService"] >= 1  # confirmed by id before the write
    assert calls["servicediscovery:UpdateService"] == 1


def test_a_stale_view_never_creates_a_twin(emulator: Emulator) -> None:
    seed_ecs(emulator.endpoint_url, ["late"])
    sweeper = Reconciler(
        Adapters(REGION, emulator.endpoint_url), ClusterIdentity("sweep-test"), view_ttl=60
    )
    writer = Reconciler(Adapters(REGION, emulator.endpoint_url), ClusterIdentity("sweep-test"))
    ns = Resource(Identity("CloudMapNamespace", "apps", "sweep", uid="uid-ns"), NS)
    FakeTime().converge(writer, ns, None, timeout=30)
    late = discovery("late")
    sweeper.view.refresh(REGION)  # no service yet
    done = FakeTime().converge(writer, late, NS, timeout=30)
    emulator.reset_calls()

    # status lost its ids: the stale view says "absent", AWS says it exists.
    result = sweeper.step(late, STEADY, namespace=NS, from_view=True)
    for _ in range(3):
        if result.outcome is Outcome.IN_SYNC:
            break
        result = sweeper.step(late, steady(merge_status(STEADY, result)), namespace=NS)

    assert result.outcome is Outcome.IN_SYNC, result
    assert merge_status(STEADY, result)["serviceId"] == done.status["serviceId"]
    services = sd_services(emulator)
    assert [s["Name"] for s in services].count("late") == 1


def sd_services(emulator: Emulator) -> list[Any]:
    sd = client("servicediscovery", emulator.endpoint_url, REGION)
    listed: list[Any] = []
    for page in sd.get_paginator("list_services").paginate():
        listed += page["Services"]
    return listed


@pytest.mark.parametrize(
    ("view_ttl", "ecs_latency"),
    [
        pytest.param(30.0, 0.0, id="within-the-ttl"),
        # ECS answers in 0.3 s: the plan's three DescribeServices batches outlast a 0.2 s ttl.
        pytest.param(0.2, 0.3, id="outlasting-the-ttl"),
    ],
)
def test_a_cli_plan_over_many_resources_lists_once(
    emulator: Emulator, world: World, view_ttl: float, ecs_latency: float
) -> None:
    """A plan is one moment's view, as a sweep is, even when its reads outlast the view's ttl
    (under throttling): each resource planned after that read the whole account again (a
    28-service apply beside 1,000 services made 26 reads of 26-61 s each; bench/RESULTS.md)."""
    _, resources, _ = world
    if ecs_latency:
        emulator.inject("ecs:DescribeServices", error=None, latency=ecs_latency)
    reconciler = Reconciler(
        Adapters(REGION, emulator.endpoint_url), ClusterIdentity("sweep-test"), view_ttl=view_ttl
    )
    emulator.reset_calls()

    ns = Resource(Identity("CloudMapNamespace", "apps", "sweep", uid="uid-ns"), NS)
    reports = plan_resources(reconciler, [ns, *resources])

    assert all(r.plan is not None and r.plan.in_sync for r in reports)
    calls = emulator.calls()
    assert calls["servicediscovery:ListNamespaces"] == 1
    assert calls["ecs:DescribeServices"] == math.ceil(len(resources) / 10)


def test_lookups_use_the_view_as_it_was_while_a_refresh_reads_the_account(
    emulator: Emulator, world: World
) -> None:
    """A refresh under throttling takes seconds; it held the view's lock over its AWS calls, so
    every step's lookup, even one that takes the view at any age, waited for it (py-spy on the
    operator at N = 1,000: most of its sweep threads' samples)."""
    reconciler, _, _ = world
    view = reconciler.view
    view.refresh(REGION)
    emulator.reset_calls()
    emulator.inject("servicediscovery:ListNamespaces", error=None, latency=3.0)
    refreshing = threading.Thread(target=view.refresh, args=(REGION,))
    refreshing.start()
    try:
        while emulator.calls().get("servicediscovery:ListNamespaces", 0) == 0:
            time.sleep(0.01)  # the refresh has started its read (counted before the latency)

        found = view.namespace(REGION, NS.name, relist=True)
        read_meanwhile = emulator.calls()

        # The refresh is still in its first call: the lookup did not wait for its read.
        assert "servicediscovery:ListServices" not in read_meanwhile, read_meanwhile
        assert found is not None
        assert found.name == NS.name
    finally:
        refreshing.join()


@pytest.mark.paged
def test_a_sweep_of_resources_with_recorded_ids_still_lists_once(
    emulator: Emulator, world: World
) -> None:
    """Ids in status are read through the view's lists: no GetNamespace or GetService per
    resource while the listed namespace and services hold them."""
    reconciler, resources, statuses = world
    assert all(s.get("serviceId") and s.get("namespaceId") for s in statuses.values())
    emulator.reset_calls()
    reconciler.view.refresh(REGION)  # the sweep's one read of the account
    for res in resources:
        status = statuses[res.identity.name]
        assert reconciler.step(res, status, namespace=NS, from_view=True).outcome is Outcome.IN_SYNC
    calls = emulator.calls()
    assert calls["servicediscovery:ListNamespaces"] == 1
    assert calls["servicediscovery:ListServices"] == math.ceil(len(resources) / emulator.page_size)
    assert calls.get("servicediscovery:GetNamespace", 0) == 0
    assert calls.get("servicediscovery:GetService", 0) == 0
