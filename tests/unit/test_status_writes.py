"""What a quiet sweep costs: heartbeats spread over their window, one parse per generation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sd_operator.handlers.heartbeat import (
    HEARTBEAT_INTERVALS,
    HEARTBEAT_WRITES_PER_SWEEP,
    Heartbeat,
)
from sd_operator.handlers.parsed import ParsedResources
from sd_operator.model.spec import GROUP, VERSION
from sd_operator.model.status import DiscoveryStatus
from sd_operator.model.timestamps import format_time

SWEEP = 30.0
N = 1000
# The heartbeats' clock: which uids' slots fall between two instants depends on where the
# instants lie in the window, so on the wall clock the counts differed from run to run.
NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)


def _heartbeat() -> Heartbeat:
    return Heartbeat(SWEEP, clock=lambda: NOW)


def _observed(ago: float) -> DiscoveryStatus:
    return DiscoveryStatus(last_observed_time=format_time(NOW - timedelta(seconds=ago)))


def _due(heartbeat: Heartbeat, ago: float) -> int:
    return sum(heartbeat.due(_observed(ago), f"uid-{i}") for i in range(N))


def test_heartbeats_of_resources_written_together_spread_over_the_window() -> None:
    """1,000 statuses written in one sweep (a restart): on main all their heartbeats came due
    in one later sweep (356 writes in one sweep at N = 1,000); each sweep now takes its share."""
    heartbeat = _heartbeat()
    share = N / HEARTBEAT_INTERVALS
    for sweeps in range(1, HEARTBEAT_INTERVALS):
        due = _due(heartbeat, sweeps * SWEEP)
        assert 0.6 * share * sweeps <= due <= 1.4 * share * sweeps, (sweeps, due)


def test_every_resource_has_a_heartbeat_once_per_window() -> None:
    heartbeat = _heartbeat()
    assert _due(heartbeat, HEARTBEAT_INTERVALS * SWEEP + 2) == N
    assert _due(heartbeat, SWEEP - 2) == 0, "never within one interval of the last write"
    assert heartbeat.due(DiscoveryStatus(), "uid-1"), "never observed: write it"


def test_many_resources_stretch_the_window_not_the_writes_per_sweep() -> None:
    """At N = 1,000, heartbeats every 5 intervals were 200 status writes per sweep, about a
    second of the operator's CPU per sweep; the window now grows with N instead."""
    heartbeat = _heartbeat()
    heartbeat.size(N)
    sweeps = N // HEARTBEAT_WRITES_PER_SWEEP
    assert heartbeat.seconds == sweeps * SWEEP
    for k in (1, 2, sweeps // 2):
        # written together at a restart, k sweeps ago: k sweeps' shares are due by now
        due = _due(heartbeat, k * SWEEP)
        assert due <= 1.4 * HEARTBEAT_WRITES_PER_SWEEP * k, (k, due)
    assert _due(heartbeat, sweeps * SWEEP + 2) == N
    heartbeat.size(10)
    assert heartbeat.seconds == HEARTBEAT_INTERVALS * SWEEP


def _body(generation: int, **status: Any) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "CloudMapNamespace",
        "metadata": {"name": "apps", "namespace": "ns", "uid": "u-1", "generation": generation},
        "spec": {"name": "apps.local", "type": "Http"},
        "status": status,
    }


def test_a_resource_is_parsed_again_only_when_its_generation_changes() -> None:
    parsed = ParsedResources()
    first = parsed.get(_body(1))
    assert first is not None
    assert parsed.get(_body(1, lastObservedTime="2026-01-01T00:00:00Z")) is first
    changed = _body(2)
    changed["spec"]["name"] = "other.local"
    second = parsed.get(changed)
    assert second is not None
    assert second is not first
    assert second.spec.name == "other.local"
    invalid = _body(3)
    invalid["spec"]["type"] = "Nope"
    assert parsed.get(invalid) is None
