"""tests/iam_evaluator.py: the IAM evaluation tests/iam relies on, held to AWS's documented
rules."""

from __future__ import annotations

from typing import Any

import pytest

import iam_evaluator as iam

ARN = "arn:aws:ecs:us-east-1:111122223333:service/prod/web"


def _policy(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def _allow(condition: dict[str, Any] | None = None, **fields: Any) -> dict[str, Any]:
    statement = {"Effect": "Allow", "Action": "ecs:UpdateService", "Resource": "*", **fields}
    return statement | ({"Condition": condition} if condition else {})


def _req(context: dict[str, iam.Value] | None = None, **fields: Any) -> iam.Request:
    return iam.Request(
        fields.get("action", "ecs:UpdateService"), fields.get("resource", ARN), context or {}
    )


def test_no_statement_is_an_implicit_deny_and_a_deny_wins() -> None:
    assert iam.decide(_policy(), _req()) == "ImplicitDeny"
    assert iam.decide(_policy(_allow()), _req()) == "Allow"
    deny = _allow(Effect="Deny", Action="ecs:*")
    assert iam.decide(_policy(_allow(), deny), _req()) == "ExplicitDeny"


@pytest.mark.parametrize(
    ("pattern", "action", "expected"),
    [
        ("ecs:UpdateService", "ecs:UpdateService", True),
        ("ECS:updateservice", "ecs:UpdateService", True),
        ("ecs:Update*", "ecs:UpdateService", True),
        ("ecs:?pdateService", "ecs:UpdateService", True),
        ("ecs:Update", "ecs:UpdateService", False),
        ("servicediscovery:*", "ecs:UpdateService", False),
    ],
)
def test_actions_match_case_insensitively_with_wildcards(
    pattern: str, action: str, expected: bool
) -> None:
    assert iam.allowed(_policy(_allow(Action=pattern)), _req(action=action)) is expected


def test_not_action_and_not_resource() -> None:
    everything_but = _allow(NotAction=["ecs:TagResource"])
    del everything_but["Action"]
    assert iam.allowed(_policy(everything_but), _req())
    assert not iam.allowed(_policy(everything_but), _req(action="ecs:TagResource"))
    elsewhere = _allow(NotResource="arn:aws:ecs:*:*:service/prod/*")
    del elsewhere["Resource"]
    assert not iam.allowed(_policy(elsewhere), _req())
    assert iam.allowed(_policy(elsewhere), _req(resource=ARN.replace("prod", "dev")))


def test_resources_match_case_sensitively_and_with_policy_variables() -> None:
    scoped = _allow(Resource="arn:aws:ecs:*:*:service/${aws:PrincipalTag/team}/*")
    assert iam.allowed(_policy(scoped), _req({"aws:PrincipalTag/team": "prod"}))
    assert not iam.allowed(_policy(scoped), _req({"aws:PrincipalTag/team": "PROD"}))
    # A variable the request lacks matches nothing.
    assert not iam.allowed(_policy(scoped), _req())


@pytest.mark.parametrize(
    ("operator", "policy_value", "value", "expected"),
    [
        ("StringEquals", "a", "a", True),
        ("StringEquals", "a", "A", False),
        ("StringEquals", ["b", "a"], "a", True),
        ("StringNotEquals", "a", "a", False),
        ("StringNotEquals", ["b", "c"], "a", True),
        ("StringEqualsIgnoreCase", "a", "A", True),
        ("StringLike", "sd-operator.io/*", "sd-operator.io/cluster", True),
        ("StringLike", "sd-operator.io/*", "team", False),
        ("StringNotLike", "sd-operator.io/*", "team", True),
        ("ArnLike", "arn:aws:ecs:*:*:service/prod/*", ARN, True),
        ("ArnNotLike", "arn:aws:ecs:*:*:service/prod/*", ARN, False),
        ("Bool", "true", "true", True),
        ("Bool", True, "false", False),
    ],
)
def test_single_valued_operators(
    operator: str, policy_value: Any, value: str, expected: bool
) -> None:
    statement = _allow({operator: {"k": policy_value}})
    assert iam.allowed(_policy(statement), _req({"k": value})) is expected


def test_an_absent_key_fails_a_positive_operator_unless_if_exists_and_holds_a_negated_one() -> None:
    assert not iam.allowed(_policy(_allow({"StringEquals": {"k": "a"}})), _req())
    assert iam.allowed(_policy(_allow({"StringEqualsIfExists": {"k": "a"}})), _req())
    assert not iam.allowed(_policy(_allow({"StringEqualsIfExists": {"k": "a"}})), _req({"k": "b"}))
    assert iam.allowed(_policy(_allow({"StringNotEquals": {"k": "a"}})), _req())


def test_null_tests_presence() -> None:
    absent = _policy(_allow({"Null": {"k": "true"}}))
    present = _policy(_allow({"Null": {"k": "false"}}))
    assert iam.allowed(absent, _req())
    assert not iam.allowed(absent, _req({"k": "x"}))
    assert iam.allowed(present, _req({"k": "x"}))
    assert not iam.allowed(present, _req())


def test_set_qualifiers() -> None:
    all_ours = _policy(_allow({"ForAllValues:StringLike": {"aws:TagKeys": "sd-operator.io/*"}}))
    assert iam.allowed(all_ours, _req({"aws:TagKeys": ("sd-operator.io/owner",)}))
    assert not iam.allowed(all_ours, _req({"aws:TagKeys": ("sd-operator.io/owner", "team")}))
    # ForAllValues holds for an absent key (AWS: an empty set is a subset of anything).
    assert iam.allowed(all_ours, _req())
    none_ours = _policy(_allow({"ForAllValues:StringNotLike": {"aws:TagKeys": "sd-operator.io/*"}}))
    assert iam.allowed(none_ours, _req({"aws:TagKeys": ("team", "app")}))
    assert not iam.allowed(none_ours, _req({"aws:TagKeys": ("team", "sd-operator.io/owner")}))
    any_via = _policy(
        _allow({"ForAnyValue:StringEquals": {"aws:CalledVia": "servicediscovery.amazonaws.com"}})
    )
    assert iam.allowed(any_via, _req({"aws:CalledVia": ("servicediscovery.amazonaws.com",)}))
    assert not iam.allowed(any_via, _req({"aws:CalledVia": ("athena.amazonaws.com",)}))
    assert not iam.allowed(any_via, _req())


def test_a_multivalued_key_without_a_set_qualifier_is_refused() -> None:
    with pytest.raises(ValueError, match="ForAllValues or ForAnyValue"):
        iam.allowed(_policy(_allow({"StringEquals": {"k": "a"}})), _req({"k": ("a",)}))


def test_an_unsupported_operator_is_an_error_not_a_pass() -> None:
    with pytest.raises(ValueError, match="NumericLessThan"):
        iam.allowed(_policy(_allow({"NumericLessThan": {"k": "3"}})), _req({"k": "1"}))


def test_keys_and_operators_combine_with_and_values_with_or() -> None:
    both = _policy(_allow({"StringEquals": {"a": ["1", "2"], "b": "3"}, "Null": {"c": "true"}}))
    assert iam.allowed(both, _req({"a": "2", "b": "3"}))
    assert not iam.allowed(both, _req({"a": "2", "b": "4"}))
    assert not iam.allowed(both, _req({"a": "2", "b": "3", "c": "x"}))


def test_condition_values_take_policy_variables_and_key_names_ignore_case() -> None:
    ours = _policy(
        _allow(
            {"StringEquals": {"aws:ResourceTag/owner": "${aws:PrincipalTag/owner}"}},
        )
    )
    assert iam.allowed(ours, _req({"aws:resourcetag/owner": "a", "aws:PrincipalTag/owner": "a"}))
    assert not iam.allowed(
        ours, _req({"aws:ResourceTag/owner": "a", "aws:PrincipalTag/owner": "b"})
    )
    assert not iam.allowed(ours, _req({"aws:ResourceTag/owner": "a"}))


def test_the_request_context_follows_the_service_authorization_reference() -> None:
    """Cloud Map's TagResource has no resource type: no aws:ResourceTag, authorized on "*";
    its RegisterInstance has the service's tags; ECS's UpdateService has no aws:TagKeys."""
    tags = {"sd-operator.io/cluster": "a"}
    arn = "arn:aws:servicediscovery:us-east-1:111122223333:service/srv-1"
    tag = iam.request("servicediscovery:TagResource", arn, resource_tags=tags, request_tags=tags)
    assert tag.resource == "*"
    assert dict(tag.context) == {
        "aws:RequestTag/sd-operator.io/cluster": "a",
        "aws:TagKeys": ("sd-operator.io/cluster",),
    }
    register = iam.request("servicediscovery:RegisterInstance", arn, resource_tags=tags)
    assert (register.resource, dict(register.context)) == (
        arn,
        {"aws:ResourceTag/sd-operator.io/cluster": "a"},
    )
    untag = iam.request("servicediscovery:UntagResource", arn, resource_tags=tags, tag_keys=["k"])
    assert dict(untag.context) == {"aws:TagKeys": ("k",)}
    update = iam.request("ecs:UpdateService", ARN, resource_tags=tags, tag_keys=["k"])
    assert dict(update.context) == {"aws:ResourceTag/sd-operator.io/cluster": "a"}
    via = iam.request(
        "route53:ChangeResourceRecordSets",
        principal_tags={"t": "v"},
        called_via=["servicediscovery.amazonaws.com"],
    )
    assert dict(via.context) == {
        "aws:PrincipalTag/t": "v",
        "aws:CalledVia": ("servicediscovery.amazonaws.com",),
    }
