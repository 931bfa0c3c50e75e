"""The CLI half of the malformed-manifest scenario (tests/fixtures/malformed/; the API server
half is tests/e2e/test_faults_malformed.py): `plan` and `apply` refuse each file, given a valid
CloudMapNamespace next to it, before they read or write anything in AWS. No API server is
involved, so it runs here, with the emulator only."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from sd_devkit.emulator import Emulator
from sd_devkit.emulator.clients import DUMMY_ACCESS_KEY, DUMMY_SECRET_KEY
from sd_operator.cli import EXIT_ERROR, main

pytestmark = pytest.mark.faults

MALFORMED = sorted((Path(__file__).resolve().parents[1] / "fixtures" / "malformed").glob("*.yaml"))
VALID_NAMESPACE = {
    "apiVersion": "sd-operator.io/v1alpha1",
    "kind": "CloudMapNamespace",
    "metadata": {"name": "myapp", "namespace": "payments"},
    "spec": {"name": "myapp.local", "type": "DnsPrivate", "vpc": "vpc-0a1b2c3d4e5f60718"},
}


@pytest.fixture
def valid_namespace(tmp_path: Path) -> Path:
    """A valid CloudMapNamespace, given to the CLI next to each malformed file."""
    path = tmp_path / "valid" / "namespace.yaml"
    path.parent.mkdir(parents=True)
    path.write_text(yaml.safe_dump(VALID_NAMESPACE, sort_keys=False))
    return path


def test_the_malformed_manifests_are_there() -> None:
    assert len(MALFORMED) >= 40, f"only {len(MALFORMED)} malformed manifests"


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
