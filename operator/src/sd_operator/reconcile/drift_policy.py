"""spec.driftFields: fields the operator leaves alone (Ignore) or only reports (Report).

Applied to a finished plan. A held field drops out of the plan's changes, and every action that
would have sent it sends what AWS holds instead: UpdateService sends the full records and health
check each time (docs/aws-facts.md, UpdateService), so correcting a description must not carry an
ignored TTL back. An
action left with nothing of its own to change is dropped. Creations are not affected: a new
resource is made as the spec says.

Ignore holds always: an ignored field is never written after creation, and never shown as
drift. Report holds only while AWS matched this generation before (drift): a change to the spec
itself is still carried out, as the resource-wide `drift: Report` does.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from sd_operator.model.actions import (
    Action,
    Change,
    DeleteServiceAttributes,
    Plan,
    TagResource,
    UntagResource,
    UpdateEcsService,
    UpdateService,
    UpdateServiceAttributes,
)
from sd_operator.model.spec import DnsRecord, Route53HealthCheck
from sd_operator.reconcile.fields import claims, map_key, matches, under


@dataclass(frozen=True)
class Held:
    plan: Plan
    reported: tuple[Change, ...] = ()


def _is_held(change: Change, paths: Sequence[str]) -> bool:
    return any(matches(p, change.field) for p in paths)


def _record_index(path: str) -> int | None:
    prefix = "service.dns.records["
    if not path.startswith(prefix) or not path.endswith("].ttl"):
        return None
    return int(path[len(prefix) : -len("].ttl")])


def _keep_observed_service(action: UpdateService, held: Sequence[Change]) -> UpdateService:
    records = list(action.records)
    route53 = action.route53
    description = action.description
    for c in held:
        index = _record_index(c.field)
        if index is not None and index < len(records) and isinstance(c.observed, int):
            records[index] = DnsRecord(records[index].type, c.observed)
        elif c.field == "service.description":
            description = c.observed if isinstance(c.observed, str) else None
        elif c.field == "service.healthCheck.route53":
            route53 = c.observed if isinstance(c.observed, Route53HealthCheck) else None
        elif route53 is not None and c.field == "service.healthCheck.route53.resourcePath":
            route53 = replace(route53, resource_path=c.observed)  # type: ignore[arg-type]
        elif route53 is not None and c.field == "service.healthCheck.route53.failureThreshold":
            route53 = replace(route53, failure_threshold=c.observed)  # type: ignore[arg-type]
    return replace(action, records=tuple(records), route53=route53, description=description)


def _unheld(keys: Iterable[str], held: Sequence[Change]) -> list[str]:
    """The tag or attribute keys of an action that no held change names."""
    out = {map_key(c.field) for c in held}
    return [k for k in keys if k not in out]


def _keep_observed(action: Action, held: Sequence[Change]) -> Action | None:  # noqa: PLR0911 -- one case per action type: the match is the table
    """`action` sending AWS's values for the held fields; None when nothing is left to send."""
    match action:
        case UpdateService():
            return _keep_observed_service(action, held)
        case TagResource():
            tags = {k: action.tags[k] for k in _unheld(action.tags, held)}
            return replace(action, tags=tags) if tags else None
        case UpdateServiceAttributes():
            kept = {k: action.attributes[k] for k in _unheld(action.attributes, held)}
            return replace(action, attributes=kept) if kept else None
        case UntagResource() | DeleteServiceAttributes():
            left = tuple(_unheld(action.keys, held))
            return replace(action, keys=left) if left else None
        case UpdateEcsService():
            sc = action.set_service_connect and not any(
                under(c.field, "ecs.serviceConnect") for c in held
            )
            registries = action.set_registries and not any(
                under(c.field, "ecs.registry") for c in held
            )
            if not (sc or registries):
                return None
            return replace(
                action,
                set_service_connect=sc,
                set_registries=registries,
                endpoints_change=action.endpoints_change and sc,
            )
    return action


def hold(plan: Plan, ignore: Sequence[str], report: Sequence[str]) -> Held:
    """The plan without the held fields' changes; `reported`: the held Report fields' changes."""
    paths = (*ignore, *report)
    if not paths or not plan.changes:
        return Held(plan)
    held = [c for c in plan.changes if _is_held(c, paths)]
    if not held:
        return Held(plan)
    kept_changes = tuple(c for c in plan.changes if c not in held)
    actions: list[Action] = []
    for action in plan.actions:
        own = [c for c in plan.changes if claims(action, c)]
        own_held = [c for c in own if c in held]
        if not own_held:
            actions.append(action)
            continue
        if len(own_held) == len(own):
            continue  # everything this action would change is held
        rewritten = _keep_observed(action, own_held)
        if rewritten is not None:
            actions.append(rewritten)
    reported = tuple(c for c in held if _is_held(c, report) and not _is_held(c, ignore))
    return Held(replace(plan, actions=tuple(actions), changes=kept_changes), reported)
