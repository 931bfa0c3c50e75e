"""kopf's records reach our log stream with the object they are about, not its settings."""

from __future__ import annotations

import json
import logging

import pytest

from sd_operator import logs


def test_kopf_records_keep_the_object_reference_and_drop_settings(
    capsys: pytest.CaptureFixture[str],
) -> None:
    logs.configure("json", "INFO")
    # Not "kopf.objects": once kopf is imported, its event poster handles that logger and
    # reads the real settings object.
    logging.getLogger("kopf.activities").info(
        "Handler 'reconcile' succeeded.",
        extra={
            "k8s_ref": {"kind": "ServiceDiscovery", "namespace": "team", "name": "user-service"},
            "settings": "OperatorSettings(...)",
            "k8s_skip": False,
        },
    )
    line = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    assert line["event"] == "Handler 'reconcile' succeeded."
    # One identity shape for kopf's lines and ours: kind, namespace, name at the top level.
    assert (line["kind"], line["namespace"], line["name"]) == (
        "ServiceDiscovery",
        "team",
        "user-service",
    )
    assert "k8s_ref" not in line
    assert "settings" not in line
    assert line["logger"] == "kopf.activities"


def _emit(level: int, message: str, capsys: pytest.CaptureFixture[str]) -> list[dict[str, object]]:
    logging.getLogger("kopf.activities").log(level, message)
    return [json.loads(x) for x in capsys.readouterr().err.strip().splitlines() if x]


@pytest.mark.parametrize("reason", ["RecordingRequest", "OperationPending"])
def test_routine_waits_are_not_errors(reason: str, capsys: pytest.CaptureFixture[str]) -> None:
    message = f"Handler 'reconcile' failed temporarily: {reason}: waiting"
    logs.configure("json", "INFO")
    assert _emit(logging.ERROR, message, capsys) == []
    logs.configure("json", "DEBUG")
    [line] = _emit(logging.ERROR, message, capsys)
    assert line["level"] == "debug"


def test_other_temporary_failures_stay_errors(capsys: pytest.CaptureFixture[str]) -> None:
    logs.configure("json", "INFO")
    [line] = _emit(
        logging.ERROR, "Handler 'reconcile' failed temporarily: Throttling: slow down", capsys
    )
    assert line["level"] == "error"
