"""`serve()`: the emulator as its own process, configured over HTTP (as e2e tests use it)."""

from __future__ import annotations

import signal
import subprocess
import sys

import pytest
from emulator_helpers import REGION

from sd_operator.emulator import EmulatorControl, client

pytestmark = pytest.mark.integration


def test_serve_prints_endpoint_and_stops_on_sigterm() -> None:
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from sd_operator.emulator import serve; serve('127.0.0.1', 0)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline().strip()
        assert line.startswith("endpoint: http://127.0.0.1:"), line
        endpoint = line.split(" ", 1)[1]
        control = EmulatorControl(endpoint)
        assert control.health()["status"] == "ok"
        control.hold_operations(polls=1)
        sd = client("servicediscovery", endpoint, REGION)
        op_id = sd.create_http_namespace(Name="remote")["OperationId"]
        assert sd.get_operation(OperationId=op_id)["Operation"]["Status"] == "SUBMITTED"
        assert control.calls()["servicediscovery:GetOperation"] == 1
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
