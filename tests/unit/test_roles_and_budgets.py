"""Many AWS accounts from one operator (docs/tenancy.md, "Many AWS accounts"): which role a
resource acts through, one Reconciler and one API budget per account, and an AssumeRole that
fails backing off without asking STS again."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from botocore.exceptions import ClientError

from builders import ALLOW_ALL, CLUSTER, REGION, namespace
from fakes import ACCOUNT, FakeAdapters
from sd_operator.aws.budget import Budgets
from sd_operator.aws.clients import AssumeRoleBackoff, RoleCredentials
from sd_operator.aws.errors import AssumeRoleFailed, Retryable, Terminal
from sd_operator.handlers.sweep import Sweeper
from sd_operator.handlers.units import Units
from sd_operator.model import reasons
from sd_operator.model.grants import (
    DEFAULT_SESSION_NAME,
    Acting,
    Grant,
    NotGranted,
    Role,
    acting_role,
    admit,
    parse_grant,
)
from sd_operator.model.status import Operation
from sd_operator.reconcile.accounts import Accounts
from sd_operator.reconcile.reconciler import Reconciler, error_result
from sd_operator.reconcile.result import Outcome

TENANT_A = Role("arn:aws:iam::111111111111:role/sd-tenant-a", "team-a-external-id")
TENANT_B = Role("arn:aws:iam::222222222222:role/sd-tenant-b")


def grant(name: str, role: Role | None, k8s_namespace: str = "payments") -> Grant:
    """ALLOW_ALL's permissions, through `role`, for Kubernetes namespace `k8s_namespace`."""
    spec: dict[str, Any] = {"namespaces": {"names": [k8s_namespace]}, "regions": ["*"]}
    if role is not None:
        spec["aws"] = {"roleArn": role.arn}
        if role.external_id is not None:
            spec["aws"]["externalId"] = role.external_id
    parsed = parse_grant({"metadata": {"name": name}, "spec": spec})
    return Grant(
        parsed.name,
        parsed.namespaces,
        parsed.regions,
        ALLOW_ALL.create,
        ALLOW_ALL.use,
        ALLOW_ALL.adopt,
        ALLOW_ALL.ecs,
        role=parsed.role,
    )


def test_a_grant_names_its_role_external_id_and_session_name() -> None:
    parsed = parse_grant(
        {
            "metadata": {"name": "team-a"},
            "spec": {
                "namespaces": {"names": ["payments"]},
                "aws": {
                    "roleArn": TENANT_A.arn,
                    "externalId": "team-a-external-id",
                    "sessionName": "sd-team-a",
                },
            },
        }
    )
    assert parsed.role == Role(TENANT_A.arn, "team-a-external-id", "sd-team-a")
    assert parsed.role.account == "111111111111"


def test_without_spec_aws_a_grant_acts_with_the_operators_own_credentials() -> None:
    assert grant("own", None).role is None
    assert grant("b", TENANT_B).role == Role(TENANT_B.arn, None, DEFAULT_SESSION_NAME)


@pytest.mark.parametrize(
    ("grants", "expected"),
    [
        pytest.param((), None, id="no grant: own credentials (deletions only)"),
        pytest.param((grant("a", TENANT_A),), TENANT_A, id="one grant"),
        pytest.param((grant("a", TENANT_A), grant("a2", TENANT_A)), TENANT_A, id="same role"),
        pytest.param((grant("own", None), grant("own2", None)), None, id="both own"),
    ],
)
def test_the_grants_selecting_a_namespace_name_its_role(
    grants: tuple[Grant, ...], expected: Role | None
) -> None:
    assert acting_role(grants, "payments", {}) == Acting(expected)


@pytest.mark.parametrize(
    "grants",
    [
        pytest.param((grant("a", TENANT_A), grant("b", TENANT_B)), id="two roles"),
        pytest.param((grant("a", TENANT_A), grant("own", None)), id="a role and none"),
        pytest.param(
            (grant("a", TENANT_A), grant("a-other-id", Role(TENANT_A.arn, "other"))),
            id="one role, two external ids",
        ),
    ],
)
def test_grants_naming_different_roles_are_refused_as_ambiguous(grants: tuple[Grant, ...]) -> None:
    acting = acting_role(grants, "payments", {})
    assert isinstance(acting, NotGranted)
    assert acting.field == "metadata.namespace"
    assert "ambiguous" in acting.message
    for g in grants:
        assert f"DiscoveryGrant {g.name}" in acting.message
    # Even though each grant alone allows the resource.
    refused = admit(namespace(), grants, {}, region=REGION)
    assert refused == acting


def test_a_grant_not_selecting_the_namespace_does_not_make_it_ambiguous() -> None:
    elsewhere = parse_grant(
        {
            "metadata": {"name": "elsewhere"},
            "spec": {"namespaces": {"names": ["other"]}, "aws": {"roleArn": TENANT_B.arn}},
        }
    )
    assert acting_role((grant("a", TENANT_A), elsewhere), "payments", {}) == Acting(TENANT_A)


def test_each_role_acts_in_its_own_account_through_its_own_reconciler() -> None:
    own = Reconciler(FakeAdapters(REGION), CLUSTER)
    accounts = Accounts(own)
    tenant_a = accounts(TENANT_A)
    assert accounts(None) is own
    assert accounts(Role(TENANT_A.arn, TENANT_A.external_id)) is tenant_a
    assert accounts(TENANT_B) is not tenant_a

    result = tenant_a.step(namespace(), {}, durable=False)

    assert result.outcome is Outcome.WAITING, (result.reason, result.message)
    assert result.status.account == "111111111111"
    operation = result.status.operation  # CreateNamespace, in tenant A's account
    assert isinstance(operation, Operation)
    submitted = operation.id
    assert submitted in tenant_a.adapters.cloudmap(REGION).operations  # type: ignore[attr-defined]
    for other in (own, accounts(TENANT_B)):
        assert other.adapters.cloudmap(REGION).operations == {}  # type: ignore[attr-defined]


def test_status_names_the_operators_own_account_without_a_role() -> None:
    result = Reconciler(FakeAdapters(REGION), CLUSTER).step(namespace(), {}, durable=False)
    assert result.status.account == ACCOUNT


def test_an_assume_role_failure_stalls_the_resource_naming_the_role() -> None:
    failed = AssumeRoleFailed(
        TENANT_A.arn, Terminal("sts:AssumeRole", "AccessDenied", "not authorized")
    )
    result = error_result(failed, {})
    assert (result.outcome, result.reason) == (Outcome.BLOCKED, reasons.ASSUME_ROLE_FAILED)
    assert TENANT_A.arn in result.message
    assert "AccessDenied: not authorized" in result.message
    assert result.retry_after is not None


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Sts:
    """AssumeRole as botocore's fetcher calls it: refuses until `allow`."""

    def __init__(self) -> None:
        self.calls = 0
        self.allow = False

    def __call__(self) -> dict[str, str]:
        self.calls += 1
        if not self.allow:
            raise ClientError(
                {"Error": {"Code": "AccessDenied", "Message": "trust policy"}}, "AssumeRole"
            )
        return {"access_key": "AKIA", "secret_key": "s", "token": "t", "expiry_time": "z"}


def test_a_failed_assume_role_is_answered_again_without_sts_until_its_back_off_ends() -> None:
    clock, sts = Clock(), Sts()
    fetch = AssumeRoleBackoff(TENANT_A, sts, clock)

    for _ in range(3):  # every resource of the tenant, at once
        with pytest.raises(AssumeRoleFailed) as failed:
            fetch()
        assert failed.value.role == TENANT_A.arn
        assert failed.value.code == "AccessDenied"
    assert sts.calls == 1

    clock.now += 10.0  # the first back-off is over: asked again, refused again
    with pytest.raises(AssumeRoleFailed):
        fetch()
    assert sts.calls == 2
    clock.now += 10.0  # the second is twice as long
    with pytest.raises(AssumeRoleFailed):
        fetch()
    assert sts.calls == 2

    clock.now += 10.0
    sts.allow = True  # the trust policy was fixed
    assert fetch()["access_key"] == "AKIA"
    assert sts.calls == 3


def test_within_the_back_off_the_failure_is_answered_without_botocores_refresh(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """botocore logs each failed refresh with its traceback: once per AssumeRole, not once
    per call of every resource of the tenant."""
    clock, sts = Clock(), Sts()
    credentials = RoleCredentials(AssumeRoleBackoff(TENANT_A, sts, clock))

    with caplog.at_level(logging.WARNING, logger="botocore.credentials"):
        for _ in range(5):
            with pytest.raises(AssumeRoleFailed):
                credentials.get_frozen_credentials()

    assert sts.calls == 1
    assert len([r for r in caplog.records if r.name == "botocore.credentials"]) == 1


def test_the_back_off_stops_growing_at_five_minutes() -> None:
    clock, sts = Clock(), Sts()
    fetch = AssumeRoleBackoff(TENANT_A, sts, clock)
    for _ in range(12):
        with pytest.raises(AssumeRoleFailed):
            fetch()
        clock.now += 300.0
    assert sts.calls == 12


def test_each_account_and_region_has_its_own_budget() -> None:
    budgets = Budgets()
    api = "servicediscovery:ListServices"
    noisy = budgets.get("111111111111", REGION, None)
    quiet = budgets.get("222222222222", REGION, None)
    assert budgets.get("111111111111", REGION, None) is noisy
    assert budgets.get("111111111111", "eu-west-1", None) is not noisy
    rate = quiet.current_rate(api)

    noisy.throttled(api)

    assert noisy.current_rate(api) < rate
    assert quiet.current_rate(api) == rate
    assert set(budgets.all()) == {
        ("111111111111", REGION, None),
        ("111111111111", "eu-west-1", None),
        ("222222222222", REGION, None),
    }


class Writer:
    def patch_status(self, body: Any, status: Any) -> None:
        return None

    def post_event(self, *_: Any) -> None: ...


def swept_namespace(k8s_namespace: str) -> dict[str, Any]:
    """A CloudMapNamespace whose generation a change handler has finished (the sweep's)."""
    return {
        "apiVersion": "sd-operator.io/v1alpha1",
        "kind": "CloudMapNamespace",
        "metadata": {
            "name": "myapp",
            "namespace": k8s_namespace,
            "uid": f"uid-{k8s_namespace}",
            "generation": 1,
            "resourceVersion": "1",
        },
        "spec": {"name": f"{k8s_namespace}.local", "type": "Http"},
        "status": {"observedGeneration": 1},
    }


def test_an_account_the_sweep_cannot_read_waits_while_the_others_are_stepped() -> None:
    own = Reconciler(FakeAdapters(REGION), CLUSTER)
    units = Units.build(own, own.adapters, 30)  # type: ignore[arg-type]
    grants = (grant("team-a", TENANT_A, "team-a"), grant("team-b", TENANT_B, "team-b"))
    units.live.grants = {g.name: [g] for g in grants}
    units.live.namespace_labels = {}
    throttled = units.accounts(TENANT_A).adapters.aws  # type: ignore[attr-defined]
    throttled.errors["cloudmap.list_namespaces"] = Retryable(
        "ListNamespaces", "ThrottlingException", "Rate exceeded"
    )
    sweeper = Sweeper(units, Writer(), interval=30)
    for body in (swept_namespace("team-a"), swept_namespace("team-b")):
        sweeper.seen("ADDED", body)
    try:
        report = sweeper.sweep()
    finally:
        sweeper.stop()

    assert report.stepped == 1  # team-b's: team-a's account waits for the next sweep
    assert throttled.names() == ["cloudmap.list_namespaces"]  # read once, not per resource
    stepped = units.accounts(TENANT_B).adapters.aws.names()  # type: ignore[attr-defined]
    assert stepped[0] == "cloudmap.list_namespaces"
    assert len(stepped) > 1  # the sweep's read, then team-b's step
