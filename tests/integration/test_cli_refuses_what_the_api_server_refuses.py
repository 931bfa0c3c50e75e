"""`sd-operator apply` refuses the manifests the API server refuses, before any AWS call: the
file, resource and field are named, and nothing is created."""

from __future__ import annotations

from pathlib import Path

import pytest

from sd_devkit.emulator import Emulator, client
from sd_operator.cli import EXIT_ERROR, main

REGION = "us-east-1"
NAMESPACE = """\
apiVersion: sd-operator.io/v1alpha1
kind: CloudMapNamespace
metadata:
  name: myapp
  namespace: payments
METADATA
spec:
  name: myapp.local
  type: Http
"""
BOMB = "\n".join(
    ["    a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    + [f"    a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
)


@pytest.mark.parametrize(
    ("metadata", "extra", "expected"),
    [
        (
            "",
            "specs: {name: other.local}\n",
            'CloudMapNamespace/payments/myapp: specs: unknown field "specs"',
        ),
        ("  lables: {team: a}", "", 'metadata.lables: unknown field "metadata.lables"'),
        ("  labels: {tier: 1}", "", "metadata.labels: json: cannot unmarshal number"),
        ("  labels: {team name: a}", "", 'metadata.labels: Invalid value: "team name"'),
        ("  annotations:\n" + BOMB, "", "invalid YAML: aliases add more than 100000 nodes"),
    ],
    ids=["unknown-top-level-field", "misspelt-metadata", "label-number", "label-key", "alias-bomb"],
)
def test_apply_refuses_before_calling_aws(
    emulator: Emulator,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    metadata: str,
    extra: str,
    expected: str,
) -> None:
    path = tmp_path / "ns.yaml"
    path.write_text(NAMESPACE.replace("METADATA\n", metadata + "\n" if metadata else "") + extra)
    emulator.reset_calls()
    flags = ["--aws-endpoint-url", emulator.endpoint_url, "--region", REGION]
    code = main(["apply", "-f", str(path), *flags, "--log-level", "WARNING"])
    err = capsys.readouterr().err
    assert code == EXIT_ERROR
    assert str(path) in err
    assert expected in err
    assert "Traceback" not in err
    assert emulator.calls() == {}
    sd = client("servicediscovery", emulator.endpoint_url, REGION)
    assert sd.list_namespaces()["Namespaces"] == []
