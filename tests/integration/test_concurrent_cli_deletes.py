"""Parallel `sd-operator delete` runs on disjoint files, against the emulator over HTTP.

The emulator's list pages are offsets (as AWS promises nothing better when a list changes
between pages): a delete by one run shifts the ListServices pages another run is scanning, so
a scan can skip a service that is still there. Every run must still delete exactly its own
services, and leave nothing in AWS. Rounds: SD_DELETE_ROUNDS (default 2; the issue's 20 by
setting it).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from fake_time import FakeTime
from sd_devkit.emulator import Emulator, client
from sd_operator.aws.adapters import Adapters
from sd_operator.model.spec import (
    CloudMapServiceSpec,
    ClusterIdentity,
    HealthCheck,
    Identity,
    NamespaceSpec,
    NamespaceType,
    Resource,
    ServiceDiscoverySpec,
)
from sd_operator.reconcile.reconciler import Reconciler
from sd_operator.reconcile.result import Outcome
from support import service_names_in

REGION = "us-east-1"
RUNS = 4
SERVICES_PER_RUN = 3
ROUNDS = int(os.environ.get("SD_DELETE_ROUNDS", "2"))

SERVICE = """\
apiVersion: sd-operator.io/v1alpha1
kind: ServiceDiscovery
metadata: {{name: {name}, namespace: payments}}
spec:
  cloudMapNamespace: {{name: shared.local}}
  service:
    healthCheck: {{custom: {{}}}}
"""


def sd_operator(emulator: Emulator, command: str, path: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sd_operator.cli",
            command,
            "-f",
            str(path),
            "--aws-endpoint-url",
            emulator.endpoint_url,
            "--region",
            REGION,
            "--log-level",
            "WARNING",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_parallel_cli_deletes_leave_nothing_behind(
    emulator: Emulator, tmp_path: Path, round_: int
) -> None:
    emulator.page_size = 1  # every service its own page: any delete shifts a running scan
    sd = client("servicediscovery", emulator.endpoint_url, REGION)
    namespace_id = sd.create_http_namespace(Name="shared.local")["OperationId"]
    namespace_id = sd.get_operation(OperationId=namespace_id)["Operation"]["Targets"]["NAMESPACE"]
    files = []
    for run in range(RUNS):
        names = [f"svc-{run}-{i}" for i in range(SERVICES_PER_RUN)]
        path = tmp_path / f"run-{run}.yaml"
        path.write_text("---\n".join(SERVICE.format(name=n) for n in names))
        files.append(path)
    apply = sd_operator(emulator, "apply", tmp_path)
    out, _ = apply.communicate(timeout=120)
    assert apply.returncode == 0, out
    assert len(service_names_in(sd, namespace_id)) == RUNS * SERVICES_PER_RUN

    runs = [sd_operator(emulator, "delete", path) for path in files]
    outputs = [run.communicate(timeout=120)[0] for run in runs]

    for run, output in zip(runs, outputs, strict=True):
        assert run.returncode == 0, output
        assert "nothing of ours to delete" not in output, output
        assert output.count(": deleted") == SERVICES_PER_RUN, output
    assert service_names_in(sd, namespace_id) == []


def test_a_delete_without_ids_does_not_trust_a_list_that_misses_the_service(
    emulator: Emulator,
) -> None:
    """Issue 7: a CLI delete has no status, so no ids. Its account view was read while other
    runs' deletes shifted the pages (here: read before the service existed, the same view as
    far as the service is concerned); "not in the list" must not be taken as "already gone"."""
    ns_spec = NamespaceSpec(name="team.local", type=NamespaceType.HTTP)
    ns = Resource(Identity("CloudMapNamespace", "payments", "team"), ns_spec)
    svc = Resource(
        Identity("ServiceDiscovery", "payments", "svc"),
        ServiceDiscoverySpec(
            namespace_ref="team",
            service=CloudMapServiceSpec(name="svc", health_check=HealthCheck(custom=True)),
        ),
    )
    deleting = Reconciler(Adapters(REGION, emulator.endpoint_url), ClusterIdentity("cli"))
    deleting.view.refresh(REGION)  # its view lists neither namespace nor service
    creating = Reconciler(Adapters(REGION, emulator.endpoint_url), ClusterIdentity("cli"))
    for res in (ns, svc):
        done = FakeTime().converge(creating, res, ns_spec, timeout=90)
        assert done.last is not None
        assert done.last.outcome is Outcome.IN_SYNC, done.last
    sd = client("servicediscovery", emulator.endpoint_url, REGION)
    namespace_id = done.status["namespaceId"]
    assert service_names_in(sd, namespace_id) == ["svc"]

    for res in (svc, ns):
        gone = FakeTime().converge_delete(deleting, res, ns_spec, timeout=90)
        assert gone.last is not None
        assert gone.last.outcome is Outcome.GONE, gone.last
        assert gone.performed, f"{res.identity}: reported gone without deleting anything"
    assert sd.list_namespaces()["Namespaces"] == []
