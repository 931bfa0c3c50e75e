"""Peering priority: identical replicas must not tie (kopf pauses every replica on a tie)."""

from __future__ import annotations

from sd_operator.handlers.runner import peering_priority


def test_an_explicit_priority_is_used_as_given() -> None:
    assert peering_priority(42) == 42


def test_an_earlier_started_replica_ranks_higher() -> None:
    first = peering_priority(None, now=1_800_000_000.000)
    second = peering_priority(None, now=1_800_000_000.001)
    assert first > second > 0
