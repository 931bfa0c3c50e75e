"""Malformed manifests (tests/fixtures/malformed/): broken YAML, documents that are not
objects, wrong apiVersion/kind, bad ObjectMeta, wrong types. Each is refused by the API server
(kubectl apply --server-side) and by the CLI (plan and apply), and the CLI makes no AWS call:
it is given a valid CloudMapNamespace next to the malformed file, and must refuse the whole set
before it reads or writes anything."""

from __future__ import annotations

from pathlib import Path

import pytest
from e2e_support import FIXTURES, Kubectl, expected_api_error
from faults_support import cloudmap_namespace, write_manifests

from sd_devkit.emulator import Emulator
from sd_devkit.emulator.clients import DUMMY_ACCESS_KEY, DUMMY_SECRET_KEY
from sd_operator.cli import EXIT_ERROR, main

pytestmark = pytest.mark.faults

MALFORMED = sorted((FIXTURES / "malformed").glob("*.yaml"))


def _created(kubectl: Kubectl, namespace: str) -> list[tuple[str, str]]:
    return [
        (kind, obj["metadata"]["name"])
        for kind in ("cloudmapnamespaces", "servicediscoveries")
        for obj in kubectl.objects(kind, namespace)
    ]


def test_enough_malformed_manifests() -> None:
    assert len(MALFORMED) >= 40, f"only {len(MALFORMED)} malformed manifests"
    expectations = {expected_api_error(p) for p in MALFORMED}
    assert len(expectations) >= 20, f"only {len(expectations)} distinct API server errors"


@pytest.mark.parametrize("path", MALFORMED, ids=[p.stem for p in MALFORMED])
def test_api_server_refuses(path: Path, kubectl: Kubectl, module_namespace: str) -> None:
    expected = expected_api_error(path)
    proc = kubectl.run(
        "apply",
        "--server-side",
        "--field-manager",
        "e2e-tests",
        "-n",
        module_namespace,
        "-f",
        str(path),
        check=False,
    )
    created = _created(kubectl, module_namespace)
    for kind, name in created:
        kubectl.delete(kind, name, module_namespace)
    assert proc.returncode != 0, f"{path.name} was accepted:\n{proc.stdout}"
    assert expected in proc.stderr, (
        f"{path.name}: refused, but without {expected!r}:\n{proc.stderr}"
    )
    assert not created, f"{path.name}: refused, yet {created} exist"


@pytest.fixture
def valid_namespace(tmp_path: Path) -> Path:
    """A valid CloudMapNamespace, given to the CLI next to each malformed file."""
    return write_manifests(
        tmp_path / "valid" / "namespace.yaml",
        [cloudmap_namespace("myapp", "myapp.local", "payments")],
    )


@pytest.mark.parametrize("command", ["plan", "apply"])
@pytest.mark.parametrize("path", MALFORMED, ids=[p.stem for p in MALFORMED])
def test_cli_refuses_before_any_aws_call(
    path: Path,
    command: str,
    emulator: Emulator,
    valid_namespace: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", DUMMY_ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", DUMMY_SECRET_KEY)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    code = main(
        [
            command,
            "-f",
            str(valid_namespace),
            "-f",
            str(path),
            "--aws-endpoint-url",
            emulator.endpoint_url,
            "--region",
            "us-east-1",
            "--log-level",
            "WARNING",
        ]
    )
    out = capsys.readouterr()
    text = out.out + out.err
    assert code == EXIT_ERROR, f"{path.name}: {command} exited {code}:\n{text}"
    assert path.name in text, f"{path.name}: the error does not name the file:\n{text}"
    assert "Traceback" not in text, text
    assert emulator.calls() == {}, f"{path.name}: {command} called AWS: {emulator.calls()}"
