"""What the operator itself called, for the IAM policy check (docs/iam.md).

Set SD_OPERATOR_EMULATOR_CALL_LOG to a file path and every emulator in the process appends one
JSON line per distinct call the operator's clients make (their User-Agent carries
"sd-operator"; a test's own clients' does not): the IAM action, the ARNs it acts on with the
tags each carried when the call arrived (moto's stored state, read before the call changes
it), and the tags the request writes (creates, TagResource) or the keys it removes
(UntagResource). tests/iam evaluates docs/iam-policy.json against these lines. Each line is one
write() on a file opened for appending, so emulators in several processes may share the file.
"""

from __future__ import annotations

import json
import os
import threading
from typing import Any

from ._wsgi import JSON, Call
from .moto_surface import ecs_backends, servicediscovery_backends

ENV = "SD_OPERATOR_EMULATOR_CALL_LOG"
OPERATOR_AGENT = "sd-operator"

_seen: set[str] = set()
_lock = threading.Lock()


def is_operator(user_agent: str) -> bool:
    return OPERATOR_AGENT in user_agent.split()


def wanted(user_agent: str) -> bool:
    """The call is to be recorded: the log is on and the operator made it."""
    return bool(os.environ.get(ENV)) and is_operator(user_agent)


def record(call: Call) -> None:
    """Append the call's line unless an identical one was written; the caller holds the
    emulator's lock, so the tags read are those the call finds."""
    line = json.dumps(entry(call), sort_keys=True)
    with _lock:
        if line in _seen:
            return
        _seen.add(line)
    fd = os.open(os.environ[ENV], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (line + "\n").encode())
    finally:
        os.close(fd)


def entry(call: Call) -> JSON:
    out: JSON = {"action": call.api}
    resources = _resources(call)
    if resources:
        out["resources"] = resources
    tags = _pairs(call.body.get("Tags") or call.body.get("tags"))
    if tags is not None:
        out["requestTags"] = tags
    keys = call.body.get("TagKeys") or call.body.get("tagKeys")
    if keys is not None:
        out["tagKeys"] = sorted(str(k) for k in keys)
    return out


def _pairs(raw: Any) -> dict[str, str] | None:
    """Tags as {key: value} from Cloud Map's [{"Key", "Value"}] or ECS's [{"key", "value"}]."""
    if not isinstance(raw, list):
        return None
    return {str(t.get("Key", t.get("key"))): str(t.get("Value", t.get("value")) or "") for t in raw}


def _resources(call: Call) -> dict[str, dict[str, str]]:
    """ARN -> its tags now, for the resources the call names."""
    if call.service == "servicediscovery":
        return _cloudmap(call)
    if call.service == "ecs":
        return _ecs(call)
    if call.service == "sts" and call.body.get("RoleArn"):
        # The role, as IAM authorizes sts:AssumeRole on it (its Resource is the role's ARN).
        return {str(call.body["RoleArn"]): {}}
    if call.service == "route53" and call.body.get("Id"):
        return {f"arn:aws:route53:::hostedzone/{str(call.body['Id']).split('/')[-1]}": {}}
    return {}


def _cloudmap(call: Call) -> dict[str, dict[str, str]]:
    prefix = f"arn:aws:servicediscovery:{call.region}:{call.account}"
    ids = [call.body.get(k) for k in ("Id", "ServiceId", "NamespaceId")]
    ids.append((call.body.get("DnsConfig") or {}).get("NamespaceId"))
    # Cloud Map ids say what they name (ns-..., srv-...); a namespace the emulator holds aside
    # while its create or delete is pending is not in the backend's dict, but has its ARN. A
    # namespace shared through RAM, and what is in it, is named by its ARN, in its owner's
    # account.
    arns = [
        i if i.startswith("arn:") else f"{prefix}:{_cloudmap_kind(i)}/{i}"
        for i in ids
        if isinstance(i, str) and i.startswith(("ns-", "srv-", "arn:aws:servicediscovery:"))
    ]
    if call.body.get("ResourceARN"):
        arns.append(str(call.body["ResourceARN"]))
    out: dict[str, dict[str, str]] = {}
    for arn in arns:
        account = arn.split(":")[4] or call.account
        tags = servicediscovery_backends[account][call.region].tagger.tags.get(arn) or {}
        out[arn] = {k: v or "" for k, v in tags.items()}
    return out


def _cloudmap_kind(resource_id: str) -> str:
    return "namespace" if resource_id.startswith("ns-") else "service"


def _ecs(call: Call) -> dict[str, dict[str, str]]:
    backend = ecs_backends[call.account][call.region]
    by_arn = {service.arn: service for service in backend.services.values()}
    arns: list[str] = []
    if call.body.get("resourceArn"):
        arns.append(str(call.body["resourceArn"]))
    names = call.body.get("services") or ([call.body["service"]] if "service" in call.body else [])
    cluster = str(call.body.get("cluster") or "default").split("/")[-1]
    prefix = f"arn:aws:ecs:{call.region}:{call.account}:service/{cluster}/"
    arns += [str(n) if str(n).startswith("arn:") else prefix + str(n) for n in names]
    out: dict[str, dict[str, str]] = {}
    for arn in arns:
        found = by_arn.get(arn)
        out[arn] = _pairs(found.tags if found is not None else []) or {}
    return out
