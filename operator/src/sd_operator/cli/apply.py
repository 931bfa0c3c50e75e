"""`apply`: plan every resource first, change nothing if one is refused, then converge each."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from functools import partial
from typing import TextIO

from sd_operator.cli.codes import EXIT_ERROR
from sd_operator.cli.plan import PlanReport, plan_resources
from sd_operator.cli.resources import _label
from sd_operator.cli.settle import _settle_each
from sd_operator.model.spec import Resource
from sd_operator.reconcile.converge import converge
from sd_operator.reconcile.reconciler import Reconciler
from sd_operator.reconcile.render import field_path
from sd_operator.reconcile.result import Outcome


def _stops_apply(report: PlanReport) -> bool:
    """Refusals and errors stop the whole apply; blocks (AlreadyExists, ...) stop only their
    own resource, and what depends on it."""
    return report.error is not None or (report.plan is not None and report.plan.refusal is not None)


def check_before_apply(
    reconciler: Reconciler,
    resources: Sequence[Resource],
    out: TextIO,
    timeout: float,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    refused: Sequence[PlanReport] = (),
) -> bool:
    """Plan every resource first: if any is refused or cannot be planned, say which and why,
    and change nothing. `refused`: resources --grants refused, which stop the apply before
    anything is read from AWS."""
    stoppers = list(refused)
    if not stoppers:
        planned = plan_resources(
            reconciler, resources, retry_seconds=timeout, sleep=sleep, clock=clock
        )
        stoppers = [r for r in planned if _stops_apply(r)]
    for report in stoppers:
        head = f"{_label(report.resource)} ({report.resource.source})"
        if report.error is not None:
            print(f"{head}: error: {report.error}", file=out)
        else:
            assert report.plan is not None
            refusal = report.plan.refusal
            assert refusal is not None
            print(
                f"{head}: refused ({refusal.reason}): {field_path(refusal.field)}: "
                f"{refusal.message}",
                file=out,
            )
    if stoppers:
        print(
            f"nothing was changed: {len(stoppers)} resource(s) cannot be applied; "
            "fix them and apply again",
            file=out,
        )
    return not stoppers


def _applied(res: Resource, performed: bool) -> str:
    return "done" if performed else "nothing to do"


def apply_resources(
    reconciler: Reconciler,
    resources: Sequence[Resource],
    *,
    timeout: float,
    out: TextIO,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    refused: Sequence[PlanReport] = (),
) -> int:
    """`apply`: every resource planned first (nothing changes if one is refused, here or by
    --grants in `refused`), then each stepped until it settles, waiting with `sleep` and timing
    out by the monotonic `clock` (real time, unless a test passes its own)."""
    if not check_before_apply(
        reconciler, resources, out, timeout, sleep=sleep, clock=clock, refused=refused
    ):
        return EXIT_ERROR
    settle = partial(converge, reconciler, timeout=timeout, sleep=sleep, clock=clock)
    return _settle_each(resources, resources, settle, Outcome.IN_SYNC, _applied, out)
