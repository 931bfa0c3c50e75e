"""`delete`: tear down what the manifests declare, per their deletionPolicy."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from functools import partial
from typing import TextIO

from sd_operator.cli.settle import _settle_each
from sd_operator.model.spec import DeletionPolicy, Resource
from sd_operator.reconcile.converge import converge_delete
from sd_operator.reconcile.reconciler import Reconciler
from sd_operator.reconcile.result import Outcome


def _deleted(res: Resource, performed: bool) -> str:
    if performed:
        return "deleted"
    if res.spec.deletion_policy is DeletionPolicy.RETAIN:
        return "kept in AWS (deletionPolicy: Retain)"
    return "nothing of ours to delete"


def delete_resources(
    reconciler: Reconciler,
    resources: Sequence[Resource],
    *,
    timeout: float,
    out: TextIO,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> int:
    """`delete`: each resource, in reverse order (ECS links and services before their
    namespace), stepped until what it made is gone; `sleep` and `clock` as for apply."""
    settle = partial(converge_delete, reconciler, timeout=timeout, sleep=sleep, clock=clock)
    ordered = list(reversed(resources))
    return _settle_each(resources, ordered, settle, Outcome.GONE, _deleted, out)
