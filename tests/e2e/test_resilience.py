"""The operator killed mid-operation resumes from status; replicas coordinated by kopf peering
act one at a time, and a survivor takes over when the active one dies."""

from __future__ import annotations

import time
from typing import Any

import pytest
from e2e_support import (
    DISCOVERIES,
    JSON,
    NAMESPACES,
    PEERINGS,
    Kubectl,
    OperatorProcess,
    StartOperator,
    example,
    holds_until,
    ready_and_synced,
)

from sd_devkit.emulator import Emulator

CREATE_NAMESPACE = "servicediscovery:CreatePrivateDnsNamespace"
CREATE_SERVICE = "servicediscovery:CreateService"
GET_OPERATION = "servicediscovery:GetOperation"
PEERING = "sd-operator-e2e"
# kopf's peering: a peer counts as alive until its last keep-alive + its lifetime (60 s by
# default, renewed 5-10 s before; --peering-lifetime), and a survivor resumes only after that:
# 10 s here, keep-alives every 1-5 s.
LIFETIME = 10
TAKEOVER_TIMEOUT = LIFETIME + 45
PAUSED_SAME = "Pausing all operators"
SAME_PRIORITY = "Possibly conflicting operators with the same priority"
RESUMED = "Resuming operations"
# How many times each paused replica must have looked at the peering again (and stayed
# paused) before the test believes it stays so.
RE_EVALUATIONS = 2


def aws_namespaces(sd: Any, name: str = "myapp.local") -> list[JSON]:
    pages = sd.get_paginator("list_namespaces").paginate()
    return [ns for page in pages for ns in page["Namespaces"] if ns["Name"] == name]


def operation_status(sd: Any, operation_id: str) -> str:
    return str(sd.get_operation(OperationId=operation_id)["Operation"]["Status"])


def test_sigkill_during_operation_resumes_from_status(
    kubectl: Kubectl,
    namespace: str,
    start_operator: StartOperator,
    emulator: Emulator,
    sd: Any,
) -> None:
    emulator.hold_operations(seconds=8)
    op = start_operator()
    kubectl.apply(example("namespace", namespace), namespace)
    cm = kubectl.wait_for_object(
        NAMESPACES,
        "myapp",
        namespace,
        lambda o: bool((o.get("status") or {}).get("operation")),
        "status.operation (the CreatePrivateDnsNamespace operation)",
        interval=0.1,
    )
    op.kill()
    operation = cm["status"]["operation"]
    assert operation["type"] == "CREATE_NAMESPACE", operation
    assert operation.get("submittedAt"), operation
    assert operation_status(sd, operation["id"]) in ("SUBMITTED", "PENDING"), (
        "the operation must still be in flight when the operator dies"
    )
    assert emulator.calls().get(CREATE_NAMESPACE) == 1, emulator.calls()
    polls_before = emulator.calls().get(GET_OPERATION, 0)

    op.start()
    cm = kubectl.wait_for_object(NAMESPACES, "myapp", namespace, ready_and_synced, "Ready")
    # Ready only once the persisted operation has finished: the restarted operator waited
    # for it rather than trusting what it saw in AWS.
    assert operation_status(sd, operation["id"]) == "SUCCESS", (
        "Ready while the CreatePrivateDnsNamespace operation was still in flight"
    )
    calls = emulator.calls()
    assert calls.get(CREATE_NAMESPACE) == 1, f"the create was sent again: {calls}"
    assert calls.get(GET_OPERATION, 0) > polls_before + 1, "the restarted operator never polled"
    (aws_ns,) = aws_namespaces(sd)
    assert cm["status"]["namespaceId"] == aws_ns["Id"]
    assert not cm["status"].get("operation"), cm["status"]


# peering ---------------------------------------------------------------------------------------


def _peering(kubectl: Kubectl, namespace: str) -> None:
    """kopf's namespaced peering object: an operator started with --namespace X --peering P
    coordinates through KopfPeering P in X (kopf.dev/v1; crds/kopf-peering.yaml)."""
    kubectl.apply(
        {"apiVersion": "kopf.dev/v1", "kind": "KopfPeering", "metadata": {"name": PEERING}},
        namespace,
    )


def _service(namespace: str, name: str) -> JSON:
    doc = example("payment-service", namespace)
    doc["metadata"]["name"] = name
    doc["spec"]["service"]["name"] = name
    return doc


def _peered(start_operator: StartOperator, name: str, *extra: str) -> OperatorProcess:
    return start_operator(name, "--peering", PEERING, "--peering-lifetime", str(LIFETIME), *extra)


def _same_priority_warnings(op: OperatorProcess) -> int:
    """kopf warns on every look at the peering object that finds an equal-priority peer alive
    (each keep-alive of either replica), and stays paused."""
    return sum(1 for r in op.log_records() if str(r.get("event", "")).startswith(SAME_PRIORITY))


def _keepalive(kubectl: Kubectl, namespace: str, op: OperatorProcess) -> str | None:
    """The last keep-alive kopf wrote for `op` into the peering object (its identity ends in
    its pid)."""
    obj = kubectl.get(PEERINGS, PEERING, namespace) or {}
    for identity, peer in (obj.get("status") or {}).items():
        if identity.endswith(f"/{op.pid}") and isinstance(peer, dict):
            return str(peer.get("lastseen"))
    return None


def _unhandled(kubectl: Kubectl, namespace: str, name: str) -> bool:
    obj = kubectl.get(DISCOVERIES, name, namespace)
    assert obj is not None
    # the CRD defaults status to {observedGeneration: 0}: untouched means no conditions
    status = obj.get("status") or {}
    return not status.get("conditions") and not obj["metadata"].get("finalizers")


@pytest.mark.long
def test_peering_same_priority_nobody_acts_until_one_dies(
    kubectl: Kubectl,
    namespace: str,
    start_operator: StartOperator,
    emulator: Emulator,
) -> None:
    """Two replicas given equal priorities: kopf pauses both; once one is killed, the survivor
    resumes after the dead peer's lifetime and reconciles."""
    _peering(kubectl, namespace)
    first = _peered(start_operator, "first", "--priority", "7")
    kubectl.apply([example("namespace", namespace), _service(namespace, "svc-a")], namespace)
    kubectl.wait_for_object(NAMESPACES, "myapp", namespace, ready_and_synced, "Ready")
    kubectl.wait_for_object(DISCOVERIES, "svc-a", namespace, ready_and_synced, "Ready")
    assert emulator.calls().get(CREATE_SERVICE) == 1

    assert not first.logged(PAUSED_SAME)
    second = _peered(start_operator, "second", "--priority", "7")
    # kopf: the running replica pauses ("Pausing all operators, including self"); the new one
    # starts paused and warns about its equal-priority peer
    first.wait_logged(PAUSED_SAME)
    second.wait_logged("Possibly conflicting operators with the same priority")

    kubectl.apply(_service(namespace, "svc-b"), namespace)
    warned = {op.name: _same_priority_warnings(op) for op in (first, second)}
    holds_until(
        lambda: _unhandled(kubectl, namespace, "svc-b"),
        "svc-b untouched while both replicas are paused",
        lambda: all(
            _same_priority_warnings(op) >= warned[op.name] + RE_EVALUATIONS
            for op in (first, second)
        ),
        f"each replica to find its equal-priority peer alive {RE_EVALUATIONS} more times",
    )
    assert emulator.calls().get(CREATE_SERVICE) == 1, emulator.calls()
    assert not second.logged(RESUMED), "the new replica acted next to an equal-priority peer"

    first.kill()
    killed = time.monotonic()
    kubectl.wait_for_object(
        DISCOVERIES,
        "svc-b",
        namespace,
        ready_and_synced,
        "Ready after the survivor took over",
        timeout=TAKEOVER_TIMEOUT,
    )
    print(f"takeover after {time.monotonic() - killed:.1f}s")
    assert second.reconciled("svc-b"), "svc-b was not reconciled by the survivor"
    assert not first.reconciled("svc-b")
    assert second.logged(RESUMED)
    calls = emulator.calls()
    assert calls.get(CREATE_SERVICE) == 2, f"one CreateService per resource: {calls}"
    assert calls.get(CREATE_NAMESPACE) == 1, calls


@pytest.mark.long
def test_peering_one_active_replica_and_takeover(
    kubectl: Kubectl,
    namespace: str,
    start_operator: StartOperator,
    emulator: Emulator,
) -> None:
    """Two replicas without --priority (as a Deployment runs them): the one started first
    acts; when it is killed, the other one takes over and reconciles a new resource."""
    _peering(kubectl, namespace)
    active = _peered(start_operator, "active")
    # kopf starts every peered replica paused; the first resumes at once (no peer of higher
    # or equal priority); a later one ranks lower and stays paused while the first lives
    active.wait_logged(RESUMED)
    standby = _peered(start_operator, "standby")
    standby.wait_logged("Initial authentication has finished")

    kubectl.apply([example("namespace", namespace), _service(namespace, "svc-a")], namespace)
    kubectl.wait_for_object(NAMESPACES, "myapp", namespace, ready_and_synced, "Ready")
    kubectl.wait_for_object(DISCOVERIES, "svc-a", namespace, ready_and_synced, "Ready")
    # Each keep-alive of the active replica is a change of the peering object the standby
    # looks at again: idle across those, it keeps to its rank.
    seen = {_keepalive(kubectl, namespace, active)}

    def keepalives() -> bool:
        seen.add(_keepalive(kubectl, namespace, active))
        return len(seen) > RE_EVALUATIONS

    holds_until(
        lambda: not standby.reconciled("svc-a"),
        "the standby replica idle",
        keepalives,
        f"{RE_EVALUATIONS} keep-alives of the active replica",
    )
    assert active.reconciled("svc-a")
    assert not active.logged("Pausing")
    assert not standby.logged(RESUMED), "the standby replica resumed while the active one lived"
    calls = emulator.calls()
    assert calls.get(CREATE_SERVICE) == 1, calls
    assert calls.get(CREATE_NAMESPACE) == 1, calls

    active.kill()
    kubectl.apply(_service(namespace, "svc-b"), namespace)
    kubectl.wait_for_object(
        DISCOVERIES,
        "svc-b",
        namespace,
        ready_and_synced,
        "Ready after the standby took over",
        timeout=TAKEOVER_TIMEOUT,
    )
    assert standby.reconciled("svc-b")
    assert standby.logged(RESUMED)
    calls = emulator.calls()
    assert calls.get(CREATE_SERVICE) == 2, f"one CreateService per resource: {calls}"
    assert calls.get(CREATE_NAMESPACE) == 1, calls
