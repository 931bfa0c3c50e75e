"""The docs that must not drift from the code: docs/reference/ is generated from the CRDs
(hack/crd_reference.py) and committed, so a CRD change without a regenerated reference fails
here; and the README, which the site does not cover, links only to files that exist."""

from __future__ import annotations

import html
import importlib.util
import re
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CRDS = ROOT / "crds"
REFERENCE = ROOT / "docs" / "reference"
FIX = "run hack/crd_reference.py (.venv/bin/python hack/crd_reference.py) and commit the result"
OURS = [
    "cloudmapnamespaces.yaml",
    "servicediscoveries.yaml",
    "cloudmapimports.yaml",
    "discoverygrants.yaml",
]


def generator() -> ModuleType:
    name = "crd_reference"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, ROOT / "hack" / "crd_reference.py")
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # dataclasses look their module up there
        spec.loader.exec_module(module)
    return sys.modules[name]


def test_committed_reference_is_what_the_crds_generate() -> None:
    expected: dict[str, str] = generator().render(CRDS)
    committed = {p.name: p.read_text() for p in sorted(REFERENCE.glob("*.md"))}
    missing = sorted(set(expected) - set(committed))
    extra = sorted(set(committed) - set(expected))
    stale = sorted(n for n in set(expected) & set(committed) if expected[n] != committed[n])
    problems = [
        *(f"docs/reference/{n} is missing" for n in missing),
        *(f"docs/reference/{n} is not generated from any CRD" for n in extra),
        *(f"docs/reference/{n} differs from what crds/ says now" for n in stale),
    ]
    assert not problems, "; ".join(problems) + f": {FIX}"


def field_paths(schema: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    """Every field of a schema, walked independently of the generator."""
    for name, sub in schema.get("properties", {}).items():
        path = f"{prefix}{name}"
        yield path, sub
        yield from field_paths(sub, f"{path}.")
        if isinstance(sub.get("items"), Mapping):
            yield from field_paths(sub["items"], f"{path}[].")
        if isinstance(sub.get("additionalProperties"), Mapping):
            yield from field_paths(sub["additionalProperties"], f"{path}.<key>.")


def nodes(schema: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    """Every schema in a schema: itself, its properties, items and map values."""
    yield schema
    for sub in schema.get("properties", {}).values():
        yield from nodes(sub)
    for key in ("items", "additionalProperties"):
        if isinstance(schema.get(key), Mapping):
            yield from nodes(schema[key])


def plain(markdown: str) -> str:
    """Page text with Markdown's escapes undone, whitespace collapsed."""
    return " ".join(html.unescape(re.sub(r"\\(.)", r"\1", markdown)).split())


@pytest.mark.parametrize("source", OURS)
def test_every_field_description_and_rule_is_in_the_reference(source: str) -> None:
    [crd] = [d for d in yaml.safe_load_all((CRDS / source).read_text()) if d]
    page = REFERENCE / f"{crd['spec']['names']['kind'].lower()}.md"
    text = page.read_text()
    [version] = crd["spec"]["versions"]
    schema = version["schema"]["openAPIV3Schema"]
    headings = set(re.findall(r"^### `([^`]+)`$", text, re.MULTILINE))
    paths = {path for path, _ in field_paths(schema)}
    assert paths <= headings, f"{page.name} lacks fields {sorted(paths - headings)}: {FIX}"
    readable = plain(text)
    every = list(nodes(schema))
    descriptions = [n["description"] for n in every if "description" in n]
    rules = [r for n in every for r in n.get("x-kubernetes-validations", [])]
    absent = [
        d
        for d in [*descriptions, *(r["message"] for r in rules)]
        if " ".join(d.split()) not in readable
    ]
    assert not absent, f"{page.name} lacks {absent}: {FIX}"
    unlisted = [r["rule"] for r in rules if f"`{r['rule']}`" not in text]
    assert not unlisted, f"{page.name} lacks the CEL rules {unlisted}: {FIX}"


def test_readme_is_a_front_door() -> None:
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= 150, "README.md is the front door: move details to docs/"
    for target in re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", readme):
        if "://" not in target:
            assert (ROOT / target).exists(), f"README.md links to {target}, which does not exist"
