"""Benchmark: the drift sweep over N ServiceDiscoveries spread over several AWS accounts (a
DiscoveryGrant with its own role per tenant, docs/tenancy.md), one account throttled, beside the
same N in one account, measured in the same run.

    .venv/bin/python bench/accounts.py [--n 200] [--accounts 4] [--throttle-account 30]
                                       [--sweeps 3] [--interval 10]

The set-up (each resource's change-handler steps to InSync) runs with the operator's AWS budget
scaled out of the way: at its CreateService rate (5/s) 1,000 creates alone take 200 s per
layout, and the set-up is not what is measured. The budgets are then made again at the
defaults, before the throttling is injected and the first measured sweep.

Each layout runs in a process of its own (its CPU and peak RSS are its own), in process against
the emulator (AWS's page size, 100; the operator's default AWS budget): 4 tenants, each a
Kubernetes namespace with an public DNS CloudMapNamespace and N/4 Cloud Map-only ServiceDiscoveries.
"1 account": every grant acts with the operator's own credentials. "4 accounts": each grant
names a role in its own account, and the last account answers `--throttle-account` percent of
its Cloud Map and tagging calls with ThrottlingException. Reported, medians over `--sweeps`:
AWS calls per resource per sweep (throttled attempts included; per account), CPU per sweep
(process time: the operator's and the in-process emulator's together) and its wall time, peak
RSS (VmHWM, both together); then the drift sweep runs on its own thread every `--interval` s
and one service per account gets an out-of-band TTL change: seconds until the sweep put it back.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "integration"))

from prometheus_client import REGISTRY
from test_grant_roles import Writer, converge, operator, through

import builders
from sd_devkit.emulator import Emulator, assumed_session, client_config, trust_policy
from sd_devkit.emulator.clients import DUMMY_ACCESS_KEY, DUMMY_SECRET_KEY, client
from sd_operator.aws.adapters import Adapters
from sd_operator.aws.budget import BUDGETS
from sd_operator.handlers.sweep import JITTER, Sweeper
from sd_operator.handlers.units import Units
from sd_operator.model.grants import Role
from sd_operator.reconcile.reconciler import Reconciler
from sd_operator.reconcile.result import Outcome

REGION = "us-east-1"
TENANTS = 4
TTL = 10
THROTTLED_APIS = ("servicediscovery:*", "tagging:*")
# Every rate of the budget times this during the set-up: no call waits for a token there.
UNPACED = 1000.0


def discovery(tenant: str, namespace: str, i: int) -> dict[str, Any]:
    return {
        "apiVersion": "sd-operator.io/v1alpha1",
        "kind": "ServiceDiscovery",
        "metadata": {
            "name": f"svc-{i:04d}",
            "namespace": tenant,
            "uid": f"uid-{tenant}-{i}",
            "generation": 1,
        },
        "spec": {
            "cloudMapNamespace": {"name": f"{namespace}.bench.example"},
            "service": {
                "name": f"svc-{i:04d}",
                "dns": {"routingPolicy": "MULTIVALUE", "records": [{"type": "A", "ttl": TTL}]},
            },
        },
    }


def cloud_map_namespace(tenant: str, name: str) -> dict[str, Any]:
    """A public DNS namespace: its services have DNS records, whose TTL the drift edits."""
    return {
        "apiVersion": "sd-operator.io/v1alpha1",
        "kind": "CloudMapNamespace",
        "metadata": {"name": name, "namespace": tenant, "uid": f"uid-{name}", "generation": 1},
        "spec": {"name": f"{name}.bench.example", "type": "DnsPublic"},
    }


def calls_by_account() -> dict[str, float]:
    """The operator's AWS calls so far (every outcome), per account."""
    found: dict[str, float] = {}
    for family in REGISTRY.collect():
        if family.name != "sd_operator_aws_calls":
            continue
        for sample in family.samples:
            if sample.name.endswith("_total"):
                account = sample.labels["account"]
                found[account] = found.get(account, 0.0) + sample.value
    return found


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@contextmanager
def unpaced() -> Iterator[None]:
    """The operator's budgets scaled by UNPACED, then made afresh at the defaults (the hook in
    clients.py asks BUDGETS for its account's budget at each call)."""
    BUDGETS.configure({}, scale=UNPACED)
    try:
        yield
    finally:
        BUDGETS.configure({})


def set_up(units: Units, tenants: list[str], n: int) -> list[dict[str, Any]]:
    """Each tenant's CloudMapNamespace and its share of the N ServiceDiscoveries, converged."""
    bodies: list[dict[str, Any]] = []
    for t, tenant in enumerate(tenants):
        ns = cloud_map_namespace(tenant, f"team{t}")
        bodies.append(ns)
        assert converge(units, ns).outcome is Outcome.IN_SYNC
        for i in range(t, n, TENANTS):
            body = discovery(tenant, f"team{t}", i)
            done = converge(units, body)
            assert done.outcome is Outcome.IN_SYNC, (done.reason, done.message)
            bodies.append(body)
    return bodies


def layout(n: int, accounts: int, throttle: float, sweeps: int, interval: float) -> dict[str, Any]:
    with Emulator(page_size=100) as emu:
        reconciler = Reconciler(Adapters(REGION, emu.endpoint_url), builders.CLUSTER)
        roles: list[Role | None] = [None] * TENANTS
        account_ids = [emu.account_id] * TENANTS
        if accounts > 1:
            account_ids = [f"4{t + 1}{'0' * 10}" for t in range(TENANTS)]
            roles = [
                Role(emu.create_role(a, f"sd-operator-team-{t}", trust_policy(emu.account_id)))
                for t, a in enumerate(account_ids)
            ]
        tenants = [f"team-{t}" for t in range(TENANTS)]
        units = operator(
            emu, reconciler, *(through(t, t, role) for t, role in zip(tenants, roles, strict=True))
        )
        started = time.monotonic()
        with unpaced():
            bodies = set_up(units, tenants, n)
        print(f"set-up: {n} resources in {time.monotonic() - started:.0f} s", file=sys.stderr)
        if throttle:
            for api in THROTTLED_APIS:
                emu.inject(api, rate=throttle / 100, account=account_ids[-1])

        sweeper = Sweeper(units, Writer(), interval=interval)
        for body in bodies:
            sweeper.seen("ADDED", body)
        per_sweep: list[dict[str, float]] = []
        cpu: list[float] = []
        wall: list[float] = []
        for _ in range(sweeps):
            before, started = calls_by_account(), time.process_time()
            began = time.monotonic()
            report = sweeper.sweep()
            cpu.append(time.process_time() - started)
            wall.append(time.monotonic() - began)
            assert report.stepped == len(bodies), report
            after = calls_by_account()
            per_sweep.append({a: after[a] - before.get(a, 0.0) for a in after})

        unthrottled = sorted(set(account_ids[:-1] if throttle else account_ids))
        latencies = drift(emu, sweeper, roles, bodies, unthrottled, account_ids, interval)
        sweeper.stop()
        total = [sum(calls.values()) for calls in per_sweep]
        return {
            "layout": f"{accounts} account(s)",
            "n": n,
            "reads_per_resource_per_sweep": statistics.median(total) / n,
            "calls_per_sweep_by_account": {
                a: statistics.median(c.get(a, 0.0) for c in per_sweep) for a in sorted(per_sweep[0])
            },
            "cpu_per_sweep_s": statistics.median(cpu),
            # Beside the CPU: on a shared machine a sweep can take longer than its CPU time.
            "wall_per_sweep_s": statistics.median(wall),
            "peak_rss_mib": peak_rss_mib(),
            "drift_corrected_s": latencies,
            "goal_s": interval * (1 + JITTER) + 5,
        }


def drift(
    emu: Emulator,
    sweeper: Sweeper,
    roles: list[Role | None],
    bodies: list[dict[str, Any]],
    unthrottled: list[str],
    account_ids: list[str],
    interval: float,
) -> dict[str, float]:
    """One service per unthrottled account edited out of band, the sweep running on its thread:
    seconds from each edit until AWS shows the declared TTL again."""
    targets = []
    for t, account in enumerate(account_ids):
        if account not in unthrottled or any(account == a for a, _, _ in targets):
            continue
        role = roles[t]
        if role is None:
            sd = client("servicediscovery", emu.endpoint_url, REGION)
        else:
            session = assumed_session(emu.endpoint_url, role.arn, REGION)
            sd = session.client(
                "servicediscovery", endpoint_url=emu.endpoint_url, config=client_config()
            )
        body = next(
            b
            for b in bodies
            if b["metadata"]["namespace"] == f"team-{t}" and b["kind"] == "ServiceDiscovery"
        )
        targets.append((account, sd, body["status"]["serviceId"]))
    sweeper.start()
    edited: dict[str, float] = {}
    for account, sd, service_id in targets:
        sd.update_service(
            Id=service_id, Service={"DnsConfig": {"DnsRecords": [{"Type": "A", "TTL": 300}]}}
        )
        edited[account] = time.monotonic()
    corrected: dict[str, float] = {}
    deadline = time.monotonic() + 4 * interval + 60
    while len(corrected) < len(targets) and time.monotonic() < deadline:
        for account, sd, service_id in targets:
            if account in corrected:
                continue
            service = sd.get_service(Id=service_id)["Service"]
            if service["DnsConfig"]["DnsRecords"][0]["TTL"] == TTL:
                corrected[account] = round(time.monotonic() - edited[account], 1)
        time.sleep(0.5)
    return corrected


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--accounts", type=int, default=4)
    parser.add_argument("--throttle-account", type=float, default=30.0)
    parser.add_argument("--sweeps", type=int, default=3)
    parser.add_argument("--interval", type=float, default=10.0)
    parser.add_argument("--only", choices=["single", "multi"])
    args = parser.parse_args()
    if args.only == "single":
        print(json.dumps(layout(args.n, 1, 0.0, args.sweeps, args.interval)))
        return
    if args.only == "multi":
        result = layout(args.n, args.accounts, args.throttle_account, args.sweeps, args.interval)
        print(json.dumps(result))
        return
    for only in ("single", "multi"):
        subprocess.run([sys.executable, __file__, *sys.argv[1:], "--only", only], check=True)


if __name__ == "__main__":
    os.environ.setdefault("AWS_ACCESS_KEY_ID", DUMMY_ACCESS_KEY)
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", DUMMY_SECRET_KEY)
    main()
