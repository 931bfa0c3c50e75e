"""Field paths: which plan changes an action carries out, and spec.driftFields' path matching.

A path is the one the plan prints, relative to the object: `spec.service.dns.records[0].ttl`.
`Change.field` leaves out the `spec.` prefix.
"""

from __future__ import annotations

import re

from sd_operator.model.actions import (
    Action,
    Change,
    CreateNamespace,
    CreateService,
    DeleteServiceAttributes,
    TagResource,
    UntagResource,
    UpdateEcsService,
    UpdateNamespace,
    UpdateService,
    UpdateServiceAttributes,
)

SPEC = "spec."
ATTRIBUTES = "service.attributes"


def under(path: str, prefix: str) -> bool:
    """`path` is `prefix` or lies inside it (a child field or a list item)."""
    return path == prefix or path.startswith((f"{prefix}.", f"{prefix}["))


def _pattern(policy_path: str) -> re.Pattern[str]:
    """`[*]` stands for any list index; everything else is literal."""
    body = re.escape(policy_path.removeprefix(SPEC)).replace(re.escape("[*]"), r"\[[0-9]+\]")
    return re.compile(rf"^{body}(?:$|[.\[])")


def matches(policy_path: str, change_field: str) -> bool:
    """A `spec.driftFields` path covers this change (the field itself or anything inside it)."""
    return _pattern(policy_path).match(change_field) is not None


def _is_tag(path: str) -> bool:
    return under(path, "tags") or under(path, "service.tags")


def claims(action: Action, change: Change) -> bool:  # noqa: PLR0911 -- one case per action type: the match is the table
    """Whether `action` carries out `change`: the fields it sends to AWS."""
    path = change.field
    match action:
        case CreateNamespace():
            return path == "name"
        case CreateService():
            return path == "service.name"
        case UpdateNamespace():
            return path == "description"
        case UpdateService():
            return any(
                under(path, p)
                for p in ("service.description", "service.dns", "service.healthCheck")
            )
        case TagResource():
            return (_is_tag(path) and change.desired is not None) or path == "adoptionPolicy"
        case UntagResource():
            return _is_tag(path) and change.desired is None
        case UpdateEcsService():
            return under(path, "ecs")
        case UpdateServiceAttributes():
            return under(path, ATTRIBUTES) and change.desired is not None
        case DeleteServiceAttributes():
            return under(path, ATTRIBUTES) and change.desired is None
    return False


def map_key(path: str) -> str:
    """The key of a `tags.<key>` / `service.tags.<key>` / `service.attributes.<key>` change."""
    for prefix in (f"{ATTRIBUTES}.", "service.tags.", "tags."):
        if path.startswith(prefix):
            return path.removeprefix(prefix)
    return path
