"""Several AWS accounts in one emulator: STS AssumeRole into the role's account.

docs/aws-facts.md, Accounts and roles: AssumeRole succeeds only for a role that exists in the
account its ARN names and whose trust policy names the caller (its account, or the role it is
acting as) with any `sts:ExternalId` condition met; AWS refuses everything else with the same
AccessDenied (HTTP 403, "User: <caller> is not authorized to perform: sts:AssumeRole on
resource: <role>"). The credentials act in the role's account until their Expiration.
"""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError
from emulator_helpers import NO_RETRIES, REGION, make_http_namespace

from sd_devkit.emulator import (
    Emulator,
    EmulatorControl,
    assumed_session,
    client,
    client_config,
    trust_policy,
)

pytestmark = pytest.mark.integration

TENANT = "111111111111"
OTHER = "222222222222"


def _sd(session: Any, emulator: Emulator) -> Any:
    return session.client(
        "servicediscovery",
        endpoint_url=emulator.endpoint_url,
        region_name=REGION,
        config=client_config().merge(NO_RETRIES),
    )


def _assume(emulator: Emulator, role_arn: str, **kwargs: Any) -> Any:
    sts = client("sts", emulator.endpoint_url, REGION, config=NO_RETRIES)
    return sts.assume_role(RoleArn=role_arn, RoleSessionName="test", **kwargs)


def _denied(emulator: Emulator, role_arn: str, **kwargs: Any) -> ClientError:
    with pytest.raises(ClientError) as caught:
        _assume(emulator, role_arn, **kwargs)
    return caught.value


def test_assumed_credentials_act_in_the_roles_account(sd: Any, emulator: Emulator) -> None:
    role = emulator.create_role(TENANT, "tenant", trust_policy(emulator.account_id))
    tenant = assumed_session(emulator.endpoint_url, role, REGION)
    tenant_sd = _sd(tenant, emulator)
    ns_id = make_http_namespace(tenant_sd, "tenant-ns")
    arn = tenant_sd.get_namespace(Id=ns_id)["Namespace"]["Arn"]
    assert arn.split(":")[4] == TENANT
    # the emulator's own account does not see it, and the tenant does not see the home account's
    assert sd.list_namespaces()["Namespaces"] == []
    make_http_namespace(sd, "home-ns")
    assert [n["Name"] for n in tenant_sd.list_namespaces()["Namespaces"]] == ["tenant-ns"]


def test_get_caller_identity_answers_the_assumed_role(emulator: Emulator) -> None:
    role = emulator.create_role(
        TENANT, "tenant", trust_policy(f"arn:aws:iam::{emulator.account_id}:root")
    )
    tenant = assumed_session(emulator.endpoint_url, role, REGION, session_name="op")
    identity = tenant.client("sts", endpoint_url=emulator.endpoint_url).get_caller_identity()
    assert identity["Account"] == TENANT
    assert identity["Arn"] == f"arn:aws:sts::{TENANT}:assumed-role/tenant/op"
    assert identity["UserId"].endswith(":op")


def test_a_role_that_does_not_exist_is_access_denied(emulator: Emulator) -> None:
    missing = f"arn:aws:iam::{TENANT}:role/nobody"
    error = _denied(emulator, missing)
    assert error.response["Error"]["Code"] == "AccessDenied"
    assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert error.response["Error"]["Message"] == (
        f"User: arn:aws:sts::{emulator.account_id}:user/moto is not authorized to perform: "
        f"sts:AssumeRole on resource: {missing}"
    )


def test_a_trust_policy_naming_another_account_is_access_denied(emulator: Emulator) -> None:
    role = emulator.create_role(TENANT, "tenant", trust_policy(OTHER))
    error = _denied(emulator, role)
    # the same refusal as for a missing role: the caller cannot tell the two apart
    assert error.response["Error"]["Code"] == "AccessDenied"
    assert error.response["Error"]["Message"].endswith(f"on resource: {role}")


def test_the_external_id_condition_must_be_met(emulator: Emulator) -> None:
    role = emulator.create_role(
        TENANT, "tenant", trust_policy(emulator.account_id, external_id="team-a")
    )
    assert _denied(emulator, role).response["Error"]["Code"] == "AccessDenied"
    assert _denied(emulator, role, ExternalId="team-b").response["Error"]["Code"] == "AccessDenied"
    assert _assume(emulator, role, ExternalId="team-a")["AssumedRoleUser"]["Arn"] == (
        f"arn:aws:sts::{TENANT}:assumed-role/tenant/test"
    )


def test_a_trust_policy_naming_a_role_admits_only_that_roles_sessions(emulator: Emulator) -> None:
    """The operator's role (IRSA / Pod Identity) as the principal: role chaining."""
    operator_role = emulator.create_role(
        emulator.account_id, "sd-operator", trust_policy(emulator.account_id)
    )
    tenant_role = emulator.create_role(
        TENANT, "tenant", trust_policy(operator_role), max_session_duration=43200
    )
    assert _denied(emulator, tenant_role).response["Error"]["Code"] == "AccessDenied"
    operator = assumed_session(emulator.endpoint_url, operator_role, REGION)
    tenant = assumed_session(emulator.endpoint_url, tenant_role, REGION, caller=operator)
    identity = tenant.client("sts", endpoint_url=emulator.endpoint_url).get_caller_identity()
    assert identity["Account"] == TENANT
    # role chaining: at most one hour, whatever the role's maximum
    with pytest.raises(ClientError) as chained:
        operator.client("sts", endpoint_url=emulator.endpoint_url).assume_role(
            RoleArn=tenant_role, RoleSessionName="long", DurationSeconds=7200
        )
    assert "role chaining" in chained.value.response["Error"]["Message"]
    # the tenant's session is not the operator's role: it cannot assume the tenant role again
    with pytest.raises(ClientError) as caught:
        assumed_session(emulator.endpoint_url, tenant_role, REGION, caller=tenant)
    assert caught.value.response["Error"]["Message"].startswith(
        f"User: arn:aws:sts::{TENANT}:assumed-role/tenant/emulator-test is not authorized"
    )


def test_duration_beyond_the_roles_maximum_is_refused(emulator: Emulator) -> None:
    role = emulator.create_role(
        TENANT, "tenant", trust_policy(emulator.account_id), max_session_duration=3600
    )
    with pytest.raises(ClientError) as caught:
        _assume(emulator, role, DurationSeconds=7200)
    assert caught.value.response["Error"]["Code"] == "ValidationError"
    expiration = _assume(emulator, role, DurationSeconds=900)["Credentials"]["Expiration"]
    assert expiration.tzinfo is not None


def test_expired_session_credentials_are_refused(emulator: Emulator) -> None:
    role = emulator.create_role(TENANT, "tenant", trust_policy(emulator.account_id))
    tenant_sd = _sd(assumed_session(emulator.endpoint_url, role, REGION), emulator)
    assert tenant_sd.list_namespaces()["Namespaces"] == []
    assert emulator.expire_sessions(role) == 1
    with pytest.raises(ClientError) as caught:
        tenant_sd.list_namespaces()
    assert caught.value.response["Error"]["Code"] == "ExpiredTokenException"
    # a new AssumeRole gives credentials that work again
    assert _sd(assumed_session(emulator.endpoint_url, role, REGION), emulator).list_namespaces()


def test_reset_forgets_other_accounts_roles_and_sessions(emulator: Emulator) -> None:
    role = emulator.create_role(TENANT, "tenant", trust_policy(emulator.account_id))
    tenant_sd = _sd(assumed_session(emulator.endpoint_url, role, REGION), emulator)
    make_http_namespace(tenant_sd, "tenant-ns")
    emulator.reset()
    assert _denied(emulator, role).response["Error"]["Code"] == "AccessDenied"
    role = emulator.create_role(TENANT, "tenant", trust_policy(emulator.account_id))
    tenant_sd = _sd(assumed_session(emulator.endpoint_url, role, REGION), emulator)
    assert tenant_sd.list_namespaces()["Namespaces"] == []


def test_roles_over_the_control_api(emulator: Emulator) -> None:
    control = EmulatorControl(emulator.endpoint_url)
    role = control.create_role(TENANT, "tenant", trust_policy(emulator.account_id))
    assert role == f"arn:aws:iam::{TENANT}:role/tenant"
    assumed_session(emulator.endpoint_url, role, REGION)
    assert control.expire_sessions() == 1
