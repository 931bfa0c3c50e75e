#!/usr/bin/env python3
"""Write the field reference, docs/reference/*.md, from the CRDs in crds/.

One page per kind of the sd-operator.io group: every field path with its type, whether it is
required, its default, its enum, pattern and bounds, its description, and the CEL rules
(x-kubernetes-validations) with their messages; plus an index page. The CRDs stay the single
source: tests/unit/test_docs_reference.py regenerates the pages in memory and fails when the
committed ones differ. Run it after editing crds/:

    .venv/bin/python hack/crd_reference.py

A schema keyword this script does not know stops it, naming the keyword and the field, so that
nothing in a CRD is left out of the reference without anyone noticing.
"""

from __future__ import annotations

import json
import re
import sys
import unicodedata
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
CRDS = ROOT / "crds"
OUT = ROOT / "docs" / "reference"
GROUP = "sd-operator.io"
COMMAND = "hack/crd_reference.py"

# The structural-schema keywords rendered below; any other one is an error (see the docstring).
BOUNDS = (
    "minLength",
    "maxLength",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "multipleOf",
    "minItems",
    "maxItems",
    "uniqueItems",
    "minProperties",
    "maxProperties",
)
KNOWN = {
    "description",
    "type",
    "format",
    "properties",
    "required",
    "items",
    "additionalProperties",
    "enum",
    "default",
    "pattern",
    "nullable",
    "x-kubernetes-preserve-unknown-fields",
    "x-kubernetes-list-type",
    "x-kubernetes-list-map-keys",
    "x-kubernetes-map-type",
    "x-kubernetes-int-or-string",
    "x-kubernetes-validations",
    *BOUNDS,
}
RULE_KEYS = {"rule", "message", "messageExpression", "fieldPath", "reason", "optionalOldSelf"}


class SchemaError(Exception):
    """The CRD holds something this script cannot render faithfully."""


@dataclass(frozen=True)
class Field:
    path: str
    schema: Mapping[str, Any]
    required: bool


def fields(schema: Mapping[str, Any], prefix: str = "") -> Iterator[Field]:
    """Every field under an object schema, depth first, in the CRD's order. The items of an
    array and the values of a map are described with the array or map itself; their own fields
    follow as path[].field and path.<key>.field."""
    required = set(schema.get("required", []))
    for name, sub in schema.get("properties", {}).items():
        path = f"{prefix}{name}"
        check(sub, path)
        yield Field(path, sub, name in required)
        yield from fields(sub, f"{path}.")
        yield from nested(sub, path)


def nested(schema: Mapping[str, Any], path: str) -> Iterator[Field]:
    for inner, inner_path in (
        (schema.get("items"), f"{path}[]"),
        (schema.get("additionalProperties"), f"{path}.<key>"),
    ):
        if inner in (None, True, False):
            continue
        if not isinstance(inner, Mapping):
            raise SchemaError(f"{inner_path}: {inner!r} is not rendered")
        check(inner, inner_path)
        # An array of arrays or a map of maps: the inner container has no name of its own.
        if "items" in inner or isinstance(inner.get("additionalProperties"), Mapping):
            raise SchemaError(f"{inner_path}: nested arrays or maps are not rendered")
        yield from fields(inner, f"{inner_path}.")


def check(schema: Mapping[str, Any], path: str) -> None:
    unknown = sorted(set(schema) - KNOWN)
    if unknown:
        raise SchemaError(f"{path}: schema keyword(s) {', '.join(unknown)} not rendered")
    for rule in schema.get("x-kubernetes-validations", []):
        extra = sorted(set(rule) - RULE_KEYS)
        if extra:
            raise SchemaError(f"{path}: validation rule key(s) {', '.join(extra)} not rendered")


def type_name(schema: Mapping[str, Any]) -> str:
    kind = schema.get("type")
    if schema.get("x-kubernetes-int-or-string"):
        name = "integer or string"
    elif kind == "array":
        items = schema.get("items")
        name = f"array of {type_name(items)}" if isinstance(items, Mapping) else "array"
    elif kind == "object" and isinstance(schema.get("additionalProperties"), Mapping):
        name = f"map of {type_name(schema['additionalProperties'])}"
    elif kind is None:
        name = "any" if schema.get("x-kubernetes-preserve-unknown-fields") else "unspecified"
    else:
        name = str(kind)
    if "format" in schema:
        name += f" ({schema['format']})"
    return name


def code(value: object) -> str:
    """An inline code span holding value exactly (strings as they are, the rest as JSON)."""
    text = value if isinstance(value, str) else json.dumps(value, separators=(", ", ": "))
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def prose(text: str) -> str:
    """A description as Markdown: one paragraph, its `code spans` kept, and outside them the
    characters Markdown (Python-Markdown for the site, GitHub's for the repository) would take
    for markup escaped."""
    text = " ".join(text.split())
    parts = text.split("`")
    if len(parts) % 2 == 0:  # an unpaired backtick: no code spans at all
        parts = [text]
    out = []
    for i, part in enumerate(parts):
        if i % 2:
            out.append(f"`{part}`")
            continue
        html = part.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        out.append(re.sub(r"([\\*_\[\]])", r"\\\1", html))
    return "".join(out)


def slug(text: str) -> str:
    """The anchor Python-Markdown's toc extension (mkdocs) gives a heading; GitHub's is the same
    for the headings written here (field paths: letters, digits, '.', '[]')."""
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    text = re.sub(r"[^\w\s-]", "", text).strip().lower()
    return re.sub(r"[-\s]+", "-", text)


def facts(schema: Mapping[str, Any], required: bool | None) -> list[str]:
    """The bullet lines describing one schema: its type and every constraint on it."""
    lines = [f"Type: {type_name(schema)}"]
    if required is not None:
        lines.append(f"Required: {'yes' if required else 'no'}")
    if "default" in schema:
        lines.append(f"Default: {code(schema['default'])}")
    if "enum" in schema:
        lines.append("Allowed values: " + ", ".join(code(v) for v in schema["enum"]))
    if "pattern" in schema:
        lines.append(f"Pattern: {code(schema['pattern'])}")
    bounds = [code(f"{k}: {json.dumps(schema[k])}") for k in BOUNDS if k in schema]
    if bounds:
        lines.append("Bounds: " + ", ".join(bounds))
    if schema.get("nullable"):
        lines.append("Nullable: yes (null is accepted)")
    if schema.get("x-kubernetes-preserve-unknown-fields"):
        lines.append("Unknown fields: kept (x-kubernetes-preserve-unknown-fields)")
    if "x-kubernetes-list-type" in schema:
        line = f"List type: {code(schema['x-kubernetes-list-type'])}"
        if "x-kubernetes-list-map-keys" in schema:
            keys = ", ".join(code(k) for k in schema["x-kubernetes-list-map-keys"])
            line += f", keyed by {keys}"
        lines.append(line)
    if "x-kubernetes-map-type" in schema:
        lines.append(f"Map type: {code(schema['x-kubernetes-map-type'])}")
    return lines


def rules(schema: Mapping[str, Any], label: str = "Validation rule") -> list[str]:
    """The CEL rules on a schema as list items, each with its message and details nested."""
    out = []
    for rule in schema.get("x-kubernetes-validations", []):
        out.append(f"- {label}: {code(rule['rule'])}")
        details = []
        if "message" in rule:
            details.append(f"message: {prose(rule['message'])}")
        if "messageExpression" in rule:
            details.append(f"message expression: {code(rule['messageExpression'])}")
        if "fieldPath" in rule:
            details.append(f"reported at: {code(rule['fieldPath'])}")
        if "reason" in rule:
            details.append(f"reason: {code(rule['reason'])}")
        if "oldSelf" in rule["rule"]:
            details.append("a transition rule: checked on updates, against the stored object")
        if rule.get("optionalOldSelf"):
            details.append("optionalOldSelf: also checked on create, with oldSelf unset")
        out += [f"    - {d}" for d in details]
    return out


def field_section(field: Field) -> list[str]:
    schema = field.schema
    lines = [f"### `{field.path}`", ""]
    if "description" in schema:
        lines += [prose(schema["description"]), ""]
    lines += [f"- {line}" for line in facts(schema, field.required)]
    lines += rules(schema)
    for label, inner in (
        ("Each item", schema.get("items")),
        ("Each value", schema.get("additionalProperties")),
    ):
        if not isinstance(inner, Mapping):
            continue
        if "description" in inner:
            lines.append(f"- {label}: {prose(inner['description'])}")
        # facts()[0] is the type, already in this field's ("array of object", "map of string")
        lines += [f"- {label}: {line[0].lower()}{line[1:]}" for line in facts(inner, None)[1:]]
        lines += rules(inner, f"{label}, validation rule")
    return [*lines, ""]


def table_cell(text: str) -> str:
    if "|" in text or "\n" in text:
        raise SchemaError(f"cannot put {text!r} in a Markdown table cell")
    return text


def kind_page(crd: Mapping[str, Any], source: str) -> str:
    spec = crd["spec"]
    names = spec["names"]
    kind = names["kind"]
    versions = spec["versions"]
    if len(versions) != 1:
        raise SchemaError(f"{source}: {len(versions)} versions; the reference renders one")
    [version] = versions
    root = version["schema"]["openAPIV3Schema"]
    check(root, kind)
    api_version = f"{spec['group']}/{version['name']}"
    about = [f"API version {code(api_version)}", f"kind {code(kind)}", spec["scope"].lower()]
    if names.get("shortNames"):
        about.append("short names " + ", ".join(code(n) for n in names["shortNames"]))
    if names.get("categories"):
        about.append("categories " + ", ".join(code(n) for n in names["categories"]))
    if "status" in version.get("subresources", {}):
        about.append("status subresource")
    out = [
        f"<!-- Generated by {COMMAND} from {source}: edit the CRD, then run {COMMAND}. -->",
        "",
        f"# {kind}",
        "",
        "; ".join(about) + ".",
        "",
    ]
    if "description" in root:
        out += [prose(root["description"]), ""]
    out += [
        f"Generated from `{source}`; `kubectl explain {names['singular']}.spec` prints the same "
        "descriptions from a cluster, one level at a time.",
        "",
    ]
    out += rules(root)
    if root.get("x-kubernetes-validations"):
        out.append("")
    columns = version.get("additionalPrinterColumns", [])
    if columns:
        out += [
            "## Columns",
            "",
            f"What `kubectl get {names['plural']}` shows (priority 1: only with `-o wide`):",
            "",
            "| column | type | JSONPath | priority | description |",
            "| --- | --- | --- | --- | --- |",
        ]
        for c in columns:
            cells = [
                c["name"],
                c["type"],
                code(c["jsonPath"]),
                str(c.get("priority", 0)),
                prose(c.get("description", "")),
            ]
            out.append("| " + " | ".join(table_cell(x) for x in cells) + " |")
        out.append("")
    all_fields = list(fields(root))
    anchors = {slug(kind), "columns", "fields"}
    out += [
        "## Fields",
        "",
        "| field | type | required | default |",
        "| --- | --- | --- | --- |",
    ]
    for f in all_fields:
        anchor = slug(f.path)
        if anchor in anchors:
            raise SchemaError(f"{source}: two headings would share the anchor #{anchor}")
        anchors.add(anchor)
        default = code(f.schema["default"]) if "default" in f.schema else ""
        cells = [
            f"[`{f.path}`](#{anchor})",
            type_name(f.schema),
            "yes" if f.required else "",
            default,
        ]
        out.append("| " + " | ".join(table_cell(x) for x in cells) + " |")
    out.append("")
    for f in all_fields:
        out += field_section(f)
    return "\n".join(out).rstrip("\n") + "\n"


def index_page(kinds: list[tuple[str, str, str]], skipped: list[tuple[str, str]]) -> str:
    out = [
        f"<!-- Generated by {COMMAND} from crds/: edit the CRDs, then run {COMMAND}. -->",
        "",
        "# Field reference",
        "",
        "One page per kind, generated from the CRDs in `crds/` (their openAPIV3Schema and its",
        "descriptions, which `kubectl explain` prints too): every field with its type, whether it",
        "is required, its default, allowed values, pattern and bounds, and the CEL validation",
        "rules the API server checks, with their messages.",
        "",
    ]
    out += [f"- [{kind}]({page}): from `{source}`" for kind, page, source in kinds]
    if skipped:
        out += ["", "Also in `crds/`, not ours and so not described here:", ""]
        out += [f"- `{source}`: group `{group}`" for source, group in skipped]
    return "\n".join(out) + "\n"


def render(crd_dir: Path = CRDS) -> dict[str, str]:
    """The reference pages: file name (in docs/reference/) -> content."""
    pages: dict[str, str] = {}
    kinds: list[tuple[str, str, str]] = []
    skipped: list[tuple[str, str]] = []
    for path in sorted(crd_dir.glob("*.yaml")):
        source = f"crds/{path.name}"
        for doc in yaml.safe_load_all(path.read_text()):
            if not doc or doc.get("kind") != "CustomResourceDefinition":
                continue
            group = doc["spec"]["group"]
            if group != GROUP:
                if (source, group) not in skipped:
                    skipped.append((source, group))
                continue
            kind = doc["spec"]["names"]["kind"]
            page = f"{kind.lower()}.md"
            pages[page] = kind_page(doc, source)
            kinds.append((kind, page, source))
    pages["index.md"] = index_page(kinds, skipped)
    return pages


def main() -> int:
    try:
        pages = render()
    except SchemaError as e:
        print(f"{COMMAND}: {e}", file=sys.stderr)
        return 1
    OUT.mkdir(parents=True, exist_ok=True)
    for stale in OUT.glob("*.md"):
        if stale.name not in pages:
            stale.unlink()
            print(f"removed {stale.relative_to(ROOT)}")
    for name, text in pages.items():
        target = OUT / name
        if not target.exists() or target.read_text() != text:
            target.write_text(text)
            print(f"wrote {target.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
