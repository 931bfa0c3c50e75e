"""Service Connect's test traffic rules and the Cloud Map services ECS creates for it, through
the reconciler and the CLI's plan against the emulator: the rules round-trip without drift, a
change made outside is corrected, and each service's discoveryArn reaches status and
`plan -o json`, where a CloudMapImport finds the service by its discoveryName."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from test_hybrid_importer import ApiServer

from fake_time import FakeTime
from sd_devkit.emulator import Emulator, client
from sd_devkit.emulator.seed import CLUSTER, seed_demo_ecs
from sd_operator.aws.adapters import Adapters
from sd_operator.aws.clients import AwsConfig, cloudmap_client
from sd_operator.aws.cloudmap import CloudMap
from sd_operator.cli import document, namespace_lookup, plan_resources, referenced_namespace
from sd_operator.hybrid.importer import Importer
from sd_operator.hybrid.imports import ImportSpec, Owner
from sd_operator.model import conditions as cond
from sd_operator.model.parse import load_manifests
from sd_operator.model.spec import (
    ClusterIdentity,
    Resource,
    ServiceConnectTestTrafficHeaderMatchRules,
    ServiceConnectTestTrafficHeaderRules,
    ServiceConnectTestTrafficRules,
    ServiceDiscoverySpec,
)
from sd_operator.reconcile.reconciler import Reconciler
from sd_operator.reconcile.result import Outcome

pytestmark = pytest.mark.integration

REGION = "us-east-1"
ROOT = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((ROOT / "docs" / "plan.schema.json").read_text())
SERVICE = "payment-service"
DISCOVERY = "payments-api"  # examples/myapp/payment-service.yaml
NAMESPACE = "myapp.local"
RULES = {"header": {"name": "x-canary", "value": {"exact": "yes"}}}
STEADY = {"observedGeneration": 1, "conditions": [{"type": cond.SYNCED, "status": "True"}]}


def with_rules(res: Resource) -> Resource:
    """payment-service with a test traffic rule on its client alias (as the CLI parses it)."""
    spec = res.spec
    assert isinstance(spec, ServiceDiscoverySpec)
    assert spec.ecs is not None
    sc = spec.ecs.service_connect
    assert sc is not None
    rules = ServiceConnectTestTrafficRules(
        ServiceConnectTestTrafficHeaderRules(
            "x-canary", ServiceConnectTestTrafficHeaderMatchRules("yes")
        )
    )
    entry = sc.services[0]
    aliases = tuple(replace(a, test_traffic_rules=rules) for a in entry.client_aliases)
    services = (replace(entry, client_aliases=aliases), *sc.services[1:])
    ecs = replace(spec.ecs, service_connect=replace(sc, services=services))
    return replace(res, spec=replace(spec, ecs=ecs))


@pytest.fixture
def world(emulator: Emulator) -> tuple[Reconciler, list[Resource], dict[str, Any]]:
    """examples/myapp applied, payment-service with a test traffic rule; its last status."""
    seed_demo_ecs(emulator.endpoint_url, REGION)
    reconciler = Reconciler(Adapters(REGION, emulator.endpoint_url), ClusterIdentity("sc-test"))
    resources = [
        with_rules(r) if r.identity.name == SERVICE else r
        for r in load_manifests([str(ROOT / "examples" / "myapp")])
    ]
    namespaces = namespace_lookup(resources)
    statuses: dict[str, Any] = {}
    for res in resources:
        done = FakeTime().converge(
            reconciler, res, referenced_namespace(res, namespaces), timeout=30
        )
        assert done.last is not None
        assert done.last.outcome is Outcome.IN_SYNC, done.last.message
        statuses[res.identity.name] = done.status
    return reconciler, resources, statuses


def primary(ecs: Any) -> dict[str, Any]:
    described = ecs.describe_services(cluster=CLUSTER, services=[SERVICE])["services"][0]
    deployment: dict[str, Any] = next(
        d for d in described["deployments"] if d["status"] == "PRIMARY"
    )
    return deployment


def alias(deployment: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = deployment["serviceConnectConfiguration"]["services"][0][
        "clientAliases"
    ][0]
    return found


def test_test_traffic_rules_round_trip_without_drift(
    emulator: Emulator, world: tuple[Reconciler, list[Resource], dict[str, Any]]
) -> None:
    reconciler, resources, _ = world
    ecs = client("ecs", emulator.endpoint_url, REGION)
    assert alias(primary(ecs))["testTrafficRules"] == RULES
    deployments = emulator.deployments(CLUSTER, SERVICE)
    namespaces = namespace_lookup(resources)
    emulator.reset_calls()
    for _ in range(3):
        reconciler.view.refresh(REGION)  # each sweep starts with one read of the account
        for res in resources:
            plan = reconciler.plan(res, namespace=referenced_namespace(res, namespaces)).plan
            assert plan.in_sync, (res.identity.key, plan)
    assert emulator.calls().get("ecs:UpdateService", 0) == 0
    assert emulator.deployments(CLUSTER, SERVICE) == deployments


def test_test_traffic_rules_changed_outside_are_corrected_as_drift(
    emulator: Emulator, world: tuple[Reconciler, list[Resource], dict[str, Any]]
) -> None:
    reconciler, resources, _ = world
    ecs = client("ecs", emulator.endpoint_url, REGION)
    config = primary(ecs)["serviceConnectConfiguration"]
    config["services"][0]["clientAliases"][0]["testTrafficRules"] = {
        "header": {"name": "x-canary", "value": {"exact": "no"}}
    }
    ecs.update_service(cluster=CLUSTER, service=SERVICE, serviceConnectConfiguration=config)
    payment = next(r for r in resources if r.identity.name == SERVICE)
    reconciler.view.refresh(REGION)

    result = reconciler.step(
        payment, STEADY, namespace=referenced_namespace(payment, namespace_lookup(resources))
    )

    assert result.outcome is Outcome.IN_SYNC
    path = "ecs.serviceConnect.services[0].clientAliases[0].testTrafficRules.header.value.exact"
    assert [(c.field, c.desired, c.observed) for c in result.drift] == [(path, "yes", "no")]
    restored = primary(ecs)["serviceConnectConfiguration"]
    assert alias(primary(ecs))["testTrafficRules"] == RULES
    # resent whole: the rest of the configuration is still there
    assert restored["services"][0]["tls"] == config["services"][0]["tls"]


def test_discovery_arn_is_in_status_and_plan_json(
    emulator: Emulator, world: tuple[Reconciler, list[Resource], dict[str, Any]]
) -> None:
    reconciler, resources, statuses = world
    sd = client("servicediscovery", emulator.endpoint_url, REGION)
    namespace_id = next(
        n["Id"] for n in sd.list_namespaces()["Namespaces"] if n["Name"] == NAMESPACE
    )
    listed = sd.list_services(Filters=[{"Name": "NAMESPACE_ID", "Values": [namespace_id]}])
    made = next(s for s in listed["Services"] if s["Name"] == DISCOVERY)
    expected = [{"discoveryName": DISCOVERY, "discoveryArn": made["Arn"]}]
    assert statuses[SERVICE]["serviceConnectResources"] == expected

    doc = document(plan_resources(reconciler, resources), cluster_name="sc-test")
    jsonschema.validate(doc, SCHEMA)
    planned = {r["name"]: r for r in doc["resources"]}
    assert planned[SERVICE]["serviceConnectResources"] == expected
    assert "serviceConnectResources" not in planned["myapp"]


def test_a_cloud_map_import_finds_the_service_connect_service_by_its_discovery_name(
    emulator: Emulator, world: tuple[Reconciler, list[Resource], dict[str, Any]]
) -> None:
    _, _, statuses = world
    (resource,) = statuses[SERVICE]["serviceConnectResources"]
    sd = client("servicediscovery", emulator.endpoint_url, REGION)
    # a task of the ECS service, registered as ECS registers Service Connect tasks
    sd.register_instance(
        ServiceId=resource["discoveryArn"].split("/")[-1],
        InstanceId="task-1",
        Attributes={"AWS_INSTANCE_IPV4": "10.1.0.9", "AWS_INSTANCE_PORT": "8443"},
    )
    cloudmap = CloudMap(cloudmap_client(AwsConfig(REGION, emulator.endpoint_url)))
    api = ApiServer()
    importer = Importer(lambda _r: cloudmap, lambda: api)  # type: ignore[arg-type,return-value]
    owner = Owner("sd-operator.io/v1alpha1", "CloudMapImport", "payments", "uid-import")

    result = importer.sync(
        ImportSpec(None, NAMESPACE, resource["discoveryName"], port=443),
        NAMESPACE,
        "payments",
        "payments",
        owner,
    )

    assert result.ready, result.message
    assert result.status.endpoints == 1
    assert result.status.api_only is True
