"""The real helm (built from Go modules by hack/tools.sh, cached) and the chart it renders."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml
from e2e_support import JSON, ROOT, Kubectl

CHART = ROOT / "helm" / "sd-operator"
CI_VALUES = CHART / "ci"
MONITORING_CRDS = ROOT / "tests" / "fixtures" / "monitoring" / "crds.yaml"
GET_LIST_WATCH = ["get", "list", "watch"]


def helm_binary() -> str:
    out = subprocess.run(
        [str(ROOT / "hack" / "tools.sh"), "helm"],
        check=True,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    return out.stdout.strip().splitlines()[-1]


class Helm:
    def __init__(self, binary: str, kubeconfig: str | None = None) -> None:
        self.binary = binary
        self.kubeconfig = kubeconfig

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        cmd = [self.binary, *args]
        if self.kubeconfig:
            cmd += ["--kubeconfig", self.kubeconfig]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
        if check and proc.returncode != 0:
            raise AssertionError(
                f"helm {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
            )
        return proc

    def template(
        self,
        *,
        release: str = "sd",
        namespace: str = "sd-operator",
        values: Sequence[Path] = (),
        sets: Sequence[str] = (),
        check: bool = True,
    ) -> subprocess.CompletedProcess[str]:
        args = ["template", release, str(CHART), "--namespace", namespace]
        for path in values:
            args += ["--values", str(path)]
        for item in sets:
            args += ["--set", item]
        return self.run(*args, check=check)

    def render(self, **kwargs: Any) -> list[JSON]:
        return [d for d in yaml.safe_load_all(self.template(**kwargs).stdout) if d]


def of_kind(docs: Sequence[JSON], kind: str) -> list[JSON]:
    return [d for d in docs if d.get("kind") == kind]


def token_kubeconfig(kubectl: Kubectl, service_account: str, namespace: str, path: Path) -> Path:
    """A kubeconfig for the API server in `kubectl`'s, authenticated as the service account
    by a token from the TokenRequest API (what a pod's projected token is)."""
    token = kubectl.run(
        "create", "token", service_account, "-n", namespace, "--duration=2h"
    ).stdout.strip()
    admin = yaml.safe_load(Path(kubectl.kubeconfig).read_text())
    cluster = admin["clusters"][0]["cluster"]
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "local", "cluster": cluster}],
        "users": [{"name": service_account, "user": {"token": token}}],
        "contexts": [
            {
                "name": "sa",
                "context": {"cluster": "local", "user": service_account, "namespace": namespace},
            }
        ],
        "current-context": "sa",
    }
    path.write_text(yaml.safe_dump(config))
    path.chmod(0o600)
    return path


# All that named namespaces grant cluster-wide: reading the DiscoveryGrants (cluster-scoped)
# and the namespaces' labels they select by (docs/tenancy.md).
GRANT_READER_RULES = [
    {"apiGroups": ["sd-operator.io"], "resources": ["discoverygrants"], "verbs": GET_LIST_WATCH},
    {"apiGroups": [""], "resources": ["namespaces"], "verbs": GET_LIST_WATCH},
]


def cluster_wide_reads_only_grants(docs: Sequence[JSON]) -> bool:
    """The only ClusterRole reads grants and namespaces, and only its binding binds one."""
    roles, bindings = of_kind(docs, "ClusterRole"), of_kind(docs, "ClusterRoleBinding")
    return [r["rules"] for r in roles] == [GRANT_READER_RULES] and [
        b["roleRef"]["name"] for b in bindings
    ] == [roles[0]["metadata"]["name"]]
