"""ObjectMeta as kubectl and the API server check it, in their words.

The CRDs declare ``metadata`` as a bare object: Kubernetes validates it with its own built-in
rules (k8s.io/apimachinery), the same for every kind, which live here. Two stages, as there:
decoding into the typed ObjectMeta (unknown fields, JSON types: "json: cannot unmarshal ...")
and ObjectMeta validation (names, label keys and values, annotation keys and total size).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

# Field -> Go type in ObjectMeta, as named by encoding/json's type errors.
_STRING, _INT = "string", "int64"
_FIELDS: Mapping[str, str] = {
    "name": _STRING,
    "generateName": _STRING,
    "namespace": _STRING,
    "selfLink": _STRING,
    "uid": _STRING,
    "resourceVersion": _STRING,
    "generation": _INT,
    "creationTimestamp": _STRING,
    "deletionTimestamp": _STRING,
    "deletionGracePeriodSeconds": _INT,
    "labels": "map[string]string",
    "annotations": "map[string]string",
    "ownerReferences": "[]v1.OwnerReference",
    "finalizers": "[]string",
    "managedFields": "[]v1.ManagedFieldsEntry",
}

_NAME_PART = r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_LABEL_VALUE = r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?"
_DNS1123_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS1123_SUBDOMAIN = _DNS1123_LABEL + r"(\." + _DNS1123_LABEL + r")*"

_NAME_PART_MSG = (
    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end"
    " with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used"
    f" for validation is '{_NAME_PART}')"
)
_LABEL_VALUE_MSG = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or"
    " '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or"
    f" 'my_value',  or '12345', regex used for validation is '{_LABEL_VALUE}')"
)
_SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or"
    " '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex"
    f" used for validation is '{_DNS1123_SUBDOMAIN}')"
)
_LABEL_MSG = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and"
    " must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex"
    f" used for validation is '{_DNS1123_LABEL}')"
)
_QUALIFIED_MSG = (
    "a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start"
    " and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc',"
    f" regex used for validation is '{_NAME_PART}') with an optional DNS subdomain prefix and"
    " '/' (e.g. 'example.com/MyName')"
)
# apimachinery's TotalAnnotationSizeLimitB: keys plus values of one object.
ANNOTATIONS_LIMIT = 256 * 1024


class MetadataError(Exception):
    """A metadata problem: the field path and the message kubectl or the API server gives."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


def _full(pattern: str, text: str) -> bool:
    return re.fullmatch(pattern, text) is not None


def _json_type(value: object) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, Mapping):
        return "object"
    if isinstance(value, list):
        return "array"
    return type(value).__name__


def _unmarshal(value: object, go_type: str, where: str) -> MetadataError:
    return MetadataError(
        where.removeprefix("ObjectMeta."),
        f"json: cannot unmarshal {_json_type(value)} into Go struct field {where}"
        f" of type {go_type}",
    )


def _decode(meta: Mapping[str, Any]) -> None:
    """What decoding into ObjectMeta refuses (kubectl reports it before sending anything)."""
    for key, value in meta.items():
        go_type = _FIELDS.get(str(key))
        if go_type is None:
            raise MetadataError(f"metadata.{key}", f'unknown field "metadata.{key}"')
        if value is None:
            continue
        where = f"ObjectMeta.metadata.{key}"
        if go_type == _STRING and not isinstance(value, str):
            raise _unmarshal(value, go_type, where)
        if go_type == _INT and (isinstance(value, bool) or not isinstance(value, int)):
            raise _unmarshal(value, go_type, where)
        if go_type.startswith("map"):
            if not isinstance(value, Mapping):
                raise _unmarshal(value, go_type, where)
            for item in value.values():
                if item is not None and not isinstance(item, str):
                    raise _unmarshal(item, _STRING, where)
        if go_type.startswith("[]") and not isinstance(value, list):
            raise _unmarshal(value, go_type, where)


def _qualified_name_problem(key: str) -> str | None:  # noqa: PLR0911 -- one return per apimachinery rule, in its order
    prefix, slash, name = key.rpartition("/")
    if slash and "/" in prefix:
        return _QUALIFIED_MSG
    if slash:
        if not prefix:
            return "prefix part must be non-empty"
        if len(prefix) > 253:
            return "prefix part must be no more than 253 characters"
        if not _full(_DNS1123_SUBDOMAIN, prefix):
            return "prefix part " + _SUBDOMAIN_MSG
    if not name:
        return "name part must be non-empty"
    if len(name) > 63:
        return "name part must be no more than 63 characters"
    if not _full(_NAME_PART, name):
        return _NAME_PART_MSG
    return None


def _invalid(field: str, value: str, detail: str) -> MetadataError:
    return MetadataError(field, f'Invalid value: "{value}": {detail}')


def _validate_name(field: str, value: str, pattern: str, limit: int, message: str) -> None:
    if len(value) > limit:
        raise _invalid(field, value, f"must be no more than {limit} characters")
    if not _full(pattern, value):
        raise _invalid(field, value, message)


def validate_metadata(meta: object) -> dict[str, Any]:
    """`meta` as the API server stores it (labels and annotations with string keys and values),
    or MetadataError at the first problem."""
    if not isinstance(meta, Mapping):
        if meta is None:
            raise MetadataError("metadata.name", "Required value: name or generateName is required")
        raise MetadataError(
            "metadata",
            f"json: cannot unmarshal {_json_type(meta)} into Go struct field"
            " metadataOnlyObject.metadata of type v1.ObjectMeta",
        )
    _decode(meta)
    out = {str(k): v for k, v in meta.items() if v is not None}
    name = out.get("name")
    if not name:
        raise MetadataError("metadata.name", "Required value: name or generateName is required")
    _validate_name("metadata.name", name, _DNS1123_SUBDOMAIN, 253, _SUBDOMAIN_MSG)
    if out.get("namespace"):
        _validate_name("metadata.namespace", out["namespace"], _DNS1123_LABEL, 63, _LABEL_MSG)
    labels = _labels(out.get("labels") or {})
    annotations = _annotations(out.get("annotations") or {})
    if labels:
        out["labels"] = labels
    if annotations:
        out["annotations"] = annotations
    return out


def _labels(raw: Mapping[Any, Any]) -> dict[str, str]:
    labels = {str(k): v or "" for k, v in raw.items()}
    for key, value in labels.items():
        problem = _qualified_name_problem(key)
        if problem is not None:
            raise _invalid("metadata.labels", key, problem)
        if len(value) > 63:
            raise _invalid("metadata.labels", value, "must be no more than 63 characters")
        if not _full(_LABEL_VALUE, value):
            raise _invalid("metadata.labels", value, _LABEL_VALUE_MSG)
    return labels


def _annotations(raw: Mapping[Any, Any]) -> dict[str, str]:
    annotations = {str(k): v or "" for k, v in raw.items()}
    size = 0
    for key, value in annotations.items():
        problem = _qualified_name_problem(key.lower())
        if problem is not None:
            raise _invalid("metadata.annotations", key, problem)
        size += len(key.encode()) + len(value.encode())
    if size > ANNOTATIONS_LIMIT:
        raise MetadataError(
            "metadata.annotations", f"Too long: must have at most {ANNOTATIONS_LIMIT} bytes"
        )
    return annotations
