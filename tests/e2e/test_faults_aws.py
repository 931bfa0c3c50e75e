"""AWS misbehaving under a running operator: 30% of all calls throttled, 5xx answers, Cloud Map
operations that stay PENDING and then FAIL. The operator converges anyway, creates nothing
twice, and its calls stay within a stated bound.

The throttling scenario runs two operators side by side on the same machine, each against its
own emulator (its own AWS account) with the same resources: one without faults (the baseline),
one with 30% of every call throttled. The bound: the throttled run makes at most
THROTTLED_CALLS_BOUND times the baseline's calls over the same window (a call AWS throttles is
retried, so about 1 / 0.7 = 1.43 times as many are expected)."""

from __future__ import annotations

import math
import time
import uuid
from typing import Any

import pytest
from e2e_support import (
    DISCOVERIES,
    NAMESPACES,
    Kubectl,
    OperatorProcess,
    StartOperator,
    wait_for,
)
from faults_support import (
    all_objects,
    all_ready,
    cloudmap_namespace,
    discovery,
    duplicates,
    extra_namespace,
    fault_rules,
    inventory,
    long_form,
    record,
    round_ids,
    service_keys,
    summary,
)

from sd_devkit.emulator import Emulator, client

pytestmark = pytest.mark.faults

THROTTLE_RATE = 0.3
THROTTLE_SECONDS = 120.0 if long_form() else 30.0
THROTTLED_CALLS_BOUND = 2.0
# How far below rate x calls the throttled answers may fall before we call the injection broken:
# each call is throttled with probability THROTTLE_RATE (a binomial count), and 4 standard
# deviations leave a false failure about once in 30,000 runs. A fixed share (it was 20%) failed
# CI once a converge took only ~100 calls: 21 of 106 answered is 2.2 deviations below 30%.
THROTTLED_SHARE_DEVIATIONS = 4.0
SERVICES = 9
TIMEOUT = 240.0


def _stack(aws_name: str) -> list[dict[str, Any]]:
    return [cloudmap_namespace("shared", aws_name)] + [
        discovery(f"svc-{i}", "shared") for i in range(SERVICES)
    ]


def _fewest_throttled(calls: int) -> float:
    """The lowest count of throttled answers among `calls` that is still plausibly the
    injected rate (see THROTTLED_SHARE_DEVIATIONS)."""
    spread = math.sqrt(calls * THROTTLE_RATE * (1.0 - THROTTLE_RATE))
    return THROTTLE_RATE * calls - THROTTLED_SHARE_DEVIATIONS * spread


def _check_once_each(sd: Any, aws_name: str) -> None:
    namespaces, services = inventory(sd)
    assert [n["Name"] for n in namespaces] == [aws_name], namespaces
    assert not duplicates(services), f"twinned: {duplicates(services)}"
    assert len(services) == SERVICES, service_keys(services)


@pytest.mark.timeout(THROTTLE_SECONDS + 2 * TIMEOUT)
@pytest.mark.long
def test_thirty_percent_throttling(
    kubectl: Kubectl,
    namespace: str,
    start_operator: StartOperator,
    emulator: Emulator,
    sd: Any,
    tmp_path: Any,
) -> None:
    stack = _stack("throttled.local")
    with (
        Emulator(host="127.0.0.1", page_size=2, seed=7) as quiet,
        extra_namespace(kubectl, f"{namespace[:50]}-base") as base_ns,
    ):
        baseline = OperatorProcess(
            "baseline", base_ns, quiet.endpoint_url, kubectl.kubeconfig, tmp_path
        )
        try:
            emulator.inject("*", error="ThrottlingException", rate=THROTTLE_RATE)
            throttled = start_operator("throttled")
            baseline.start()
            started = time.monotonic()
            kubectl.apply(stack, namespace)
            kubectl.apply(stack, base_ns)
            ready_at: dict[str, float] = {}
            while time.monotonic() - started < THROTTLE_SECONDS or len(ready_at) < 2:
                for name, ns in (("throttled", namespace), ("baseline", base_ns)):
                    if name not in ready_at and all_ready(kubectl, ns, len(stack)):
                        ready_at[name] = time.monotonic() - started
                assert time.monotonic() - started < THROTTLE_SECONDS + TIMEOUT, (
                    f"not converged: {sorted(set(('throttled', 'baseline')) - set(ready_at))}\n"
                    + "\n".join(summary(o) for o in all_objects(kubectl, namespace))
                )
                time.sleep(0.5)
            window = time.monotonic() - started
            throttled_calls = sum(emulator.calls().values())
            baseline_calls = sum(quiet.calls().values())
            (rule,) = fault_rules(emulator.endpoint_url)
            emulator.clear_faults()
            assert throttled.running, "the throttled operator died"
        finally:
            baseline.stop()
        _check_once_each(sd, "throttled.local")
        _check_once_each(
            client("servicediscovery", quiet.endpoint_url, "us-east-1"), "throttled.local"
        )
    ratio = throttled_calls / baseline_calls
    record(
        "throttling",
        "round-0",
        resources=len(stack),
        rate=THROTTLE_RATE,
        throttle_seconds=THROTTLE_SECONDS,
        window_seconds=round(window, 1),
        throttled_ready_seconds=round(ready_at["throttled"], 1),
        baseline_ready_seconds=round(ready_at["baseline"], 1),
        throttled_calls=throttled_calls,
        throttled_answers=rule["fired"],
        baseline_calls=baseline_calls,
        ratio=round(ratio, 2),
        bound=THROTTLED_CALLS_BOUND,
    )
    assert rule["fired"] >= _fewest_throttled(throttled_calls), (rule, throttled_calls)
    assert ratio <= THROTTLED_CALLS_BOUND, (
        f"{throttled_calls} calls throttled vs {baseline_calls} without: {ratio:.2f}x > "
        f"{THROTTLED_CALLS_BOUND}x"
    )


@pytest.mark.timeout(2 * TIMEOUT + 60)
@pytest.mark.parametrize("round_id", round_ids(1))
@pytest.mark.long
def test_5xx_and_failed_pending_operations(
    round_id: str,
    kubectl: Kubectl,
    namespace: str,
    start_operator: StartOperator,
    emulator: Emulator,
    sd: Any,
) -> None:
    """Half of the Cloud Map calls answer 503 (30 of them), CreateService answers 500 three
    times, every operation stays SUBMITTED/PENDING for 3 s, and the first CreateNamespace and
    the first DeleteNamespace operations end in FAIL. Converges, once each; deletes, fully."""
    aws_name = f"flaky-{uuid.uuid4().hex[:6]}.local"
    emulator.inject("servicediscovery:*", error="ServiceUnavailable", rate=0.5, count=30)
    emulator.inject("servicediscovery:CreateService", error="InternalFailure", count=3)
    emulator.hold_operations(seconds=3)
    emulator.fail_operations("CREATE_NAMESPACE", "CANNOT_CREATE_HOSTED_ZONE", count=1)
    emulator.fail_operations("DELETE_NAMESPACE", "INTERNAL_FAILURE", count=1)
    stack = _stack(aws_name)
    op = start_operator()
    started = time.monotonic()
    kubectl.apply(stack, namespace)
    wait_for(
        lambda: all_ready(kubectl, namespace, len(stack)),
        "every resource Ready",
        timeout=TIMEOUT,
        describe=lambda: "\n".join(summary(o) for o in all_objects(kubectl, namespace)),
    )
    converge_seconds = time.monotonic() - started
    _check_once_each(sd, aws_name)
    fired = {
        r["api"] + "/" + str(r["error"]): r["fired"] for r in fault_rules(emulator.endpoint_url)
    }
    calls = emulator.calls()

    started = time.monotonic()
    kubectl.run("delete", f"{DISCOVERIES},{NAMESPACES}", "--all", "-n", namespace, "--wait=false")
    wait_for(
        lambda: not all_objects(kubectl, namespace),
        "every object gone",
        timeout=TIMEOUT,
        describe=lambda: "\n".join(summary(o) for o in all_objects(kubectl, namespace)),
    )
    namespaces, services = inventory(sd)
    assert (namespaces, services) == ([], []), (namespaces, service_keys(services))
    after = emulator.calls()
    assert op.running
    record(
        "5xx-fail-pending",
        round_id,
        resources=len(stack),
        converge_seconds=round(converge_seconds, 1),
        delete_seconds=round(time.monotonic() - started, 1),
        faults_fired=fired,
        create_namespace_calls=calls.get("servicediscovery:CreatePrivateDnsNamespace", 0),
        create_service_calls=calls.get("servicediscovery:CreateService", 0),
        delete_namespace_calls=after.get("servicediscovery:DeleteNamespace", 0),
        total_calls=sum(after.values()),
    )
