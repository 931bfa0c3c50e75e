"""The API server itself refuses bad input (schema + CEL rules in crds/), with readable
messages; the shipped examples are accepted. No operator runs here."""

from __future__ import annotations

from pathlib import Path

import pytest
from e2e_support import (
    EXAMPLES,
    FIXTURES,
    Kubectl,
    dump_docs,
    expected_api_error,
    in_namespace,
    load_docs,
)

INVALID = sorted((FIXTURES / "invalid").glob("*.yaml"))
INVALID_UPDATES = sorted(p for p in (FIXTURES / "invalid-updates").glob("*") if p.is_dir())
VALID = sorted(EXAMPLES.rglob("*.yaml")) + sorted((FIXTURES / "valid").glob("*.yaml"))


def _manifest(path: Path, namespace: str) -> str:
    """The file as written when it names no namespace (applied with -n); otherwise its
    documents moved into `namespace`."""
    docs = load_docs(path)
    if any("namespace" in (d.get("metadata") or {}) for d in docs):
        return dump_docs(in_namespace(docs, namespace))
    return path.read_text()


def _names(path: Path) -> list[tuple[str, str]]:
    return [(d["kind"], d["metadata"]["name"]) for d in load_docs(path)]


def test_enough_invalid_cases() -> None:
    expectations = {expected_api_error(p) for p in INVALID}
    assert len(INVALID) >= 15, f"only {len(INVALID)} invalid fixtures"
    assert len(expectations) >= 15, f"only {len(expectations)} distinct expected messages"
    assert INVALID_UPDATES, "no invalid-updates fixtures"


@pytest.mark.parametrize("path", INVALID, ids=[p.stem for p in INVALID])
def test_invalid_manifest_is_rejected(path: Path, kubectl: Kubectl, module_namespace: str) -> None:
    expected = expected_api_error(path)
    proc = kubectl.apply(_manifest(path, module_namespace), module_namespace, check=False)
    created = [
        (kind, name)
        for kind, name in _names(path)
        if kubectl.get(kind, name, module_namespace) is not None
    ]
    for kind, name in created:
        kubectl.delete(kind, name, module_namespace, wait=True)
    assert proc.returncode != 0, (
        f"{path.name} was accepted, expected a rejection containing {expected!r}:\n{proc.stdout}"
    )
    assert expected in proc.stderr, (
        f"{path.name}: rejected, but without {expected!r}:\n{proc.stderr}"
    )
    assert not created, f"{path.name}: rejected, yet {created} exist"


@pytest.mark.parametrize("case", INVALID_UPDATES, ids=[p.name for p in INVALID_UPDATES])
def test_invalid_update_is_rejected(case: Path, kubectl: Kubectl, module_namespace: str) -> None:
    before, after = case / "before.yaml", case / "after.yaml"
    expected = expected_api_error(after)
    try:
        first = kubectl.apply(_manifest(before, module_namespace), module_namespace, check=False)
        assert first.returncode == 0, f"{case.name}/before.yaml was rejected:\n{first.stderr}"
        proc = kubectl.apply(_manifest(after, module_namespace), module_namespace, check=False)
        assert proc.returncode != 0, (
            f"{case.name}/after.yaml was accepted, expected {expected!r}:\n{proc.stdout}"
        )
        assert expected in proc.stderr, (
            f"{case.name}/after.yaml: rejected, but without {expected!r}:\n{proc.stderr}"
        )
    finally:
        for kind, name in _names(before) + _names(after):
            kubectl.delete(kind, name, module_namespace, wait=True)


@pytest.mark.parametrize(
    "path", VALID, ids=[str(p.relative_to(p.parents[1])).removesuffix(".yaml") for p in VALID]
)
def test_valid_manifest_applies_cleanly(
    path: Path, kubectl: Kubectl, module_namespace: str
) -> None:
    proc = kubectl.apply(
        dump_docs(in_namespace(load_docs(path), module_namespace)),
        module_namespace,
        dry_run=True,
        check=False,
    )
    assert proc.returncode == 0, f"{path} was rejected:\n{proc.stderr}"
    assert "Warning" not in proc.stderr, f"{path}: accepted with warnings:\n{proc.stderr}"
