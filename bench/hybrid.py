"""Benchmark: an EndpointSlice change reaching Cloud Map, for a Service with 100 endpoints
scaled 100 -> 50 -> 100, through the operator's export (diff against what it registered)
beside a naive export that deregisters everything it owns and registers everything again.

    .venv/bin/python bench/hybrid.py [ROUNDS]        (default: 5)

Both run in one process against the in-process emulator (page size 100, like AWS), through
the same Cloud Map adapter, each instance operation followed to SUCCESS with GetOperation.
Time runs from handing the changed EndpointSlice to the export until ListInstances shows the
new set; it leaves out the API server -> watch delivery, which is the same for both. Compare
the two within one run.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from collections.abc import Callable

from mypy_boto3_servicediscovery.type_defs import TagTypeDef

from sd_devkit.emulator import Emulator
from sd_devkit.emulator.clients import DUMMY_ACCESS_KEY, DUMMY_SECRET_KEY
from sd_operator.aws.clients import AwsConfig, cloudmap_client
from sd_operator.aws.cloudmap import CloudMap
from sd_operator.hybrid.export import (
    EXPORTED_MANAGER,
    MANAGED_BY_LABEL,
    SliceView,
    desired_instances,
    endpoints_of,
    owned,
    slice_view,
)
from sd_operator.hybrid.exporter import ExportAccount, Exporter, ExportOutcome
from sd_operator.model.spec import ClusterIdentity, EndpointsSpec, Identity
from sd_operator.reconcile.ownership import owner_tags

REGION = "us-east-1"
CLUSTER = ClusterIdentity("bench", "bench-cluster-id")
OWNER = Identity("ServiceDiscovery", "payments", "payment-service", uid="bench-uid")
SPEC = EndpointsSpec("payment-service", "http")


def endpoint_slice(n: int) -> SliceView:
    return slice_view(
        {
            # only the EndpointSlice controller's slices are a Service's pods (docs/hybrid.md)
            "metadata": {
                "name": "payment-service-a",
                "labels": {MANAGED_BY_LABEL: EXPORTED_MANAGER},
            },
            "addressType": "IPv4",
            "ports": [{"name": "http", "port": 8080}],
            "endpoints": [
                {"addresses": [f"10.0.{i // 250}.{i % 250 + 1}"], "conditions": {"ready": True}}
                for i in range(n)
            ],
        }
    )


def naive(cm: CloudMap, service_id: str, view: SliceView) -> None:
    """What external-dns style exporters do: deregister everything owned, register all again."""
    found = endpoints_of([view], SPEC.service, SPEC.port)
    assert isinstance(found, tuple)
    wanted = desired_instances(
        found,
        owner=OWNER,
        cluster=CLUSTER,
        service=SPEC.service,
        custom_health=False,
    )
    assert isinstance(wanted, dict)
    ops = [
        cm.deregister_instance(service_id, i.id)
        for i in cm.list_instances(service_id)
        if owned(i, OWNER, CLUSTER)
    ]
    ops += [cm.register_instance(service_id, w.id, w.attributes) for w in wanted.values()]
    for op in ops:
        if op is not None:
            while not cm.get_operation(op).status.done:
                time.sleep(0.05)


def run(rounds: int) -> None:
    with Emulator(page_size=100) as emu:
        cm = CloudMap(cloudmap_client(AwsConfig(REGION, emu.endpoint_url)))
        sd = cloudmap_client(AwsConfig(REGION, emu.endpoint_url))
        op = sd.create_http_namespace(Name="bench")["OperationId"]
        ns_id = sd.get_operation(OperationId=op)["Operation"]["Targets"]["NAMESPACE"]

        def tags(_region: str | None, service_id: str) -> dict[str, str] | None:
            found = cm.get_service(service_id)
            return None if found is None else dict(found.tags)

        # The export registers only into a service its resource owns: tagged as the operator
        # tags what it creates.
        exporter = Exporter(CLUSTER, lambda _role: ExportAccount(lambda _r: cm, tags))
        ours: list[TagTypeDef] = [
            {"Key": k, "Value": v} for k, v in owner_tags(OWNER, CLUSTER).items()
        ]

        def diffed(service_id: str, view: SliceView) -> None:
            while True:
                result = exporter.sync(
                    OWNER,
                    SPEC,
                    region=REGION,
                    service_id=service_id,
                    service_name="payment-service",
                    custom_health=False,
                    slices=[view],
                )
                if result.outcome is ExportOutcome.IN_SYNC:
                    return
                assert result.outcome is ExportOutcome.PENDING, result.message
                time.sleep(0.05)

        modes: dict[str, Callable[[str, SliceView], None]] = {"diff": diffed}
        modes["naive"] = lambda service_id, view: naive(cm, service_id, view)
        services = {}
        for name, export in modes.items():
            made = sd.create_service(Name=f"svc-{name}", NamespaceId=ns_id, Tags=ours)
            services[name] = made["Service"]["Id"]
            export(services[name], endpoint_slice(100))
        samples: dict[tuple[str, str], list[tuple[float, int]]] = {}
        # Rounds alternate the modes, so a slower stretch of a shared machine hits both.
        for _ in range(rounds):
            for name, export in modes.items():
                for label, n in (("100->50", 50), ("50->100", 100)):
                    service_id = services[name]
                    emu.reset_calls()
                    start = time.perf_counter()
                    export(service_id, endpoint_slice(n))
                    listed = [i for i in cm.list_instances(service_id) if owned(i, OWNER, CLUSTER)]
                    elapsed = time.perf_counter() - start
                    assert len(listed) == n, (name, label, len(listed))
                    calls = sum(emu.calls().values()) - 1  # the checking ListInstances
                    samples.setdefault((name, label), []).append((elapsed, calls))
        for (name, label), values in samples.items():
            times = [t for t, _ in values]
            counts = sorted(c for _, c in values)
            print(
                f"{name:5s} {label:8s} calls/change={int(statistics.median(counts)):4d} "
                f"median={statistics.median(times) * 1000:8.1f} ms "
                f"(min {min(times) * 1000:.1f}, max {max(times) * 1000:.1f}, {rounds} changes)",
                flush=True,
            )


if __name__ == "__main__":
    os.environ.setdefault("AWS_ACCESS_KEY_ID", DUMMY_ACCESS_KEY)
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", DUMMY_SECRET_KEY)
    run(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
