"""Injected faults, call counting, isolation and the HTTP control API of the emulator.

docs/aws-facts.md, Throttling and quotas: "Error codes: ThrottlingException and RequestLimitExceeded
(handle both),
also 5xx ServiceUnavailable"; moto: "No throttling, latency or 5xx injection built in".
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from typing import Any

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from emulator_helpers import NO_RETRIES, REGION, make_namespace, make_service

from sd_devkit.emulator import Emulator, EmulatorControl, EmulatorControlError, client

pytestmark = pytest.mark.integration


def _outcomes(sd: Any, n: int) -> list[str]:
    out = []
    for _ in range(n):
        try:
            sd.list_namespaces()
            out.append("ok")
        except ClientError as exc:
            out.append(str(exc.response["Error"]["Code"]))
    return out


def test_throttling_at_rate_is_deterministic_by_seed(sd: Any, emulator: Emulator) -> None:
    emulator.inject("servicediscovery:ListNamespaces", rate=0.5)
    first = _outcomes(sd, 40)
    assert set(first) == {"ok", "ThrottlingException"}
    assert 8 <= first.count("ThrottlingException") <= 32
    emulator.reset()  # the random sequence restarts from the seed
    emulator.inject("servicediscovery:ListNamespaces", rate=0.5)
    assert _outcomes(sd, 40) == first


def test_different_seed_gives_a_different_sequence() -> None:
    sequences = []
    for seed in (1, 2):
        with Emulator(seed=seed) as emu:
            emu.inject("servicediscovery:ListNamespaces", rate=0.5)
            sd = client("servicediscovery", emu.endpoint_url, REGION, config=NO_RETRIES)
            sequences.append(_outcomes(sd, 30))
    assert sequences[0] != sequences[1]


@pytest.mark.parametrize(
    ("error", "status"),
    [
        ("ThrottlingException", 400),
        ("RequestLimitExceeded", 400),
        ("ServiceUnavailable", 503),
        ("InternalFailure", 500),
    ],
)
def test_error_codes_and_statuses(sd: Any, emulator: Emulator, error: str, status: int) -> None:
    emulator.inject("servicediscovery:CreateHttpNamespace", error=error)
    with pytest.raises(ClientError) as exc:
        sd.create_http_namespace(Name="x")
    assert exc.value.response["Error"]["Code"] == error
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == status
    assert sd.list_namespaces()["Namespaces"] == []  # the faulted call never reached moto


def test_explicit_status_and_ecs(ecs: Any, emulator: Emulator) -> None:
    emulator.inject("ecs:ListClusters", error="ServerException", status=502)
    with pytest.raises(ClientError) as exc:
        ecs.list_clusters()
    assert exc.value.response["Error"]["Code"] == "ServerException"
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 502


def test_count_limits_the_fault(sd: Any, emulator: Emulator) -> None:
    emulator.inject("servicediscovery:*", error="RequestLimitExceeded", count=2)
    assert _outcomes(sd, 4) == ["RequestLimitExceeded", "RequestLimitExceeded", "ok", "ok"]


def test_botocore_retries_through_a_single_throttle(emulator: Emulator) -> None:
    """An adapter with standard retries sees success after one throttle."""
    emulator.inject("servicediscovery:ListNamespaces", count=1)
    retrying = client(
        "servicediscovery",
        emulator.endpoint_url,
        REGION,
        config=Config(retries={"mode": "standard", "total_max_attempts": 3}),
    )
    answer = retrying.list_namespaces()
    assert answer["ResponseMetadata"]["RetryAttempts"] == 1
    assert emulator.calls()["servicediscovery:ListNamespaces"] == 2


def _fired(emulator: Emulator) -> list[int]:
    with urllib.request.urlopen(f"{emulator.endpoint_url}/_emulator/faults", timeout=5) as r:
        return [int(rule["fired"]) for rule in json.loads(r.read())["faults"]]


def test_latency(sd: Any, emulator: Emulator) -> None:
    emulator.inject("servicediscovery:ListServices", error=None, latency=0.3)
    started = time.monotonic()
    sd.list_services()
    assert time.monotonic() - started >= 0.3
    assert _fired(emulator) == [1]
    # Another API is not delayed: the rule does not fire for it. (Not its wall time, which a
    # busy machine stretched past 0.3 s once.)
    sd.list_namespaces()
    assert _fired(emulator) == [1]


def test_call_counting(sd: Any, ecs: Any, emulator: Emulator) -> None:
    make_namespace(sd)  # CreatePrivateDnsNamespace + GetOperation
    sd.list_namespaces()
    sd.list_namespaces()
    ecs.list_clusters()
    calls = emulator.calls()
    assert calls["servicediscovery:CreatePrivateDnsNamespace"] == 1
    assert calls["servicediscovery:GetOperation"] == 1
    assert calls["servicediscovery:ListNamespaces"] == 2
    assert calls["ecs:ListClusters"] == 1
    emulator.reset_calls()
    assert emulator.calls() == {}


def test_emulators_in_one_process_are_isolated(sd: Any, emulator: Emulator) -> None:
    make_namespace(sd, "mine.local")
    with Emulator() as other:
        assert other.account_id != emulator.account_id
        other_sd = client("servicediscovery", other.endpoint_url, REGION)
        assert other_sd.list_namespaces()["Namespaces"] == []
        make_namespace(other_sd, "theirs.local")
        other.reset()
    assert [ns["Name"] for ns in sd.list_namespaces()["Namespaces"]] == ["mine.local"]


def test_reset_clears_resources_and_rules(sd: Any, emulator: Emulator) -> None:
    make_namespace(sd)
    emulator.inject("servicediscovery:GetNamespace")
    emulator.hold_operations(polls=3)
    emulator.reset()
    assert sd.list_namespaces()["Namespaces"] == []
    op_id = sd.create_http_namespace(Name="after-reset")["OperationId"]
    assert sd.get_operation(OperationId=op_id)["Operation"]["Status"] == "SUCCESS"
    assert emulator.calls() == {
        "servicediscovery:ListNamespaces": 1,
        "servicediscovery:CreateHttpNamespace": 1,
        "servicediscovery:GetOperation": 1,
    }


def test_control_api_over_http(sd: Any, ecs: Any, emulator: Emulator) -> None:
    control = EmulatorControl(emulator.endpoint_url)
    assert control.health()["accountId"] == emulator.account_id
    control.inject("servicediscovery:ListNamespaces", error="ThrottlingException", count=1)
    assert _outcomes(sd, 2) == ["ThrottlingException", "ok"]
    assert control.calls()["servicediscovery:ListNamespaces"] == 2
    control.reset_calls()
    assert control.calls() == {}

    control.hold_operations(polls=1)
    control.fail_operations("CREATE_NAMESPACE", "CANNOT_CREATE_HOSTED_ZONE", "nope")
    op_id = sd.create_http_namespace(Name="remote")["OperationId"]
    assert sd.get_operation(OperationId=op_id)["Operation"]["Status"] == "SUBMITTED"
    op = sd.get_operation(OperationId=op_id)["Operation"]
    assert (op["Status"], op["ErrorCode"]) == ("FAIL", "CANNOT_CREATE_HOSTED_ZONE")
    control.clear_operation_rules()

    ecs.create_cluster(clusterName="c")
    ecs.create_service(cluster="c", serviceName="s", desiredCount=0)
    assert control.deployments("c", "s") == 1

    service_id = make_service(sd, make_namespace(sd, "seeded.local"))
    control.seed_instances(service_id, {"i-1": {"AWS_INSTANCE_IPV4": "10.0.0.1"}})
    assert [i["Id"] for i in sd.list_instances(ServiceId=service_id)["Instances"]] == ["i-1"]
    with pytest.raises(EmulatorControlError, match="registered already"):
        control.seed_instances(service_id, {"i-1": {"AWS_INSTANCE_IPV4": "10.0.0.2"}})

    control.inject("ecs:*", error=None, latency=0.01)
    control.clear_faults()
    make_namespace(sd, "kept.local")
    control.reset()
    assert sd.list_namespaces()["Namespaces"] == []

    with pytest.raises(EmulatorControlError):
        control.inject("servicediscovery:ListNamespaces", rate=2.0)
    request = urllib.request.Request(
        f"{emulator.endpoint_url}/_emulator/faults",
        data=json.dumps({"api": "x", "bogus": 1}).encode(),
        method="POST",
    )
    with pytest.raises(urllib.error.HTTPError) as exc:
        urllib.request.urlopen(request, timeout=5)
    assert exc.value.code == 400
    with pytest.raises(urllib.error.HTTPError) as missing:
        urllib.request.urlopen(f"{emulator.endpoint_url}/_emulator/nothing", timeout=5)
    assert missing.value.code == 404


def test_emulator_listens_on_loopback_only() -> None:
    with pytest.raises(ValueError, match="loopback"):
        Emulator(host="0.0.0.0")
