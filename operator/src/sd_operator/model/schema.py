"""The CRDs are the schema: a document is checked against crds/ itself, as the API server does.

The CRD files travel in the package (``sd_operator/crds/``, a byte-identical copy of ``crds/``
made by ``hack/sync-crds.sh`` and checked by ``tests/unit/test_crds.py``). For each object, in
the API server's order:

1. nulls of non-nullable fields are dropped and schema defaults applied (structural defaulting);
2. the openAPIV3Schema is checked by a JSON-schema validator, with the structural-schema rules
   of Kubernetes: a field the schema does not declare is an error (kubectl's strict field
   validation), ``nullable``, ``x-kubernetes-int-or-string``, ``x-kubernetes-preserve-unknown-
   fields``; errors are worded as the API server words them. fastjsonschema compiles the
   schema to Python once and checks a document about 20 times faster than jsonschema's
   interpreter, with which validation cost more than the YAML parse;
3. the ``x-kubernetes-validations`` CEL rules are evaluated, innermost node first, with the
   rule's message and fieldPath. Transition rules (those reading ``oldSelf``) need the stored
   object and stay with the API server.

ObjectMeta has Kubernetes' built-in rules (`sd_operator.model.metadata`).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import cel
import fastjsonschema
import yaml

from sd_operator.model.metadata import MetadataError, validate_metadata
from sd_operator.model.spec import GROUP, KIND_NAMESPACE
from sd_operator.once import once_per_key

__all__ = ["Invalid", "KindSchema", "kinds", "region_pattern", "type_name"]


class Invalid(Exception):
    """A validation failure at a field path (YAML spelling, e.g. spec.service.dns.records[0])."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


class UnsupportedSchema(ValueError):
    """The CRD uses a schema feature this validator does not implement: fail loudly, not lax."""


# openAPIV3Schema -> JSON schema (draft 4, whose keywords OpenAPI 3.0 schemas share) ----------

_CHECKED = (
    "enum",
    "pattern",
    "minLength",
    "maxLength",
    "minimum",
    "maximum",
    "minItems",
    "maxItems",
    "maxProperties",
)
# Documentation, or applied elsewhere (defaults: `_normalize`; CEL: `_check_rules`). `format`
# appears only under status (date-time, int64), which the operator alone writes.
_NOT_VALIDATED = frozenset(
    {
        "description",
        "default",
        "format",
        "x-kubernetes-validations",
        "x-kubernetes-list-type",
        "x-kubernetes-list-map-keys",
    }
)
_STRUCTURE = frozenset(
    {
        "type",
        "properties",
        "required",
        "items",
        "additionalProperties",
        "nullable",
        "x-kubernetes-int-or-string",
        "x-kubernetes-preserve-unknown-fields",
    }
)


def _json_schema(node: Mapping[str, Any], path: str) -> dict[str, Any]:
    unknown = set(node) - _STRUCTURE - _NOT_VALIDATED - set(_CHECKED)
    if unknown:
        raise UnsupportedSchema(f"{path}: schema keywords {sorted(unknown)} are not supported")
    out: dict[str, Any] = {}
    kind = node.get("type")
    if node.get("x-kubernetes-int-or-string"):
        out["type"] = ["integer", "string"]
    elif kind is not None:
        out["type"] = [kind, "null"] if node.get("nullable") else kind
    properties = node.get("properties")
    additional = node.get("additionalProperties")
    if kind == "object" and not node.get("x-kubernetes-preserve-unknown-fields"):
        if isinstance(additional, Mapping):
            out["additionalProperties"] = _json_schema(additional, f"{path}[*]")
        elif properties is not None or additional is False:
            out["additionalProperties"] = False
    if properties is not None:
        out["properties"] = {k: _json_schema(v, f"{path}.{k}") for k, v in properties.items()}
    if "required" in node:
        out["required"] = list(node["required"])
    if "items" in node:
        out["items"] = _json_schema(node["items"], f"{path}[]")
    for keyword in _CHECKED:
        if keyword in node:
            out[keyword] = node[keyword]
    if "pattern" in node:
        out["pattern"] = _regex(node["pattern"]).pattern
    return out


@cache
def _regex(pattern: str) -> re.Pattern[str]:
    # RE2 (the API server's regexes) matches `$` only at the very end; Python also before a
    # final newline.
    return re.compile(pattern[:-1] + r"\Z" if pattern.endswith("$") else pattern)


# Structural defaulting -------------------------------------------------------------------------


def _key(key: object) -> str:
    # sigs.k8s.io/yaml turns every mapping key into a JSON string.
    if isinstance(key, bool):
        return "true" if key else "false"
    return str(key)


def _sub_schema(node: Mapping[str, Any], key: str) -> Mapping[str, Any] | None:
    properties = node.get("properties", {})
    if key in properties:
        found: Mapping[str, Any] = properties[key]
        return found
    additional = node.get("additionalProperties")
    return additional if isinstance(additional, Mapping) else None


def _normalize(value: Any, node: Mapping[str, Any] | None) -> Any:
    """`value` with nulls of non-nullable fields dropped and the schema's defaults applied."""
    if node is None:
        return value
    if isinstance(value, Mapping) and node.get("type") == "object":
        out: dict[str, Any] = {}
        for raw, item in value.items():
            key = _key(raw)
            sub = _sub_schema(node, key)
            if item is None and not (sub or {}).get("nullable"):
                continue
            out[key] = _normalize(item, sub)
        for key, sub in node.get("properties", {}).items():
            if key not in out and "default" in sub:
                out[key] = _normalize(copy.deepcopy(sub["default"]), sub)
        return out
    if isinstance(value, list) and "items" in node:
        return [_normalize(item, node["items"]) for item in value]
    return value


# Messages as the API server words them ---------------------------------------------------------


def type_name(value: object) -> str:  # noqa: PLR0911 -- a type switch, one JSON type a line
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, Mapping):
        return "object"
    if isinstance(value, list):
        return "array"
    return type(value).__name__


def _message(rule: str, node: Mapping[str, Any], value: Any) -> tuple[str, str]:  # noqa: PLR0911 -- one message per JSON-schema keyword, in the API server's words
    """(name of the child field the error is about, or "", API-server message) for a failed
    JSON-schema keyword `rule` at the CRD schema `node` whose value is `value`."""
    expected: Any = node.get(rule)
    if rule == "type":
        kind = "integer or string" if node.get("x-kubernetes-int-or-string") else expected
        return "", f'Invalid value: "{type_name(value)}": must be of type {kind}'
    if rule == "additionalProperties":
        unknown = next(k for k in value if k not in node.get("properties", {}))
        return unknown, ""
    if rule == "required":
        return next(k for k in node["required"] if k not in value), "Required value"
    if rule == "enum":
        supported = ", ".join(f'"{e}"' for e in expected)
        return "", f'Unsupported value: "{value}": supported values: {supported}'
    if rule == "minLength":
        return "", f'Invalid value: "{value}": should be at least {expected} chars long'
    if rule == "maxLength":
        return "", f"Too long: may not be more than {expected} characters"
    if rule == "pattern":
        return "", f"Invalid value: \"{value}\": should match '{expected}'"
    if rule == "minimum":
        return "", f"Invalid value: {value}: should be greater than or equal to {expected}"
    if rule == "maximum":
        return "", f"Invalid value: {value}: should be less than or equal to {expected}"
    if rule == "minItems":
        return "", f"Invalid value: {len(value)}: should have at least {expected} items"
    if rule in ("maxItems", "maxProperties"):
        return "", f"Too many: {len(value)}: must have at most {expected} items"
    return "", f"Invalid value: must satisfy {rule} {expected!r}"


# CEL rules -------------------------------------------------------------------------------------


def _lower_ascii(text: str) -> str:
    return "".join(c.lower() if c.isascii() else c for c in text)


# Kubernetes' CEL libraries beyond the CEL standard that the rules use (k8s.io/apiserver/pkg/cel/
# library); `tests/unit/test_crds.py` checks every function a rule calls is standard or here.
EXTENSIONS = {"lowerAscii": _lower_ascii}


@dataclass(frozen=True)
class Rule:
    text: str
    message: str
    field: str  # fieldPath relative to the node, without the leading dot
    program: cel.Program

    @property
    def is_transition(self) -> bool:
        return "oldSelf" in self.program.variables()


@cache
def _compile(text: str) -> cel.Program:
    return cel.compile(text)


def rules_of(node: Mapping[str, Any]) -> tuple[Rule, ...]:
    return tuple(
        Rule(
            text=r["rule"],
            message=r.get("message") or f"failed rule: {r['rule']}",
            field=r.get("fieldPath", "").lstrip("."),
            program=_compile(r["rule"]),
        )
        for r in node.get("x-kubernetes-validations", ())
    )


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path and name else path or name


class KindSchema:
    """One kind of the CRDs (its served version): validates and defaults whole documents."""

    def __init__(self, crd: Mapping[str, Any]):
        spec = crd["spec"]
        self.kind: str = spec["names"]["kind"]
        [version] = [v for v in spec["versions"] if v.get("storage")]
        self.api_version = f"{spec['group']}/{version['name']}"
        self.schema: Mapping[str, Any] = version["schema"]["openAPIV3Schema"]
        checked = dict(self.schema, properties=dict(self.schema["properties"]))
        # ObjectMeta is checked by Kubernetes' own rules, not by the CRD.
        checked["properties"]["metadata"] = {
            "type": "object",
            "x-kubernetes-preserve-unknown-fields": True,
        }
        json_schema = _json_schema(checked, self.kind)
        json_schema["$schema"] = "http://json-schema.org/draft-04/schema#"
        self._check = fastjsonschema.compile(json_schema)
        # Per node with static rules: the rules, and one program evaluating them all at once
        # (a list of their results): each evaluation pays a fixed cost to pass `self` in.
        self._rules: dict[int, tuple[tuple[Rule, ...], cel.Program]] = {}
        self._with_rules: set[int] = set()  # nodes with rules at or below them
        self._collect_rules(self.schema)

    def _collect_rules(self, node: Mapping[str, Any]) -> bool:
        static = tuple(r for r in rules_of(node) if not r.is_transition)
        if static:
            self._rules[id(node)] = (static, _compile(f"[{', '.join(r.text for r in static)}]"))
        below = [*node.get("properties", {}).values()]
        if isinstance(node.get("additionalProperties"), Mapping):
            below.append(node["additionalProperties"])
        if "items" in node:
            below.append(node["items"])
        found = [self._collect_rules(sub) for sub in below]
        if static or any(found):
            self._with_rules.add(id(node))
            return True
        return False

    def validate(self, doc: Mapping[str, Any]) -> dict[str, Any]:
        """The document as the API server would store it (defaults applied), or `Invalid`."""
        try:
            metadata = validate_metadata(doc.get("metadata"))
        except MetadataError as exc:
            raise Invalid(exc.field, exc.message) from None
        out: dict[str, Any] = _normalize(
            {_key(k): v for k, v in doc.items() if k != "metadata"}, self.schema
        )
        out["metadata"] = metadata
        try:
            self._check(out)
        except fastjsonschema.JsonSchemaValueException as exc:
            elements, node = self._locate(exc.name or "data", out)
            child, message = _message(str(exc.rule), node, exc.value)
            field = self._field(elements + ([child] if child else []))
            raise Invalid(field, message or f'unknown field "{field}"') from None
        cel_self = dict(
            out, metadata={k: metadata[k] for k in ("name", "generateName") if k in metadata}
        )
        self._check_rules(cel_self, self.schema, "")
        return out

    def _locate(self, name: str, doc: Any) -> tuple[list[str | int], Mapping[str, Any]]:
        """The path elements and CRD schema node of fastjsonschema's `name` of a value
        ("data.spec.tags.a.b[0]"): map keys may hold dots, so keys are matched against `doc`."""
        elements: list[str | int] = []
        rest, node, value = name.removeprefix("data"), self.schema, doc
        while rest:
            if rest.startswith("["):
                index, _, rest = rest[1:].partition("]")
                elements.append(int(index))
                node, value = node.get("items", {}), value[int(index)]
                continue
            rest = rest.removeprefix(".")
            key = max(
                (k for k in value if rest == k or rest.startswith((f"{k}.", f"{k}["))), key=len
            )
            elements.append(key)
            rest = rest[len(key) :]
            node, value = _sub_schema(node, key) or {}, value[key]
        return elements, node

    def _field(self, elements: list[str | int]) -> str:
        path, node = "", self.schema
        for element in elements:
            if isinstance(element, int):
                path, node = f"{path}[{element}]", node.get("items", {})
            elif isinstance(node.get("additionalProperties"), Mapping):
                path, node = f"{path}[{element}]", node["additionalProperties"]
            else:
                path, node = _join(path, element), node.get("properties", {}).get(element, {})
        return path

    def _check_rules(self, value: Any, node: Mapping[str, Any], path: str) -> None:
        if id(node) not in self._with_rules:
            return
        if isinstance(value, Mapping):
            properties = node.get("properties", {})
            for key, item in value.items():
                sub = _sub_schema(node, key)
                if sub is not None:
                    child = _join(path, key) if key in properties else f"{path}[{key}]"
                    self._check_rules(item, sub, child)
        elif isinstance(value, list) and "items" in node:
            for i, item in enumerate(value):
                self._check_rules(item, node["items"], f"{path}[{i}]")
        if id(node) not in self._rules:
            return
        rules, together = self._rules[id(node)]
        try:
            results = together.execute({"self": value, **EXTENSIONS})
        except Exception:  # one rule cannot be evaluated: find which, one by one
            results = [self._evaluate(rule, value, path) for rule in rules]
        for rule, holds in zip(rules, results, strict=True):
            if holds is not True:
                raise Invalid(_join(path, rule.field), rule.message)

    @staticmethod
    def _evaluate(rule: Rule, value: Any, path: str) -> object:
        try:
            return rule.program.execute({"self": value, **EXTENSIONS})
        except Exception as exc:  # the API server reports a rule it cannot evaluate, too
            raise Invalid(path, f"rule {rule.text!r} could not be evaluated: {exc}") from None


def crd_documents() -> Iterator[dict[str, Any]]:
    """Every CustomResourceDefinition shipped in the package."""
    folder = resources.files("sd_operator") / "crds"
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".yaml"):
            for doc in yaml.safe_load_all(entry.read_text(encoding="utf-8")):
                if doc:
                    yield doc


@once_per_key
def kinds(group: str) -> Mapping[str, KindSchema]:
    """The kinds of API group `group`, by kind name, from the packaged CRDs."""
    return {
        schema.kind: schema
        for schema in (KindSchema(d) for d in crd_documents() if d["spec"]["group"] == group)
    }


def region_pattern() -> re.Pattern[str]:
    """What an AWS region name looks like: the pattern of the CRDs' spec.region."""
    node = kinds(GROUP)[KIND_NAMESPACE].schema["properties"]["spec"]["properties"]["region"]
    return _regex(node["pattern"])
