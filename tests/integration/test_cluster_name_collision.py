"""The collision of issue 21 (item 4) as it was reported, through the CLI: two clusters sharing
an AWS account, both left at --cluster-name default, apply the same manifests. Each now has its
own cluster id (here given through SD_OPERATOR_CLUSTER_ID, as an operator reads kube-system's
UID), so the second changes and deletes nothing of the first's. Nothing here needs the id API:
on the code as reported (8c61be0) the environment variable is ignored and both tests fail at
their assertions, cluster B deleting cluster A's service and namespace."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sd_devkit.emulator import Emulator
from sd_operator.cli import EXIT_OK
from support import calls_since, cli, cli_output, mutating_calls, namespace_id_of, service_names_in

CLUSTER_A = "8d6b1f0e-aaaa-4c1e-9a51-000000000001"
CLUSTER_B = "8d6b1f0e-bbbb-4c1e-9a51-000000000002"

MANIFESTS = """\
apiVersion: sd-operator.io/v1alpha1
kind: CloudMapNamespace
metadata: {name: myapp, namespace: payments}
spec: {name: myapp.local, type: Http}
---
apiVersion: sd-operator.io/v1alpha1
kind: ServiceDiscovery
metadata: {name: user-service, namespace: payments}
spec:
  namespaceRef: {name: myapp}
  service: {healthCheck: {custom: {}}}
"""


@pytest.fixture
def manifests(tmp_path: Path) -> str:
    path = tmp_path / "app.yaml"
    path.write_text(MANIFESTS)
    return str(path)


def _as_cluster(monkeypatch: pytest.MonkeyPatch, cluster_id: str) -> None:
    """The CLI run as the cluster `default` with this id, through the environment."""
    monkeypatch.setenv("SD_OPERATOR_CLUSTER_NAME", "default")
    monkeypatch.setenv("SD_OPERATOR_CLUSTER_ID", cluster_id)


def test_deleting_in_one_cluster_leaves_the_same_named_clusters_resources(
    emulator: Emulator, sd: Any, manifests: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Cluster B deletes the resources cluster A applied (same manifests, same names, both
    clusters `default`): A's namespace and service stay, and B changed nothing in AWS."""
    _as_cluster(monkeypatch, CLUSTER_A)
    assert cli(emulator, "apply", "-f", manifests) == EXIT_OK
    ns_id = namespace_id_of(sd, "myapp.local")

    _as_cluster(monkeypatch, CLUSTER_B)
    before = emulator.calls()
    cli(emulator, "delete", "-f", manifests)

    assert mutating_calls(calls_since(emulator, before)) == {}
    assert service_names_in(sd, ns_id) == ["user-service"]
    assert namespace_id_of(sd, "myapp.local") == ns_id


def test_applying_in_the_same_named_cluster_reports_owned_elsewhere_naming_the_other_id(
    emulator: Emulator, sd: Any, manifests: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _as_cluster(monkeypatch, CLUSTER_A)
    assert cli(emulator, "apply", "-f", manifests) == EXIT_OK

    _as_cluster(monkeypatch, CLUSTER_B)
    before = emulator.calls()
    code, out = cli_output(emulator, "apply", "-f", manifests)

    assert code != EXIT_OK
    assert "OwnedElsewhere" in out  # the reason, as the CLI prints it
    assert f"id {CLUSTER_A}" in out
    assert f"this one: id {CLUSTER_B}" in out
    assert mutating_calls(calls_since(emulator, before)) == {}
