"""Rate-based throttling on the wire, beside the random share of `inject`.

docs/aws-facts.md, Throttling and quotas: AWS throttles each account per Region with a token
bucket per API; Cloud Map answers RequestLimitExceeded, ECS ThrottlingException. The refill over
time is checked with a fake clock in tests/unit/test_token_buckets.py; here each bucket is
given a rate so slow that it does not refill during the test.
"""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError
from emulator_helpers import NO_RETRIES, REGION

from sd_devkit.emulator import (
    Emulator,
    EmulatorControl,
    assumed_session,
    client_config,
    trust_policy,
)

pytestmark = pytest.mark.integration

TENANT = "111111111111"
SLOW = 0.0001  # tokens a second: no refill within a test


def _outcomes(call: Any, n: int) -> list[str]:
    out = []
    for _ in range(n):
        try:
            call()
            out.append("ok")
        except ClientError as exc:
            out.append(str(exc.response["Error"]["Code"]))
    return out


def _tenant_sd(emulator: Emulator) -> Any:
    role = emulator.create_role(TENANT, "tenant", trust_policy(emulator.account_id))
    session = assumed_session(emulator.endpoint_url, role, REGION)
    return session.client(
        "servicediscovery",
        endpoint_url=emulator.endpoint_url,
        region_name=REGION,
        config=client_config().merge(NO_RETRIES),
    )


def test_a_bucket_allows_its_burst_then_throttles(sd: Any, ecs: Any, emulator: Emulator) -> None:
    emulator.throttle({"servicediscovery:ListNamespaces": (SLOW, 3), "ecs:ListClusters": (SLOW, 1)})
    assert _outcomes(sd.list_namespaces, 4) == ["ok", "ok", "ok", "RequestLimitExceeded"]
    assert _outcomes(ecs.list_clusters, 2) == ["ok", "ThrottlingException"]
    assert _outcomes(sd.list_services, 5) == ["ok"] * 5  # no rate published, none given
    assert emulator.calls()["servicediscovery:ListNamespaces"] == 4  # throttled calls count


def test_one_accounts_bucket_does_not_slow_another(sd: Any, emulator: Emulator) -> None:
    tenant_sd = _tenant_sd(emulator)
    emulator.throttle({"servicediscovery:ListNamespaces": (SLOW, 2)})
    assert _outcomes(tenant_sd.list_namespaces, 3) == ["ok", "ok", "RequestLimitExceeded"]
    assert _outcomes(sd.list_namespaces, 2) == ["ok", "ok"]


def test_throttling_can_be_limited_to_some_accounts(sd: Any, emulator: Emulator) -> None:
    tenant_sd = _tenant_sd(emulator)
    emulator.throttle({"servicediscovery:*": (SLOW, 1)}, accounts=[TENANT])
    assert _outcomes(tenant_sd.list_namespaces, 2) == ["ok", "RequestLimitExceeded"]
    assert _outcomes(sd.list_namespaces, 3) == ["ok"] * 3
    emulator.clear_throttle()
    assert _outcomes(tenant_sd.list_namespaces, 2) == ["ok", "ok"]


def test_random_faults_can_be_limited_to_one_account(sd: Any, emulator: Emulator) -> None:
    tenant_sd = _tenant_sd(emulator)
    emulator.inject("servicediscovery:ListNamespaces", rate=1.0, account=TENANT)
    assert _outcomes(tenant_sd.list_namespaces, 2) == ["ThrottlingException"] * 2
    assert _outcomes(sd.list_namespaces, 2) == ["ok", "ok"]


def test_throttle_over_the_control_api(sd: Any, emulator: Emulator) -> None:
    control = EmulatorControl(emulator.endpoint_url)
    control.throttle({"servicediscovery:ListNamespaces": (SLOW, 1)}, documented=False)
    assert _outcomes(sd.list_namespaces, 2) == ["ok", "RequestLimitExceeded"]
    control.clear_throttle()
    assert _outcomes(sd.list_namespaces, 1) == ["ok"]
    emulator.throttle({"servicediscovery:ListNamespaces": (SLOW, 1)})
    emulator.reset()  # reset forgets rate limits too
    assert _outcomes(sd.list_namespaces, 3) == ["ok"] * 3
