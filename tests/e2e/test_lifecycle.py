"""The operator as its own process against the local control plane and the AWS emulator:
create, status, printer columns, spec update, drift (Correct and Report), deletion with the
finalizer, deletionPolicy Retain, and a namespace that exists in AWS but is not ours."""

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

from sd_devkit.emulator import Emulator
from support import calls_since, mutating_calls

AWS_NAME = "myapp.local"
VPC = "vpc-0a1b2c3d4e5f60718"
TTL_FIELD = "service.dns.records[0].ttl"
OWNER_TAG = "sd-operator.io/owner"
CLUSTER_TAG = "sd-operator.io/cluster"
# A drift must be found and corrected by the periodic sweep: a few intervals at most (the
# timer runs every SWEEP_SECONDS once the object has been idle as long).
DRIFT_DEADLINE = 4 * SWEEP_SECONDS + 10


# AWS, as the test sees it ----------------------------------------------------------------------


def aws_namespaces(sd: Any, name: str = AWS_NAME) -> list[JSON]:
    pages = sd.get_paginator("list_namespaces").paginate()
    return [ns for page in pages for ns in page["Namespaces"] if ns["Name"] == name]


def aws_services(sd: Any, namespace_id: str) -> list[JSON]:
    pages = sd.get_paginator("list_services").paginate(
        Filters=[{"Name": "NAMESPACE_ID", "Values": [namespace_id], "Condition": "EQ"}]
    )
    return [s for page in pages for s in page["Services"]]


def aws_service(sd: Any, service_id: str) -> JSON | None:
    try:
        service: JSON = sd.get_service(Id=service_id)["Service"]
    except sd.exceptions.ServiceNotFound:
        return None
    return service


def aws_tags(sd: Any, arn: str) -> dict[str, str]:
    tags = sd.list_tags_for_resource(ResourceARN=arn)["Tags"]
    return {t["Key"]: t["Value"] for t in tags}


def ttl(service: JSON) -> int:
    records = service["DnsConfig"]["DnsRecords"]
    assert len(records) == 1, records
    return int(records[0]["TTL"])


def change_ttl_out_of_band(sd: Any, service: JSON, value: int) -> None:
    """What someone in the console would do: UpdateService with another TTL."""
    op = sd.update_service(
        Id=service["Id"],
        Service={
            "Description": service.get("Description", ""),
            "DnsConfig": {"DnsRecords": [{"Type": "A", "TTL": value}]},
        },
    )["OperationId"]
    wait_for(
        lambda: sd.get_operation(OperationId=op)["Operation"]["Status"] == "SUCCESS",
        f"out-of-band UpdateService {op}",
    )
    assert ttl(sd.get_service(Id=service["Id"])["Service"]) == value


# Kubernetes helpers --------------------------------------------------------------------------


def reasons(kubectl: Kubectl, namespace: str, name: str) -> list[str]:
    return [str(e.get("reason")) for e in kubectl.events(namespace, name)]


def event_messages(kubectl: Kubectl, namespace: str, name: str, reason: str) -> list[str]:
    return [
        str(e.get("message")) for e in kubectl.events(namespace, name) if e.get("reason") == reason
    ]


def create_stack(
    kubectl: Kubectl,
    namespace: str,
    *,
    namespace_spec: dict[str, Any] | None = None,
    service_spec: dict[str, Any] | None = None,
) -> tuple[JSON, JSON]:
    """examples/myapp namespace + user-service in `namespace`, waited Ready and Synced."""
    cm = example("namespace", namespace, **(namespace_spec or {}))
    svc = example("user-service", namespace, **(service_spec or {}))
    kubectl.apply([cm, svc], namespace)
    cm_obj = kubectl.wait_for_object(
        NAMESPACES, "myapp", namespace, ready_and_synced, "Ready and Synced"
    )
    svc_obj = kubectl.wait_for_object(
        DISCOVERIES, "user-service", namespace, ready_and_synced, "Ready and Synced"
    )
    return cm_obj, svc_obj


# tests ---------------------------------------------------------------------------------------


def test_create_reaches_aws_and_status(
    kubectl: Kubectl, namespace: str, start_operator: StartOperator, sd: Any
) -> None:
    start_operator()
    cm, svc = create_stack(kubectl, namespace)

    # the namespace: in AWS once, tagged as ours, its id in status
    (aws_ns,) = aws_namespaces(sd)
    assert aws_ns["Type"] == "DNS_PRIVATE"
    status = cm["status"]
    assert status["observedGeneration"] == cm["metadata"]["generation"]
    assert status["namespaceId"] == aws_ns["Id"]
    assert not status.get("operation"), status
    assert FINALIZER in cm["metadata"].get("finalizers", [])
    full_ns = sd.get_namespace(Id=aws_ns["Id"])["Namespace"]
    assert full_ns["Description"] == "shared by the payments services"
    tags = aws_tags(sd, aws_ns["Arn"])
    assert tags.get("team") == "payments"
    assert tags.get(CLUSTER_TAG) == "e2e"
    assert OWNER_TAG in tags
    for type_ in ("Drifted", "Terminal", "Advisory"):
        assert is_condition(cm, type_, "False"), condition(cm, type_)

    # the service: in AWS once, in that namespace, as the spec says
    (listed,) = aws_services(sd, aws_ns["Id"])
    status = svc["status"]
    assert status["observedGeneration"] == svc["metadata"]["generation"]
    assert status["serviceId"] == listed["Id"]
    assert status["serviceArn"] == listed["Arn"]
    assert status["namespaceId"] == aws_ns["Id"]
    assert FINALIZER in svc["metadata"].get("finalizers", [])
    service = sd.get_service(Id=listed["Id"])["Service"]
    assert service["Name"] == "user-service"
    assert service["NamespaceId"] == aws_ns["Id"]
    assert service["Description"] == "user accounts API"
    assert service["DnsConfig"]["RoutingPolicy"] == "MULTIVALUE"
    assert service["DnsConfig"]["DnsRecords"] == [{"Type": "A", "TTL": 10}]
    assert "HealthCheckCustomConfig" in service
    assert aws_tags(sd, listed["Arn"]).get(CLUSTER_TAG) == "e2e"
    for type_ in ("Drifted", "Terminal", "Advisory"):
        assert is_condition(svc, type_, "False"), condition(svc, type_)

    # events tell what was done in AWS
    assert "AwsChanged" in reasons(kubectl, namespace, "myapp")
    assert "AwsChanged" in reasons(kubectl, namespace, "user-service")

    # printer columns
    table = kubectl.run("get", "servicediscoveries", "-n", namespace).stdout.splitlines()
    header, row = table[0].split(), table[1].split()
    for column in ("READY", "SYNCED", "DRIFT"):
        assert column in header, table
    assert row[0] == "user-service"
    shown = dict(zip(header, row, strict=False))
    assert (shown["READY"], shown["SYNCED"], shown["DRIFT"]) == ("True", "True", "False"), table


def test_spec_change_updates_aws(
    kubectl: Kubectl,
    namespace: str,
    start_operator: StartOperator,
    sd: Any,
    emulator: Emulator,
) -> None:
    start_operator()
    _, svc = create_stack(kubectl, namespace)
    service_id = svc["status"]["serviceId"]
    generation = svc["metadata"]["generation"]
    before = emulator.calls()

    changed = example("user-service", namespace)
    changed["spec"]["service"]["dns"]["records"][0]["ttl"] = 30
    kubectl.apply(changed, namespace)
    svc = kubectl.wait_for_object(
        DISCOVERIES,
        "user-service",
        namespace,
        lambda o: o["metadata"]["generation"] > generation and ready_and_synced(o),
        "Synced for the new generation",
    )
    assert svc["status"]["observedGeneration"] == generation + 1
    service = aws_service(sd, service_id)
    assert service is not None
    assert ttl(service) == 30
    assert svc["status"]["serviceId"] == service_id, "updated in place, not replaced"
    made = calls_since(emulator, before)
    assert made.get("servicediscovery:UpdateService", 0) >= 1, made
    assert not made.get("servicediscovery:CreateService"), made
    assert not made.get("servicediscovery:DeleteService"), made
    assert is_condition(svc, "Drifted", "False"), "a spec change is not drift"
    assert not svc["status"].get("drift"), svc["status"]
    messages = event_messages(kubectl, namespace, "user-service", "AwsChanged")
    assert any("UpdateService" in m or "update" in m.lower() for m in messages), messages


def test_out_of_band_change_is_corrected(
    kubectl: Kubectl, namespace: str, start_operator: StartOperator, sd: Any
) -> None:
    start_operator()
    _, svc = create_stack(kubectl, namespace)
    service_id = svc["status"]["serviceId"]
    generation = svc["metadata"]["generation"]
    service = sd.get_service(Id=service_id)["Service"]

    change_ttl_out_of_band(sd, service, 300)
    started = time.monotonic()

    def corrected() -> JSON | None:
        current = aws_service(sd, service_id)
        if current is None or ttl(current) != 10:
            return None
        obj = kubectl.get(DISCOVERIES, "user-service", namespace)
        drift = ((obj or {}).get("status") or {}).get("drift") or []
        return obj if drift else None

    svc = wait_for(corrected, "the TTL drift to be corrected and recorded", timeout=60)
    took = time.monotonic() - started
    assert took <= DRIFT_DEADLINE, f"drift corrected after {took:.1f}s (sweep {SWEEP_SECONDS}s)"

    entry = svc["status"]["drift"][-1]
    assert entry["field"] == TTL_FIELD, entry
    assert (entry["desired"], entry["observed"], entry["action"]) == (10, 300, "Corrected")
    assert entry.get("detectedAt"), entry
    assert svc["metadata"]["generation"] == generation, "correcting drift must not touch spec"
    svc = kubectl.wait_for_object(
        DISCOVERIES, "user-service", namespace, ready_and_synced, "Ready and Synced again"
    )
    drifted = condition(svc, "Drifted")
    assert drifted is not None
    assert drifted["status"] == "False", drifted
    assert drifted["reason"] == "Corrected", drifted
    warnings = wait_for(
        lambda: event_messages(kubectl, namespace, "user-service", "DriftDetected"),
        "a DriftDetected event",
        timeout=15,
    )
    assert any(TTL_FIELD in m and "300" in m for m in warnings), warnings
    assert ttl(sd.get_service(Id=service_id)["Service"]) == 10


def test_drift_report_records_without_correcting(
    kubectl: Kubectl,
    namespace: str,
    start_operator: StartOperator,
    sd: Any,
    emulator: Emulator,
) -> None:
    op = start_operator()
    _, svc = create_stack(kubectl, namespace, service_spec={"driftPolicy": "Report"})
    service_id = svc["status"]["serviceId"]
    service = sd.get_service(Id=service_id)["Service"]

    change_ttl_out_of_band(sd, service, 300)
    before = emulator.calls()
    svc = kubectl.wait_for_object(
        DISCOVERIES,
        "user-service",
        namespace,
        lambda o: is_condition(o, "Drifted") and bool((o.get("status") or {}).get("drift")),
        "Drifted=True with the drift recorded",
        timeout=DRIFT_DEADLINE,
    )
    entry = svc["status"]["drift"][-1]
    assert entry["field"] == TTL_FIELD, entry
    assert (entry["desired"], entry["observed"], entry["action"]) == (10, 300, "Reported")
    drifted = condition(svc, "Drifted")
    assert drifted is not None
    assert drifted["reason"] == "DriftReported", drifted
    # AWS no longer equals the spec and the operator will not change that: a person must
    assert is_condition(svc, "Ready", "False"), condition(svc, "Ready")
    assert is_condition(svc, "Stalled"), condition(svc, "Stalled")

    # several more sweeps: still reported, never corrected
    holds_over_sweeps(
        op,
        lambda: ttl(sd.get_service(Id=service_id)["Service"]) == 300,
        "AWS to keep the out-of-band TTL",
        sweeps=3,
    )
    made = calls_since(emulator, before)
    assert not mutating_calls(made), f"driftPolicy: Report, yet the operator changed AWS: {made}"
    svc = kubectl.wait_for_object(DISCOVERIES, "user-service", namespace, bool, "to exist")
    assert is_condition(svc, "Drifted"), condition(svc, "Drifted")
    assert all(e["action"] == "Reported" for e in svc["status"]["drift"]), svc["status"]["drift"]
    warnings = event_messages(kubectl, namespace, "user-service", "DriftDetected")
    assert any(TTL_FIELD in m for m in warnings), warnings


def test_delete_waits_for_aws_teardown(
    kubectl: Kubectl,
    namespace: str,
    start_operator: StartOperator,
    sd: Any,
    emulator: Emulator,
) -> None:
    start_operator()
    cm, svc = create_stack(kubectl, namespace)
    namespace_id = cm["status"]["namespaceId"]
    service_id = svc["status"]["serviceId"]

    # the service first: DeleteService is synchronous; the object goes only after it
    kubectl.delete(DISCOVERIES, "user-service", namespace)
    kubectl.wait_gone(DISCOVERIES, "user-service", namespace)
    assert aws_service(sd, service_id) is None, "ServiceDiscovery gone, its AWS service not"
    assert aws_services(sd, namespace_id) == []

    # then the namespace: DeleteNamespace is asynchronous, held in flight for a while; the
    # finalizer must keep the object until the operation has succeeded
    emulator.hold_operations(seconds=6)
    kubectl.delete(NAMESPACES, "myapp", namespace)
    deleting = kubectl.wait_for_object(
        NAMESPACES,
        "myapp",
        namespace,
        lambda o: (
            ((o.get("status") or {}).get("operation") or {}).get("type") == "DELETE_NAMESPACE"
        ),
        "the DeleteNamespace operation in status",
    )
    assert deleting["metadata"].get("deletionTimestamp")
    assert FINALIZER in deleting["metadata"]["finalizers"]
    operation_id = deleting["status"]["operation"]["id"]
    kubectl.wait_gone(NAMESPACES, "myapp", namespace)
    status = sd.get_operation(OperationId=operation_id)["Operation"]["Status"]
    assert status == "SUCCESS", f"finalizer removed while DeleteNamespace was {status}"
    assert aws_namespaces(sd) == []
    calls = emulator.calls()
    assert calls.get("servicediscovery:DeleteService") == 1, calls
    assert calls.get("servicediscovery:DeleteNamespace") == 1, calls


def test_retain_leaves_aws_alone(
    kubectl: Kubectl,
    namespace: str,
    start_operator: StartOperator,
    sd: Any,
    emulator: Emulator,
) -> None:
    start_operator()
    cm, svc = create_stack(
        kubectl,
        namespace,
        namespace_spec={"deletionPolicy": "Retain"},
        service_spec={"deletionPolicy": "Retain"},
    )
    before = emulator.calls()
    kubectl.delete(DISCOVERIES, "user-service", namespace)
    kubectl.delete(NAMESPACES, "myapp", namespace)
    kubectl.wait_gone(DISCOVERIES, "user-service", namespace)
    kubectl.wait_gone(NAMESPACES, "myapp", namespace)

    (aws_ns,) = aws_namespaces(sd)
    assert aws_ns["Id"] == cm["status"]["namespaceId"]
    service = aws_service(sd, svc["status"]["serviceId"])
    assert service is not None, "deletionPolicy: Retain, yet the service was deleted"
    assert ttl(service) == 10
    made = calls_since(emulator, before)
    assert not mutating_calls(made), f"deletionPolicy: Retain, yet AWS was changed: {made}"


def test_unowned_namespace_is_not_touched(
    kubectl: Kubectl,
    namespace: str,
    start_operator: StartOperator,
    sd: Any,
    emulator: Emulator,
) -> None:
    op = sd.create_private_dns_namespace(
        Name=AWS_NAME, Vpc=VPC, Description="made by hand", CreatorRequestId="by-hand"
    )["OperationId"]
    wait_for(
        lambda: sd.get_operation(OperationId=op)["Operation"]["Status"] == "SUCCESS",
        "the hand-made namespace",
    )
    (theirs,) = aws_namespaces(sd)
    before = emulator.calls()

    op = start_operator()
    kubectl.apply(example("namespace", namespace), namespace)
    cm = kubectl.wait_for_object(
        NAMESPACES,
        "myapp",
        namespace,
        lambda o: (
            is_condition(o, "Ready", "False")
            and (condition(o, "Ready") or {}).get("reason") == "AlreadyExists"
            and (o.get("status") or {}).get("observedGeneration") == o["metadata"]["generation"]
        ),
        "Ready=False, reason AlreadyExists",
    )
    ready = condition(cm, "Ready")
    assert ready is not None
    assert AWS_NAME in ready["message"], ready
    assert is_condition(cm, "Synced", "False"), condition(cm, "Synced")

    # a few sweeps later: still refused, and AWS untouched
    def still_refused() -> bool:
        obj = kubectl.get(NAMESPACES, "myapp", namespace)
        return (condition(obj, "Ready") or {}).get("reason") == "AlreadyExists"

    holds_over_sweeps(op, still_refused, "Ready reason AlreadyExists", sweeps=2)
    made = calls_since(emulator, before)
    assert not mutating_calls(made), f"an unowned namespace was changed: {made}"
    (after,) = aws_namespaces(sd)
    assert after["Id"] == theirs["Id"]
    assert sd.get_namespace(Id=theirs["Id"])["Namespace"]["Description"] == "made by hand"
    assert aws_tags(sd, theirs["Arn"]) == {}, "tags were added to an unowned namespace"


@pytest.mark.parametrize("kind", [NAMESPACES, DISCOVERIES])
def test_printer_columns_declared(kubectl: Kubectl, crds: list[str], kind: str) -> None:
    crd = kubectl.get("crd", kind)
    assert crd is not None
    (version,) = [v for v in crd["spec"]["versions"] if v["name"] == "v1alpha1"]
    columns = [c["name"] for c in version.get("additionalPrinterColumns", [])]
    for column in ("READY", "SYNCED", "DRIFT", "AGE"):
        assert column in columns, columns
