"""docs/iam-policy.json against the AWS actions the operator called in this test run.

hack/test.sh runs the integration and e2e layers with SD_OPERATOR_EMULATOR_CALL_LOG set: every
emulator appends each "service:Action" the operator's own clients call (docs/iam.md). This test
runs after them and compares: nothing the operator called may be missing from the policy,
nothing the policy grants may go uncalled. The second statement holds what Cloud Map itself
does with the caller's permissions (AWS's Cloud Map API permissions reference, see docs/iam.md):
derived from the called actions, so it is exact too.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import botocore.session
import pytest
from botocore import xform_name

ROOT = Path(__file__).resolve().parents[2]
POLICY = ROOT / "docs" / "iam-policy.json"
CALL_LOG_ENV = "SD_OPERATOR_EMULATOR_CALL_LOG"

# The emulator names a call by its SigV4 signing name; IAM's action prefix differs for some.
IAM_PREFIX = {"servicediscovery": "servicediscovery", "ecs": "ecs", "route53": "route53"}
IAM_PREFIX |= {"tagging": "tag"}

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
}
CALLED_SID = "SdOperatorCalls"
ON_BEHALF_SID = "CloudMapActsWithTheCallersPermissions"


def recorded_actions() -> set[str]:
    path = os.environ.get(CALL_LOG_ENV)
    if not path or not Path(path).is_file() or not Path(path).read_text().strip():
        pytest.fail(
            f"no recorded AWS calls (${CALL_LOG_ENV}={path!r}): run `hack/test.sh all`, which "
            "runs the integration and e2e layers with the call log and then this test",
            pytrace=False,
        )
    actions = set()
    for line in Path(path).read_text().split():
        service, action = line.split(":", 1)
        assert service in IAM_PREFIX, (
            f"the operator called {line}: add its IAM prefix to IAM_PREFIX in {__file__}"
        )
        actions.add(f"{IAM_PREFIX[service]}:{action}")
    return actions


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


def statements() -> dict[str, set[str]]:
    policy = json.loads(POLICY.read_text())
    assert policy["Version"] == "2012-10-17"
    out: dict[str, set[str]] = {}
    for statement in policy["Statement"]:
        assert statement["Effect"] == "Allow"
        actions = statement["Action"]
        assert actions == sorted(actions), f"{statement['Sid']}: keep the actions sorted"
        assert not [a for a in actions if "*" in a], "least privilege: no wildcards"
        out[statement["Sid"]] = set(actions)
    assert set(out) == {CALLED_SID, ON_BEHALF_SID}
    return out


def _diff(what: str, missing: set[str], extra: set[str]) -> str:
    lines = [f"{POLICY.relative_to(ROOT)} statement {what}:"]
    lines += [f"  missing (the operator needs it): {a}" for a in sorted(missing)]
    lines += [f"  extra (nothing called it in the tests): {a}" for a in sorted(extra)]
    return "\n".join(lines)


def test_policy_grants_exactly_what_the_operator_called() -> None:
    called = recorded_actions() | set(UNEXERCISED)
    granted = statements()[CALLED_SID]
    missing, extra = called - granted, granted - called
    assert (missing, extra) == (set(), set()), _diff(CALLED_SID, missing, extra)


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
