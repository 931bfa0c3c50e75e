"""What never leaves the process as it is: docs/redaction.md says what, where, and why.

A plan value goes into status.drift, Events, log lines and `plan` output (a pull-request
comment), which people other than the resource's owner read: the options and secret references
of an ECS log configuration are shown by key only. AWS error text names the caller's role and
other accounts' resources: those ARNs are masked in it.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from typing import Any

from sd_operator.model import arns
from sd_operator.model.actions import Change
from sd_operator.model.wire import encode

__all__ = ["CHANGED", "REDACTED", "own_arns", "redact", "redact_arns"]

REDACTED = "(redacted)"
# A hidden value that differs from the other side's at the same place: a change stays visible
# as a change, without a digest of the value (a short hash of a guessable value confirms a guess).
CHANGED = "(redacted, differs)"

_WILDCARD = "*"
# Document paths under spec whose leaves are hidden; indices dropped, `*` any key.
_SECRET_PATHS = (
    ("ecs", "serviceConnect", "logConfiguration", "options", _WILDCARD),
    ("ecs", "serviceConnect", "logConfiguration", "secretOptions", "valueFrom"),
)
_INDEX = re.compile(r"\[\d+\]")


def _secret(steps: tuple[str, ...]) -> bool:
    return any(
        len(steps) == len(pattern)
        and all(p in (_WILDCARD, s) for p, s in zip(pattern, steps, strict=True))
        for pattern in _SECRET_PATHS
    )


def _hide(steps: tuple[str, ...], value: Any, other: Any) -> Any:
    """`value` (a document) with every secret leaf replaced; `other` is the other side's
    document at the same place, to tell an unchanged hidden value from a changed one."""
    if isinstance(value, Mapping):
        fields = other if isinstance(other, Mapping) else {}
        return {k: _hide((*steps, k), v, fields.get(k)) for k, v in value.items()}
    if isinstance(value, list):
        items = other if isinstance(other, list) else []
        return [_hide(steps, v, items[i] if i < len(items) else None) for i, v in enumerate(value)]
    if value is not None and _secret(steps):
        return REDACTED if value == other else CHANGED
    return value


def redact(change: Change) -> Change:
    """`change` with its values as documents, secret leaves hidden: the one form in which a
    change is shown anywhere (status, Events, logs, plans)."""
    steps = tuple(_INDEX.sub("", change.field).split("."))
    desired, observed = encode(change.desired), encode(change.observed)
    return Change(change.field, _hide(steps, desired, observed), _hide(steps, observed, desired))


_ACCOUNT = "<account>"
_HIDDEN = "<redacted>"


def _mask(match: re.Match[str]) -> str:
    resource = match["resource"]
    kind = re.match(r"[^/:]+[/:]", resource)
    account = _ACCOUNT if match["account"].isdigit() else match["account"]
    head = f"arn:{match['partition']}:{match['service']}:{match['region']}:{account}:"
    return head + (kind.group() if kind else "") + _HIDDEN


def redact_arns(text: str, keep: Collection[str] = ()) -> str:
    """`text` with every ARN but those in `keep` masked: account and resource name hidden,
    partition, service, region and resource type kept (`arn:aws:iam::<account>:role/<redacted>`)."""
    return arns.IN_TEXT.sub(lambda m: m.group() if m.group() in keep else _mask(m), text)


def own_arns(status: Mapping[str, Any]) -> frozenset[str]:
    """The ARNs a resource's status already shows its readers (namespaceArn, serviceArn,
    ecsServiceArn): the ones error text may keep."""
    return frozenset(v for k, v in status.items() if k.endswith("Arn") and isinstance(v, str))
