"""Benchmark: AWS calls and wall time of one drift sweep over N in-sync ServiceDiscovery
resources (Cloud Map service + ECS registry each), fresh reads vs the shared account view.

    .venv/bin/python bench/sweep.py [N ...]        (default: 10 50 100)

Runs against the in-process emulator (page size 100, like AWS's maximum), so times measure the
operator plus a local emulator, not AWS latency: compare the two modes within one run.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "integration"))

from test_sweep_account_view import NS, STEADY, discovery, seed_ecs

from sd_devkit.emulator import Emulator
from sd_devkit.emulator.clients import DUMMY_ACCESS_KEY, DUMMY_SECRET_KEY
from sd_operator.aws.adapters import Adapters
from sd_operator.model.spec import ClusterIdentity, Identity, Resource
from sd_operator.reconcile.converge import converge
from sd_operator.reconcile.reconciler import Reconciler
from sd_operator.reconcile.result import Outcome

REGION = "us-east-1"
ROUNDS = 5


def run(n: int) -> None:
    with Emulator(page_size=100) as emu:
        names = [f"svc-{i:03d}" for i in range(n)]
        seed_ecs(emu.endpoint_url, names)
        reconciler = Reconciler(
            Adapters(REGION, emu.endpoint_url), ClusterIdentity("bench"), view_ttl=3600
        )
        ns = Resource(Identity("CloudMapNamespace", "apps", "sweep", uid="ns"), NS)
        converge(reconciler, ns, None, timeout=60)
        resources = [discovery(name) for name in names]
        for res in resources:
            converge(reconciler, res, NS, timeout=60)
        for mode in ("fresh", "view"):
            times, calls = [], 0
            for _ in range(ROUNDS):
                reconciler.view_reader.invalidate(REGION)  # each sweep starts a new interval
                emu.reset_calls()
                start = time.perf_counter()
                for res in resources:
                    result = reconciler.step(res, STEADY, namespace=NS, from_view=mode == "view")
                    assert result.outcome is Outcome.IN_SYNC, result.message
                times.append(time.perf_counter() - start)
                calls = sum(emu.calls().values())
            print(
                f"N={n:4d} {mode:8s} calls/sweep={calls:5d} "
                f"median sweep={statistics.median(times) * 1000:8.1f} ms "
                f"(min {min(times) * 1000:.1f}, max {max(times) * 1000:.1f}, {ROUNDS} sweeps)",
                flush=True,
            )


if __name__ == "__main__":
    os.environ.setdefault("AWS_ACCESS_KEY_ID", DUMMY_ACCESS_KEY)
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", DUMMY_SECRET_KEY)
    for arg in sys.argv[1:] or ["10", "50", "100"]:
        run(int(arg))
