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
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

NAMESPACE = "payments"
# The operator's --cluster-name and --cluster-id: a plan from the CLI (a pipeline's preview)
# passes the same, or it sees AWS resources as owned by another cluster.
OPERATOR_IDENTITY = ("--cluster-name", "demo", "--cluster-id", "sd-operator-demo")
TIMEOUT = 120.0


class DemoError(Exception):
    """One line for the user: what the demo was doing and why it stopped."""


def _run(*cmd: str, check: bool = True, capture: bool = False) -> str:
    done = subprocess.run(cmd, check=check, text=True, capture_output=capture)
    return done.stdout if capture else ""


def _step(what: str, *cmd: str, env: dict[str, str] | None = None, capture: bool = False) -> str:
    """Run a setup command, its progress (stderr) shown as it comes; a failure is one line
    naming the step and the command's last words (control-plane.sh says why, e.g. which port
    is taken)."""
    with subprocess.Popen(
        cmd, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
    ) as proc:
        assert proc.stdout is not None
        assert proc.stderr is not None
        last = ""  # held back one line: on failure it is the reason, said once
        for line in proc.stderr:
            if line.strip():
                if last:
                    print(last, file=sys.stderr, flush=True)
                last = line.strip()
        out = proc.stdout.read()
    if proc.returncode != 0:
        raise DemoError(f"{what} failed: {last or f'exit {proc.returncode}'}")
    if last:
        print(last, file=sys.stderr, flush=True)
    if not capture and out:
        print(out, end="", flush=True)
    return out


def state_dir(root: Path) -> Path:
    """Where hack/control-plane.sh keeps its kubeconfig and logs: CONTROL_PLANE_DIR, as the
    script itself reads it."""
    return Path(os.environ.get("CONTROL_PLANE_DIR") or root / ".control-plane")


def control_plane_env() -> dict[str, str]:
    """The demo picks a free port unless told one: another control plane (a kind cluster,
    another checkout) often holds 6443."""
    return {**os.environ, "CONTROL_PLANE_PORT": os.environ.get("CONTROL_PLANE_PORT") or "auto"}


class Cluster:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.state = state_dir(root)
        script = root / "hack" / "control-plane.sh"
        env = control_plane_env()
        status = subprocess.run([str(script), "status"], capture_output=True, check=False, env=env)
        self.started_here = status.returncode != 0
        if self.started_here:
            print(
                "starting the local control plane (the first run builds kube-apiserver and "
                "etcd; later runs take seconds)",
                flush=True,
            )
            try:
                _step("starting the local control plane", str(script), "up", env=env)
            except DemoError as first:
                if env["CONTROL_PLANE_PORT"] != "auto":
                    raise
                # A free port picked can still be taken by another process before the
                # server binds it; a second start picks new ones.
                print(f"{first}; trying again on other ports", file=sys.stderr, flush=True)
                subprocess.run([str(script), "down"], env=env, check=False, capture_output=True)
                _step("starting the local control plane", str(script), "up", env=env)
        self.kubeconfig = str(self.state / "kubeconfig")
        self.kubectl = _step(
            "finding kubectl", str(root / "hack" / "tools.sh"), "kubectl", capture=True
        ).strip()

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
        raise DemoError(f"timed out after {TIMEOUT:.0f}s waiting for {what}")

    def down(self) -> None:
        if self.started_here:
            script = str(self.root / "hack" / "control-plane.sh")
            subprocess.run([script, "down"], env=control_plane_env(), check=False)


def _all(cond: str, status: str, reason: str | None = None) -> Callable[..., bool]:
    def check(found: dict[str, dict[str, dict[str, str]]]) -> bool:
        return len(found) == 3 and all(
            c.get(cond, {}).get("status") == status
            and (reason is None or c.get(cond, {}).get("reason") == reason)
            for c in found.values()
        )

    return check


def _until(what: str, probe: Callable[[], bool]) -> None:
    deadline = time.monotonic() + TIMEOUT
    while not probe():
        if time.monotonic() >= deadline:
            raise DemoError(f"timed out after {TIMEOUT:.0f}s waiting for {what}")
        time.sleep(1.0)


def hybrid_step(cluster: Cluster, endpoint: str, examples: Path) -> None:
    """examples/hybrid: payment-service's pods exported to Cloud Map, user-service's ECS tasks
    imported as a Kubernetes Service. No controller-manager and no ECS run here: the demo plays
    the EndpointSlice controller (three ready pods) and ECS (two tasks registered)."""
    from sd_devkit.emulator import client

    sd = client("servicediscovery", endpoint, "us-east-1")
    print("\n=== hybrid: payment-service on EKS <-> user-service on ECS", flush=True)
    user_service = cluster.k(
        "get",
        "sd",
        "user-service",
        "-n",
        NAMESPACE,
        "-o",
        "jsonpath={.status.serviceId}",
        capture=True,
    )
    tasks = {"task-1": "10.1.0.11", "task-2": "10.1.0.12"}
    for task, ip in tasks.items():
        sd.register_instance(
            ServiceId=user_service,
            InstanceId=task,
            Attributes={"AWS_INSTANCE_IPV4": ip, "AWS_INSTANCE_PORT": "3000"},
        )
    print(f"ECS registered user-service tasks {', '.join(tasks.values())} in Cloud Map")
    pods: dict[str, Any] = {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {
            "name": "payment-service-eks-1",
            "namespace": NAMESPACE,
            "labels": {
                "kubernetes.io/service-name": "payment-service-eks",
                # the demo plays the EndpointSlice controller: only its slices are exported
                "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io",
            },
        },
        "addressType": "IPv4",
        "ports": [{"name": "https", "port": 8443, "protocol": "TCP"}],
        "endpoints": [
            {"addresses": [f"10.0.0.{i}"], "conditions": {"ready": True}} for i in (1, 2, 3)
        ],
    }
    manifest = cluster.state / "demo-endpointslice.json"
    manifest.write_text(json.dumps(pods))
    print("$ kubectl apply -f examples/hybrid   (+ the pods' EndpointSlice)", flush=True)
    cluster.k("apply", "-f", str(examples / "hybrid"), "-f", str(manifest))

    def exported() -> list[str]:
        service_id = cluster.k(
            "get",
            "sd",
            "payment-service-eks",
            "-n",
            NAMESPACE,
            "-o",
            "jsonpath={.status.serviceId}",
            capture=True,
            check=False,
        )
        if not service_id:
            return []
        pages = sd.get_paginator("list_instances").paginate(ServiceId=service_id)
        listed = [i for page in pages for i in page["Instances"]]
        return sorted(i["Attributes"].get("AWS_INSTANCE_IPV4", "") for i in listed)

    def imported() -> str:
        return cluster.k(
            "get",
            "endpointslices",
            "-n",
            NAMESPACE,
            "-l",
            "kubernetes.io/service-name=user-service",
            "-o",
            "jsonpath={.items[*].endpoints[*].addresses[*]}",
            capture=True,
            check=False,
        )

    _until("the pods in Cloud Map", lambda: exported() == ["10.0.0.1", "10.0.0.2", "10.0.0.3"])
    print(f"Cloud Map payment-service-eks.myapp.local instances: {', '.join(exported())}")
    _until(
        "the tasks in an EndpointSlice",
        lambda: sorted(imported().split()) == sorted(tasks.values()),
    )
    print("$ kubectl get endpointslices -l kubernetes.io/service-name=user-service", flush=True)
    cluster.k(
        "get", "endpointslices", "-n", NAMESPACE, "-l", "kubernetes.io/service-name=user-service"
    )
    print("\n=== a pod goes away: only its instance is deregistered", flush=True)
    pods["endpoints"] = pods["endpoints"][:2]
    manifest.write_text(json.dumps(pods))
    cluster.k("apply", "-f", str(manifest))
    _until("the scale-down in Cloud Map", lambda: exported() == ["10.0.0.1", "10.0.0.2"])
    print(f"Cloud Map payment-service-eks.myapp.local instances: {', '.join(exported())}")
    cluster.k("delete", "-f", str(examples / "hybrid"), "-f", str(manifest), "--timeout=120s")
    for task in tasks:  # what ECS does once the registry is removed, before the deletes below
        sd.deregister_instance(ServiceId=user_service, InstanceId=task)
    print("hybrid resources deleted: our instances deregistered, the imported Service removed")


def run_cluster_demo(
    endpoint: str,
    examples: Path,
    break_things: Callable[[str], None],
    preview: Callable[[str, Sequence[str]], None],
) -> None:
    # The control plane and the CRDs come from the source checkout the examples link into.
    root = examples.resolve().parent
    if not (root / "hack" / "control-plane.sh").is_file():
        raise DemoError(
            "the cluster demo needs a source checkout of sd-operator (hack/control-plane.sh); "
            "`sd-operator demo --no-cluster` runs without one"
        )
    cluster = Cluster(root)
    operator: subprocess.Popen[bytes] | None = None
    try:
        print("\n=== CRDs and the demo namespace", flush=True)
        cluster.k("apply", "--server-side", "-f", str(root / "crds"))
        cluster.k("wait", "--for=condition=Established", "crd", "--all", "--timeout=60s")
        cluster.k("create", "namespace", NAMESPACE, check=False)
        print("\n=== the operator, as its own process", flush=True)
        log = open(cluster.state / "demo-operator.log", "wb")  # noqa: SIM115
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
                "--sweep-seconds",
                "5",
                *OPERATOR_IDENTITY,
            ],
            env={**os.environ, "KUBECONFIG": cluster.kubeconfig},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        print(f"sd-operator run (pid {operator.pid}); log: {log.name}", flush=True)
        # The platform team's part first: without a grant the operator refuses the payments
        # team's resources (docs/tenancy.md).
        print("\n=== kubectl apply -f examples/myapp/grant.yaml   (the platform team)", flush=True)
        cluster.k("apply", "-f", str(examples / "myapp" / "grant.yaml"))
        print("\n=== kubectl apply -f examples/myapp", flush=True)
        cluster.k("apply", "-f", str(examples / "myapp"))
        cluster.show()
        cluster.wait(
            "every resource Ready and Synced",
            lambda f: _all("Ready", "True")(f) and _all("Synced", "True")(f),
        )
        print("\n=== all Ready and Synced: AWS matches the manifests", flush=True)
        cluster.show()
        preview(endpoint, OPERATOR_IDENTITY)
        hybrid_step(cluster, endpoint, examples)
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
