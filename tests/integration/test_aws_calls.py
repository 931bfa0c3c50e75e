"""Every AWS request goes through the budget and is counted by API and outcome."""

from __future__ import annotations

from prometheus_client import REGISTRY

from sd_devkit.emulator import Emulator
from sd_operator.aws.budget import BUDGETS
from sd_operator.aws.clients import AwsConfig, cloudmap_client

REGION = "us-east-1"
API = "servicediscovery:ListNamespaces"


def _calls(account: str, outcome: str) -> float:
    value = REGISTRY.get_sample_value(
        "sd_operator_aws_calls_total", {"account": account, "api": API, "outcome": outcome}
    )
    return value or 0.0


def test_throttled_calls_are_counted_and_slow_the_api_for_everyone(emulator: Emulator) -> None:
    config = AwsConfig(REGION, emulator.endpoint_url)
    client = cloudmap_client(config)
    account = emulator.account_id
    budget = BUDGETS.get(account, REGION, emulator.endpoint_url)
    before_ok, before_throttled = _calls(account, "ok"), _calls(account, "throttled")
    rate = budget.current_rate(API)
    emulator.inject(API, error="ThrottlingException", count=2)

    client.list_namespaces()  # botocore retries twice, then succeeds

    assert _calls(account, "throttled") - before_throttled == 2
    assert _calls(account, "ok") - before_ok == 1
    assert budget.current_rate(API) < rate
    seconds = REGISTRY.get_sample_value(
        "sd_operator_aws_call_seconds_count", {"account": account, "api": API}
    )
    assert seconds is not None
    assert seconds >= 3
    gauge = REGISTRY.get_sample_value(
        "sd_operator_aws_budget_rate", {"account": account, "api": API}
    )
    assert gauge is not None
    assert gauge < rate
