"""A step's status into kopf's patch: only what changed, and lastObservedTime alone only when
its heartbeat is due. kopf sends the patch, one per handler run."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

import kopf

from sd_operator.handlers.heartbeat import Clock, Heartbeat, wall_clock
from sd_operator.handlers.recorder import Post, Written, kopf_post, record
from sd_operator.model import conditions as cond
from sd_operator.model.spec import Resource
from sd_operator.model.status import (
    DiscoveryStatus,
    is_heartbeat,
    status_changes,
    status_from_wire,
)
from sd_operator.model.timestamps import format_time
from sd_operator.reconcile import status as status_rules
from sd_operator.reconcile.result import StepResult, merge_status
from sd_operator.reconcile.status import Derived

# How an intent's result becomes conditions: status.derive (apply), derive_teardown (delete).
Derive = Callable[[StepResult, Mapping[str, Any], int], Derived]


class StatusWriter:
    """Writes a step's status into kopf's patch, then has the recorder report it."""

    def __init__(self, heartbeat: Heartbeat, clock: Clock = wall_clock) -> None:
        self._heartbeat = heartbeat
        self._clock = clock

    def write(
        self,
        body: kopf.Body,
        patch: kopf.Patch,
        previous: Mapping[str, Any],
        result: StepResult,
        res: Resource | None,
        post: Post = kopf_post,
        derive: Derive = status_rules.derive,
    ) -> None:
        before = status_from_wire(previous, DiscoveryStatus)
        after = self._status(body, previous, before, result, derive)
        changes = status_changes(before, after)
        uid = str(body.metadata.uid or "")
        if is_heartbeat(changes) and not self._heartbeat.due(before, uid):
            changes = {}
        for key, value in changes.items():
            patch.status[key] = value
        kind = res.identity.kind if res else str(body.get("kind", ""))
        written = Written(body, kind, before, result, changes, after.drift != before.drift)
        record(written, after.conditions, post)

    def _status(
        self,
        body: kopf.Body,
        previous: Mapping[str, Any],
        before: DiscoveryStatus,
        result: StepResult,
        derive: Derive,
    ) -> DiscoveryStatus:
        """The whole status after `result`, conditions derived for this intent."""
        merged = status_from_wire(merge_status(previous, result), DiscoveryStatus)
        generation = int(body.metadata.get("generation") or 0)
        derived = derive(result, previous, generation)
        observed = merged.last_observed_time or format_time(self._clock())
        conditions = cond.merge(before.conditions, derived.conditions, generation, observed)
        return replace(
            merged,
            conditions=tuple(map(cond.typed, conditions)),
            observed_generation=merged.observed_generation
            if derived.observed_generation is None
            else derived.observed_generation,
        )
