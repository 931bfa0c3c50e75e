"""`sd-operator demo` (the cluster act) whatever else runs on the machine: it starts its own
control plane on a free port while another process holds 127.0.0.1:6443, keeps its state in
CONTROL_PLANE_DIR, and a failure is one line on stderr, not a traceback.

Both failed on the first main (ba67555): the demo asked control-plane.sh for port 6443 and read
the kubeconfig from <repo>/.control-plane whatever CONTROL_PLANE_DIR said."""

from __future__ import annotations

import os
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from e2e_support import OPERATOR_BIN

PORT = 6443


@pytest.fixture
def port_6443_taken() -> Iterator[None]:
    """Hold 127.0.0.1:6443 unless something already does (then the condition holds anyway)."""
    holder = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        holder.bind(("127.0.0.1", PORT))
        holder.listen(1)
    except OSError:
        holder.close()
        holder = None  # type: ignore[assignment]
    probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        assert probe.connect_ex(("127.0.0.1", PORT)) == 0, "6443 should be taken now"
    finally:
        probe.close()
    yield
    if holder is not None:
        holder.close()


@pytest.fixture
def held_port() -> Iterator[int]:
    """A port this test holds for sure: 6443 may be held by another process on the machine
    that lets it go while the demo runs (another checkout's test run)."""
    holder = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        holder.bind(("127.0.0.1", 0))
        holder.listen(1)
        yield int(holder.getsockname()[1])
    finally:
        holder.close()


def demo_env(state: Path, **extra: str) -> dict[str, str]:
    """The user's environment, without what the test run sets for its own control plane."""
    env = {k: v for k, v in os.environ.items() if k not in ("CONTROL_PLANE_PORT", "KUBECONFIG")}
    return {**env, "CONTROL_PLANE_DIR": str(state), **extra}


@pytest.mark.usefixtures("port_6443_taken")
@pytest.mark.long
def test_demo_passes_while_another_process_holds_6443(tmp_path: Path) -> None:
    state = tmp_path / "control-plane"
    done = subprocess.run(
        [str(OPERATOR_BIN), "demo"],
        env=demo_env(state),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    output = f"stdout:\n{done.stdout[-4000:]}\nstderr:\n{done.stderr[-4000:]}"
    assert done.returncode == 0, output
    assert "=== demo complete" in done.stdout, output
    assert "Traceback" not in done.stderr, output
    # Its state, the operator's log among it, went where CONTROL_PLANE_DIR said.
    assert (state / "demo-operator.log").is_file(), output
    # The new plan output is part of the show.
    assert "=> starts a new deployment of ECS service production/user-service" in done.stdout
    assert "| action | target | field | observed | desired |" in done.stdout


def test_demo_failure_is_one_line_not_a_traceback(tmp_path: Path, held_port: int) -> None:
    """Told to use the taken port, the demo stops with the control plane's reason."""
    done = subprocess.run(
        [str(OPERATOR_BIN), "demo"],
        env=demo_env(tmp_path / "control-plane", CONTROL_PLANE_PORT=str(held_port)),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("demo failed: starting the local control plane failed: "), last
    assert f"127.0.0.1:{held_port} is already in use" in last, last
