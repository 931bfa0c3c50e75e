"""Benchmark: continuous drift correction at N resources (issue 9's table), end to end.

    hack/control-plane.sh up && eval "$(hack/control-plane.sh env)"
    .venv/bin/python bench/scale.py --n 1000 [--sweep-seconds 30] [--out bench/out-1000.json]

What runs: `sd-operator emulator` (its own process, AWS's page sizes), the local kube-apiserver,
and `sd-operator run --sweep-seconds 30` (its own process, default AWS API budget). N
Cloud Map-only ServiceDiscoveries in one private namespace. Phases, one after the other:

1. cold convergence: create the namespace and N resources; time until all are Ready; AWS calls.
2. first observation: restart the operator over what now exists; time until every resource
   has been stepped once (sd_operator_reconciles_total), AWS calls in that time.
3. steady state: three sweeps; AWS read calls per resource per sweep, operator CPU per sweep,
   emulator CPU per sweep, sweep duration (sd_operator_sweep_seconds).
4. the naive observer: one GetService per resource, in this process against the same emulator
   (calls per resource per sweep and its wall time), for comparison with phase 3.
5. drift: 10 out-of-band TTL changes at once; time until each is corrected in AWS.
6. throttled (30% of every Cloud Map, tagging and ECS call answered ThrottlingException): two
   sweeps and 10 TTL changes again; and `sd-operator apply` of 28 services with and without it.
7. peak RSS (VmHWM) of the operator: the cold one over phase 1, the restarted one over phase 2
   and over phases 3-6 (the peak is reset between them, so each phase's own peak shows).

Prints one line per figure and writes them as JSON (--out). Not a test: timing on a shared
machine is noisy; compare within one run.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BIN = ROOT / ".venv" / "bin"
sys.path.insert(0, str(ROOT / "operator" / "src"))

from sd_devkit.emulator import EmulatorControl, client  # noqa: E402
from sd_devkit.emulator.clients import DUMMY_ACCESS_KEY, DUMMY_SECRET_KEY  # noqa: E402

REGION = "us-east-1"
GROUP, VERSION = "sd-operator.io", "v1alpha1"
CLK_TCK = os.sysconf("SC_CLK_TCK")
THROTTLED_APIS = ("servicediscovery:*", "tagging:*", "ecs:*")


def log(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def reset_peak_rss(pid: int) -> None:
    """Reset VmHWM to the current RSS (proc(5), clear_refs "5"), so the next reading is the
    peak of what came since."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")


def aws_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_ACCESS_KEY_ID=DUMMY_ACCESS_KEY,
        AWS_SECRET_ACCESS_KEY=DUMMY_SECRET_KEY,
        AWS_EC2_METADATA_DISABLED="true",
        PYTHONUNBUFFERED="1",
    )
    return env


class Emulator:
    def __init__(self, logs: Path) -> None:
        self.log = (logs / "emulator.log").open("w")
        self.proc = subprocess.Popen(
            [str(BIN / "sd-operator"), "emulator", "--port", "0"],
            stdout=subprocess.PIPE,
            stderr=self.log,
            text=True,
            env=aws_env(),
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        match = re.search(r"endpoint: (\S+)", line)
        if not match:
            raise RuntimeError(f"emulator did not start: {line!r}")
        self.url = match.group(1)
        self.control = EmulatorControl(self.url)

    def calls(self) -> dict[str, int]:
        return self.control.calls()

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=30)


class Operator:
    def __init__(self, emulator_url: str, namespace: str, interval: float, logs: Path) -> None:
        self.path = logs / f"operator-{int(time.time())}.log"
        self.out = self.path.open("w")
        args = [
            str(BIN / "sd-operator"),
            "run",
            "--namespace",
            namespace,
            "--region",
            REGION,
            "--aws-endpoint-url",
            emulator_url,
            "--sweep-seconds",
            str(interval),
            "--cluster-name",
            "bench",
            "--log-format",
            "json",
            "--metrics-port",
            "0",
        ]
        self.proc = subprocess.Popen(args, stdout=self.out, stderr=subprocess.STDOUT, env=aws_env())
        self.metrics_url = self._metrics_url()

    def _metrics_url(self) -> str:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            for line in self.path.read_text(errors="replace").splitlines():
                if '"serving metrics"' in line:
                    return str(json.loads(line)["url"])
            time.sleep(0.5)
        raise RuntimeError(f"operator did not serve metrics: see {self.path}")

    def metric(self, name: str, **labels: str) -> float:
        text = urllib.request.urlopen(self.metrics_url, timeout=10).read().decode()
        total = 0.0
        for line in text.splitlines():
            if not line.startswith(name):
                continue
            head, _, value = line.rpartition(" ")
            if head.split("{", 1)[0] != name:
                continue
            if all(f'{k}="{v}"' in head for k, v in labels.items()):
                total += float(value)
        return total

    @property
    def pid(self) -> int:
        return self.proc.pid

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def kube() -> Any:
    from kubernetes import client as kclient  # type: ignore[import-untyped]
    from kubernetes import config

    config.load_kube_config()
    api = kclient.ApiClient()
    api.configuration.connection_pool_maxsize = 16
    return kclient.CustomObjectsApi(api), kclient.CoreV1Api(api)


def install_crds() -> None:
    import yaml
    from kubernetes import client as kclient
    from kubernetes.client.exceptions import ApiException  # type: ignore[import-untyped]

    api = kclient.ApiextensionsV1Api()
    for path in sorted((ROOT / "crds").glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if not doc:
                continue
            try:
                api.create_custom_resource_definition(doc)
            except ApiException as exc:
                if exc.status != 409:
                    raise
    time.sleep(3)  # Established


def grant_all(namespace: str) -> None:
    """examples/grants/allow-all.yaml for the bench's namespace only: the operator acts on no
    resource that no DiscoveryGrant allows (docs/tenancy.md)."""
    import yaml
    from kubernetes import client as kclient

    grant = yaml.safe_load((ROOT / "examples" / "grants" / "allow-all.yaml").read_text())
    grant["metadata"]["name"] = namespace
    grant["spec"]["namespaces"] = {"names": [namespace]}
    kclient.CustomObjectsApi().create_cluster_custom_object(
        GROUP, VERSION, "discoverygrants", grant
    )


def discovery(namespace: str, i: int) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "ServiceDiscovery",
        "metadata": {"name": f"svc-{i:04d}", "namespace": namespace},
        "spec": {
            "namespaceRef": {"name": "bench"},
            "service": {
                "dns": {"routingPolicy": "MULTIVALUE", "records": [{"type": "A", "ttl": 10}]},
                "healthCheck": {"custom": {}},
            },
        },
    }


def count_ready(custom: Any, namespace: str) -> tuple[int, int]:
    items = custom.list_namespaced_custom_object(GROUP, VERSION, namespace, "servicediscoveries")
    ready = 0
    for obj in items["items"]:
        conditions = (obj.get("status") or {}).get("conditions") or []
        if any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions):
            ready += 1
    return ready, len(items["items"])


def delta(after: dict[str, int], before: dict[str, int]) -> dict[str, int]:
    return {k: v - before.get(k, 0) for k, v in after.items() if v - before.get(k, 0)}


def reads(calls: dict[str, int]) -> int:
    return sum(
        v for k, v in calls.items() if k.split(":", 1)[1].startswith(("List", "Get", "Describe"))
    )


def sweeps_logged(op: Operator) -> list[dict[str, Any]]:
    """The operator's `swept` log lines (one per sweep: resources, written, seconds)."""
    lines = op.path.read_text(errors="replace").splitlines()
    return [json.loads(line) for line in lines if '"event": "swept"' in line]


def wait_sweeps(op: Operator, count: int, timeout: float) -> list[dict[str, Any]]:
    """The next `count` sweeps, from the operator's log: scraping /metrics to watch for them
    cost the operator about 7 ms of CPU per scrape at N = 1,000 (it renders every metric), a
    fifth of the CPU per sweep this measures when polled every 0.5 s."""
    start = len(sweeps_logged(op))
    deadline = time.monotonic() + timeout
    while len(done := sweeps_logged(op)) < start + count:
        if time.monotonic() > deadline:
            raise RuntimeError(f"no {count} sweeps within {timeout}s")
        time.sleep(0.5)
    return done[start : start + count]


def steady(op: Operator, emu: Emulator, n: int, sweeps: int, interval: float) -> dict[str, Any]:
    wait_sweeps(op, 1, interval * 3)  # start at a sweep's end
    per_sweep, cpu, emu_cpu, durations, writes = [], [], [], [], []
    for _ in range(sweeps):
        calls0, cpu0, ecpu0 = emu.calls(), cpu_seconds(op.pid), cpu_seconds(emu.proc.pid)
        [swept] = wait_sweeps(op, 1, interval * 3)
        used = delta(emu.calls(), calls0)
        per_sweep.append(reads(used) / n)
        cpu.append(cpu_seconds(op.pid) - cpu0)
        emu_cpu.append(cpu_seconds(emu.proc.pid) - ecpu0)
        durations.append(float(swept["seconds"]))
        writes.append(int(swept["written"]))
        log(
            f"  sweep: {reads(used)} reads ({per_sweep[-1]:.3f}/resource), {used}, "
            f"operator CPU {cpu[-1]:.2f}s, emulator CPU {emu_cpu[-1]:.2f}s, "
            f"sweep {durations[-1]:.1f}s, status writes {writes[-1]}"
        )
    return {
        "reads_per_resource_per_sweep": statistics.median(per_sweep),
        "operator_cpu_per_sweep_s": statistics.median(cpu),
        "emulator_cpu_per_sweep_s": statistics.median(emu_cpu),
        "sweep_duration_s": statistics.median(durations),
        "status_writes_per_sweep": statistics.median(writes),
    }


def bench_client(emu: Emulator) -> Any:
    """The bench's own reads and console edits: retried through injected throttling."""
    from botocore.config import Config

    config = Config(retries={"mode": "standard", "max_attempts": 20}, max_pool_connections=4)
    return client("servicediscovery", emu.url, REGION, config=config)


def naive_observer(emu: Emulator, service_ids: list[str]) -> dict[str, Any]:
    sd = bench_client(emu)
    calls0, ecpu0 = emu.calls(), cpu_seconds(emu.proc.pid)
    start = time.monotonic()
    for service_id in service_ids:
        sd.get_service(Id=service_id)
    used = delta(emu.calls(), calls0)
    return {
        "reads_per_resource_per_sweep": reads(used) / len(service_ids),
        "wall_s": time.monotonic() - start,
        "emulator_cpu_s": cpu_seconds(emu.proc.pid) - ecpu0,
    }


def drift(emu: Emulator, service_ids: list[str], interval: float) -> list[float]:
    """10 out-of-band TTL changes, made interval / 10 apart: made together they would share one
    point of the sweep interval, and their latencies would be one sample, not ten."""
    sd = bench_client(emu)
    changed = service_ids[:: max(1, len(service_ids) // 10)][:10]
    started: dict[str, float] = {}
    latencies: dict[str, float] = {}

    def look() -> None:
        for service_id, at in started.items():
            if service_id in latencies:
                continue
            ttl = sd.get_service(Id=service_id)["Service"]["DnsConfig"]["DnsRecords"][0]["TTL"]
            if ttl == 10:
                latencies[service_id] = time.monotonic() - at

    for service_id in changed:
        sd.update_service(
            Id=service_id, Service={"DnsConfig": {"DnsRecords": [{"Type": "A", "TTL": 300}]}}
        )
        started[service_id] = time.monotonic()
        next_change = started[service_id] + interval / len(changed)
        while time.monotonic() < next_change:
            look()
            time.sleep(0.5)
    deadline = time.monotonic() + interval * 4
    while len(latencies) < len(changed) and time.monotonic() < deadline:
        look()
        time.sleep(0.5)
    return sorted(latencies.get(s, float("inf")) for s in changed)


def service_ids(custom: Any, namespace: str) -> list[str]:
    items = custom.list_namespaced_custom_object(GROUP, VERSION, namespace, "servicediscoveries")
    return sorted(str(o["status"]["serviceId"]) for o in items["items"])


def cli_apply(emu: Emulator, name: str, throttled: bool) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        docs = [
            {
                "apiVersion": f"{GROUP}/{VERSION}",
                "kind": "CloudMapNamespace",
                "metadata": {"name": name, "namespace": "cli"},
                "spec": {"name": f"{name}.local", "type": "Http"},
            }
        ] + [
            {
                "apiVersion": f"{GROUP}/{VERSION}",
                "kind": "ServiceDiscovery",
                "metadata": {"name": f"svc-{i:02d}", "namespace": "cli"},
                "spec": {"namespaceRef": {"name": name}, "service": {}},
            }
            for i in range(28)
        ]
        path = Path(tmp) / "apply.json"
        path.write_text("\n---\n".join(json.dumps(d) for d in docs))
        (Path(tmp) / "apply.yaml").write_text(path.read_text())
        path.unlink()
        if throttled:
            for api in THROTTLED_APIS:
                emu.control.inject(api, error="ThrottlingException", rate=0.3)
        start = time.monotonic()
        done = subprocess.run(
            [
                str(BIN / "sd-operator"),
                "apply",
                "-f",
                tmp,
                "--aws-endpoint-url",
                emu.url,
                "--region",
                REGION,
                "--timeout",
                "900",
            ],
            check=False,
            env=aws_env(),
            capture_output=True,
            text=True,
        )
        took = time.monotonic() - start
        emu.control.clear_faults()
        if done.returncode != 0:
            raise RuntimeError(f"apply failed: {done.stdout[-2000:]} {done.stderr[-2000:]}")
        return took


def main() -> int:  # noqa: PLR0915 -- the benchmark as one script: flags, set-up, runs, report
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=100)
    parser.add_argument("--sweep-seconds", type=float, default=30.0)
    parser.add_argument("--sweeps", type=int, default=3)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--skip-cli", action="store_true", help="skip the 28-service CLI apply")
    args = parser.parse_args()
    n, interval = args.n, args.sweep_seconds
    logs = Path(tempfile.mkdtemp(prefix="sd-bench-"))
    results: dict[str, Any] = {"n": n, "sweep_seconds": interval, "logs": str(logs)}
    emu = Emulator(logs)
    log(f"emulator {emu.url}, logs in {logs}")
    custom, core = kube()
    namespace = f"bench-{uuid.uuid4().hex[:6]}"
    core.create_namespace({"metadata": {"name": namespace}})
    install_crds()
    grant_all(namespace)
    op = Operator(emu.url, namespace, interval, logs)
    bench_start = time.monotonic()
    try:
        # 1. cold convergence
        calls0 = emu.calls()
        start = time.monotonic()
        custom.create_namespaced_custom_object(
            GROUP,
            VERSION,
            namespace,
            "cloudmapnamespaces",
            {
                "apiVersion": f"{GROUP}/{VERSION}",
                "kind": "CloudMapNamespace",
                "metadata": {"name": "bench", "namespace": namespace},
                "spec": {
                    "name": "bench.local",
                    "type": "DnsPrivate",
                    "vpc": "vpc-0a1b2c3d4e5f6071",
                },
            },
        )
        for i in range(n):
            custom.create_namespaced_custom_object(
                GROUP, VERSION, namespace, "servicediscoveries", discovery(namespace, i)
            )
        log(f"created {n} resources in {time.monotonic() - start:.1f}s")
        while True:
            ready, _ = count_ready(custom, namespace)
            if ready == n:
                break
            if time.monotonic() - start > 1200:
                raise RuntimeError(f"only {ready} of {n} Ready after 1200s")
            time.sleep(2)
        cold = time.monotonic() - start
        used = delta(emu.calls(), calls0)
        results["cold"] = {
            "seconds": cold,
            "operator_peak_rss_mib": peak_rss_mib(op.pid),
            "calls": sum(used.values()),
            "calls_per_resource": sum(used.values()) / (n + 1),
            "by_api": used,
        }
        log(f"1. cold convergence: {cold:.1f}s, {results['cold']}")
        ids = service_ids(custom, namespace)

        # 2. first observation by a restarted operator
        op.stop()
        calls0 = emu.calls()
        op = Operator(emu.url, namespace, interval, logs)
        start = time.monotonic()
        while op.metric("sd_operator_reconciles_total") < n + 1:
            if time.monotonic() - start > 600:
                raise RuntimeError("first observation did not finish in 600s")
            time.sleep(0.5)
        first = time.monotonic() - start
        used = delta(emu.calls(), calls0)
        results["first_observation"] = {
            "seconds": first,
            "operator_peak_rss_mib": peak_rss_mib(op.pid),
            "calls_per_resource": sum(used.values()) / (n + 1),
            "by_api": used,
        }
        log(f"2. first observation: {results['first_observation']}")
        reset_peak_rss(op.pid)

        # 3. steady state
        results["steady"] = steady(op, emu, n + 1, args.sweeps, interval)
        log(f"3. steady: {results['steady']}")

        # 4. the naive observer
        results["naive_getservice"] = naive_observer(emu, ids)
        log(f"4. naive GetService observer: {results['naive_getservice']}")

        # 5. drift
        latencies = drift(emu, ids, interval)
        results["drift"] = {
            "latencies_s": latencies,
            "median_s": statistics.median(latencies),
            "worst_s": max(latencies),
            "within_interval_plus_5": sum(1 for x in latencies if x <= interval + 5),
        }
        log(f"5. drift: {results['drift']}")

        # 6. throttled
        for api in THROTTLED_APIS:
            emu.control.inject(api, error="ThrottlingException", rate=0.3)
        throttled0 = op.metric("sd_operator_aws_calls_total", outcome="throttled")
        results["throttled"] = steady(op, emu, n + 1, 2, interval)
        latencies = drift(emu, ids, interval)
        results["throttled"]["drift_latencies_s"] = latencies
        results["throttled"]["throttled_calls"] = (
            op.metric("sd_operator_aws_calls_total", outcome="throttled") - throttled0
        )
        results["throttled"]["budget_rate_listservices"] = op.metric(
            "sd_operator_aws_budget_rate", api="servicediscovery:ListServices"
        )
        emu.control.clear_faults()
        log(f"6. throttled: {results['throttled']}")
        if not args.skip_cli:
            plain = cli_apply(emu, "cli-plain", throttled=False)
            throttled = cli_apply(emu, "cli-throttled", throttled=True)
            results["cli_apply_28"] = {"plain_s": plain, "throttled_s": throttled}
            log(f"6b. CLI apply of 28 services: {results['cli_apply_28']}")

        # 7. memory
        results["operator_peak_rss_mib"] = {
            "cold": results["cold"]["operator_peak_rss_mib"],
            "first_observation": results["first_observation"]["operator_peak_rss_mib"],
            "after": peak_rss_mib(op.pid),
        }
        results["emulator_peak_rss_mib"] = peak_rss_mib(emu.proc.pid)
        log(f"7. operator peak RSS (MiB) {results['operator_peak_rss_mib']}")
    finally:
        results["bench_seconds"] = time.monotonic() - bench_start
        op.stop()
        emu.stop()
    log(f"bench took {results['bench_seconds']:.0f}s")
    text = json.dumps(results, indent=2, sort_keys=True)
    if args.out:
        args.out.write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
