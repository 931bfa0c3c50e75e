"""Time that passes only when something waits: `converge` against an emulator that answers at
once (operations final at once, or held for a number of polls, not for seconds) steps as it
would in real time, without the seconds. A test whose emulator holds something for real
seconds keeps real time."""

from __future__ import annotations

from typing import Any

from sd_operator.model.spec import NamespaceSpec, Resource
from sd_operator.reconcile.converge import Progress, converge, converge_delete
from sd_operator.reconcile.reconciler import Reconciler


class FakeTime:
    """A monotonic clock that only `sleep` moves; `slept` lists every wait, in order."""

    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds

    def converge(
        self,
        reconciler: Reconciler,
        res: Resource,
        namespace: NamespaceSpec | None,
        **kwargs: Any,
    ) -> Progress:
        """reconcile.converge waiting in this time."""
        return converge(reconciler, res, namespace, sleep=self.sleep, clock=self.clock, **kwargs)

    def converge_delete(
        self,
        reconciler: Reconciler,
        res: Resource,
        namespace: NamespaceSpec | None,
        **kwargs: Any,
    ) -> Progress:
        """reconcile.converge_delete waiting in this time."""
        return converge_delete(
            reconciler, res, namespace, sleep=self.sleep, clock=self.clock, **kwargs
        )
