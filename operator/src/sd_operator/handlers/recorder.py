"""What a written step tells the outside world: Events, metrics and log lines."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import kopf

from sd_operator import logs, metrics
from sd_operator.model import conditions as cond
from sd_operator.model import reasons
from sd_operator.model.redact import redact
from sd_operator.model.status import DiscoveryStatus, is_heartbeat
from sd_operator.reconcile.render import describe_changes
from sd_operator.reconcile.result import Outcome, StepResult

log = logs.get(__name__)

# (body, "Normal" | "Warning", reason, message): kopf's event queue in handlers, the API
# server directly from the sweep thread.
Post = Callable[[Mapping[str, Any], str, str, str], None]

# Refusals wait for a person (warning); what AWS rejected failed (error); the rest is routine.
# Counted once per deployment, with its Event: the refusal repeats on every sweep after it.
_UNDONE = frozenset({reasons.DEPLOYMENT_ROLLED_BACK, reasons.DEPLOYMENT_FAILED})
_LOG_LEVELS = {Outcome.REFUSED: logging.WARNING, Outcome.FAILED: logging.ERROR}


def kopf_post(body: Mapping[str, Any], type_: str, reason: str, message: str) -> None:
    assert isinstance(body, kopf.Body)
    if type_ == "Warning":
        kopf.warn(body, reason=reason, message=message)
    else:
        kopf.info(body, reason=reason, message=message)


@dataclass(frozen=True)
class Written:
    """A step whose status went into kopf's patch: `changes`, what the patch holds."""

    body: kopf.Body
    kind: str
    previous: DiscoveryStatus
    result: StepResult
    changes: Mapping[str, Any]
    drift_recorded: bool  # status.drift changed in this write

    @property
    def drift_shown(self) -> bool:
        """A reported drift stays until someone acts: shown when status records it, not on
        every sweep (an API server write every interval per drifted resource)."""
        reported = self.result.outcome is Outcome.DRIFT_REPORTED
        return bool(self.result.drift) and (not reported or self.drift_recorded)


def record(written: Written, conditions: Iterable[cond.Written], post: Post) -> None:
    """The metrics, Events and log lines of `written`; `conditions`: its status conditions."""
    metrics.RESOURCES.record(str(written.body.metadata.uid), written.kind, conditions)
    _post_events(written, post)
    _log(written)


def _post_events(written: Written, post: Post) -> None:
    body, kind, result = written.body, written.kind, written.result
    for line in result.performed:
        metrics.AWS_CHANGES.labels(kind).inc()
        post(body, "Normal", reasons.AWS_CHANGED, line)
    if written.drift_shown:
        metrics.DRIFT.labels(kind).inc(len(result.drift))
        verb = "reported" if result.outcome is Outcome.DRIFT_REPORTED else "correcting"
        post(body, "Warning", reasons.DRIFT_DETECTED, f"{verb}: {describe_changes(result.drift)}")
    paused_before = written.previous.is_true(cond.PAUSED)
    if result.outcome is Outcome.PAUSED and not paused_before:
        post(body, "Normal", reasons.PAUSED, result.message)
    if paused_before and result.outcome is not Outcome.PAUSED:
        post(body, "Normal", reasons.RESUMED, "the pause annotation is gone: reconciling again")
    if result.outcome in (Outcome.REFUSED, Outcome.FAILED) and not _same_terminal(
        written.previous, result
    ):
        post(body, "Warning", result.reason, result.message)
        if result.reason in _UNDONE:
            metrics.ECS_DEPLOYMENTS_UNDONE.labels(result.reason).inc()


def _log(written: Written) -> None:
    body, result = written.body, written.result
    who = {"kind": written.kind, "namespace": body.metadata.namespace, "name": body.metadata.name}
    for change in result.drift if written.drift_shown else ():
        shown = redact(change)
        log.warning(
            "drift",
            **who,
            field=f"spec.{change.field}",
            desired=shown.desired,
            observed=shown.observed,
            action="reported"
            if change in result.reported or result.outcome is Outcome.DRIFT_REPORTED
            else "corrected",
        )
    level = _LOG_LEVELS.get(result.outcome, logging.INFO)
    if level <= logging.INFO and not (
        (written.changes and not is_heartbeat(written.changes)) or result.performed or result.drift
    ):
        # A quiet sweep logs nothing per resource (1,000 lines per interval otherwise),
        # and neither does a heartbeat.
        level = logging.DEBUG
    log.log(
        level,
        "reconciled",
        **who,
        outcome=str(result.outcome),
        reason=result.reason,
        message=result.message if level > logging.INFO else None,
        performed=list(result.performed),
    )


def _same_terminal(previous: DiscoveryStatus, result: StepResult) -> bool:
    terminal = previous.condition(cond.TERMINAL)
    return bool(terminal and terminal.is_true and terminal.message == result.message)
