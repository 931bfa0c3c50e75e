"""No function of the product is over 60 lines, and every exception to a complexity rule says
why, on the `def` line: `# noqa: LEN060 -- <reason>` for length, and the same form for ruff's
PLR0911/PLR0912/PLR0915 (pyproject.toml's [tool.ruff.lint] says so). ruff has no length rule;
LEN060 is declared there as an external code, so ruff keeps the marker valid."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

SOURCE = Path(__file__).resolve().parents[2] / "operator" / "src"
MAX_LINES = 60
LENGTH = "LEN060"
# The marker: noqa, its codes, then `-- reason`: the reason makes an exception local and
# reasoned.
NOQA = re.compile(r"#\s*noqa:\s*(?P<codes>[A-Z]+[0-9]+(?:\s*,\s*[A-Z]+[0-9]+)*)(?P<rest>.*)$")
COMPLEXITY = re.compile(r"PLR09\d\d|" + LENGTH)
REASON = re.compile(r"^\s+--\s+\S")


def _functions() -> list[tuple[Path, ast.FunctionDef | ast.AsyncFunctionDef, str]]:
    found = []
    for path in sorted(SOURCE.rglob("*.py")):
        text = path.read_text()
        lines = text.splitlines()
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                found.append((path, node, lines[node.lineno - 1]))
    return found


def _codes(def_line: str) -> set[str]:
    match = NOQA.search(def_line)
    return set() if match is None else set(re.split(r"\s*,\s*", match["codes"]))


def test_the_product_has_functions_to_measure() -> None:
    assert len(_functions()) > 100


def test_no_function_is_over_60_lines_without_a_local_reason() -> None:
    long = [
        f"{path.relative_to(SOURCE)}:{node.lineno} {node.name} "
        f"({node.end_lineno - node.lineno + 1} lines)"
        for path, node, def_line in _functions()
        if node.end_lineno is not None
        and node.end_lineno - node.lineno + 1 > MAX_LINES
        and LENGTH not in _codes(def_line)
    ]
    assert long == [], f"split them, or mark the def line `# noqa: {LENGTH} -- <why>`"


def test_every_complexity_exception_says_why() -> None:
    bare = []
    for path in sorted(SOURCE.rglob("*.py")):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            match = NOQA.search(line)
            if match and COMPLEXITY.search(match["codes"]) and not REASON.match(match["rest"]):
                bare.append(f"{path.relative_to(SOURCE)}:{number}")
    assert bare == [], "a complexity exception needs `-- <reason>` after its codes"


@pytest.mark.parametrize(
    ("line", "codes", "reasoned"),
    [
        ("def f():  # noqa: LEN060 -- a table", {"LEN060"}, True),
        ("def f():  # noqa: PLR0911, PLR0912 -- routes", {"PLR0911", "PLR0912"}, True),
        ("def f():  # noqa: LEN060", {"LEN060"}, False),
        ("def f():", set(), False),
    ],
)
def test_the_marker_is_read_as_written(line: str, codes: set[str], reasoned: bool) -> None:
    assert _codes(line) == codes
    match = NOQA.search(line)
    assert (match is not None and REASON.match(match["rest"]) is not None) is reasoned
