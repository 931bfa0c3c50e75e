"""Step one resource until it settles: the CLI's `apply` / `delete` and the tests use this."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sd_operator.model.spec import NamespaceSpec, Resource
from sd_operator.model.status import DiscoveryStatus, status_from_wire
from sd_operator.reconcile.reconciler import Reconciler
from sd_operator.reconcile.result import Outcome, StepResult, merge_status

# The first poll of a Cloud Map operation that is still pending, doubled on every poll that
# finds it pending, up to the step's own pace (retry_after): AWS finishes many operations (an
# HTTP namespace, a service update) within a second or two, and an apply that polled once a
# second waited up to a second past each of them. About five more GetOperation calls per
# operation, against a budget of 100 per second.
FIRST_POLL_SECONDS = 0.05


@dataclass
class Progress:
    resource: Resource
    status: dict[str, Any] = field(default_factory=dict)
    performed: list[str] = field(default_factory=list)
    last: StepResult | None = None


def converge(
    reconciler: Reconciler,
    res: Resource,
    namespace: NamespaceSpec | None,
    *,
    timeout: float,
    on_change: Callable[[str], None] = lambda _: None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> Progress:
    """Apply `res`: step until AWS matches its spec (the CLI's `apply`)."""

    def step(status: Mapping[str, Any]) -> StepResult:
        # Not durable: the status lives only as long as the loop.
        return reconciler.step(res, status, namespace=namespace, durable=False)

    return _settle(res, step, timeout, on_change, sleep, clock)


def converge_delete(
    reconciler: Reconciler,
    res: Resource,
    namespace: NamespaceSpec | None,
    *,
    timeout: float,
    on_change: Callable[[str], None] = lambda _: None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> Progress:
    """Delete what `res` made: step until it is gone (the CLI's `delete`)."""

    def step(status: Mapping[str, Any]) -> StepResult:
        return reconciler.delete_step(res, status, namespace=namespace, durable=False)

    return _settle(res, step, timeout, on_change, sleep, clock)


def _settle(
    res: Resource,
    step: Callable[[Mapping[str, Any]], StepResult],
    timeout: float,
    on_change: Callable[[str], None],
    sleep: Callable[[float], None],
    clock: Callable[[], float],
) -> Progress:
    """Step until the step settles, waiting out Cloud Map operations and transient errors;
    blocked, refused and failed outcomes end it at once. `sleep` and the monotonic `clock` are
    how it waits and when `timeout` runs out (the CLI: real time)."""
    progress = Progress(res)
    deadline = clock() + timeout
    poll, polled = FIRST_POLL_SECONDS, None  # the pace of polling operation `polled`
    while True:
        result = step(progress.status)
        progress.status = merge_status(progress.status, result)
        progress.last = result
        for line in result.performed:
            progress.performed.append(line)
            on_change(line)
        retry = result.outcome in (Outcome.WAITING, Outcome.ERROR)
        if not retry or clock() >= deadline:
            return progress
        wait = result.retry_after or 1.0
        operation = status_from_wire(progress.status, DiscoveryStatus).operation
        if result.outcome is Outcome.WAITING and operation:
            if operation.id != polled:
                poll, polled = FIRST_POLL_SECONDS, operation.id
            wait = min(wait, poll)
            poll *= 2
        sleep(min(wait, max(0.0, deadline - clock())))
