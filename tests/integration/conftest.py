"""The AWS emulator for integration tests: one per session, reset before every test."""

from __future__ import annotations

import os

import pytest

from builders import CLUSTER, REGION
from fake_time import FakeTime
from sd_devkit.emulator import Emulator
from sd_devkit.emulator.clients import DUMMY_ACCESS_KEY, DUMMY_SECRET_KEY
from sd_operator.aws.adapters import Adapters
from sd_operator.aws.budget import BUDGETS
from sd_operator.reconcile.reconciler import Reconciler

# The operator's own clients take credentials from the environment, as in production.
os.environ.setdefault("AWS_ACCESS_KEY_ID", DUMMY_ACCESS_KEY)
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", DUMMY_SECRET_KEY)
os.environ.pop("AWS_PROFILE", None)
# AWS's rates would make the suite wait on its own budget; tests that are about the budget
# configure their own. The in-process CLI tests pass the same scale with --aws-rate-scale.
RATE_SCALE = 100.0
# The page size of the emulator's lists in tests marked `paged` (tests about paging).
PAGED = 2


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/integration" in str(item.fspath):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(autouse=True)
def budgets() -> None:
    """Fresh budgets for every test: the process's budgets are shared state, and a test that
    throttled an API (its rate cut for everyone) or ran the CLI's main() (which configures the
    budgets from its own flags) slowed every test after it on that worker."""
    BUDGETS.configure({}, scale=RATE_SCALE)


@pytest.fixture
def emulator_page_size(request: pytest.FixtureRequest) -> int:
    """Lists answer with AWS's page sizes; a test marked `paged` gets two items per page, so a
    few resources take several pages."""
    return PAGED if request.node.get_closest_marker("paged") else 0


@pytest.fixture
def reconciler(emulator: Emulator) -> Reconciler:
    """The operator's reconciler (cluster builders.CLUSTER) against this test's emulator."""
    return Reconciler(Adapters(REGION, emulator.endpoint_url), CLUSTER)


@pytest.fixture
def fake_time() -> FakeTime:
    """Waits of the step loop (converge) that cost no real time."""
    return FakeTime()
