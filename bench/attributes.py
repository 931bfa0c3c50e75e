"""Benchmark: the drift sweep's AWS reads per resource when 10% of N ServiceDiscovery resources
declare Cloud Map service attributes (spec.service.attributes) and the others declare none.

    .venv/bin/python bench/attributes.py [N ...]        (default: 100 1000)

Cloud Map-only resources in one private namespace, in process against the emulator (AWS's page
size, 100), the AWS budget scaled x100 as in the integration tests: this counts calls, it does
not time them. A sweep is what handlers/sweep.py does: the account view read again, then a step
of every resource from that view. Reported over 2 * ATTRIBUTE_SWEEPS sweeps (each declaring
service has its turn twice): the reads per resource per sweep, by API.
"""

from __future__ import annotations

import os
import sys
from collections import Counter
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "integration"))

from test_sweep_account_view import NS, STEADY

import builders
from sd_devkit.emulator import Emulator
from sd_devkit.emulator.clients import DUMMY_ACCESS_KEY, DUMMY_SECRET_KEY
from sd_operator.aws.adapters import Adapters
from sd_operator.aws.budget import BUDGETS
from sd_operator.model.spec import Identity, Resource, ServiceDiscoverySpec
from sd_operator.reconcile.converge import converge
from sd_operator.reconcile.reader import ATTRIBUTE_SWEEPS, view_as_read
from sd_operator.reconcile.reconciler import Reconciler
from sd_operator.reconcile.result import Outcome

REGION = "us-east-1"
SHARE = 10  # every SHARE-th resource declares attributes: 10%
ATTRIBUTES = {"owner": "payments", "stage": "prod", "apigw-integration": "orders-v2"}


def resource(i: int) -> Resource:
    res = builders.discovery(
        name=f"svc-{i:04d}", namespace="apps", namespace_ref="sweep", uid=f"uid-{i}"
    )
    assert isinstance(res.spec, ServiceDiscoverySpec)
    assert res.spec.service is not None
    if i % SHARE:
        return res
    service = replace(res.spec.service, attributes=ATTRIBUTES)
    return replace(res, spec=replace(res.spec, service=service))


def run(n: int) -> None:
    with Emulator(page_size=100) as emu:
        reconciler = Reconciler(Adapters(REGION, emu.endpoint_url), builders.CLUSTER)
        ns = Resource(Identity("CloudMapNamespace", "apps", "sweep", uid="ns"), NS)
        converge(reconciler, ns, None, timeout=60)
        resources = [resource(i) for i in range(n)]
        for res in resources:
            converge(reconciler, res, NS, timeout=60)
        sweeps = 2 * ATTRIBUTE_SWEEPS
        emu.reset_calls()
        for _ in range(sweeps):
            reconciler.view.refresh(REGION)
            with view_as_read():
                for res in resources:
                    result = reconciler.step(res, STEADY, namespace=NS, from_view=True)
                    assert result.outcome is Outcome.IN_SYNC, result.message
        calls = Counter(emu.calls())
        total = sum(calls.values())
        declaring = len(range(0, n, SHARE))
        print(f"N={n} ({declaring} declare attributes), {sweeps} sweeps:")
        for api, count in sorted(calls.items()):
            print(f"  {api:45s} {count / sweeps:8.2f} per sweep")
        print(f"  reads per resource per sweep: {total / sweeps / n:.4f}", flush=True)


if __name__ == "__main__":
    os.environ.setdefault("AWS_ACCESS_KEY_ID", DUMMY_ACCESS_KEY)
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", DUMMY_SECRET_KEY)
    BUDGETS.configure({}, scale=100.0)
    for arg in sys.argv[1:] or ["100", "1000"]:
        run(int(arg))
