"""A step's status into kopf's patch: only what changed, and lastObservedTime alone only when
its heartbeat is due. kopf sends the patch, one per handler run."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import kopf

from sd_operator.handlers.heartbeat import TIME_FORMAT, Clock, Heartbeat, wall_clock
from sd_operator.handlers.recorder import Post, Written, kopf_post, record
from sd_operator.model import conditions as cond
from sd_operator.model.spec import Resource
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
        new_status = self._status(body, previous, result, derive)
        changes = {k: v for k, v in new_status.items() if previous.get(k) != v}
        uid = str(body.metadata.uid or "")
        if set(changes) == {"lastObservedTime"} and not self._heartbeat.due(previous, uid):
            changes = {}
        for key, value in changes.items():
            patch.status[key] = value
        kind = res.identity.kind if res else str(body.get("kind", ""))
        record(Written(body, kind, previous, result, changes), new_status["conditions"], post)

    def _status(
        self, body: kopf.Body, previous: Mapping[str, Any], result: StepResult, derive: Derive
    ) -> dict[str, Any]:
        """The whole status after `result`, conditions derived for this intent."""
        merged = merge_status(previous, result)
        generation = int(body.metadata.get("generation") or 0)
        derived = derive(result, previous, generation)
        observed = merged.get("lastObservedTime") or self._clock().strftime(TIME_FORMAT)
        new_status = {
            **{k: v for k, v in merged.items() if k != "conditions"},
            "conditions": cond.merge(
                previous.get("conditions"), derived.conditions, generation, str(observed)
            ),
        }
        if derived.observed_generation is not None:
            new_status["observedGeneration"] = derived.observed_generation
        return new_status
