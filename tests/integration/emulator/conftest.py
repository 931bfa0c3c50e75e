"""boto3 clients over loopback HTTP for the emulator tests (the emulator: ../conftest.py)."""

from __future__ import annotations

from typing import Any

import pytest
from emulator_helpers import NO_RETRIES, REGION

from sd_devkit.emulator import Emulator, client


@pytest.fixture
def sd(emulator: Emulator) -> Any:
    return client("servicediscovery", emulator.endpoint_url, REGION, config=NO_RETRIES)


@pytest.fixture
def ecs(emulator: Emulator) -> Any:
    return client("ecs", emulator.endpoint_url, REGION, config=NO_RETRIES)
