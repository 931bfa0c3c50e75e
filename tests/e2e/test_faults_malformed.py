"""Malformed manifests (tests/fixtures/malformed/): broken YAML, documents that are not
objects, wrong apiVersion/kind, bad ObjectMeta, wrong types. Each is refused by the API server
(kubectl apply --server-side). The CLI half (plan and apply refuse each one before any AWS
call) needs no API server: tests/integration/test_cli_refuses_malformed_manifests.py."""

from __future__ import annotations

from pathlib import Path

import pytest
from e2e_support import FIXTURES, Kubectl, expected_api_error

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
