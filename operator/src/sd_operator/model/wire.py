"""One mapping between the typed specs and their camelCase documents, derived from the types.

The manifests (the CRD) and the AWS APIs spell a nested configuration the same way: ECS
Service Connect's `serviceConnectConfiguration` is the CRD's `spec.ecs.serviceConnect`, key for
key. So the frozen dataclasses of `sd_operator.model.spec` are the only hand-written description
of such a shape, and every direction is derived from their fields and type hints: a document
to a dataclass (`decode`: the parsed manifest and the DescribeServices answer), a dataclass to
a document (`encode`: the UpdateService request and every rendered plan value), and the
field-by-field differences the plan reports (`differences`). A new optional field is one line
in the dataclass (and its CRD schema, checked against it by tests/unit/test_wire.py).

A field's document key is its name in camelCase. A tuple of dataclasses declared with
`list_map(key)` is matched by that key, like Kubernetes' `x-kubernetes-list-map-keys`, not by
position.
"""

from __future__ import annotations

import dataclasses
import functools
import types
from collections.abc import Callable, Mapping
from enum import Enum
from typing import (
    Any,
    Protocol,
    TypeVar,
    Union,
    cast,
    get_args,
    get_origin,
    get_type_hints,
)

__all__ = [
    "Difference",
    "Documented",
    "camel",
    "decode",
    "decode_value",
    "differences",
    "encode",
    "list_map",
    "nullable",
]

T = TypeVar("T")

_SCALARS = (str, int, float, bool)
_LIST_MAP_KEY = "list_map_key"
_NULLABLE = "nullable"

Difference = tuple[str, object, object]  # (document path, desired, observed)


def list_map(key: str) -> Any:
    """A tuple field whose entries are identified by their field `key` (Kubernetes'
    x-kubernetes-list-map-keys): compared by that key, not by position."""
    return dataclasses.field(default=(), metadata={_LIST_MAP_KEY: key})


def nullable() -> Any:
    """A field whose null is part of the document (the CRD's `nullable: true`, e.g. a drift's
    `desired` when the spec does not set it): encoded as null, not left out. Typed `object`,
    it holds any JSON value as it is."""
    return dataclasses.field(default=None, metadata={_NULLABLE: True})


class Documented(Protocol):
    """A type whose document is not its fields in camelCase (e.g. the CRD's `custom: {}`)."""

    def document(self) -> object: ...


def camel(name: str) -> str:
    first, *rest = name.split("_")
    return first + "".join(part.capitalize() for part in rest)


_Fields = tuple[tuple[dataclasses.Field[Any], str, Any], ...]
_FIELDS: dict[type, _Fields] = {}


def _fields(cls: type) -> _Fields:
    """(field, document key, resolved type hint) of a dataclass, in declaration order; resolved
    once per type (get_type_hints evaluates the annotations)."""
    known = _FIELDS.get(cls)
    if known is None:
        hints = get_type_hints(cls)
        known = tuple((f, camel(f.name), hints[f.name]) for f in dataclasses.fields(cls))
        _FIELDS[cls] = known
    return known


def _is_instance(value: object) -> bool:
    return dataclasses.is_dataclass(value) and not isinstance(value, type)


# document -> dataclass -------------------------------------------------------------------------


def decode(cls: type[T], document: Mapping[str, Any]) -> T:
    """`document` as a `cls`. Absent (or null) keys take the field's default; keys the type
    does not declare are ignored (AWS answers carry more than the operator owns)."""
    values = {
        f.name: decode_value(hint, document[key])
        for f, key, hint in _fields(cls)
        if document.get(key) is not None
    }
    return cls(**values)


def decode_value(hint: Any, value: Any) -> Any:
    """`value` (a document) as type `hint`."""
    return _decoder(hint)(value)


_Decoder = Callable[[Any], Any]


@functools.cache
def _decoder(hint: Any) -> _Decoder:
    """How a document becomes a `hint`, worked out once per type hint: get_origin and get_args
    on every value made reading one stored status cost 0.4 ms, each step of each resource."""
    if hint is object:
        return _as_is
    origin = get_origin(hint)
    if origin is Union or origin is types.UnionType:
        (inner,) = (a for a in get_args(hint) if a is not type(None))
        return _decoder(inner)
    if origin is tuple:
        item = _decoder(get_args(hint)[0])
        return lambda value: tuple(item(v) for v in value)
    if origin is Mapping:
        return lambda value: {str(k): str(v) for k, v in value.items()}
    if dataclasses.is_dataclass(hint):
        return functools.partial(decode, hint)  # type: ignore[arg-type]  # a dataclass type
    if isinstance(hint, type) and issubclass(hint, (Enum, *_SCALARS)):
        return hint
    raise TypeError(f"no document mapping for {hint!r}")


def _as_is(value: Any) -> Any:
    return value


# dataclass -> document -------------------------------------------------------------------------


_DOCUMENTED: dict[type, bool] = {}


def _documents_itself(cls: type) -> bool:
    """`cls` is `Documented`, asked once per type: isinstance() against a runtime-checkable
    Protocol looks up its members on every call, and encode() asks for every value (2.3 ms to
    encode one ServiceDiscovery's status; 9 s of operator CPU per sweep of 1,000). A dict, not
    functools.cache: typeshed's `type[object]` is not Hashable to mypy."""
    known = _DOCUMENTED.get(cls)
    if known is None:
        known = _DOCUMENTED[cls] = callable(getattr(cls, "document", None))
    return known


def encode(value: object) -> Any:  # noqa: PLR0911 -- a type switch, one document form per kind of value
    """`value` as its document: dataclasses as camelCase mappings without unset (None) or empty
    fields, enums as their values, tuples as lists."""
    if _documents_itself(type(value)):
        return cast(Documented, value).document()
    if isinstance(value, Enum):
        return value.value
    if value is None or isinstance(value, _SCALARS):
        return value
    if _is_instance(value):
        return {
            key: encoded
            for f, key, _ in _fields(type(value))
            if _kept(f, encoded := encode(getattr(value, f.name)))
        }
    if isinstance(value, Mapping):
        return {str(k): encode(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [encode(v) for v in value]
    return str(value)


def _kept(f: dataclasses.Field[Any], encoded: object) -> bool:
    if encoded is None:
        return bool(f.metadata.get(_NULLABLE))
    return encoded not in ([], {})


# differences -----------------------------------------------------------------------------------


def differences(path: str, want: object, have: object) -> list[Difference]:
    """Each leaf where `want` and `have` differ, at its document path (`a.b[0].c`), with the
    values as documents. A nested object present on one side only is one change, unless all
    its fields are optional: then it is compared with its empty form, field by field."""
    if want == have:
        return []
    if _is_instance(want) or _is_instance(have):
        cls = type(want if want is not None else have)
        if want is None or have is None:
            try:
                empty = cls()
            except TypeError:  # a required field: nothing to compare field by field with
                return [(path, encode(want), encode(have))]
            want, have = (empty, have) if want is None else (want, empty)
        changes: list[Difference] = []
        for f, key, _ in _fields(cls):
            changes += _field_differences(
                f"{path}.{key}", f, getattr(want, f.name), getattr(have, f.name)
            )
        return changes
    return [(path, encode(want), encode(have))]


def _field_differences(
    path: str, f: dataclasses.Field[Any], want: object, have: object
) -> list[Difference]:
    if want == have:
        return []
    key = f.metadata.get(_LIST_MAP_KEY)
    if key is not None and isinstance(want, tuple) and isinstance(have, tuple):
        return _keyed_differences(path, key, want, have)
    if (
        isinstance(want, tuple)
        and isinstance(have, tuple)
        and len(want) == len(have)
        and all(_is_instance(v) for v in want + have)
    ):
        return [
            change
            for i, (w, h) in enumerate(zip(want, have, strict=True))
            for change in differences(f"{path}[{i}]", w, h)
        ]
    return differences(path, want, have)


def _keyed_differences(
    path: str, key: str, want: tuple[Any, ...], have: tuple[Any, ...]
) -> list[Difference]:
    """Entries matched by `key`: a desired entry without a match is one change at its index,
    observed entries left over are one change of the list's keys."""
    changes: list[Difference] = []
    unmatched = list(have)
    for i, entry in enumerate(want):
        match = next((o for o in unmatched if getattr(o, key) == getattr(entry, key)), None)
        if match is None:
            changes.append((f"{path}[{i}]", getattr(entry, key), None))
            continue
        unmatched.remove(match)
        changes += differences(f"{path}[{i}]", entry, match)
    if unmatched:
        changes.append((path, [getattr(e, key) for e in want], [getattr(e, key) for e in have]))
    return changes
