"""The operator run as the chart's ServiceAccount (a TokenRequest token, the RBAC the chart
renders for named namespaces), so a verb the chart forgets fails here: the resource never
gets its status, or its finalizer never goes, or /readyz stays 503. The same run is scraped:
the series exist and move.
"""

from __future__ import annotations

import re
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from chart_support import Helm, cluster_wide_reads_only_grants, helm_binary, token_kubeconfig
from e2e_support import (
    DISCOVERIES,
    JSON,
    NAMESPACES,
    Kubectl,
    OperatorProcess,
    dump_docs,
    example,
    ready_and_synced,
    wait_for,
)

from sd_devkit.emulator import Emulator

# It calls helm, which a fresh machine builds beside the first e2e tests (hack/test.sh).
pytestmark = pytest.mark.test_tools

RELEASE = "sd-operator"  # the chart's full name is the release name: objects are named so


def _apply_chart_rbac(
    helm: Helm, kubectl: Kubectl, watched: str, release_ns: str, *sets: str
) -> list[JSON]:
    docs = helm.render(
        release=RELEASE,
        namespace=release_ns,
        sets=["allNamespaces=false", f"watchNamespaces={{{watched}}}", *sets],
    )
    wanted = {"ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"}
    wanted |= {"KopfPeering"}
    rbac = [d for d in docs if d["kind"] in wanted]
    kubectl.run("apply", "--server-side", "-f", "-", stdin=dump_docs(rbac))
    # kube-apiserver authorizes from its informers' copy of the RBAC objects: a binding just
    # created may not count yet, and the operator, started at once, exited on a 403 reading
    # kube-system (seen with unit tests running beside e2e). Wait until the grants count.
    account = f"system:serviceaccount:{release_ns}:{RELEASE}"
    for verb, what, where in (
        ("get", "namespaces/kube-system", release_ns),
        ("list", "servicediscoveries.sd-operator.io", watched),
    ):

        def granted(verb: str = verb, what: str = what, where: str = where) -> bool:
            asked = ("auth", "can-i", verb, what, "-n", where, "--as", account)
            return kubectl.run(*asked, check=False).returncode == 0

        wait_for(granted, f"RBAC to allow {account} to {verb} {what}", timeout=30)
    return rbac


def _scrape(url: str) -> dict[str, float]:
    with urllib.request.urlopen(url, timeout=5) as response:
        text = response.read().decode()
    samples = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            samples[name] = float(value)
    return samples


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def _metrics_url(op: OperatorProcess) -> str:
    def logged_url() -> str | None:
        assert op.running, f"operator exited:\n{op.tail(50)}"
        for record in op.log_records():
            if record.get("event") == "serving metrics":
                return str(record["url"])
        return None

    return wait_for(logged_url, "the operator to log its metrics URL", timeout=30)


def _total(samples: dict[str, float], pattern: str) -> float:
    return sum(v for k, v in samples.items() if re.fullmatch(pattern, k))


@pytest.fixture
def release_namespace(kubectl: Kubectl, namespace: str) -> Iterator[str]:
    name = f"{namespace[:50]}-rel"
    kubectl.run("create", "namespace", name)
    yield name
    kubectl.run("delete", "namespace", name, "--wait=false", check=False)


@pytest.mark.parametrize("mode", ["standalone", "peered"])
def test_operator_works_with_the_charts_service_account(
    kubectl: Kubectl,
    crds: list[str],
    emulator: Emulator,
    namespace: str,
    release_namespace: str,
    tmp_path: Path,
    mode: str,
) -> None:
    helm = Helm(helm_binary())
    sets = ["replicas=2"] if mode == "peered" else []
    rbac = _apply_chart_rbac(helm, kubectl, namespace, release_namespace, *sets)
    assert cluster_wide_reads_only_grants(rbac), "named namespaces, and reading grants"
    kubeconfig = token_kubeconfig(kubectl, RELEASE, release_namespace, tmp_path / "sa.kubeconfig")
    extra = ["--metrics-port", "0"]
    extra += ["--peering", RELEASE] if mode == "peered" else ["--standalone"]
    op = OperatorProcess(
        "sa", namespace, emulator.endpoint_url, str(kubeconfig), tmp_path, extra
    ).start()
    try:
        url = _metrics_url(op)
        readyz = url.replace("/metrics", "/readyz")
        wait_for(lambda: _status(readyz) == 200, "/readyz to answer 200", timeout=60)

        kubectl.apply([example("namespace", namespace), example("user-service", namespace)])
        for kind, name in ((NAMESPACES, "myapp"), (DISCOVERIES, "user-service")):
            kubectl.wait_for_object(kind, name, namespace, ready_and_synced, "Ready and Synced")

        def leading() -> dict[str, float] | None:
            samples = _scrape(url)
            return samples if samples.get("sd_operator_leader") == 1 else None

        first = wait_for(leading, "sd_operator_leader 1", timeout=90)
        assert _total(first, r'sd_operator_build_info\{.*version="[^"]+".*\}') == 1
        ready = r'sd_operator_resources\{condition="Ready",kind="{}",status="True"\}'
        for kind in ("CloudMapNamespace", "ServiceDiscovery"):
            assert _total(first, ready.replace("{}", kind)) == 1, kind
        reconciles = r"sd_operator_reconciles_total\{.*\}"
        assert _total(first, reconciles) > 0
        assert _total(first, r"sd_operator_aws_changes_total\{.*\}") > 0

        # The drift timer keeps stepping both resources: the counters move.
        wait_for(
            lambda: _total(_scrape(url), reconciles) > _total(first, reconciles),
            "sd_operator_reconciles_total to grow",
            timeout=60,
        )

        for kind, name in ((DISCOVERIES, "user-service"), (NAMESPACES, "myapp")):
            kubectl.delete(kind, name, namespace)
            kubectl.wait_gone(kind, name, namespace)
        gone = _scrape(url)
        assert _total(gone, r"sd_operator_resources\{.*\}") == 0
    finally:
        op.stop()
    # kopf (APIForbiddenError), the kubernetes client and /readyz all say "Forbidden" on a 403;
    # a bare "403" would also match timestamps.
    forbidden = [line for line in op.log_text().splitlines() if "forbidden" in line.lower()]
    assert not forbidden, "the chart's RBAC refused calls:\n" + "\n".join(forbidden[:10])


def test_metrics_bind_loopback_by_default(
    kubectl: Kubectl, crds: list[str], emulator: Emulator, namespace: str, tmp_path: Path
) -> None:
    op = OperatorProcess(
        "bind",
        namespace,
        emulator.endpoint_url,
        kubectl.kubeconfig,
        tmp_path,
        ["--metrics-port", "0"],
    ).start()
    try:
        assert _metrics_url(op).startswith("http://127.0.0.1:")
    finally:
        op.stop()
