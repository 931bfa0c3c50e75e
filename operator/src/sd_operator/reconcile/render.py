"""Plan values as a user reads them: the CLI's output, status.drift and drift Events share this."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from enum import Enum

import yaml

from sd_operator.model.spec import HealthCheck, Tls
from sd_operator.reconcile.plan import Change


def _camel(name: str) -> str:
    first, *rest = name.split("_")
    return first + "".join(part.capitalize() for part in rest)


def yaml_value(value: object) -> object:
    """A plan value as the manifests spell it: dataclasses as mappings with camelCase keys and
    without unset (None) fields, enums as their plain strings, tuples as lists."""
    if isinstance(value, Enum):
        return yaml_value(value.value)
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, HealthCheck):  # YAML: custom: {} | route53: {...}
        check: dict[str, object] = {"custom": {}} if value.custom else {}
        if value.route53 is not None:
            check["route53"] = yaml_value(value.route53)
        return check
    if isinstance(value, Tls):  # YAML nests the CA one level deeper
        tls = {
            "issuerCertificateAuthority": {"awsPcaAuthorityArn": value.aws_pca_authority_arn},
            "kmsKey": value.kms_key,
            "roleArn": value.role_arn,
        }
        return {k: v for k, v in tls.items() if v is not None}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            _camel(f.name): yaml_value(getattr(value, f.name))
            for f in dataclasses.fields(value)
            if getattr(value, f.name) is not None
        }
    if isinstance(value, Mapping):
        return {str(k): yaml_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [yaml_value(v) for v in value]
    return str(value)


def show_value(value: object) -> str:
    """One plan value for the text output: scalars as before, structures in YAML flow style."""
    plain = yaml_value(value)
    if isinstance(plain, (dict, list)):
        text = yaml.safe_dump(plain, default_flow_style=True, sort_keys=False, width=10**6)
        return text.strip()
    return repr(plain)


def describe_changes(changes: Iterable[Change]) -> str:
    """`spec.<field>: desired X, observed Y` for each change, as conditions and Events say it."""
    return "; ".join(
        f"spec.{c.field}: desired {show_value(c.desired)}, observed {show_value(c.observed)}"
        for c in changes
    )
