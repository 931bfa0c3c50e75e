"""Hypothesis profiles. `ci` (CI=true, as CI runs `.ci/run`) draws the property tests in full;
`dev`, the default elsewhere, draws a quick sample so a local `make unit` stays fast.
HYPOTHESIS_PROFILE=ci|dev picks one explicitly.

The AWS emulator's fixtures, shared by the integration and e2e layers (support.py has the
helpers they share)."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import settings

from sd_devkit.emulator import Emulator, client
from sd_operator import logs
from support import REGION

# Drawing a whole ECS spec and its starting point is slow on a loaded machine: no deadline.
settings.register_profile("ci", max_examples=400, deadline=None)
settings.register_profile("dev", max_examples=40, deadline=None)
settings.load_profile(
    os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") == "true" else "dev")
)


# the AWS emulator, for the integration and e2e layers -----------------------------------------


@pytest.fixture(scope="session")
def emulator_session() -> Iterator[Emulator]:
    """One emulator per session (per xdist worker), in this process."""
    with Emulator(seed=0) as emu:
        yield emu


@pytest.fixture
def emulator_page_size() -> int:
    """The page size of the emulator's lists for this test: 0 answers with AWS's page sizes. A
    layer's conftest overrides it (integration: 2 for tests marked `paged`; e2e: always 2)."""
    return 0


@pytest.fixture
def emulator(emulator_session: Emulator, emulator_page_size: int) -> Emulator:
    """The session's emulator, reset, at this test's page size."""
    emulator_session.reset()
    emulator_session.page_size = emulator_page_size
    return emulator_session


@pytest.fixture
def sd(emulator: Emulator) -> Any:
    """A plain boto3 Cloud Map client: the test's own view of AWS, and the console."""
    return client("servicediscovery", emulator.endpoint_url, REGION)


# our own log lines -----------------------------------------------------------------------------


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[dict[str, Any]] = []

    def emit(self, record: logging.LogRecord) -> None:
        if isinstance(record.msg, dict):  # structlog's event dict; kopf's and botocore's are text
            self.lines.append(dict(record.msg))


@pytest.fixture
def log_lines() -> Iterator[list[dict[str, Any]]]:
    """The operator's log lines from here on, as event dicts.

    structlog's capture_logs misses a logger cached (cache_logger_on_first_use) before the
    latest logs.configure() in this process, and every in-process CLI run configures again:
    which test ran before on the same xdist worker decided what it saw. Every line ends at the
    standard library's root logger once configured, so capture there."""
    logs.configure("json", "INFO")
    handler = _Lines()
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield handler.lines
    finally:
        root.removeHandler(handler)
