"""The coordinated drift sweep over kopf-shaped bodies: one account read, then every resource;
quiet when nothing drifted, and every managed field's drift found and corrected or reported."""

from __future__ import annotations

import copy
import itertools
from collections.abc import Mapping
from typing import Any

import kopf
import pytest

from builders import units_granting_all
from sd_devkit.emulator import Emulator, client
from sd_devkit.emulator.seed import seed_demo_ecs
from sd_operator.aws.adapters import Adapters
from sd_operator.handlers.sweep import Sweeper, SweepReport
from sd_operator.model.spec import GROUP, VERSION, ClusterIdentity
from sd_operator.reconcile.reconciler import Reconciler

REGION = "us-east-1"
NAMESPACE = "payments"
AWS_WRITES = (
    "Create",
    "Update",
    "Delete",
    "TagResource",
    "UntagResource",
    "RegisterInstance",
    "DeregisterInstance",
)
_versions = itertools.count(1)


class RecordingWriter:
    """Stands in for the API server: records the sweep's status patches and Events."""

    def __init__(self) -> None:
        self.patches: list[tuple[str, dict[str, Any]]] = []
        self.events: list[tuple[str, str, str]] = []
        self.latest: dict[str, dict[str, Any]] = {}  # name -> the body as last patched

    def patch_status(
        self, body: Mapping[str, Any], status: Mapping[str, Any]
    ) -> Mapping[str, Any] | None:
        self.patches.append((body["metadata"]["name"], dict(status)))
        updated = copy.deepcopy(dict(body))
        updated["status"] = {**(updated.get("status") or {}), **status}
        updated["metadata"]["resourceVersion"] = str(next(_versions))
        self.latest[body["metadata"]["name"]] = updated
        return updated

    def post_event(self, body: Mapping[str, Any], type_: str, reason: str, message: str) -> None:
        self.events.append((body["metadata"]["name"], reason, message))


def body(kind: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": kind,
        "metadata": {
            "name": name,
            "namespace": NAMESPACE,
            "uid": f"uid-{name}",
            "generation": 1,
            "resourceVersion": str(next(_versions)),
        },
        "spec": spec,
    }


def record(ttl: int = 10) -> dict[str, Any]:
    return {"routingPolicy": "MULTIVALUE", "records": [{"type": "A", "ttl": ttl}]}


NS_BODY = body(
    "CloudMapNamespace",
    "myapp",
    {"name": "myapp.local", "type": "DnsPrivate", "vpc": "vpc-0a1b2c3d4e5f60718"},
)
PUBLIC_BODY = body("CloudMapNamespace", "public", {"name": "example.com", "type": "DnsPublic"})


def discovery(name: str, **spec: Any) -> dict[str, Any]:
    return body("ServiceDiscovery", name, {"namespaceRef": {"name": "myapp"}, **spec})


BODIES = [
    NS_BODY,
    PUBLIC_BODY,
    discovery(
        "plain",
        service={
            "description": "plain service",
            "dns": record(),
            "healthCheck": {"custom": {}},
            "tags": {"team": "payments"},
        },
    ),
    discovery("reported", drift="Report", service={"dns": record(), "healthCheck": {"custom": {}}}),
    body(
        "ServiceDiscovery",
        "checked",
        {
            "namespaceRef": {"name": "public"},
            "service": {
                "dns": record(),
                "healthCheck": {
                    "route53": {"type": "HTTP", "resourcePath": "/health", "failureThreshold": 3}
                },
            },
        },
    ),
    discovery(
        "user-service",
        service={"dns": record(), "healthCheck": {"custom": {}}},
        ecs={
            "cluster": "production",
            "service": "user-service",
            "registry": {"containerName": "app", "containerPort": 3000},
            "serviceConnect": {
                "enabled": True,
                "services": [
                    {
                        "portName": "http",
                        "discoveryName": "user-svc",
                        "clientAliases": [{"port": 80, "dnsName": "user-svc"}],
                    }
                ],
            },
        },
    ),
]


class World:
    def __init__(self, emulator: Emulator, view_ttl: float = 60) -> None:
        seed_demo_ecs(emulator.endpoint_url, REGION)
        self.emulator = emulator
        adapters = Adapters(REGION, emulator.endpoint_url)
        self.reconciler = Reconciler(adapters, ClusterIdentity("sweep-test"), view_ttl=view_ttl)
        self.units = units_granting_all(self.reconciler, adapters)
        self.writer = RecordingWriter()
        self.reports: list[SweepReport] = []
        self.now = 0.0  # the sweeper's clock: a test moves it on to make follow-ups due
        self.sweeper = Sweeper(
            self.units,
            self.writer,
            interval=30,
            on_swept=self.reports.append,
            clock=lambda: self.now,
        )
        self.bodies = {b["metadata"]["name"]: copy.deepcopy(b) for b in BODIES}
        for name in self.bodies:
            self.converge(name)
            self.sweeper.seen("ADDED", self.bodies[name])
        self.sd = client("servicediscovery", emulator.endpoint_url, REGION)
        self.ecs = client("ecs", emulator.endpoint_url, REGION)

    def namespaces(self) -> dict[tuple[str, str], list[Any]]:
        from sd_operator.model.parse import parse_resource

        found: dict[tuple[str, str], list[Any]] = {}
        for b in self.bodies.values():
            if b["kind"] == "CloudMapNamespace":
                res = parse_resource(kopf.Body(b))  # type: ignore[arg-type]
                found[(NAMESPACE, b["metadata"]["name"])] = [res.spec]
        return found

    def converge(self, name: str) -> None:
        """What kopf does with the change handler: patch status, step again while waiting."""
        from sd_operator.model.parse import parse_resource
        from sd_operator.reconcile.result import Outcome

        raw = self.bodies[name]
        res = parse_resource(kopf.Body(raw))  # type: ignore[arg-type]
        for _ in range(30):
            patch = kopf.Patch()
            result = self.units.steps.step_and_write(
                kopf.Body(raw),  # type: ignore[arg-type]
                patch,
                res,
                self.namespaces(),
                from_view=False,
                post=self.writer.post_event,
            )
            raw["status"] = {**(raw.get("status") or {}), **(patch.get("status") or {})}
            assert result is not None
            if result.outcome not in (Outcome.WAITING, Outcome.ERROR, Outcome.BLOCKED):
                self.writer.events.clear()
                return
        raise AssertionError(f"{name} did not converge: {raw.get('status')}")

    def service_id(self, name: str) -> str:
        return str(self.bodies[name]["status"]["serviceId"])

    def status(self, name: str) -> dict[str, Any]:
        """The status as the API server (the writer) holds it after the sweep's patches."""
        return dict(self.writer.latest.get(name, self.bodies[name])["status"])


@pytest.fixture
def world(emulator: Emulator) -> World:
    return World(emulator)


def _calls(emulator: Emulator) -> dict[str, int]:
    return {k: v for k, v in emulator.calls().items() if v}


def test_a_sweep_with_nothing_drifted_writes_nothing_and_calls_no_get(world: World) -> None:
    world.emulator.reset_calls()

    report = world.sweeper.sweep()

    assert report.stepped == len(BODIES)
    assert world.reports == [report]  # what the operator's heap settler is called with
    assert world.writer.patches == []  # no status PATCH
    assert world.writer.events == []
    calls = _calls(world.emulator)
    assert not [api for api in calls if api.startswith("servicediscovery:Get")], calls
    action = [api.split(":", 1)[1] for api in calls]
    assert not [a for a in action if a.startswith(AWS_WRITES)], calls
    # Two namespaces, one list page each; tags in one page; one describe; two hosted zones.
    assert sum(calls.values()) <= 8, calls


def test_a_sweep_whose_steps_outlast_the_view_reads_the_account_once(emulator: Emulator) -> None:
    # Under throttling a sweep's steps can take longer than the view lives; the first step
    # after that read the whole account again while the other workers waited for it.
    world = World(emulator, view_ttl=0.0)  # older than the ttl as soon as it is read
    world.emulator.reset_calls()

    report = world.sweeper.sweep()

    assert report.stepped == len(BODIES)
    calls = _calls(world.emulator)
    assert calls["servicediscovery:ListNamespaces"] == 1, calls
    assert calls["servicediscovery:ListServices"] == 2, calls  # two namespaces, one page each
    assert calls["tagging:GetResources"] == 1, calls


def test_drift_in_every_managed_field_is_found_by_the_sweep_and_corrected(world: World) -> None:
    sd, ecs = world.sd, world.ecs
    plain = world.service_id("plain")
    sd.update_service(
        Id=plain,
        Service={
            "Description": "changed in the console",
            "DnsConfig": {"DnsRecords": [{"Type": "A", "TTL": 300}]},
        },
    )
    arn = world.bodies["plain"]["status"]["serviceArn"]
    sd.tag_resource(ResourceARN=arn, Tags=[{"Key": "team", "Value": "someone-else"}])
    checked = world.service_id("checked")
    sd.update_service(
        Id=checked,
        Service={
            "DnsConfig": {"DnsRecords": [{"Type": "A", "TTL": 10}]},
            "HealthCheckConfig": {"Type": "HTTP", "ResourcePath": "/other", "FailureThreshold": 5},
        },
    )
    ecs.update_service(
        cluster="production",
        service="user-service",
        serviceRegistries=[],
        serviceConnectConfiguration={"enabled": False},
    )
    world.emulator.reset_calls()

    world.sweeper.sweep()
    for _ in range(10):  # Cloud Map operations: followed up, fresh, when due
        world.now += 3600  # past any follow-up's delay
        if not world.sweeper.follow_up():
            break

    drifted = {name for name, reason, _ in world.writer.events if reason == "DriftDetected"}
    assert drifted == {"plain", "checked", "user-service"}
    service = sd.get_service(Id=plain)["Service"]
    assert service["DnsConfig"]["DnsRecords"][0]["TTL"] == 10
    assert service["Description"] == "plain service"
    tags = {t["Key"]: t["Value"] for t in sd.list_tags_for_resource(ResourceARN=arn)["Tags"]}
    assert tags["team"] == "payments"
    check = sd.get_service(Id=checked)["Service"]["HealthCheckConfig"]
    assert (check["ResourcePath"], check["FailureThreshold"]) == ("/health", 3)
    described = ecs.describe_services(cluster="production", services=["user-service"])
    svc = described["services"][0]
    assert svc["serviceRegistries"][0]["containerPort"] == 3000
    primary = next(d for d in svc["deployments"] if d["status"] == "PRIMARY")
    assert primary["serviceConnectConfiguration"]["enabled"] is True
    fields = {
        e["field"]
        for name in ("plain", "checked", "user-service")
        for e in world.status(name)["drift"]
    }
    assert "spec.service.dns.records[0].ttl" in fields or "service.dns.records[0].ttl" in fields


def test_drift_of_a_report_resource_is_recorded_not_corrected(world: World) -> None:
    reported = world.service_id("reported")
    world.sd.update_service(
        Id=reported, Service={"DnsConfig": {"DnsRecords": [{"Type": "A", "TTL": 120}]}}
    )
    world.emulator.reset_calls()

    world.sweeper.sweep()

    assert world.emulator.calls().get("servicediscovery:UpdateService", 0) == 0
    service = world.sd.get_service(Id=reported)["Service"]
    assert service["DnsConfig"]["DnsRecords"][0]["TTL"] == 120
    drifted = world.status("reported")["conditions"]
    assert any(c["type"] == "Drifted" and c["status"] == "True" for c in drifted)
    assert [r for _, r, _ in world.writer.events] == ["DriftDetected"]
    world.writer.patches.clear()
    world.writer.events.clear()

    world.sweeper.sweep()  # still drifted, already recorded: nothing new to write

    assert world.writer.patches == []
    assert world.writer.events == []


def test_a_throttled_sweep_slows_down_and_completes(world: World) -> None:
    from sd_operator.aws.budget import BUDGETS

    budget = BUDGETS.get(world.emulator.account_id, REGION, world.emulator.endpoint_url)
    before = budget.current_rate("servicediscovery:ListServices")
    world.emulator.inject("servicediscovery:ListServices", error="ThrottlingException", count=2)
    world.emulator.inject("tagging:GetResources", error="ThrottlingException", count=1)

    report = world.sweeper.sweep()

    assert report.stepped == len(BODIES)
    assert world.writer.patches == []  # everything still in sync, read despite the throttling
    assert budget.current_rate("servicediscovery:ListServices") < before
