"""Compatibility: the CLI against PLAIN moto server (no fidelity layer), as users run it.

An AWS-compatible endpoint differs from AWS (docs/aws-facts.md, "Where moto differs"): list
calls ignore MaxResults, NextToken and Filters, operations succeed at once, and a private DNS
namespace's hosted zone lists no VPC. plan / apply / plan (now empty) / delete of
examples/myapp's Cloud Map resources must still work there, and apply be idempotent.
"""

from __future__ import annotations

import copy
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from sd_devkit.emulator import client
from sd_operator.cli import EXIT_CHANGES, EXIT_OK
from support import cli_output

ROOT = Path(__file__).resolve().parents[2]
REGION = "us-east-1"
# moto's own threaded server on a free loopback port, in its own process (moto's state is
# per process: nothing of the fidelity layer's emulator is shared).
SERVER = """\
import sys, threading
from moto.server import ThreadedMotoServer
server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
server.start()
print(server.get_host_and_port()[1], flush=True)
sys.stdin.read()
server.stop()
"""


@pytest.fixture
def moto_endpoint() -> Iterator[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", SERVER],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    try:
        port = int(proc.stdout.readline())
        yield f"http://127.0.0.1:{port}"
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def manifests(directory: Path) -> Path:
    """examples/myapp without the ECS sections (plain moto holds no ECS services)."""
    for name in ("namespace", "user-service", "payment-service"):
        (doc,) = yaml.safe_load_all((ROOT / "examples" / "myapp" / f"{name}.yaml").read_text())
        doc = copy.deepcopy(doc)
        doc["spec"].pop("ecs", None)
        (directory / f"{name}.yaml").write_text(yaml.safe_dump(doc))
    return directory


def aws(endpoint: str) -> tuple[list[str], list[str]]:
    sd: Any = client("servicediscovery", endpoint, REGION)
    namespaces = sorted(n["Name"] for n in sd.list_namespaces()["Namespaces"])
    services = sorted(s["Name"] for s in sd.list_services()["Services"])
    return namespaces, services


def test_plan_apply_plan_delete_against_plain_moto(moto_endpoint: str, tmp_path: Path) -> None:
    path = str(manifests(tmp_path))

    planned, planned_out = cli_output(moto_endpoint, "plan", "-f", path)
    applied, applied_out = cli_output(moto_endpoint, "apply", "-f", path)
    assert aws(moto_endpoint) == (["myapp.local"], ["payment-service", "user-service"])
    again, again_out = cli_output(moto_endpoint, "plan", "-f", path)
    deleted, deleted_out = cli_output(moto_endpoint, "delete", "-f", path)

    assert planned == EXIT_CHANGES, planned_out
    assert applied == EXIT_OK, applied_out
    assert again == EXIT_OK, again_out
    assert again_out.count(": in sync") == 3, again_out
    assert "refused" not in again_out
    assert "cannot tell whether namespace myapp.local" in again_out
    assert deleted == EXIT_OK, deleted_out
    assert aws(moto_endpoint) == ([], [])
