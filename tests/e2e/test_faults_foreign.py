"""What the operator does not own stays as it is: a namespace, a service and an instance made by
hand before the operator starts, a service made by hand inside the operator's namespace and an
instance registered by hand into one of its services. Deleting the operator's resources leaves
all of them; the operator's own service and namespace wait (ResourceInUse, as AWS would answer)
until their owner removes what is in the way, and then go. deletionPolicy: Retain leaves AWS
alone even when the operator is killed as the delete starts."""

from __future__ import annotations

import time
from typing import Any

import pytest
from e2e_support import (
    DISCOVERIES,
    NAMESPACES,
    Kubectl,
    StartOperator,
    condition,
    holds_until,
    wait_for,
)
from faults_support import (
    VPC,
    all_objects,
    all_ready,
    cloudmap_namespace,
    discovery,
    inventory,
    record,
    summary,
)

from sd_devkit.emulator import Emulator
from support import calls_since, mutating_calls, services_in

pytestmark = pytest.mark.faults

TIMEOUT = 240.0


def _done(sd: Any, operation_id: str) -> None:
    wait_for(
        lambda: sd.get_operation(OperationId=operation_id)["Operation"]["Status"] == "SUCCESS",
        f"operation {operation_id}",
    )


def _by_hand_namespace(sd: Any, name: str) -> str:
    op = sd.create_private_dns_namespace(Name=name, Vpc=VPC, CreatorRequestId=f"hand-{name}")
    _done(sd, op["OperationId"])
    found = sd.get_operation(OperationId=op["OperationId"])["Operation"]["Targets"]
    return str(found["NAMESPACE"])


def _by_hand_service(sd: Any, namespace_id: str, name: str) -> str:
    service = sd.create_service(
        Name=name,
        NamespaceId=namespace_id,
        CreatorRequestId=f"hand-{name}",
        DnsConfig={"DnsRecords": [{"Type": "A", "TTL": 60}]},
        HealthCheckCustomConfig={},
    )["Service"]
    return str(service["Id"])


def _register(sd: Any, service_id: str, instance_id: str) -> None:
    op = sd.register_instance(
        ServiceId=service_id,
        InstanceId=instance_id,
        Attributes={"AWS_INSTANCE_IPV4": "10.0.0.7", "owner": "someone-else"},
    )
    _done(sd, op["OperationId"])


def _state(sd: Any, namespace_id: str, service_id: str) -> dict[str, Any]:
    """Everything a foreign namespace and service are, as a console user would see them."""
    ns = sd.get_namespace(Id=namespace_id)["Namespace"]
    service = sd.get_service(Id=service_id)["Service"]
    return {
        "namespace": {k: ns.get(k) for k in ("Id", "Name", "Type", "Description", "Properties")},
        "namespace_tags": sd.list_tags_for_resource(ResourceARN=ns["Arn"])["Tags"],
        "service": {
            k: service.get(k) for k in ("Id", "Name", "DnsConfig", "HealthCheckCustomConfig")
        },
        "service_tags": sd.list_tags_for_resource(ResourceARN=service["Arn"])["Tags"],
        "instances": sd.list_instances(ServiceId=service_id)["Instances"],
    }


def _reason(obj: dict[str, Any] | None) -> str:
    ready = condition(obj, "Ready") or {}
    return f"{ready.get('reason')}: {ready.get('message')}"


@pytest.mark.timeout(3 * TIMEOUT)
@pytest.mark.long
def test_foreign_namespaces_services_and_instances_are_untouched(
    kubectl: Kubectl,
    namespace: str,
    start_operator: StartOperator,
    emulator: Emulator,
    sd: Any,
) -> None:
    # before the operator starts: someone else's namespace, service and instance
    foreign_ns = _by_hand_namespace(sd, "theirs.local")
    foreign_svc = _by_hand_service(sd, foreign_ns, "their-api")
    _register(sd, foreign_svc, "their-task-1")
    foreign_before = _state(sd, foreign_ns, foreign_svc)

    op = start_operator()
    stack = [cloudmap_namespace("shared", "ours.local")] + [
        discovery(f"svc-{i}", "shared") for i in range(3)
    ]
    kubectl.apply(stack, namespace)
    wait_for(lambda: all_ready(kubectl, namespace, len(stack)), "our stack Ready", timeout=TIMEOUT)
    cm = kubectl.get(NAMESPACES, "shared", namespace)
    svc1 = kubectl.get(DISCOVERIES, "svc-1", namespace)
    assert cm is not None
    assert svc1 is not None
    ours_ns = cm["status"]["namespaceId"]
    ours_svc1 = svc1["status"]["serviceId"]

    # after: a hand-made service in our namespace, a hand-registered instance in our service
    intruder = _by_hand_service(sd, ours_ns, "by-hand")
    _register(sd, ours_svc1, "hand-task-1")
    intruder_before = _state(sd, ours_ns, intruder)
    hand_instance = sd.list_instances(ServiceId=ours_svc1)["Instances"]

    kubectl.run("delete", f"{DISCOVERIES},{NAMESPACES}", "--all", "-n", namespace, "--wait=false")
    wait_for(
        lambda: (
            {o["metadata"]["name"] for o in all_objects(kubectl, namespace)} == {"shared", "svc-1"}
        ),
        "svc-0 and svc-2 gone; svc-1 and the namespace kept",
        timeout=TIMEOUT,
        describe=lambda: "\n".join(summary(o) for o in all_objects(kubectl, namespace)),
    )

    def held() -> bool:
        objs = {o["metadata"]["name"]: o for o in all_objects(kubectl, namespace)}
        return set(objs) == {"shared", "svc-1"}

    def refused() -> bool:
        """The operator has tried to delete both and AWS refused (ResourceInUse): they are held
        by what is in the way, not because their deletes have not been tried yet."""
        return all(
            any(r.get("outcome") == "Blocked" for r in op.reconciled(name))
            for name in ("svc-1", "shared")
        )

    holds_until(
        held,
        "svc-1 and the namespace held while others' things are in the way",
        refused,
        "the operator's deletes of both refused by AWS",
    )
    assert sd.list_instances(ServiceId=ours_svc1)["Instances"] == hand_instance
    assert _state(sd, ours_ns, intruder) == intruder_before
    assert _state(sd, foreign_ns, foreign_svc) == foreign_before
    svc1_reason = _reason(kubectl.get(DISCOVERIES, "svc-1", namespace))
    cm_reason = _reason(kubectl.get(NAMESPACES, "shared", namespace))

    # their owner removes them; the operator finishes its deletes
    released = time.monotonic()
    _done(
        sd,
        sd.deregister_instance(ServiceId=ours_svc1, InstanceId="hand-task-1")["OperationId"],
    )
    sd.delete_service(Id=intruder)
    wait_for(
        lambda: not all_objects(kubectl, namespace),
        "svc-1 and the namespace gone once nothing of others is in the way",
        timeout=TIMEOUT,
        describe=lambda: "\n".join(summary(o) for o in all_objects(kubectl, namespace)),
    )
    namespaces, services = inventory(sd)
    assert [n["Id"] for n in namespaces] == [foreign_ns]
    assert [s["Id"] for s in services] == [foreign_svc]
    assert _state(sd, foreign_ns, foreign_svc) == foreign_before
    record(
        "foreign-untouched",
        "round-0",
        resources=len(stack),
        foreign=["namespace", "service", "instance", "service in ours", "instance in ours"],
        blocked_service=svc1_reason,
        blocked_namespace=cm_reason,
        release_seconds=round(time.monotonic() - released, 1),
    )


@pytest.mark.timeout(2 * TIMEOUT)
def test_retain_leaves_aws_alone_across_a_kill(
    kubectl: Kubectl,
    namespace: str,
    start_operator: StartOperator,
    emulator: Emulator,
    sd: Any,
) -> None:
    op = start_operator()
    stack = [cloudmap_namespace("kept", "kept.local", deletionPolicy="Retain")] + [
        discovery(f"svc-{i}", "kept", deletionPolicy="Retain") for i in range(3)
    ]
    kubectl.apply(stack, namespace)
    wait_for(lambda: all_ready(kubectl, namespace, len(stack)), "stack Ready", timeout=TIMEOUT)
    before = inventory(sd)
    calls = emulator.calls()
    kubectl.run("delete", f"{DISCOVERIES},{NAMESPACES}", "--all", "-n", namespace, "--wait=false")
    op.kill()
    op.start()
    wait_for(lambda: not all_objects(kubectl, namespace), "every object gone", timeout=TIMEOUT)
    made = mutating_calls(calls_since(emulator, calls))
    assert made == {}, f"deletionPolicy: Retain, yet AWS was changed: {made}"
    assert inventory(sd) == before
    (kept,) = before[0]
    assert len(services_in(sd, kept["Id"])) == 3
    record("retain", "round-0", resources=len(stack), mutating_calls=0)
