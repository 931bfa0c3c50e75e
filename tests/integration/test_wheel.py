"""The wheel as the image builds it: a fresh virtualenv from requirements.lock (hashes
checked, no dependency resolution), the wheel built with the locked backend and installed
without dependencies, then `sd-operator --version` and `plan` run from it. A dependency
missing from the lock fails here as an ImportError."""

from __future__ import annotations

import subprocess
import sys
import tomllib
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


def _venv(path: Path, lock: str) -> Path:
    made = _run(sys.executable, "-m", "venv", path)
    assert made.returncode == 0, made.stderr
    pip = path / "bin" / "pip"
    # --no-compile: byte-compiling botocore is most of the install time, and not under test.
    out = _run(
        pip,
        "install",
        "--quiet",
        "--no-compile",
        "--require-hashes",
        "--no-deps",
        "-r",
        ROOT / lock,
    )
    assert out.returncode == 0, f"pip install -r {lock}:\n{out.stdout}\n{out.stderr}"
    return path / "bin"


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("wheel")
    build = _venv(tmp / "build", "requirements-build.lock")
    wheels = tmp / "wheels"
    out = _run(build / "pip", "wheel", "--no-deps", "--no-build-isolation", "-w", wheels, ROOT)
    assert out.returncode == 0, out.stdout + out.stderr
    (wheel,) = wheels.glob("sd_operator-*.whl")
    runtime = _venv(tmp / "runtime", "requirements.lock")
    out = _run(runtime / "pip", "install", "--quiet", "--no-deps", "--no-index", wheel)
    assert out.returncode == 0, out.stdout + out.stderr
    check = _run(runtime / "pip", "check")
    assert check.returncode == 0, check.stdout + check.stderr
    return runtime


def test_version_from_the_wheel(installed: Path) -> None:
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    out = _run(installed / "sd-operator", "--version")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == f"sd-operator {version}"


def test_plan_from_the_wheel(installed: Path, emulator: Emulator) -> None:
    env = {
        "PATH": "/usr/bin:/bin",
        "AWS_ACCESS_KEY_ID": "AKIAEMULATOREXAMPLE0",
        "AWS_SECRET_ACCESS_KEY": "emulator-secret-not-a-real-key",
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    out = _run(
        installed / "sd-operator",
        "plan",
        "-f",
        ROOT / "examples" / "myapp" / "namespace.yaml",
        "--region",
        "us-east-1",
        "--aws-endpoint-url",
        emulator.endpoint_url,
        env=env,
    )
    # Exit 2: changes pending (the namespace does not exist in the fresh emulator yet).
    assert out.returncode == 2, out.stdout + out.stderr
    assert "action" in out.stdout, out.stdout
