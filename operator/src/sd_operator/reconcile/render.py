"""Plans as a user reads them: the CLI's text, JSON and markdown, status.drift and drift Events.

The JSON document (`plan_document`) is the one structure; the text and markdown are rendered
from it, so the three never disagree. Its contract is docs/plan.schema.json.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TextIO

import yaml

from sd_operator.model import reasons
from sd_operator.model.actions import (
    Action,
    Blocked,
    Change,
    CreateNamespace,
    CreateService,
    DeleteNamespace,
    DeleteService,
    DeleteServiceAttributes,
    Plan,
    Refusal,
    TagResource,
    UntagResource,
    UpdateEcsService,
    UpdateNamespace,
    UpdateService,
    UpdateServiceAttributes,
)
from sd_operator.model.reasons import REASON_IMMUTABLE
from sd_operator.model.redact import redact
from sd_operator.model.spec import Identity
from sd_operator.model.status import ServiceConnectResource
from sd_operator.model.wire import decode, encode
from sd_operator.reconcile.fields import claims


def show_value(value: object) -> str:
    """One plan value for the text output: scalars as before, structures in YAML flow style."""
    plain = encode(value)
    if isinstance(plain, (dict, list)):
        text = yaml.safe_dump(plain, default_flow_style=True, sort_keys=False, width=10**6)
        return text.strip()
    return repr(plain)


def describe_changes(changes: Iterable[Change]) -> str:
    """`spec.<field>: desired X, observed Y` for each change, as conditions and Events say it."""
    return "; ".join(
        f"spec.{c.field}: desired {show_value(c.desired)}, observed {show_value(c.observed)}"
        for c in map(redact, changes)
    )


# Plans as documents: one structure behind `plan -o json`, the text and the markdown -------------

FORMAT_VERSION = "1.0"

EFFECT_CREATE = "Create"
EFFECT_IN_PLACE = "UpdateInPlace"
EFFECT_DELETE = "Delete"
REFUSAL_REPLACEMENT = "Replacement"
REFUSAL_REFUSED = "Refusal"

# A resource's status in the document: a step's outcome where one applies (the same word in
# status conditions), Changes for a plan with actions.
STATUS_IN_SYNC = reasons.IN_SYNC
STATUS_CHANGES = "Changes"
STATUS_REFUSED = reasons.REFUSED
STATUS_BLOCKED = reasons.BLOCKED
STATUS_ERROR = reasons.ERROR


def field_path(field_name: str) -> str:
    """The path a user writes (and spec.driftFields takes): relative to the object. Fields are
    under spec but metadata's (a grant's refusal names metadata.namespace)."""
    return field_name if field_name.startswith("metadata.") else f"spec.{field_name}"


def _target(action: Action) -> dict[str, Any]:
    match action:
        case CreateNamespace() | UpdateNamespace() | DeleteNamespace():
            ident = getattr(action, "id", None)
            return {"type": "CloudMapNamespace", "name": action.name, "id": ident}
        case (
            CreateService()
            | UpdateService()
            | DeleteService()
            | UpdateServiceAttributes()
            | DeleteServiceAttributes()
        ):
            ident = getattr(action, "id", None)
            return {"type": "CloudMapService", "name": action.name, "id": ident}
        case TagResource() | UntagResource():
            return {"type": "Tags", "name": action.arn, "id": action.arn}
        case UpdateEcsService():
            name = f"{action.cluster}/{action.service}"
            return {"type": "EcsService", "name": name, "id": None}
    return {"type": type(action).__name__, "name": action.summary(), "id": None}


def _effect(action: Action) -> str:
    if isinstance(action, (CreateNamespace, CreateService)):
        return EFFECT_CREATE
    if isinstance(action, (DeleteNamespace, DeleteService)):
        return EFFECT_DELETE
    return EFFECT_IN_PLACE


def _field_view(change: Change) -> dict[str, Any]:
    shown = redact(change)
    return {"path": field_path(shown.field), "desired": shown.desired, "observed": shown.observed}


def _ttl_consequence(fields: Sequence[Change]) -> list[dict[str, Any]]:
    old = [c.observed for c in fields if c.field.endswith(".ttl") and isinstance(c.observed, int)]
    if not old:
        return []
    seconds = max(old)
    return [
        {
            "kind": "DnsCache",
            "message": f"resolvers may keep answering with the old records for up to "
            f"{seconds}s (the TTL AWS holds now)",
        }
    ]


def _ecs_consequences(action: UpdateEcsService) -> list[dict[str, Any]]:
    where = f"{action.cluster}/{action.service}"
    if action.tasks_running is not None and action.tasks_desired is not None:
        tasks = (
            f": its {action.tasks_running} running task(s) (desired {action.tasks_desired}) "
            "are replaced"
        )
    else:
        tasks = ": every task is replaced"
    out: list[dict[str, Any]] = [
        {
            "kind": "NewDeployment",
            "message": f"starts a new deployment of ECS service {where}{tasks}",
            "service": where,
            "runningCount": action.tasks_running,
            "desiredCount": action.tasks_desired,
        }
    ]
    if action.endpoints_change:
        clients = list(action.clients) if action.clients is not None else None
        if clients is None:
            message = (
                "the Service Connect endpoint changes: the services of the namespace that use "
                "it see the change only once they are redeployed (not read: the namespace "
                "does not exist yet)"
            )
        elif clients:
            message = (
                "the Service Connect endpoint changes: redeploy "
                f"{', '.join(clients)} to see it (clients learn endpoints only when their "
                "tasks are replaced)"
            )
        else:
            message = (
                "the Service Connect endpoint changes; no other service of the namespace uses "
                "Service Connect, so none needs a redeployment"
            )
        out.append({"kind": "ClientRedeploy", "message": message, "services": clients})
    return out


def _consequences(action: Action, fields: Sequence[Change]) -> list[dict[str, Any]]:
    if isinstance(action, UpdateEcsService):
        return _ecs_consequences(action)
    if isinstance(action, UpdateService):
        return _ttl_consequence(fields)
    return []


def performed_line(action: Action, changes: Sequence[Change]) -> str:
    """What an AwsChanged Event and `apply` say was done: the action and its consequences."""
    mine = [c for c in changes if claims(action, c)]
    return "; ".join([action.summary(), *(c["message"] for c in _consequences(action, mine))])


def action_views(plan: Plan) -> tuple[list[dict[str, Any]], list[Change]]:
    """Each action with the fields it changes and what follows from it; and the changes no
    action carries (adoption notes, the differences behind a refusal or a block)."""
    left = list(plan.changes)
    views = []
    for action in plan.actions:
        mine = [c for c in left if claims(action, c)]
        left = [c for c in left if c not in mine]
        views.append(
            {
                "kind": _effect(action),
                "type": type(action).__name__,
                "target": _target(action),
                "summary": action.summary(),
                "fields": [_field_view(c) for c in mine],
                "consequences": _consequences(action, mine),
            }
        )
    return views, left


def refusal_view(refusal: Refusal) -> dict[str, Any]:
    kind = REFUSAL_REPLACEMENT if refusal.reason == REASON_IMMUTABLE else REFUSAL_REFUSED
    return {
        "kind": kind,
        "reason": refusal.reason,
        "field": field_path(refusal.field),
        "message": refusal.message,
    }


def blocked_view(blocked: Blocked) -> dict[str, Any]:
    return {
        "reason": blocked.reason,
        "message": blocked.message,
        "blockers": list(blocked.blockers),
        "retryAfterSeconds": blocked.retry_after,
    }


def resource_view(
    identity: Identity,
    source: str,
    plan: Plan | None,
    error: str | None,
    service_connect_resources: Sequence[ServiceConnectResource] = (),
    account: str | None = None,
) -> dict[str, Any]:
    """`service_connect_resources`: the Cloud Map services ECS made for the resource's Service
    Connect, as read (listed only when there are some). `account`: the one the resource lives
    in, None when not known (refused by --grants before any AWS call)."""
    out: dict[str, Any] = {
        "kind": identity.kind,
        "namespace": identity.namespace,
        "name": identity.name,
        "source": source,
        "account": account,
    }
    if service_connect_resources:
        out["serviceConnectResources"] = encode(list(service_connect_resources))
    if error is not None or plan is None:
        return {
            **out,
            "status": STATUS_ERROR,
            "error": error or "not planned",
            "actions": [],
            "changes": [],
            "refusal": None,
            "blocked": None,
            "advisories": [],
        }
    actions, loose = action_views(plan)
    if plan.refusal is not None:
        status = STATUS_REFUSED
    elif plan.blocked is not None and not plan.actions:
        status = STATUS_BLOCKED
    elif plan.in_sync:
        status = STATUS_IN_SYNC
    else:
        status = STATUS_CHANGES
    return {
        **out,
        "status": status,
        "error": None,
        "actions": actions,
        "changes": [_field_view(c) for c in loose],
        "refusal": refusal_view(plan.refusal) if plan.refusal else None,
        "blocked": blocked_view(plan.blocked) if plan.blocked else None,
        "advisories": list(plan.advisories),
    }


def plan_document(
    resources: Sequence[dict[str, Any]], *, cluster_name: str, operation: str
) -> dict[str, Any]:
    """`operation`: "apply" or "delete", what the plan is for."""
    counts = {
        s: sum(r["status"] == s for r in resources)
        for s in (STATUS_IN_SYNC, STATUS_CHANGES, STATUS_REFUSED, STATUS_BLOCKED, STATUS_ERROR)
    }
    return {
        "formatVersion": FORMAT_VERSION,
        "operation": operation,
        "clusterName": cluster_name,
        "summary": {
            "resources": len(resources),
            "actions": sum(len(r["actions"]) for r in resources),
            **{s[0].lower() + s[1:]: n for s, n in counts.items()},
        },
        "resources": list(resources),
    }


def summary_line(doc: Mapping[str, Any]) -> str:
    s = doc["summary"]
    parts = [f"{s['actions']} action(s) on {s['changes']} resource(s)"]
    for key, word in (
        ("refused", "refused"),
        ("blocked", "blocked"),
        ("error", "failed to plan"),
        ("inSync", "in sync"),
    ):
        if s[key]:
            parts.append(f"{s[key]} {word}")
    return f"Plan ({doc['operation']}): " + ", ".join(parts)


_EFFECT_WORDS = {
    EFFECT_CREATE: "create",
    EFFECT_IN_PLACE: "in place",
    EFFECT_DELETE: "delete",
}


def _head(res: Mapping[str, Any]) -> str:
    account = res.get("account")
    where = f"{res['source']}, account {account}" if account else res["source"]
    return f"{res['kind']} {res['namespace']}/{res['name']} ({where})"


def _field_line(f: Mapping[str, Any]) -> str:
    return f"{f['path']}: desired {show_value(f['desired'])}, observed {show_value(f['observed'])}"


def render_text(doc: Mapping[str, Any], out: TextIO) -> None:
    for res in doc["resources"]:
        _render_resource(res, out)
    print(summary_line(doc), file=out)


# A generation ECS undid is refused like any other, but the reader should see what ECS did.
_UNDONE_WORDS = {
    reasons.DEPLOYMENT_ROLLED_BACK: "rolled back by ECS, not sent again",
    reasons.DEPLOYMENT_FAILED: "failed in ECS, not sent again",
}


def _refused_word(refusal: Mapping[str, Any]) -> str:
    if refusal["kind"] == REFUSAL_REPLACEMENT:
        return "replacement needed, refused"
    return _UNDONE_WORDS.get(refusal["reason"], "refused")


def _made_by_ecs(res: Mapping[str, Any]) -> list[str]:
    """One line per Cloud Map service ECS created for the resource's Service Connect."""
    made = (decode(ServiceConnectResource, m) for m in res.get("serviceConnectResources", []))
    return [f"Service Connect resource {m.discovery_name}: {m.discovery_arn}" for m in made]


def _render_resource(res: Mapping[str, Any], out: TextIO) -> None:
    head = _head(res)
    status = res["status"]
    refusal, blocked = res["refusal"], res["blocked"]
    if status == STATUS_ERROR:
        print(f"{head}: error: {res['error']}", file=out)
        return
    if refusal is not None:
        what = _refused_word(refusal)
        print(f"{head}: {what}: {refusal['field']}: {refusal['message']}", file=out)
    elif status == STATUS_BLOCKED:
        print(f"{head}: blocked ({blocked['reason']}): {blocked['message']}", file=out)
    elif status == STATUS_IN_SYNC:
        print(f"{head}: in sync", file=out)
    else:
        print(f"{head}: {len(res['actions'])} action(s)", file=out)
    _render_details(res, out)


def _render_details(res: Mapping[str, Any], out: TextIO) -> None:
    """The lines under a resource's head: changes, actions, what blocks it, advisories."""
    blocked = res["blocked"]
    for f in res["changes"]:
        print(f"  ~ {_field_line(f)}", file=out)
    for action in res["actions"]:
        print(f"  + {action['summary']} [{_EFFECT_WORDS[action['kind']]}]", file=out)
        for f in action["fields"]:
            print(f"      ~ {_field_line(f)}", file=out)
        for c in action["consequences"]:
            print(f"      => {c['message']}", file=out)
    if blocked is not None:
        if res["status"] != STATUS_BLOCKED:
            print(f"  ! then blocked ({blocked['reason']}): {blocked['message']}", file=out)
        for b in blocked["blockers"]:
            print(f"      - {b}", file=out)
    for advisory in res["advisories"]:
        print(f"  ! {advisory}", file=out)
    for line in _made_by_ecs(res):
        print(f"  = {line}", file=out)


def _md(text: object) -> str:
    """A value inside a markdown table cell: pipes escaped, no line breaks."""
    return str(text).replace("|", "\\|").replace("\n", " ")


def _md_value(value: object) -> str:
    return f"`{_md(show_value(value))}`"


_STATUS_BADGES = {
    STATUS_IN_SYNC: "in sync",
    STATUS_CHANGES: "changes",
    STATUS_REFUSED: "**refused**",
    STATUS_BLOCKED: "**blocked**",
    STATUS_ERROR: "**error**",
}


def render_markdown(doc: Mapping[str, Any], out: TextIO) -> None:
    """A pull-request comment: the summary, one table per resource that is not in sync, and the
    full details (consequences, blockers, advisories) collapsed."""
    lines = [f"### {summary_line(doc)}", ""]
    for res in doc["resources"]:
        status = res["status"]
        title = f"{res['kind']} `{res['namespace']}/{res['name']}`"
        lines.append(f"#### {title}: {_STATUS_BADGES[status]}")
        lines.append("")
        made = _made_by_ecs(res)
        if made:
            lines += [f"- {_md(line)}" for line in made] + [""]
        if status == STATUS_IN_SYNC:
            continue
        rows = []
        for action in res["actions"]:
            effect = _EFFECT_WORDS[action["kind"]]
            fields = action["fields"] or [None]
            for f in fields:
                rows.append(
                    (
                        effect,
                        action["target"]["type"] + " " + _md(action["target"]["name"]),
                        f"`{f['path']}`" if f else "",
                        _md_value(f["observed"]) if f else "",
                        _md_value(f["desired"]) if f else "",
                    )
                )
        for f in res["changes"]:
            rows.append(
                ("note", "", f"`{f['path']}`", _md_value(f["observed"]), _md_value(f["desired"]))
            )
        refusal = res["refusal"]
        if refusal is not None:
            word = (
                "replace by hand"
                if refusal["kind"] == REFUSAL_REPLACEMENT
                else _UNDONE_WORDS.get(refusal["reason"], "refused")
            )
            rows.append((f"**{word}**", refusal["reason"], f"`{refusal['field']}`", "", ""))
        if res["blocked"] is not None:
            rows.append(("**blocked**", res["blocked"]["reason"], "", "", ""))
        if res["error"] is not None:
            rows.append(("**error**", _md(res["error"]), "", "", ""))
        if rows:
            lines += ["| action | target | field | observed | desired |", "|---|---|---|---|---|"]
            lines += ["| " + " | ".join(r) + " |" for r in rows]
            lines.append("")
        details = _details(res)
        if details:
            lines += ["<details><summary>Details</summary>", "", *details, "", "</details>", ""]
    print("\n".join(lines).rstrip() + "\n", file=out, end="")


def _details(res: Mapping[str, Any]) -> list[str]:
    out = [f"- source: `{res['source']}`"]
    for action in res["actions"]:
        out.append(f"- {_md(action['summary'])}")
        out += [f"  - {_md(c['message'])}" for c in action["consequences"]]
    if res["refusal"] is not None:
        out.append(f"- {res['refusal']['field']}: {_md(res['refusal']['message'])}")
    if res["blocked"] is not None:
        out.append(f"- blocked: {_md(res['blocked']['message'])}")
        out += [f"  - {_md(b)}" for b in res["blocked"]["blockers"]]
    out += [f"- advisory: {_md(a)}" for a in res["advisories"]]
    return out
