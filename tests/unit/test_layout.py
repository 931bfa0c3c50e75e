"""The tree keeps the rules that a partial test run cannot see."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_test_modules_have_unique_basenames() -> None:
    # pytest's default import mode imports test files by basename: two test_x.py in different
    # layers collect fine one layer at a time and break `pytest tests` (what CI runs).
    names = Counter(p.name for p in (ROOT / "tests").rglob("test_*.py"))
    assert [n for n, count in names.items() if count > 1] == []


def test_operator_folder_is_not_a_package() -> None:
    # An operator/__init__.py would shadow the standard library's `operator` module.
    assert not (ROOT / "operator" / "__init__.py").exists()


def test_devkit_examples_are_the_top_level_examples() -> None:
    # The demo reads examples/ as sd-devkit's package data through this symlink (the wheel
    # build copies it in); a copy in its place would drift from what the docs and tests use.
    examples = ROOT / "devkit" / "src" / "sd_devkit" / "examples"
    assert examples.is_symlink()
    assert examples.resolve() == ROOT / "examples"
