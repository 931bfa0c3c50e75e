"""structlog for our own events, with the standard library's (kopf's, botocore's) routed into it."""

from __future__ import annotations

import logging
import sys
from typing import Literal

import structlog

from sd_operator.model import reasons

LogFormat = Literal["json", "console"]
_KOPF_EXTRA = ("k8s_ref",)
# Reasons of a step that is waiting as planned: kopf reports each as a handler failure (ERROR).
ROUTINE_WAITS = (reasons.RECORDING_REQUEST, reasons.OPERATION_PENDING)


def _identity(_: object, __: str, event: structlog.types.EventDict) -> structlog.types.EventDict:
    """kopf's `k8s_ref` as our lines say it: kind, namespace, name (and uid) at the top."""
    ref = event.pop("k8s_ref", None)
    if isinstance(ref, dict):
        for key in ("kind", "namespace", "name", "uid"):
            if ref.get(key) is not None:
                event.setdefault(key, ref[key])
    return event


class _RoutineWaits(logging.Filter):
    """kopf logs a handler that asks to be called again as failed, at ERROR; waiting for a
    Cloud Map operation or for the create request's id to be recorded is routine: DEBUG (our
    own `reconciled` line says it at INFO)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name.startswith("kopf") and record.levelno >= logging.ERROR:
            text = str(record.msg)
            if "failed temporarily" in text and any(
                f"temporarily: {r}:" in text for r in ROUTINE_WAITS
            ):
                record.levelno, record.levelname = logging.DEBUG, "DEBUG"
                return logging.getLogger().isEnabledFor(logging.DEBUG)
        return True


def configure(fmt: LogFormat = "console", level: str = "INFO") -> None:
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer()
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    structlog.configure(
        # filter_by_level first: a line below the level is dropped before the processors run
        # (a quiet sweep asks for one DEBUG line per resource).
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            # kopf passes its whole OperatorSettings as `settings` in `extra`: keep only the
            # fields that identify what a record is about.
            foreign_pre_chain=[
                *shared,
                structlog.stdlib.ExtraAdder(allow=_KOPF_EXTRA),
                _identity,
            ],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                renderer,
            ],
        )
    )
    handler.addFilter(_RoutineWaits())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # botocore's debug chatter would drown the operator's own events.
    logging.getLogger("botocore").setLevel(max(logging.WARNING, root.level))
    logging.getLogger("urllib3").setLevel(max(logging.WARNING, root.level))


def get(name: str) -> structlog.stdlib.BoundLogger:
    logger: structlog.stdlib.BoundLogger = structlog.stdlib.get_logger(name)
    return logger
