"""What Flux (kstatus) and Argo CD (docs/argocd/health.lua) read from live resources, against
docs/health.md's health table: the real sigs.k8s.io/cli-utils kstatus library (hack/kstatus) and
the shipped Lua script, on objects the operator wrote.

SD_OPERATOR_RECORD_STATUS=1 also writes each object to tests/fixtures/status/, the set the unit
tests feed to the Lua script and test_recorded_statuses_match_kstatus to kstatus.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import pytest
from e2e_support import (
    DISCOVERIES,
    EXAMPLES,
    JSON,
    NAMESPACES,
    SWEEP_SECONDS,
    Kubectl,
    StartOperator,
    condition,
    example,
    in_namespace,
    is_condition,
    load_docs,
    ready_and_synced,
    wait_for,
)

from health import EXPECTED, argocd_health, kstatus, kstatus_binary, record, recorded
from sd_devkit.emulator import Emulator

# It calls kstatus, which a fresh machine builds beside the first e2e tests (hack/test.sh).
pytestmark = pytest.mark.test_tools

HOLD_SECONDS = 8
RECORD = os.environ.get("SD_OPERATOR_RECORD_STATUS") == "1"


@pytest.fixture(scope="module")
def kstatus_bin() -> str:
    return kstatus_binary()


def verdicts_match(kstatus_bin: str, situation: str, obj: Mapping[str, Any]) -> None:
    want_kstatus, want_argocd = EXPECTED[situation]
    (got,) = kstatus(kstatus_bin, [obj])
    argo = argocd_health(obj)
    status = obj.get("status")
    assert (got.status, argo.status) == (want_kstatus, want_argocd), (
        f"{situation}: kstatus {got}, Argo CD {argo}, status {status}"
    )
    if RECORD:
        record(situation, obj)


def phase(obj: Mapping[str, Any] | None, type_: str) -> bool:
    """`type_` is True for the object's current generation."""
    return bool(
        obj
        and is_condition(obj, type_)
        and (obj.get("status") or {}).get("observedGeneration") == obj["metadata"]["generation"]
    )


def operation(obj: Mapping[str, Any] | None, type_: str) -> bool:
    status = (obj or {}).get("status") or {}
    return bool((status.get("operation") or {}).get("type") == type_)


def reason(obj: Mapping[str, Any] | None, type_: str) -> str:
    return str((condition(obj, type_) or {}).get("reason"))


def test_resource_not_reached_yet_is_in_progress(
    kubectl: Kubectl, namespace: str, kstatus_bin: str
) -> None:
    """No operator runs: the CRD's status default says "generation not observed", where an
    absent status would read Current."""
    kubectl.apply(example("namespace", namespace), namespace)
    unseen = kubectl.get(NAMESPACES, "myapp", namespace)
    assert unseen is not None
    verdicts_match(kstatus_bin, "not-reached-yet", unseen)


def test_creating_ready_and_pending_generation(
    kubectl: Kubectl,
    namespace: str,
    start_operator: StartOperator,
    emulator: Emulator,
    kstatus_bin: str,
) -> None:
    emulator.hold_operations(seconds=HOLD_SECONDS)
    start_operator()
    kubectl.apply(example("namespace", namespace), namespace)
    creating = kubectl.wait_for_object(
        NAMESPACES,
        "myapp",
        namespace,
        lambda o: operation(o, "CREATE_NAMESPACE"),
        "CreateNamespace in flight",
    )
    verdicts_match(kstatus_bin, "creating", creating)

    ready = kubectl.wait_for_object(NAMESPACES, "myapp", namespace, ready_and_synced, "Ready")
    verdicts_match(kstatus_bin, "ready", ready)

    # a spec change AWS takes a while to carry out (UpdateNamespace is asynchronous)
    kubectl.run(
        "patch",
        f"{NAMESPACES}/myapp",
        "-n",
        namespace,
        "--type=merge",
        "-p",
        '{"spec":{"description":"changed"}}',
    )
    pending = kubectl.wait_for_object(
        NAMESPACES,
        "myapp",
        namespace,
        lambda o: o["metadata"]["generation"] == 2 and operation(o, "UPDATE_NAMESPACE"),
        "generation 2 in flight",
    )
    verdicts_match(kstatus_bin, "pending-generation", pending)
    assert pending["status"]["observedGeneration"] == 1, pending["status"]
    assert is_condition(pending, "Reconciling"), condition(pending, "Reconciling")

    done = kubectl.wait_for_object(
        NAMESPACES, "myapp", namespace, ready_and_synced, "generation 2 Ready"
    )
    assert done["status"]["observedGeneration"] == 2
    verdicts_match(kstatus_bin, "ready", done)
    assert is_condition(creating, "Reconciling"), condition(creating, "Reconciling")


def test_refused_update_is_failed(
    kubectl: Kubectl, namespace: str, start_operator: StartOperator, kstatus_bin: str
) -> None:
    start_operator()
    docs = in_namespace(load_docs(EXAMPLES / "http-api" / "namespace.yaml"), namespace)
    kubectl.apply(docs, namespace)
    kubectl.wait_for_object(DISCOVERIES, "orders", namespace, ready_and_synced, "Ready")

    # the API server accepts it; AWS cannot update a service in an Http namespace
    kubectl.run(
        "patch",
        f"{DISCOVERIES}/orders",
        "-n",
        namespace,
        "--type=merge",
        "-p",
        '{"spec":{"service":{"description":"changed"}}}',
    )
    refused = kubectl.wait_for_object(
        DISCOVERIES, "orders", namespace, lambda o: phase(o, "Terminal"), "Terminal"
    )
    assert refused["metadata"]["generation"] == 2
    verdicts_match(kstatus_bin, "refused-update", refused)
    assert is_condition(refused, "Stalled"), condition(refused, "Stalled")
    assert is_condition(refused, "Ready", "False"), condition(refused, "Ready")


def made_by_hand(sd: Any, answer: Mapping[str, Any]) -> None:
    op = answer["OperationId"]
    wait_for(
        lambda: sd.get_operation(OperationId=op)["Operation"]["Status"] == "SUCCESS",
        f"hand-made namespace {op}",
    )


def test_refused_adoption_is_failed(
    kubectl: Kubectl, namespace: str, start_operator: StartOperator, sd: Any, kstatus_bin: str
) -> None:
    made_by_hand(sd, sd.create_http_namespace(Name="myapp.local", CreatorRequestId="by-hand"))
    start_operator()
    # a DnsPrivate namespace cannot adopt an Http one
    kubectl.apply(example("namespace", namespace, adoptionPolicy="Adopt"), namespace)

    refused = kubectl.wait_for_object(
        NAMESPACES, "myapp", namespace, lambda o: phase(o, "Terminal"), "Terminal"
    )
    verdicts_match(kstatus_bin, "refused-adoption", refused)
    assert is_condition(refused, "Stalled"), condition(refused, "Stalled")
    assert is_condition(refused, "Ready", "False"), condition(refused, "Ready")


def test_someone_elses_namespace_is_failed(
    kubectl: Kubectl, namespace: str, start_operator: StartOperator, sd: Any, kstatus_bin: str
) -> None:
    made_by_hand(
        sd,
        sd.create_private_dns_namespace(
            Name="myapp.local",
            Vpc="vpc-0a1b2c3d4e5f60718",
            CreatorRequestId="by-hand",
            Tags=[
                {"Key": "sd-operator.io/owner", "Value": "CloudMapNamespace/elsewhere/theirs"},
                {"Key": "sd-operator.io/cluster", "Value": "another-cluster"},
            ],
        ),
    )
    start_operator()
    kubectl.apply(example("namespace", namespace, adoptionPolicy="Adopt"), namespace)

    blocked = kubectl.wait_for_object(
        NAMESPACES,
        "myapp",
        namespace,
        lambda o: reason(o, "Ready") == "OwnedElsewhere",
        "Ready=False, OwnedElsewhere",
    )
    verdicts_match(kstatus_bin, "owned-elsewhere", blocked)
    assert reason(blocked, "Stalled") == "OwnedElsewhere", condition(blocked, "Stalled")


def test_reported_drift_is_failed(
    kubectl: Kubectl, namespace: str, start_operator: StartOperator, sd: Any, kstatus_bin: str
) -> None:
    start_operator()
    svc = example("user-service", namespace, driftPolicy="Report")
    kubectl.apply([example("namespace", namespace), svc], namespace)
    ready: JSON = kubectl.wait_for_object(
        DISCOVERIES, "user-service", namespace, ready_and_synced, "Ready"
    )
    verdicts_match(kstatus_bin, "ready", ready)

    service = sd.get_service(Id=ready["status"]["serviceId"])["Service"]
    op = sd.update_service(
        Id=service["Id"],
        Service={
            "Description": service.get("Description", ""),
            "DnsConfig": {"DnsRecords": [{"Type": "A", "TTL": 300}]},
        },
    )["OperationId"]
    wait_for(
        lambda: sd.get_operation(OperationId=op)["Operation"]["Status"] == "SUCCESS",
        "the out-of-band UpdateService",
    )
    reported = kubectl.wait_for_object(
        DISCOVERIES,
        "user-service",
        namespace,
        lambda o: reason(o, "Drifted") == "DriftReported",
        "the drift reported",
        timeout=4 * SWEEP_SECONDS + 10,
    )
    verdicts_match(kstatus_bin, "drift-reported", reported)
    assert reason(reported, "Stalled") == "DriftReported", condition(reported, "Stalled")


def test_observe_only_resource_that_differs_is_failed(
    kubectl: Kubectl, namespace: str, start_operator: StartOperator, sd: Any, kstatus_bin: str
) -> None:
    made_by_hand(
        sd,
        sd.create_private_dns_namespace(
            Name="myapp.local",
            Vpc="vpc-0a1b2c3d4e5f60718",
            Description="made by hand",
            CreatorRequestId="by-hand",
        ),
    )
    start_operator()
    kubectl.apply(example("namespace", namespace, managementPolicy="Observe"), namespace)

    different = kubectl.wait_for_object(
        NAMESPACES,
        "myapp",
        namespace,
        lambda o: reason(o, "Stalled") == "ObservedDifferent",
        "Stalled, ObservedDifferent",
    )
    verdicts_match(kstatus_bin, "observed-different", different)
    assert is_condition(different, "Ready", "False"), condition(different, "Ready")


def test_observe_only_resource_missing_in_aws_is_failed(
    kubectl: Kubectl, namespace: str, start_operator: StartOperator, kstatus_bin: str
) -> None:
    start_operator()
    kubectl.apply(example("namespace", namespace, managementPolicy="Observe"), namespace)

    missing = kubectl.wait_for_object(
        NAMESPACES,
        "myapp",
        namespace,
        lambda o: reason(o, "Stalled") == "ObservedMissing",
        "Stalled, ObservedMissing",
    )
    verdicts_match(kstatus_bin, "observed-missing", missing)


def test_paused_resource_keeps_its_kstatus_verdict_and_is_suspended(
    kubectl: Kubectl, namespace: str, start_operator: StartOperator, kstatus_bin: str
) -> None:
    start_operator()
    kubectl.apply(example("namespace", namespace), namespace)
    kubectl.wait_for_object(NAMESPACES, "myapp", namespace, ready_and_synced, "Ready")
    kubectl.run("annotate", f"{NAMESPACES}/myapp", "-n", namespace, "sd-operator.io/paused=true")

    paused = kubectl.wait_for_object(
        NAMESPACES, "myapp", namespace, lambda o: is_condition(o, "Paused"), "Paused"
    )
    verdicts_match(kstatus_bin, "paused", paused)
    assert ready_and_synced(paused), paused["status"]


def test_recorded_statuses_match_kstatus(kstatus_bin: str) -> None:
    objects = recorded()
    assert set(objects) == set(EXPECTED), "tests/fixtures/status/ lacks a situation"
    got = kstatus(kstatus_bin, list(objects.values()))
    assert {s: v.status for s, v in zip(objects, got, strict=True)} == {
        s: EXPECTED[s][0] for s in objects
    }
