"""The operator's ECS side, as its own process against the local control plane and the AWS
emulator seeded with the demo ECS world (cluster `production`, user-service and
payment-service, task definitions with the named ports http / https): Service Connect and the
registry set from the examples' full manifests, an out-of-band disable corrected and recorded,
no UpdateService over many sweeps of an unchanged spec, deletion (Delete: one UpdateService
before the Cloud Map service goes; Retain: ECS left alone), and a portName the task definition
does not have refused as Terminal without a retry loop.

docs/aws-facts.md, ECS: Service Connect is read from the PRIMARY deployment, never the top level;
every UpdateService with serviceConnectConfiguration or serviceRegistries starts a new deployment;
desiredCount belongs to autoscaling.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from e2e_support import (
    DISCOVERIES,
    FINALIZER,
    JSON,
    NAMESPACES,
    SWEEP_SECONDS,
    Kubectl,
    StartOperator,
    condition,
    example,
    holds_over_sweeps,
    is_condition,
    ready_and_synced,
    wait_for,
)

from sd_devkit.emulator import Emulator, client
from sd_devkit.emulator.seed import CLUSTER, DEMO_SERVICES, seed_demo_ecs
from support import calls_since, mutating_calls

REGION = "us-east-1"
AWS_NAMESPACE = "myapp.local"
SEEDED_DESIRED_COUNT = 2  # seed_demo_ecs creates every service with desiredCount 2
UPDATE_SERVICE = "ecs:UpdateService"
DESCRIBE_SERVICES = "ecs:DescribeServices"
DELETE_CLOUD_MAP_SERVICE = "servicediscovery:DeleteService"
SC_ENABLED_FIELD = "ecs.serviceConnect.enabled"
# Found and corrected by the periodic sweep: a few intervals at most (as in test_lifecycle).
DRIFT_DEADLINE = 4 * SWEEP_SECONDS + 10
FAST_SWEEP = SWEEP_SECONDS  # --sweep-seconds for the tests that count sweeps
# An unchanged spec over this many sweeps: their starts span at least 6 x 0.9 intervals (the
# sweep's jitter), more than the heartbeat's window of 5 intervals, so lastObservedTime moves.
SWEEPS = 7


# fixtures ------------------------------------------------------------------------------------


@pytest.fixture
def ecs(emulator: Emulator) -> Any:
    """The demo ECS world seeded into the (freshly reset) emulator; a boto3 ECS client on it."""
    seed_demo_ecs(emulator.endpoint_url, REGION)
    return client("ecs", emulator.endpoint_url, REGION)


# AWS, as the test sees it --------------------------------------------------------------------


def ecs_service(ecs: Any, name: str) -> JSON:
    response = ecs.describe_services(cluster=CLUSTER, services=[name])
    assert not response.get("failures"), response["failures"]
    (service,) = response["services"]
    assert service["status"] == "ACTIVE", service["status"]
    return dict(service)


def primary(service: JSON) -> JSON:
    (found,) = [d for d in service.get("deployments", []) if d.get("status") == "PRIMARY"]
    return dict(found)


def service_connect(service: JSON) -> JSON | None:
    """The PRIMARY deployment's serviceConnectConfiguration (docs/aws-facts.md, ECS: not the top
    level); absent or `enabled: false` is None (Service Connect off)."""
    sc = primary(service).get("serviceConnectConfiguration")
    return dict(sc) if sc and sc.get("enabled") else None


def cloud_map_service(sd: Any, service_id: str) -> JSON | None:
    try:
        found: JSON = sd.get_service(Id=service_id)["Service"]
    except sd.exceptions.ServiceNotFound:
        return None
    return found


def deployments(emulator: Emulator, service: str) -> int:
    return emulator.deployments(CLUSTER, service, REGION)


# the manifests -------------------------------------------------------------------------------


def declared_ecs(name: str, namespace: str) -> JSON:
    """spec.ecs of examples/myapp/<name>.yaml, as the test expects to find it in ECS."""
    ecs_spec: JSON = example(name, namespace, keep_ecs=True)["spec"]["ecs"]
    return ecs_spec


def create_stack(
    kubectl: Kubectl,
    namespace: str,
    names: tuple[str, ...] = ("user-service", "payment-service"),
    **spec_changes: Any,
) -> tuple[JSON, dict[str, JSON]]:
    """The examples' namespace and full ServiceDiscovery manifests (spec.ecs kept) in
    `namespace`, waited Ready and Synced."""
    docs = [example("namespace", namespace)]
    docs += [example(n, namespace, keep_ecs=True, **spec_changes) for n in names]
    kubectl.apply(docs, namespace)
    cm = kubectl.wait_for_object(
        NAMESPACES, "myapp", namespace, ready_and_synced, "Ready and Synced"
    )
    objs = {
        n: kubectl.wait_for_object(DISCOVERIES, n, namespace, ready_and_synced, "Ready and Synced")
        for n in names
    }
    return cm, objs


def event_messages(kubectl: Kubectl, namespace: str, name: str, reason: str) -> list[str]:
    return [
        str(e.get("message")) for e in kubectl.events(namespace, name) if e.get("reason") == reason
    ]


def assert_service_connect_as_declared(sc: JSON | None, declared: JSON, namespace_arn: str) -> None:
    """Every field the manifest declares, in the PRIMARY deployment, as declared."""
    assert sc is not None, "no Service Connect configuration in the PRIMARY deployment"
    assert sc["enabled"] is True, sc
    assert sc.get("namespace") in (AWS_NAMESPACE, namespace_arn), sc
    wanted = declared["serviceConnect"]["services"]
    assert [s["portName"] for s in sc.get("services", [])] == [s["portName"] for s in wanted], sc
    for got, want in zip(sc["services"], wanted, strict=True):
        for key, value in want.items():
            assert got.get(key) == value, f"services[].{key}: {got.get(key)!r} != {value!r}"


def assert_registry_as_declared(service: JSON, declared: JSON, service_arn: str) -> None:
    registries = service.get("serviceRegistries") or []
    assert len(registries) == 1, registries
    (registry,) = registries
    assert registry["registryArn"] == service_arn, registry
    for key, value in declared["registry"].items():
        assert registry.get(key) == value, f"serviceRegistries[0].{key}: {registry}"


# tests ---------------------------------------------------------------------------------------


def test_create_with_service_connect(
    kubectl: Kubectl,
    namespace: str,
    start_operator: StartOperator,
    emulator: Emulator,
    ecs: Any,
    sd: Any,
) -> None:
    before = {name: deployments(emulator, name) for name in DEMO_SERVICES}
    assert before == dict.fromkeys(DEMO_SERVICES, 1), before
    start_operator()
    cm, objs = create_stack(kubectl, namespace)
    namespace_arn = cm["status"]["namespaceArn"]

    for name, obj in objs.items():
        declared = declared_ecs(name, namespace)
        status = obj["status"]
        for type_ in ("Drifted", "Terminal"):
            assert is_condition(obj, type_, "False"), condition(obj, type_)
        service = ecs_service(ecs, name)

        # Service Connect: in the PRIMARY deployment, as the manifest declares it
        assert_service_connect_as_declared(service_connect(service), declared, namespace_arn)
        # the registry: the resource's own Cloud Map service
        assert status.get("serviceArn"), status
        assert cloud_map_service(sd, status["serviceId"]) is not None
        assert_registry_as_declared(service, declared, status["serviceArn"])
        assert status.get("ecsServiceArn") == service["serviceArn"], status
        # only the discovery configuration changed: same count, one deployment started
        assert service["desiredCount"] == SEEDED_DESIRED_COUNT, service["desiredCount"]
        assert primary(service)["desiredCount"] == SEEDED_DESIRED_COUNT, primary(service)
        assert deployments(emulator, name) == 2, (
            f"{name}: {deployments(emulator, name) - 1} UpdateService deployments, expected 1"
        )

    # the payment service's TLS and timeouts, spelled out
    payment_sc = service_connect(ecs_service(ecs, "payment-service"))
    assert payment_sc is not None
    (payments,) = payment_sc["services"]
    assert payments["timeout"] == {"idleTimeoutSeconds": 120, "perRequestTimeoutSeconds": 15}
    assert payments["tls"]["issuerCertificateAuthority"]["awsPcaAuthorityArn"].startswith(
        "arn:aws:acm-pca:"
    ), payments["tls"]
    assert payments["tls"]["roleArn"].endswith(":role/ecs-service-connect-tls"), payments["tls"]
    assert payments["clientAliases"] == [{"port": 443, "dnsName": "payments-api"}], payments
    assert emulator.calls().get(UPDATE_SERVICE) == len(DEMO_SERVICES), emulator.calls()


def test_out_of_band_disable_is_corrected(
    kubectl: Kubectl,
    namespace: str,
    start_operator: StartOperator,
    emulator: Emulator,
    ecs: Any,
) -> None:
    op = start_operator()
    cm, objs = create_stack(kubectl, namespace, ("user-service",))
    obj = objs["user-service"]
    generation = obj["metadata"]["generation"]
    declared = declared_ecs("user-service", namespace)
    assert service_connect(ecs_service(ecs, "user-service")) is not None
    before = emulator.calls()

    # what someone in the console would do: turn Service Connect off
    ecs.update_service(
        cluster=CLUSTER, service="user-service", serviceConnectConfiguration={"enabled": False}
    )
    assert service_connect(ecs_service(ecs, "user-service")) is None
    started = time.monotonic()

    def restored() -> JSON | None:
        if service_connect(ecs_service(ecs, "user-service")) is None:
            return None
        current = kubectl.get(DISCOVERIES, "user-service", namespace) or {}
        drift = (current.get("status") or {}).get("drift") or []
        return current if any(e.get("field") == SC_ENABLED_FIELD for e in drift) else None

    obj = wait_for(restored, "Service Connect restored and the drift recorded", timeout=60)
    took = time.monotonic() - started
    assert took <= DRIFT_DEADLINE, f"restored after {took:.1f}s (sweep {SWEEP_SECONDS}s)"

    service = ecs_service(ecs, "user-service")
    assert_service_connect_as_declared(
        service_connect(service), declared, cm["status"]["namespaceArn"]
    )
    assert_registry_as_declared(service, declared, obj["status"]["serviceArn"])
    assert service["desiredCount"] == SEEDED_DESIRED_COUNT, service["desiredCount"]
    (entry,) = [e for e in obj["status"]["drift"] if e["field"] == SC_ENABLED_FIELD]
    assert (entry["desired"], entry["observed"], entry["action"]) == (True, False, "Corrected")
    assert entry.get("detectedAt"), entry
    assert obj["metadata"]["generation"] == generation, "correcting drift must not touch spec"

    obj = kubectl.wait_for_object(
        DISCOVERIES, "user-service", namespace, ready_and_synced, "Ready and Synced again"
    )
    drifted = condition(obj, "Drifted")
    assert drifted is not None
    assert (drifted["status"], drifted["reason"]) == ("False", "Corrected"), drifted
    warnings = wait_for(
        lambda: event_messages(kubectl, namespace, "user-service", "DriftDetected"),
        "a DriftDetected event",
        timeout=15,
    )
    assert any(SC_ENABLED_FIELD in m for m in warnings), warnings

    # corrected once: the test's UpdateService and one from the operator, none after that
    holds_over_sweeps(
        op,
        lambda: calls_since(emulator, before).get(UPDATE_SERVICE, 0) == 2,
        "exactly one corrective UpdateService",
        sweeps=2,
    )
    assert service_connect(ecs_service(ecs, "user-service")) is not None


def test_unchanged_spec_sends_no_update_over_many_sweeps(
    kubectl: Kubectl,
    namespace: str,
    start_operator: StartOperator,
    emulator: Emulator,
    ecs: Any,
) -> None:
    op = start_operator("op", "--sweep-seconds", str(FAST_SWEEP))
    _, objs = create_stack(kubectl, namespace)
    emulator.reset_calls()
    counts = {name: deployments(emulator, name) for name in objs}
    observed = {name: obj["status"]["lastObservedTime"] for name, obj in objs.items()}

    holds_over_sweeps(
        op, lambda: not emulator.calls().get(UPDATE_SERVICE), "no UpdateService", sweeps=SWEEPS
    )

    calls = emulator.calls()
    # the sweeps happened: every ServiceDiscovery looked at its ECS service again
    assert calls.get(DESCRIBE_SERVICES, 0) >= 2 * len(objs), calls
    for name in objs:
        obj = kubectl.get(DISCOVERIES, name, namespace)
        assert obj is not None
        assert obj["status"]["lastObservedTime"] != observed[name], (
            f"{name} was not swept in {SWEEPS} sweeps of {FAST_SWEEP}s"
        )
        assert ready_and_synced(obj), obj["status"]
        assert not obj["status"].get("drift"), obj["status"]["drift"]
    # ... and changed nothing
    assert calls.get(UPDATE_SERVICE, 0) == 0, calls
    assert not mutating_calls(calls), calls
    assert {name: deployments(emulator, name) for name in objs} == counts


def test_delete_removes_ecs_discovery_before_cloud_map_service(
    kubectl: Kubectl,
    namespace: str,
    start_operator: StartOperator,
    emulator: Emulator,
    ecs: Any,
    sd: Any,
) -> None:
    start_operator()
    _, objs = create_stack(kubectl, namespace, ("user-service",), deletionPolicy="Delete")
    status = objs["user-service"]["status"]
    service_id = status["serviceId"]
    count = deployments(emulator, "user-service")
    # docs/aws-facts.md, Deletion order: DeleteService fails with ResourceInUse while instances
    # exist (ECS tasks
    # registered through serviceRegistries). Holding it so keeps the Cloud Map service here
    # long enough to see what the operator did to ECS before asking to delete it.
    emulator.inject(DELETE_CLOUD_MAP_SERVICE, error="ResourceInUse")
    before = emulator.calls()

    kubectl.delete(DISCOVERIES, "user-service", namespace)
    wait_for(
        lambda: calls_since(emulator, before).get(DELETE_CLOUD_MAP_SERVICE, 0) >= 1,
        "the operator to ask for the Cloud Map service's deletion",
    )
    service = ecs_service(ecs, "user-service")
    assert service_connect(service) is None, (
        "DeleteService (Cloud Map) sent while Service Connect was still on: "
        f"{primary(service).get('serviceConnectConfiguration')}"
    )
    assert "serviceConnectConfiguration" not in primary(service), primary(service)
    assert service.get("serviceRegistries") == [], service.get("serviceRegistries")
    assert calls_since(emulator, before).get(UPDATE_SERVICE) == 1, calls_since(emulator, before)
    assert cloud_map_service(sd, service_id) is not None
    deleting = kubectl.get(DISCOVERIES, "user-service", namespace)
    assert deleting is not None, "the finalizer let go while the Cloud Map service still exists"
    assert FINALIZER in deleting["metadata"]["finalizers"]

    emulator.clear_faults()
    kubectl.wait_gone(DISCOVERIES, "user-service", namespace)
    assert cloud_map_service(sd, service_id) is None
    made = calls_since(emulator, before)
    assert made.get(UPDATE_SERVICE) == 1, f"one UpdateService removes both: {made}"
    service = ecs_service(ecs, "user-service")  # never deleted: not the operator's
    assert service_connect(service) is None
    assert service.get("serviceRegistries") == []
    assert service["desiredCount"] == SEEDED_DESIRED_COUNT
    assert deployments(emulator, "user-service") == count + 1


def test_retain_leaves_ecs_service_alone(
    kubectl: Kubectl,
    namespace: str,
    start_operator: StartOperator,
    emulator: Emulator,
    ecs: Any,
    sd: Any,
) -> None:
    start_operator()
    _, objs = create_stack(kubectl, namespace, ("user-service",), deletionPolicy="Retain")
    status = objs["user-service"]["status"]
    service = ecs_service(ecs, "user-service")
    sc_before = service_connect(service)
    assert sc_before is not None
    registries_before = service["serviceRegistries"]
    assert registries_before, service
    count = deployments(emulator, "user-service")
    before = emulator.calls()

    kubectl.delete(DISCOVERIES, "user-service", namespace)
    kubectl.wait_gone(DISCOVERIES, "user-service", namespace)

    made = calls_since(emulator, before)
    assert not mutating_calls(made), f"deletionPolicy: Retain, yet AWS was changed: {made}"
    service = ecs_service(ecs, "user-service")
    assert service_connect(service) == sc_before
    assert service["serviceRegistries"] == registries_before
    assert service["serviceRegistries"][0]["registryArn"] == status["serviceArn"]
    assert service["desiredCount"] == SEEDED_DESIRED_COUNT
    assert deployments(emulator, "user-service") == count
    assert cloud_map_service(sd, status["serviceId"]) is not None


def test_unknown_port_name_is_terminal_without_update(
    kubectl: Kubectl,
    namespace: str,
    start_operator: StartOperator,
    emulator: Emulator,
    ecs: Any,
) -> None:
    op = start_operator("op", "--sweep-seconds", str(FAST_SWEEP))
    svc = example("user-service", namespace, keep_ecs=True)
    svc["spec"]["ecs"]["serviceConnect"]["services"][0]["portName"] = "grpc"
    assert "grpc" not in {port_name for _, port_name, _ in DEMO_SERVICES.values()}
    kubectl.apply([example("namespace", namespace), svc], namespace)

    obj = kubectl.wait_for_object(
        DISCOVERIES,
        "user-service",
        namespace,
        lambda o: (
            is_condition(o, "Terminal")
            and (o.get("status") or {}).get("observedGeneration") == o["metadata"]["generation"]
        ),
        "Terminal=True for the current generation",
    )
    terminal = condition(obj, "Terminal")
    assert terminal is not None
    assert "spec.ecs.serviceConnect.services[0].portName" in terminal["message"], terminal
    assert "grpc" in terminal["message"], terminal
    assert is_condition(obj, "Synced", "False"), condition(obj, "Synced")

    # several sweeps later: still refused, and ECS never asked to change
    holds_over_sweeps(
        op,
        lambda: is_condition(kubectl.get(DISCOVERIES, "user-service", namespace), "Terminal"),
        "Terminal=True",
        sweeps=4,
    )
    calls = emulator.calls()
    assert calls.get(UPDATE_SERVICE, 0) == 0, calls
    assert deployments(emulator, "user-service") == 1
    assert service_connect(ecs_service(ecs, "user-service")) is None
