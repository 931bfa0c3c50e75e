"""Hybrid EKS/ECS on the real API server: a Service's EndpointSlices (created by the test: no
controller-manager runs here) exported as Cloud Map instances, and Cloud Map instances imported
as a selectorless Service plus EndpointSlice (CloudMapImport)."""

from __future__ import annotations

from typing import Any

import pytest
from e2e_support import (
    DISCOVERIES,
    IMPORTS,
    JSON,
    SWEEP_SECONDS,
    Kubectl,
    StartOperator,
    condition,
    example,
    holds_over_sweeps,
    ready_and_synced,
    wait_for,
)

from sd_devkit.emulator import Emulator

OWNER = "sd-operator.io/owner"
SWEEPS = 3 * SWEEP_SECONDS + 5


def endpoint_slice(
    namespace: str, name: str, addresses: list[str], not_ready: tuple[str, ...] = ()
) -> JSON:
    return {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {
                "kubernetes.io/service-name": "payment-service",
                # what the EndpointSlice controller (not running here) labels its slices with
                "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io",
            },
        },
        "addressType": "IPv4",
        "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
        "endpoints": [
            {
                "addresses": [ip],
                "conditions": {"ready": ip not in not_ready},
                "targetRef": {"kind": "Pod", "name": f"pay-{ip.rsplit('.', 1)[1]}"},
            }
            for ip in addresses
        ],
    }


def instances(sd: Any, service_id: str) -> dict[str, dict[str, str]]:
    pages = sd.get_paginator("list_instances").paginate(ServiceId=service_id)
    return {i["Id"]: i["Attributes"] for page in pages for i in page["Instances"]}


def ours(sd: Any, service_id: str) -> dict[str, str]:
    """Our instances as address -> instance id."""
    return {
        a["AWS_INSTANCE_IPV4"]: iid for iid, a in instances(sd, service_id).items() if OWNER in a
    }


def health(sd: Any, service_id: str) -> dict[str, str]:
    return dict(sd.get_instances_health_status(ServiceId=service_id)["Status"])


def export_stack(kubectl: Kubectl, namespace: str, addresses: list[str]) -> JSON:
    """examples/myapp namespace + payment-service (custom health check) exporting the
    payment-service Service, its EndpointSlice created first."""
    kubectl.apply([endpoint_slice(namespace, "payment-service-a", addresses)], namespace)
    cm = example("namespace", namespace)
    svc = example(
        "payment-service",
        namespace,
        endpoints={"fromService": {"name": "payment-service", "port": "http"}},
    )
    kubectl.apply([cm, svc], namespace)
    return kubectl.wait_for_object(
        DISCOVERIES, "payment-service", namespace, ready_and_synced, "Ready and Synced"
    )


@pytest.mark.long
def test_endpoints_are_exported_followed_and_cleaned_up(
    kubectl: Kubectl, namespace: str, start_operator: StartOperator, sd: Any, emulator: Emulator
) -> None:
    operator = start_operator()
    ips = [f"10.0.0.{i}" for i in range(1, 5)]
    obj = export_stack(kubectl, namespace, ips)
    service_id = obj["status"]["serviceId"]
    wait_for(lambda: sorted(ours(sd, service_id)) == ips, "4 endpoints as instances")
    attributes = instances(sd, service_id)[ours(sd, service_id)["10.0.0.1"]]
    assert attributes["AWS_INSTANCE_PORT"] == "8080"
    assert attributes["sd-operator.io/cluster"] == "e2e"
    assert attributes["sd-operator.io/namespace"] == namespace
    assert attributes["sd-operator.io/pod"] == "pay-1"
    assert attributes[OWNER] == f"ServiceDiscovery/{namespace}/payment-service"

    # an ECS task registered by ECS itself in the same service
    op = sd.register_instance(
        ServiceId=service_id, InstanceId="ecs-task-1", Attributes={"AWS_INSTANCE_IPV4": "10.9.0.1"}
    )["OperationId"]
    wait_for(lambda: sd.get_operation(OperationId=op)["Operation"]["Status"] == "SUCCESS", "ecs")

    # scale down: two endpoints leave; the slice change alone brings Cloud Map along
    kubectl.apply([endpoint_slice(namespace, "payment-service-a", ips[:2])], namespace)
    wait_for(lambda: sorted(ours(sd, service_id)) == ips[:2], "scale-down deregistered")
    assert "ecs-task-1" in instances(sd, service_id)

    # not ready: with a custom health check the instance stays, UNHEALTHY
    kubectl.apply(
        [endpoint_slice(namespace, "payment-service-a", ips[:2], not_ready=("10.0.0.2",))],
        namespace,
    )
    second = ours(sd, service_id)["10.0.0.2"]
    wait_for(lambda: health(sd, service_id).get(second) == "UNHEALTHY", "not-ready unhealthy")
    assert health(sd, service_id)[ours(sd, service_id)["10.0.0.1"]] == "HEALTHY"
    assert health(sd, service_id)["ecs-task-1"] == "HEALTHY"

    # nothing changes: several sweeps, no instance call at all
    wait_for(
        lambda: (
            (kubectl.get(DISCOVERIES, "payment-service", namespace) or {})
            .get("status", {})
            .get("endpoints", {})
            .get("unhealthy")
            == 1
        ),
        "status.endpoints counts the unhealthy instance",
    )
    before = emulator.calls()
    holds_over_sweeps(
        operator,
        lambda: (
            not any(
                emulator.calls().get(api, 0) != before.get(api, 0)
                for api in (
                    "servicediscovery:RegisterInstance",
                    "servicediscovery:DeregisterInstance",
                    "servicediscovery:UpdateInstanceCustomHealthStatus",
                )
            )
        ),
        "no instance call while nothing changes",
        sweeps=3,
    )

    # delete: our instances go, ECS's task stays, so the service is kept (ResourceInUse)
    kubectl.delete(DISCOVERIES, "payment-service", namespace)
    wait_for(lambda: ours(sd, service_id) == {}, "our instances deregistered on delete")
    assert set(instances(sd, service_id)) == {"ecs-task-1"}
    kubectl.wait_for_object(
        DISCOVERIES,
        "payment-service",
        namespace,
        lambda o: "ServiceInUse" in str(condition(o, "Synced")),
        "kept while the ECS task is registered",
    )
    sd.deregister_instance(ServiceId=service_id, InstanceId="ecs-task-1")
    kubectl.wait_gone(DISCOVERIES, "payment-service", namespace, timeout=120)
    assert sd.list_services()["Services"] == []


def test_not_ready_endpoints_leave_without_custom_health_and_retain_keeps_them(
    kubectl: Kubectl, namespace: str, start_operator: StartOperator, sd: Any
) -> None:
    start_operator()
    kubectl.apply(
        [endpoint_slice(namespace, "payment-service-a", ["10.0.1.1", "10.0.1.2"])], namespace
    )
    cm = example("namespace", namespace)
    svc = example(
        "payment-service",
        namespace,
        deletionPolicy="Retain",
        endpoints={"fromService": {"name": "payment-service"}},
    )
    svc["spec"]["service"].pop("healthCheck")
    kubectl.apply([cm, svc], namespace)
    obj = kubectl.wait_for_object(
        DISCOVERIES, "payment-service", namespace, ready_and_synced, "Ready and Synced"
    )
    service_id = obj["status"]["serviceId"]
    wait_for(lambda: sorted(ours(sd, service_id)) == ["10.0.1.1", "10.0.1.2"], "exported")
    kubectl.apply(
        [
            endpoint_slice(
                namespace, "payment-service-a", ["10.0.1.1", "10.0.1.2"], not_ready=("10.0.1.1",)
            )
        ],
        namespace,
    )
    wait_for(lambda: sorted(ours(sd, service_id)) == ["10.0.1.2"], "not-ready deregistered")
    kubectl.delete(DISCOVERIES, "payment-service", namespace)
    kubectl.wait_gone(DISCOVERIES, "payment-service", namespace)
    assert sorted(ours(sd, service_id)) == ["10.0.1.2"]


def slice_addresses(kubectl: Kubectl, namespace: str, name: str) -> list[str] | None:
    obj = kubectl.get("endpointslices.discovery.k8s.io", name, namespace)
    if obj is None:
        return None
    return sorted(a for ep in obj.get("endpoints") or [] for a in ep["addresses"])


def test_import_follows_the_healthy_instances_and_is_cleaned_up(
    kubectl: Kubectl, namespace: str, start_operator: StartOperator, sd: Any
) -> None:
    operator = start_operator()
    # the ECS side, as ECS Service Connect leaves it: an API-only service with custom health
    op = sd.create_http_namespace(Name="ecs-apps")["OperationId"]
    wait_for(lambda: sd.get_operation(OperationId=op)["Operation"]["Status"] == "SUCCESS", "ns")
    ns_id = sd.get_operation(OperationId=op)["Operation"]["Targets"]["NAMESPACE"]
    service_id = sd.create_service(
        Name="user-service", NamespaceId=ns_id, HealthCheckCustomConfig={}
    )["Service"]["Id"]
    for task, ip in (("t1", "10.1.0.1"), ("t2", "10.1.0.2"), ("t3", "10.1.0.3")):
        sd.register_instance(
            ServiceId=service_id,
            InstanceId=task,
            Attributes={"AWS_INSTANCE_IPV4": ip, "AWS_INSTANCE_PORT": "3000"},
        )
    sd.update_instance_custom_health_status(
        ServiceId=service_id, InstanceId="t3", Status="UNHEALTHY"
    )

    kubectl.apply(
        [
            {
                "apiVersion": "sd-operator.io/v1alpha1",
                "kind": "CloudMapImport",
                "metadata": {"name": "user-service", "namespace": namespace},
                "spec": {"cloudMapNamespace": {"name": "ecs-apps"}, "port": 80},
            }
        ],
        namespace,
    )
    slice_name = "user-service-ipv4-3000"
    wait_for(
        lambda: slice_addresses(kubectl, namespace, slice_name) == ["10.1.0.1", "10.1.0.2"],
        "the healthy instances in the EndpointSlice",
    )
    service = kubectl.get("service", "user-service", namespace)
    assert service is not None
    assert "selector" not in service["spec"]
    assert service["spec"]["ports"][0]["port"] == 80
    assert service["metadata"]["ownerReferences"][0]["kind"] == "CloudMapImport"
    obj = kubectl.wait_for_object(
        IMPORTS,
        "user-service",
        namespace,
        lambda o: condition(o, "Ready") is not None and condition(o, "Ready")["status"] == "True",
        "Ready",
    )
    assert obj["status"]["endpoints"] == 2
    assert obj["status"]["apiOnly"] is True

    # on demand: health changes, then an annotation asks for a refresh
    sd.update_instance_custom_health_status(ServiceId=service_id, InstanceId="t3", Status="HEALTHY")
    sd.update_instance_custom_health_status(
        ServiceId=service_id, InstanceId="t1", Status="UNHEALTHY"
    )
    updates = operator.log_text().count("Updating is processed")
    kubectl.run("annotate", IMPORTS, "user-service", "-n", namespace, "refresh.sd-operator.io/at=1")
    wait_for(
        lambda: slice_addresses(kubectl, namespace, slice_name) == ["10.1.0.2", "10.1.0.3"],
        "the refreshed EndpointSlice",
        timeout=SWEEP_SECONDS + 20,
    )
    # the annotation itself ran the import's update handler, not only the next sweep
    wait_for(
        lambda: operator.log_text().count("Updating is processed") > updates,
        "an update handler run for the annotation",
    )

    # on the sweep: a task leaves
    sd.deregister_instance(ServiceId=service_id, InstanceId="t2")
    wait_for(
        lambda: slice_addresses(kubectl, namespace, slice_name) == ["10.1.0.3"],
        "the sweep to follow a deregistration",
        timeout=SWEEPS,
    )

    kubectl.delete(IMPORTS, "user-service", namespace)
    kubectl.wait_gone(IMPORTS, "user-service", namespace)
    wait_for(lambda: kubectl.get("service", "user-service", namespace) is None, "Service gone")
    assert slice_addresses(kubectl, namespace, slice_name) is None
