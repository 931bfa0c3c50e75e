"""`serve()`: the emulator as its own process, configured over HTTP (as e2e tests use it)."""

from __future__ import annotations

import signal
import subprocess
import sys

import pytest
from emulator_helpers import REGION

from sd_devkit.emulator import EmulatorControl, client

pytestmark = pytest.mark.integration


def test_serve_prints_endpoint_and_stops_on_sigterm() -> None:
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from sd_devkit.emulator import serve; serve('127.0.0.1', 0)",
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


@pytest.mark.timeout(60)
def test_cli_seed_demo_creates_the_ecs_side_of_the_examples() -> None:
    """`sd-operator emulator --port 0 --seed-demo`: the endpoint line comes once the ECS
    services examples/myapp links exist, then what was seeded; SIGTERM stops it with 0."""
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from sd_operator.cli import main; sys.exit(main())",
            "emulator",
            "--port",
            "0",
            "--seed-demo",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline().strip()]
        while not lines[-1].startswith("try: "):
            assert lines[-1] or process.poll() is None, lines
            lines.append(process.stdout.readline().strip())
        assert lines[0].startswith("endpoint: http://127.0.0.1:"), lines
        endpoint = lines[0].split(" ", 1)[1]
        assert f"--aws-endpoint-url {endpoint} --region {REGION}" in lines[-1]
        assert any("ECS cluster production" in line for line in lines), lines

        ecs = client("ecs", endpoint, REGION)
        names = ["user-service", "payment-service"]
        described = ecs.describe_services(cluster="production", services=names)
        assert described["failures"] == []
        services = {s["serviceName"]: s for s in described["services"]}
        assert sorted(services) == sorted(names)
        assert {s["status"] for s in services.values()} == {"ACTIVE"}
        for name in names:
            assert any(f"ECS service {name} " in line for line in lines), lines
            task = ecs.describe_task_definition(taskDefinition=services[name]["taskDefinition"])
            (container,) = task["taskDefinition"]["containerDefinitions"]
            assert container["portMappings"][0]["name"] in ("http", "https")

        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
