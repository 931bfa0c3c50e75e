"""e2e fixtures: the local control plane, the CRDs, an AWS emulator in this process, a fresh
Kubernetes namespace per test, and the operator as its own process (`sd-operator run`).

hack/test.sh starts the control plane before pytest; without a reachable API server the e2e
tests fail (not skip) with a message saying how to start it.
"""

from __future__ import annotations

import os
import re
import subprocess
import uuid
from collections.abc import Generator, Iterator
from pathlib import Path

import pytest
from e2e_support import (
    OPERATOR_BIN,
    ROOT,
    Kubectl,
    OperatorProcess,
    StartOperator,
    apply_allow_all_grant,
    apply_crds,
    kubectl_binary,
)

from sd_devkit.emulator import Emulator

E2E_DIR = Path(__file__).resolve().parent
OPERATORS = pytest.StashKey[list[OperatorProcess]]()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if E2E_DIR in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.e2e)
    # xdist's --dist load hands tests out in this order (one at a time: hack/test.sh's
    # --maxschedchunk 1): the long ones first, each to the next free worker, so that none of
    # them starts late and ends the run alone while the others idle.
    items.sort(key=lambda item: item.get_closest_marker("long") is None)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report: pytest.TestReport = yield
    # A failing e2e test shows what each operator process it started wrote.
    if report.failed and call.when in ("setup", "call", "teardown"):
        for op in item.stash.get(OPERATORS, []):
            report.sections.append(
                (f"operator {op.name} log ({op.log_path}, last 200 lines)", op.tail(200))
            )
    return report


# the control plane and the CRDs --------------------------------------------------------------


@pytest.fixture(scope="session")
def kubectl() -> Kubectl:
    kubeconfig = os.environ.get("KUBECONFIG") or str(ROOT / ".control-plane" / "kubeconfig")
    hint = (
        "the e2e tests need the local control plane: run them with `hack/test.sh e2e`, or "
        '`hack/control-plane.sh up && eval "$(hack/control-plane.sh env)"` first'
    )
    if not Path(kubeconfig).is_file():
        pytest.fail(f"no kubeconfig at {kubeconfig}: {hint}", pytrace=False)
    kube = Kubectl(kubectl_binary(), kubeconfig)
    try:
        ready = kube.run("get", "--raw", "/readyz", check=False, timeout=15)
    except subprocess.TimeoutExpired:
        pytest.fail(f"the API server in {kubeconfig} did not answer in 15s: {hint}", pytrace=False)
    if ready.returncode != 0 or ready.stdout.strip() != "ok":
        pytest.fail(
            f"the API server in {kubeconfig} is not reachable/ready "
            f"({ready.stdout.strip()} {ready.stderr.strip()}): {hint}",
            pytrace=False,
        )
    return kube


@pytest.fixture(scope="session")
def crds(kubectl: Kubectl) -> list[str]:
    names = apply_crds(kubectl)
    apply_allow_all_grant(kubectl)
    return names


# a fresh namespace per test ------------------------------------------------------------------


def _namespace_name(node_name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", node_name.lower()).strip("-")
    slug = slug.removeprefix("test-")[:40].strip("-")
    return f"e2e-{slug}-{uuid.uuid4().hex[:6]}"


@pytest.fixture
def namespace(request: pytest.FixtureRequest, kubectl: Kubectl, crds: list[str]) -> Iterator[str]:
    name = _namespace_name(request.node.name)
    kubectl.create_namespace(name)
    yield name
    kubectl.drop_namespace(name)


@pytest.fixture(scope="module")
def module_namespace(
    request: pytest.FixtureRequest, kubectl: Kubectl, crds: list[str]
) -> Iterator[str]:
    name = _namespace_name(request.module.__name__)
    kubectl.create_namespace(name)
    yield name
    kubectl.drop_namespace(name)


# the AWS emulator ----------------------------------------------------------------------------


# tests/conftest.py has the emulator (in this process) and `sd`; e2e lists are always paged.


@pytest.fixture
def emulator_page_size() -> int:
    return 2


# the operator --------------------------------------------------------------------------------


@pytest.fixture
def start_operator(
    request: pytest.FixtureRequest,
    kubectl: Kubectl,
    crds: list[str],
    emulator: Emulator,
    namespace: str,
    tmp_path: Path,
) -> Iterator[StartOperator]:
    """start_operator(name="op", *extra_args) -> a running OperatorProcess watching the test's
    namespace; every one is stopped (SIGTERM, then SIGKILL) at the end of the test."""
    assert OPERATOR_BIN.exists(), f"{OPERATOR_BIN} is missing: run `make setup`"
    started: list[OperatorProcess] = []
    request.node.stash[OPERATORS] = started

    def start(name: str = "op", *extra_args: str) -> OperatorProcess:
        op = OperatorProcess(
            name,
            namespace,
            emulator.endpoint_url,
            kubectl.kubeconfig,
            tmp_path,
            extra_args,
        )
        started.append(op)
        return op.start()

    yield start
    for op in started:
        op.stop()
