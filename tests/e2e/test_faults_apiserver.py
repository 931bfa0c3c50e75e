"""kube-apiserver killed (SIGKILL) and started again on the same etcd under a running operator
(hack/control-plane.sh kill-apiserver / start-apiserver). The operator keeps running, picks
the watches up again, and reconciles what changed while the API server was down and after.

On a control plane of this module's own: the tests that other pytest-xdist workers run
meanwhile keep the shared one."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from e2e_support import (
    DISCOVERIES,
    NAMESPACES,
    Kubectl,
    StartOperator,
    apply_allow_all_grant,
    apply_crds,
    kubectl_binary,
    wait_for,
)
from faults_support import (
    all_objects,
    all_ready,
    cloudmap_namespace,
    control_plane,
    discovery,
    inventory,
    record,
    round_ids,
    service_keys,
    summary,
)

from sd_devkit.emulator import Emulator
from support import services_in

pytestmark = pytest.mark.faults

DOWN_SECONDS = 10.0
TIMEOUT = 180.0


@pytest.fixture(scope="module")
def control_plane_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    state = tmp_path_factory.mktemp("control-plane")
    control_plane("up", state)
    try:
        yield state
    finally:
        control_plane("down", state)


@pytest.fixture(scope="module")
def kubectl(control_plane_dir: Path) -> Kubectl:
    """The conftest's fixtures (namespace, start_operator) use this module's control plane."""
    return Kubectl(kubectl_binary(), str(control_plane_dir / "kubeconfig"))


@pytest.fixture(scope="module")
def crds(kubectl: Kubectl) -> list[str]:
    """As the conftest's, on this module's control plane: the CRDs and the allow-all grant."""
    names = apply_crds(kubectl)
    apply_allow_all_grant(kubectl)
    return names


def _ttl(sd: Any, service_id: str) -> int:
    return int(sd.get_service(Id=service_id)["Service"]["DnsConfig"]["DnsRecords"][0]["TTL"])


@pytest.mark.timeout(4 * TIMEOUT)
@pytest.mark.parametrize("round_id", round_ids(1))
@pytest.mark.long
def test_apiserver_killed_and_restarted_under_the_operator(
    round_id: str,
    kubectl: Kubectl,
    namespace: str,
    start_operator: StartOperator,
    emulator: Emulator,
    sd: Any,
    control_plane_dir: Path,
) -> None:
    op = start_operator()
    stack = [cloudmap_namespace("shared", "restart.local")] + [
        discovery(f"svc-{i}", "shared") for i in range(3)
    ]
    kubectl.apply(stack, namespace)
    wait_for(lambda: all_ready(kubectl, namespace, len(stack)), "the stack Ready", timeout=TIMEOUT)
    svc0 = kubectl.get(DISCOVERIES, "svc-0", namespace)
    assert svc0 is not None
    service_id = svc0["status"]["serviceId"]

    control_plane("kill-apiserver", control_plane_dir)
    down = time.monotonic()
    try:
        # while it is down: someone changes AWS behind the operator's back
        op_id = sd.update_service(
            Id=service_id,
            Service={"DnsConfig": {"DnsRecords": [{"Type": "A", "TTL": 99}]}},
        )["OperationId"]
        wait_for(
            lambda: sd.get_operation(OperationId=op_id)["Operation"]["Status"] == "SUCCESS",
            "the out-of-band UpdateService",
        )
        time.sleep(DOWN_SECONDS)
        assert op.running, "the operator exited while the API server was down"
    finally:
        control_plane("start-apiserver", control_plane_dir)
    down_seconds = time.monotonic() - down

    # after: a spec change and a new resource are reconciled; the drift is corrected
    restarted = time.monotonic()
    stack[1]["spec"]["service"]["dns"]["records"][0]["ttl"] = 30
    stack.append(discovery("svc-new", "shared"))
    kubectl.apply(stack, namespace)
    wait_for(
        lambda: all_ready(kubectl, namespace, len(stack)) and _ttl(sd, service_id) == 30,
        "the spec change, the new resource and the drift correction",
        timeout=TIMEOUT,
        describe=lambda: "\n".join(summary(o) for o in all_objects(kubectl, namespace)),
    )
    recovered_seconds = time.monotonic() - restarted
    assert op.running
    assert op.starts == 1, "the operator was restarted"
    cm = kubectl.get(NAMESPACES, "shared", namespace)
    assert cm is not None
    assert len(services_in(sd, cm["status"]["namespaceId"])) == 4

    kubectl.run("delete", f"{DISCOVERIES},{NAMESPACES}", "--all", "-n", namespace, "--wait=false")
    wait_for(
        lambda: not all_objects(kubectl, namespace),
        "every object gone",
        timeout=TIMEOUT,
        describe=lambda: "\n".join(summary(o) for o in all_objects(kubectl, namespace)),
    )
    namespaces, services = inventory(sd)
    assert (namespaces, services) == ([], []), (namespaces, service_keys(services))
    record(
        "apiserver-restart",
        round_id,
        resources=len(stack),
        apiserver_down_seconds=round(down_seconds, 1),
        recovered_seconds=round(recovered_seconds, 1),
        operator_restarts=op.starts - 1,
    )
