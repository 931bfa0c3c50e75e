"""The shared AWS API budget: token buckets per API, adaptive, foreground first."""

from __future__ import annotations

import threading
import time

import pytest

from sd_operator.aws.budget import (
    DEFAULT_RATES,
    Budget,
    GiveUp,
    Rate,
    background,
    parse_rates,
)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_defaults_follow_the_published_and_mcs_rates() -> None:
    budget = Budget()
    assert budget.current_rate("ecs:DescribeServices") == 20.0
    assert budget.current_rate("servicediscovery:ListServices") == 2.0
    assert budget.current_rate("servicediscovery:ListNamespaces") == 0.5
    assert budget.current_rate("servicediscovery:CreateService") == 5.0
    # An API without its own entry shares its service's bucket.
    assert budget.current_rate("route53:GetHostedZone") == DEFAULT_RATES["route53:*"].per_second


def test_a_throttle_slows_the_api_for_everyone_then_it_recovers() -> None:
    clock = Clock()
    budget = Budget(clock=clock)
    api = "servicediscovery:ListServices"
    budget.throttled(api)
    assert budget.current_rate(api) == pytest.approx(2.0 * 0.7)
    budget.throttled(api)  # the same burst of throttles counts once a second
    assert budget.current_rate(api) == pytest.approx(2.0 * 0.7)
    clock.now += 1.5
    budget.throttled(api)
    assert budget.current_rate(api) < 2.0 * 0.7 * 0.8  # a later throttle cuts again
    for _ in range(20):
        budget.throttled(api)
        clock.now += 1.01
    assert budget.current_rate(api) >= 2.0 * 0.2  # never below 20%
    clock.now += 60
    assert budget.current_rate(api) == pytest.approx(2.0)
    assert budget.current_rate("servicediscovery:GetService") == 10.0  # other APIs untouched


def test_throttling_that_does_not_fall_with_the_rate_costs_at_most_half_the_rate() -> None:
    """AWS throttling a share of calls whatever their rate (faults, a noisy neighbour) cuts the
    budget once a second for as long as it lasts: the floor bounds the slowdown to 2x."""
    clock = Clock()
    budget = Budget(clock=clock)
    api = "servicediscovery:ListNamespaces"
    rates = []
    for _ in range(300):
        clock.now += 1.01
        budget.throttled(api)
        rates.append(budget.current_rate(api))
    assert min(rates) == pytest.approx(0.5 * 0.5)
    assert rates[-1] == pytest.approx(0.5 * 0.5)
    # Back to the configured rate 10 s (half the rate at 5% a second) after the last throttle.
    clock.now += 9.0
    assert budget.current_rate(api) < 0.5
    clock.now += 1.1
    assert budget.current_rate(api) == pytest.approx(0.5)


def test_tokens_pace_calls_at_the_rate() -> None:
    budget = Budget({"ecs:DescribeServices": Rate(20.0, 1.0)})
    start = time.monotonic()
    for _ in range(5):
        budget.acquire("ecs:DescribeServices")
    assert time.monotonic() - start >= 4 / 20 * 0.9


def test_background_calls_wait_behind_foreground_calls() -> None:
    budget = Budget({"ecs:UpdateService": Rate(5.0, 1.0)})
    api = "ecs:UpdateService"
    budget.acquire(api)  # the bucket is empty now
    order: list[str] = []

    def sweep() -> None:
        with background():
            budget.acquire(api)
        order.append("sweep")

    def user() -> None:
        budget.acquire(api)
        order.append("user")

    swept = threading.Thread(target=sweep)
    swept.start()
    time.sleep(0.05)  # the sweep asked first ...
    changed = threading.Thread(target=user)
    changed.start()
    swept.join(5)
    changed.join(5)
    assert order == ["user", "sweep"]  # ... but the user's change went first


def test_rates_from_flags() -> None:
    rates = parse_rates("servicediscovery:ListServices=4, ecs:*=10/40")
    assert rates["servicediscovery:ListServices"] == Rate(4.0, 10.0)  # default burst kept
    assert rates["ecs:*"] == Rate(10.0, 40.0)
    for bad in ("ListServices=4", "ecs:UpdateService", "ecs:UpdateService=-1", "ecs:x=1/0"):
        with pytest.raises(ValueError, match=bad.split("=")[0]):
            parse_rates(bad)


def test_a_background_call_gives_up_waiting_once_its_caller_stops() -> None:
    """The sweep's reads wait behind everything else; when the operator stops (SIGTERM) they
    give up at once instead of holding the exit until a token comes (seconds, throttled)."""
    api = "tagging:GetResources"
    budget = Budget({api: Rate(0.01, 1.0)})  # one token now, the next in 100 s
    budget.acquire(api)
    stopping = threading.Event()
    outcome: list[str] = []

    def sweep() -> None:
        try:
            with background(until=stopping):
                budget.acquire(api)
            outcome.append("got a token")
        except GiveUp:
            outcome.append("gave up")

    swept = threading.Thread(target=sweep)
    swept.start()
    swept.join(0.3)
    assert swept.is_alive(), "the call should be waiting for its token"
    stopped = time.monotonic()
    stopping.set()
    swept.join(5)
    assert outcome == ["gave up"]
    assert time.monotonic() - stopped < 1.5


def test_a_foreground_call_is_not_given_up() -> None:
    api = "servicediscovery:GetService"
    budget = Budget({api: Rate(20.0, 1.0)})
    stopping = threading.Event()
    stopping.set()
    budget.acquire(api)
    budget.acquire(api)  # waits its 50 ms: only background(until=...) calls give up
    with pytest.raises(GiveUp), background(until=stopping):
        budget.acquire(api)
