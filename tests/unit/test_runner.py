"""Peering: identical replicas must not tie (kopf pauses every replica on a tie), and the
lifetime a replica announces is the one it was given."""

from __future__ import annotations

from typing import Any

import kopf
import pytest

from sd_operator.handlers.runner import build_registry, peering_priority
from sd_operator.model.spec import ClusterIdentity
from sd_operator.settings import (
    PEERING_LIFETIME,
    AwsSettings,
    OperatorSettings,
    PeeringSettings,
    Settings,
)


def test_an_explicit_priority_is_used_as_given() -> None:
    assert peering_priority(42) == 42


def test_an_earlier_started_replica_ranks_higher() -> None:
    first = peering_priority(None, now=1_800_000_000.000)
    second = peering_priority(None, now=1_800_000_000.001)
    assert first > second > 0


def activity(registry: kopf.OperatorRegistry, name: str) -> Any:
    # The test reads kopf's registry (not public API) to call the very handler kopf calls.
    (handler,) = [h for h in registry._activities.get_all_handlers() if h.activity.value == name]
    return handler.fn


@pytest.mark.parametrize("lifetime", [PEERING_LIFETIME, 8])
def test_the_peering_lifetime_reaches_kopfs_settings(lifetime: int) -> None:
    """What the other replicas read in the peering object: a standby takes over at most this
    long after the active replica died."""
    registry = build_registry(
        Settings(
            AwsSettings("us-east-1", "http://127.0.0.1:1"),
            ClusterIdentity("test"),
            operator=OperatorSettings(
                sweep_seconds=30.0, peering=PeeringSettings(lifetime=lifetime)
            ),
        )
    )
    settings = kopf.OperatorSettings()
    activity(registry, "startup")(settings=settings)
    try:
        assert settings.peering.lifetime == lifetime
    finally:
        activity(registry, "cleanup")()
