"""The wheel as the image builds it: a fresh virtualenv from requirements.lock (hashes
checked, no dependency resolution), the wheel built with the locked backend and installed
without dependencies, then `sd-operator --version`, `plan` and `apply` run from it. A
dependency missing from the lock fails here as an ImportError. The virtualenv has no sd-devkit:
the wheel carries neither the emulator nor the demo, and their commands say how to get them.

The image installs with pip, this test with the pinned uv (hack/uv.sh): the same locks, the same
`--require-hashes --no-deps`, the same backend (hatchling, with build isolation off), so what is
checked is the lock and the wheel, not the installer. pip took 2 min 16 s to install
requirements.lock here (uv: 1 s from the cache `make setup` filled), and twice per run.
"""

from __future__ import annotations

import subprocess
import sys
import tomllib
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest

from sd_devkit.emulator import Emulator

ROOT = Path(__file__).resolve().parents[2]


def _run(*args: str | Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in args],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        cwd=ROOT,
        env=env,
    )


@pytest.fixture(scope="session")
def uv() -> Path:
    out = _run(ROOT / "hack" / "uv.sh")
    assert out.returncode == 0, out.stderr
    return Path(out.stdout.strip())


def _venv(uv: Path, path: Path, lock: str) -> Path:
    made = _run(uv, "venv", "--quiet", "--python", sys.executable, path)
    assert made.returncode == 0, made.stderr
    python = ("--python", path / "bin" / "python")
    out = _run(
        uv, "pip", "install", "--quiet", *python, "--require-hashes", "--no-deps", "-r", ROOT / lock
    )
    assert out.returncode == 0, f"uv pip install -r {lock}:\n{out.stdout}\n{out.stderr}"
    return path / "bin"


@pytest.fixture(scope="module")
def wheel(uv: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("wheel")
    build = _venv(uv, tmp / "build", "requirements-build.lock")
    wheels = tmp / "wheels"
    out = _run(
        uv,
        "build",
        "--quiet",
        "--wheel",
        "--no-build-isolation",
        "--python",
        build / "python",
        "--out-dir",
        wheels,
        ROOT,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    (built,) = wheels.glob("sd_operator-*.whl")
    return built


@pytest.fixture(scope="module")
def installed(uv: Path, wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    runtime = _venv(uv, tmp_path_factory.mktemp("runtime") / "venv", "requirements.lock")
    python = ("--python", runtime / "python")
    out = _run(uv, "pip", "install", "--quiet", *python, "--no-deps", "--no-index", wheel)
    assert out.returncode == 0, out.stdout + out.stderr
    check = _run(uv, "pip", "check", *python)
    assert check.returncode == 0, check.stdout + check.stderr
    return runtime


def test_version_from_the_wheel(installed: Path) -> None:
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    out = _run(installed / "sd-operator", "--version")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == f"sd-operator {version}"


ENV = {
    "PATH": "/usr/bin:/bin",
    "AWS_ACCESS_KEY_ID": "AKIAEMULATOREXAMPLE0",
    "AWS_SECRET_ACCESS_KEY": "emulator-secret-not-a-real-key",
    "AWS_EC2_METADATA_DISABLED": "true",
}


def _cli(installed: Path, verb: str, emulator: Emulator) -> subprocess.CompletedProcess[str]:
    namespace = ROOT / "examples" / "myapp" / "namespace.yaml"
    endpoint = ("--region", "us-east-1", "--aws-endpoint-url", emulator.endpoint_url)
    # The suite's budget scale (conftest.RATE_SCALE): at AWS's own, ListNamespaces (0.5/s)
    # made plan, apply and plan wait on the budget, which is not what the wheel is tested for.
    scale = ("--aws-rate-scale", "100")
    return _run(installed / "sd-operator", verb, "-f", namespace, *endpoint, *scale, env=ENV)


def test_plan_and_apply_from_the_wheel(installed: Path, emulator: Emulator) -> None:
    out = _cli(installed, "plan", emulator)
    # Exit 2: changes pending (the namespace does not exist in the fresh emulator yet).
    assert out.returncode == 2, out.stdout + out.stderr
    assert "action" in out.stdout, out.stdout
    out = _cli(installed, "apply", emulator)
    assert out.returncode == 0, out.stdout + out.stderr
    out = _cli(installed, "plan", emulator)
    assert out.returncode == 0, out.stdout + out.stderr


def test_the_wheel_carries_no_devkit(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as whl:
        names = whl.namelist()
        (metadata,) = (n for n in names if n.endswith(".dist-info/METADATA"))
        requires = Parser().parsestr(whl.read(metadata).decode()).get_all("Requires-Dist") or []
    assert any(n.startswith("sd_operator/cli/__init__.py") for n in names), names
    assert [n for n in names if "emulator" in n or "demo" in n or "devkit" in n] == []
    assert [r for r in requires if r.startswith("moto")] == []


@pytest.mark.parametrize("argv", [["emulator", "--port", "0", "--seed-demo"], ["demo"]])
def test_devkit_commands_say_how_to_get_it(installed: Path, argv: list[str]) -> None:
    out = _run(installed / "sd-operator", *argv, env=ENV)
    assert out.returncode == 1, out.stdout + out.stderr
    assert "Traceback" not in out.stderr, out.stderr
    assert "sd-devkit, which is not installed" in out.stderr, out.stderr
    assert "make setup" in out.stderr, out.stderr
    # argparse wraps to the terminal width; compare words, not lines.
    listed = " ".join(_run(installed / "sd-operator", "--help", env=ENV).stdout.split())
    assert "(needs sd-devkit)" in listed.partition(f" {argv[0]} ")[2], listed
