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
            "k8s_ref": {"name": "user-service"},
            "settings": "OperatorSettings(...)",
            "k8s_skip": False,
        },
    )
    line = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    assert line["event"] == "Handler 'reconcile' succeeded."
    assert line["k8s_ref"] == {"name": "user-service"}
    assert "settings" not in line
    assert line["logger"] == "kopf.activities"
