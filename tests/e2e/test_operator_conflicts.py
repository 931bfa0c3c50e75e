"""Two resources declaring one AWS resource: the earlier one (creationTimestamp, then name)
manages it; the later one gets Ready=False, reason Conflict, naming the earlier one, and
changes nothing in AWS, not even when it is deleted."""

from __future__ import annotations

from typing import Any

from e2e_support import (
    DISCOVERIES,
    JSON,
    NAMESPACES,
    Kubectl,
    StartOperator,
    condition,
    example,
    ready_and_synced,
)

from sd_devkit.emulator import Emulator
from support import mutating_calls


def conflicted(obj: JSON) -> bool:
    ready = condition(obj, "Ready") or {}
    return ready.get("status") == "False" and ready.get("reason") == "Conflict"


def test_a_later_claimant_of_a_namespace_or_service_gets_a_conflict_and_changes_nothing(
    kubectl: Kubectl,
    namespace: str,
    start_operator: StartOperator,
    sd: Any,
    emulator: Emulator,
) -> None:
    start_operator()
    kubectl.apply([example("namespace", namespace), example("user-service", namespace)], namespace)
    kubectl.wait_for_object(NAMESPACES, "myapp", namespace, ready_and_synced, "Ready")
    first = kubectl.wait_for_object(
        DISCOVERIES, "user-service", namespace, ready_and_synced, "Ready"
    )
    service_id = first["status"]["serviceId"]
    emulator.reset_calls()

    twin_ns = example("namespace", namespace)
    twin_ns["metadata"]["name"] = "myapp-twin"
    twin_svc = example("user-service", namespace)
    twin_svc["metadata"]["name"] = "user-service-twin"
    twin_svc["spec"]["service"]["name"] = "user-service"
    kubectl.apply([twin_ns, twin_svc], namespace)

    ns_twin = kubectl.wait_for_object(NAMESPACES, "myapp-twin", namespace, conflicted, "Conflict")
    svc_twin = kubectl.wait_for_object(
        DISCOVERIES, "user-service-twin", namespace, conflicted, "Conflict"
    )
    ns_message = str((condition(ns_twin, "Ready") or {}).get("message"))
    svc_message = str((condition(svc_twin, "Ready") or {}).get("message"))
    assert f"CloudMapNamespace {namespace}/myapp (the earlier one)" in ns_message, ns_message
    assert "Cloud Map namespace myapp.local in us-east-1" in ns_message
    assert f"ServiceDiscovery {namespace}/user-service (the earlier one)" in svc_message
    assert "Cloud Map service user-service in namespace myapp.local" in svc_message
    assert (condition(svc_twin, "Stalled") or {}).get("status") == "True"
    assert not (svc_twin.get("status") or {}).get("serviceId")

    kubectl.delete(DISCOVERIES, "user-service-twin", namespace)
    kubectl.delete(NAMESPACES, "myapp-twin", namespace)
    kubectl.wait_gone(DISCOVERIES, "user-service-twin", namespace)
    kubectl.wait_gone(NAMESPACES, "myapp-twin", namespace)

    assert mutating_calls(emulator.calls()) == {}
    assert sd.get_service(Id=service_id)["Service"]["Name"] == "user-service"
    still = kubectl.wait_for_object(
        DISCOVERIES, "user-service", namespace, ready_and_synced, "still Ready"
    )
    assert still["status"]["serviceId"] == service_id
