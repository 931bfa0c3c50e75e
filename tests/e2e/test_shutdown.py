"""SIGTERM (a pod's termination, a rolling update): the operator exits at once, also while a
drift sweep is in progress and waiting for the AWS budget.

The sweep's account read waits behind every other AWS call; at a throttled or large account it
takes seconds to minutes. It used to run to its end after SIGTERM (the cleanup handler joined
its thread for up to 30 s): 8-30 s to exit with 40 resources under 30% throttling. Here the
tag:GetResources budget is cut to one call per 10 s, so the sweeps wait about that long for
their tags, and SIGTERM is sent once a sweep has begun its read. (Change handlers in flight
are kopf's: it lets them finish, 2 s for its workers and as long as a step takes.)"""

from __future__ import annotations

import time

import pytest
from e2e_support import (
    DISCOVERIES,
    NAMESPACES,
    Kubectl,
    OperatorProcess,
    StartOperator,
    example,
    ready_and_synced,
    wait_for,
)

from sd_devkit.emulator import Emulator

# With the e2e operators' 10x budget (SD_OPERATOR_AWS_RATE_SCALE), one token every 10 s.
SLOW_TAGS = "tagging:*=0.01/1"
LIST_NAMESPACES = "servicediscovery:ListNamespaces"
# kopf gives its workers 2 s to finish what they do (settings.queueing.exit_timeout).
PROMPT = 5.0


def swept(op: OperatorProcess) -> list[float]:
    """How long each sweep took, as the operator logged them."""
    return [float(r["seconds"]) for r in op.log_records() if r.get("event") == "swept"]


@pytest.mark.long
def test_sigterm_during_a_sweep_exits_at_once(
    kubectl: Kubectl, namespace: str, start_operator: StartOperator, emulator: Emulator
) -> None:
    op = start_operator("op", "--aws-rate", SLOW_TAGS)
    kubectl.apply([example("namespace", namespace), example("user-service", namespace)])
    kubectl.wait_for_object(NAMESPACES, "myapp", namespace, ready_and_synced, "Ready")
    kubectl.wait_for_object(DISCOVERIES, "user-service", namespace, ready_and_synced, "Ready")
    # The budget holds the sweeps: one of them has waited longer for its tags than the exit
    # may take.
    wait_for(
        lambda: any(seconds >= PROMPT for seconds in swept(op)),
        "a sweep that waited seconds for its tag:GetResources token",
    )

    # A sweep begins its account read by listing the namespaces (nothing else does: both
    # resources are Ready); it logs `swept` before the next one begins.
    listed = emulator.calls().get(LIST_NAMESPACES, 0)
    wait_for(
        lambda: emulator.calls().get(LIST_NAMESPACES, 0) > listed,
        "a sweep to begin its account read",
        interval=0.05,
    )
    sweeps = len(swept(op))

    started = time.monotonic()
    op.stop()
    took = time.monotonic() - started
    assert op.proc is not None
    assert op.proc.returncode == 0, op.tail(30)
    assert took < PROMPT, f"exited {took:.1f}s after SIGTERM:\n{op.tail(30)}"
    assert len(swept(op)) == sweeps, "the sweep in progress ran to its end instead of stopping"
