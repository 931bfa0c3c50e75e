"""Step one resource until it settles: the CLI's `apply` / `delete` and the tests use this."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sd_operator.model.spec import NamespaceSpec, Resource
from sd_operator.reconcile.reconciler import Reconciler
from sd_operator.reconcile.result import Outcome, StepResult, merge_status


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
    deleting: bool,
    timeout: float,
    on_change: Callable[[str], None] = lambda _: None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> Progress:
    """Step until AWS matches (or the resource is gone), waiting out Cloud Map operations and
    transient errors; blocked, refused and failed outcomes end it at once. `sleep` and the
    monotonic `clock` are how it waits and when `timeout` runs out (the CLI: real time)."""
    progress = Progress(res)
    deadline = clock() + timeout
    while True:
        result = reconciler.step(res, progress.status, deleting=deleting, namespace=namespace)
        progress.status = merge_status(progress.status, result)
        progress.last = result
        for line in result.performed:
            progress.performed.append(line)
            on_change(line)
        retry = result.outcome in (Outcome.WAITING, Outcome.ERROR)
        if not retry or clock() >= deadline:
            return progress
        sleep(min(result.retry_after or 1.0, max(0.0, deadline - clock())))
