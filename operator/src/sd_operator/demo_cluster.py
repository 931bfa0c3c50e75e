"""The demo's main act: the operator running against the local Kubernetes control plane.

Uses hack/control-plane.sh from the source tree (built on first use, with progress shown),
applies the CRDs and examples with kubectl, runs `sd-operator run` as its own process, and shows
`kubectl get` as READY / SYNCED / DRIFT change while AWS is changed behind the operator's back.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

NAMESPACE = "payments"
TIMEOUT = 120.0


def _run(*cmd: str, check: bool = True, capture: bool = False) -> str:
    done = subprocess.run(cmd, check=check, text=True, capture_output=capture)
    return done.stdout if capture else ""


class Cluster:
    def __init__(self, root: Path) -> None:
        self.root = root
        script = root / "hack" / "control-plane.sh"
        status = subprocess.run([str(script), "status"], capture_output=True, check=False)
        self.started_here = status.returncode != 0
        print(
            "starting the local control plane (the first run builds kube-apiserver and etcd;"
            " later runs take seconds)",
            flush=True,
        )
        _run(str(script), "up")
        self.kubeconfig = str(root / ".control-plane" / "kubeconfig")
        self.kubectl = _run(str(root / "hack" / "tools.sh"), "kubectl", capture=True).strip()

    def k(self, *args: str, capture: bool = False, check: bool = True) -> str:
        return _run(
            self.kubectl, "--kubeconfig", self.kubeconfig, *args, capture=capture, check=check
        )

    def show(self) -> None:
        print(f"$ kubectl get cloudmapnamespaces,servicediscoveries -n {NAMESPACE}", flush=True)
        self.k("get", "cloudmapnamespaces,servicediscoveries", "-n", NAMESPACE)

    def conditions(self) -> dict[str, dict[str, dict[str, str]]]:
        raw = json.loads(
            self.k(
                "get",
                "servicediscoveries,cloudmapnamespaces",
                "-n",
                NAMESPACE,
                "-o",
                "json",
                capture=True,
            )
        )
        return {
            item["metadata"]["name"]: {
                c["type"]: c for c in item.get("status", {}).get("conditions", [])
            }
            for item in raw["items"]
        }

    def wait(self, what: str, ok: Callable[[dict[str, dict[str, dict[str, str]]]], bool]) -> None:
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            if ok(self.conditions()):
                return
            time.sleep(1.0)
        raise SystemExit(f"demo failed: timed out waiting for {what}")

    def down(self) -> None:
        if self.started_here:
            _run(str(self.root / "hack" / "control-plane.sh"), "down", check=False)


def _all(cond: str, status: str, reason: str | None = None) -> Callable[..., bool]:
    def check(found: dict[str, dict[str, dict[str, str]]]) -> bool:
        return len(found) == 3 and all(
            c.get(cond, {}).get("status") == status
            and (reason is None or c.get(cond, {}).get("reason") == reason)
            for c in found.values()
        )

    return check


def run_cluster_demo(endpoint: str, examples: Path, break_things: Callable[[str], None]) -> None:
    root = examples.parent
    cluster = Cluster(root)
    operator: subprocess.Popen[bytes] | None = None
    try:
        print("\n=== CRDs and the demo namespace", flush=True)
        cluster.k("apply", "--server-side", "-f", str(root / "crds"))
        cluster.k("wait", "--for=condition=Established", "crd", "--all", "--timeout=60s")
        cluster.k("create", "namespace", NAMESPACE, check=False)
        print("\n=== the operator, as its own process", flush=True)
        log = open(root / ".control-plane" / "demo-operator.log", "wb")  # noqa: SIM115
        operator = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "sd_operator.cli",
                "run",
                "--namespace",
                NAMESPACE,
                "--region",
                "us-east-1",
                "--aws-endpoint-url",
                endpoint,
                "--resync-seconds",
                "5",
                "--cluster-name",
                "demo",
            ],
            env={**os.environ, "KUBECONFIG": cluster.kubeconfig},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        print(f"sd-operator run (pid {operator.pid}); log: {log.name}", flush=True)
        print("\n=== kubectl apply -f examples/myapp", flush=True)
        cluster.k("apply", "-f", str(examples / "myapp"))
        cluster.show()
        cluster.wait(
            "every resource Ready and Synced",
            lambda f: _all("Ready", "True")(f) and _all("Synced", "True")(f),
        )
        print("\n=== all Ready and Synced: AWS matches the manifests", flush=True)
        cluster.show()
        break_things(endpoint)
        cluster.wait(
            "drift to be detected and corrected",
            lambda f: (
                sum(c.get("Drifted", {}).get("reason") == "Corrected" for c in f.values()) == 2
            ),
        )
        print(
            "\n=== drift detected and corrected by the operator (DRIFT column: "
            "Drifted=False, reason Corrected)",
            flush=True,
        )
        cluster.show()
        print("$ kubectl get events -n payments --field-selector reason=DriftDetected", flush=True)
        cluster.k("get", "events", "-n", NAMESPACE, "--field-selector", "reason=DriftDetected")
        print("\n=== kubectl delete: the finalizer holds until AWS is torn down", flush=True)
        cluster.k("delete", "-f", str(examples / "myapp"), "--timeout=120s")
        print("deleted: ECS links, Cloud Map services, then the namespace", flush=True)
    finally:
        if operator is not None:
            operator.terminate()
            operator.wait(timeout=30)
        cluster.down()
