"""Observe-only resources and pause against the real API server and a running operator.

An observe-only stack over Cloud Map made by hand, with a TTL that differs from its spec: the
namespace is Ready, the service Stalled ObservedDifferent naming the field, and over three
sweeps nothing in AWS is written. A paused ServiceDiscovery (`sd-operator pause`) that is
deleted stays, its deletion retried without a single AWS call, until `sd-operator resume`:
then it is deleted, in AWS too."""

from __future__ import annotations

from typing import Any

from e2e_support import (
    DISCOVERIES,
    NAMESPACES,
    NO_SWEEP,
    Kubectl,
    StartOperator,
    condition,
    example,
    holds_until,
    is_condition,
    kube_cli,
)
from test_lifecycle import create_stack, ttl

from sd_devkit.emulator import Emulator
from support import calls_since, mutating_calls

VPC = "vpc-0a1b2c3d4e5f60718"
TTL_FIELD = "spec.service.dns.records[0].ttl"


def make_by_hand(sd: Any) -> str:
    """examples/myapp as someone made it in the console, but with a TTL of 300: the service id."""
    op = sd.create_private_dns_namespace(
        Name="myapp.local",
        Vpc=VPC,
        Description="shared by the payments services",
        Tags=[{"Key": "team", "Value": "payments"}],
    )
    operation = sd.get_operation(OperationId=op["OperationId"])["Operation"]
    service = sd.create_service(
        Name="user-service",
        NamespaceId=operation["Targets"]["NAMESPACE"],
        Description="user accounts API",
        DnsConfig={"RoutingPolicy": "MULTIVALUE", "DnsRecords": [{"Type": "A", "TTL": 300}]},
        HealthCheckCustomConfig={"FailureThreshold": 1},
    )
    return str(service["Service"]["Id"])


def test_an_observed_stack_never_writes_and_reports_what_differs(
    kubectl: Kubectl, namespace: str, start_operator: StartOperator, emulator: Emulator, sd: Any
) -> None:
    service_id = make_by_hand(sd)
    before = emulator.calls()
    op = start_operator("op")
    kubectl.apply(
        [
            example("namespace", namespace, managementPolicy="Observe"),
            example("user-service", namespace, managementPolicy="Observe"),
        ],
        namespace,
    )

    kubectl.wait_for_object(
        NAMESPACES, "myapp", namespace, lambda o: is_condition(o, "Ready"), "Ready"
    )
    svc = kubectl.wait_for_object(
        DISCOVERIES,
        "user-service",
        namespace,
        lambda o: (condition(o, "Stalled") or {}).get("reason") == "ObservedDifferent",
        "Stalled ObservedDifferent",
    )
    stalled = condition(svc, "Stalled")
    assert stalled is not None
    assert f"{TTL_FIELD}: desired 10, observed 300" in stalled["message"], stalled
    assert is_condition(svc, "Ready", "False")

    def unwritten() -> bool:
        return (
            mutating_calls(calls_since(emulator, before)) == {}
            and ttl(sd.get_service(Id=service_id)["Service"]) == 300
        )

    first = op.sweeps()
    holds_until(
        unwritten,
        "no write to AWS, the TTL as it was made",
        lambda: op.sweeps() - first > 3,
        "3 sweeps of the operator",
    )
    assert condition(kubectl.get(DISCOVERIES, "user-service", namespace), "Stalled") == stalled


def test_a_paused_deletion_waits_without_an_aws_call_until_resumed(
    kubectl: Kubectl, namespace: str, start_operator: StartOperator, emulator: Emulator, sd: Any
) -> None:
    op = start_operator("op", *NO_SWEEP)
    _, svc = create_stack(kubectl, namespace)
    service_id = svc["status"]["serviceId"]

    paused = kube_cli(kubectl, "pause", "sd", "user-service", "-n", namespace)
    assert paused.returncode == 0, paused.stderr
    kubectl.wait_for_object(
        DISCOVERIES, "user-service", namespace, lambda o: is_condition(o, "Paused"), "Paused"
    )
    before = emulator.calls()
    kubectl.delete(DISCOVERIES, "user-service", namespace)

    def deletes_tried() -> int:
        return sum(
            1
            for r in op.log_records()
            if "failed temporarily" in str(r.get("event", ""))
            and "Paused:" in str(r.get("event", ""))
        )

    # Each try of the delete handler that the pause turned away is the proof: two of them.
    holds_until(
        lambda: (
            calls_since(emulator, before) == {}
            and kubectl.get(DISCOVERIES, "user-service", namespace) is not None
        ),
        "no AWS call at all, the resource kept by its finalizer",
        lambda: deletes_tried() >= 2,
        "two tries of the paused deletion",
    )

    resumed = kube_cli(kubectl, "resume", "sd", "user-service", "-n", namespace)
    assert resumed.returncode == 0, resumed.stderr
    kubectl.wait_gone(DISCOVERIES, "user-service", namespace)
    services = sd.list_services()["Services"]
    assert service_id not in {s["Id"] for s in services}
