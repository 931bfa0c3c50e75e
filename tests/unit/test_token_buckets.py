"""The emulator's rate-based throttling: a token bucket per API, account and Region.

docs/aws-facts.md, Throttling and quotas: AWS throttles with the token bucket algorithm, a bucket
of `burst` tokens refilled at `per_second` up to `burst`, one token a request. Time is a fake
clock here; tests/integration/emulator/test_emulator_throttle.py checks the wire.
"""

from __future__ import annotations

import pytest

from sd_devkit.emulator.throttle import DOCUMENTED, Limit, RateLimits, error_code, limit_of

API = "servicediscovery:ListNamespaces"


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _takes(limits: RateLimits, n: int, account: str = "111111111111") -> list[bool]:
    return [limits.take(account, "us-east-1", API) for _ in range(n)]


def test_a_bucket_allows_its_burst_then_refills_at_its_rate() -> None:
    clock = Clock()
    limits = RateLimits(clock)
    limits.configure({API: Limit(per_second=2, burst=3)}, documented=False)
    assert _takes(limits, 4) == [True, True, True, False]
    clock.now += 0.25  # half a token
    assert _takes(limits, 1) == [False]
    clock.now += 0.25  # the other half: one request
    assert _takes(limits, 2) == [True, False]
    clock.now += 60  # refills up to the burst, not beyond
    assert _takes(limits, 4) == [True, True, True, False]


def test_each_account_region_and_api_has_its_own_bucket() -> None:
    limits = RateLimits(Clock())
    limits.configure({"servicediscovery:*": Limit(1, 1)}, documented=False)
    assert _takes(limits, 2, "111111111111") == [True, False]
    assert _takes(limits, 1, "222222222222") == [True]
    assert limits.take("111111111111", "eu-west-1", API)
    assert limits.take("111111111111", "us-east-1", "servicediscovery:ListServices")


def test_only_the_accounts_named_are_throttled() -> None:
    limits = RateLimits(Clock())
    limits.configure({API: Limit(1, 1)}, documented=False, accounts=frozenset({"111111111111"}))
    assert _takes(limits, 2, "111111111111") == [True, False]
    assert _takes(limits, 5, "222222222222") == [True] * 5


def test_documented_rates_apply_unless_turned_off_and_scale() -> None:
    limits = RateLimits(Clock())
    limits.configure(scale=0.01)  # ListServicesByNamespace: 1/s, burst 10 -> burst 1
    api = "ecs:ListServicesByNamespace"
    assert DOCUMENTED[api] == Limit(1, 10)
    assert [limits.take("1", "us-east-1", api) for _ in range(2)] == [True, False]
    assert _takes(limits, 50) == [True] * 50  # no documented rate for ListNamespaces
    limits.configure(documented=False)
    assert [limits.take("1", "us-east-1", api) for _ in range(20)] == [True] * 20


def test_limits_resolve_api_then_service_then_everything() -> None:
    limits = {"ecs:*": Limit(1, 1), "*": Limit(2, 2), "ecs:ListServices": Limit(3, 3)}
    assert limit_of(limits, "ecs:ListServices") == Limit(3, 3)
    assert limit_of(limits, "ecs:DescribeServices") == Limit(1, 1)
    assert limit_of(limits, API) == Limit(2, 2)
    assert limit_of({}, API) is None


def test_error_codes_are_each_services_own() -> None:
    assert error_code("servicediscovery:DiscoverInstances") == "RequestLimitExceeded"
    assert error_code("ecs:UpdateService") == "ThrottlingException"


def test_a_limit_needs_a_rate_and_a_burst() -> None:
    with pytest.raises(ValueError, match="per_second"):
        Limit(0, 1)
    with pytest.raises(ValueError, match="scale"):
        RateLimits().configure(scale=0)
