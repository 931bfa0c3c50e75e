"""Hypothesis profiles. `ci` (CI=true, as CI runs `.ci/run`) draws the property tests in full;
`dev`, the default elsewhere, draws a quick sample so a local `make unit` stays fast.
HYPOTHESIS_PROFILE=ci|dev picks one explicitly."""

from __future__ import annotations

import os

from hypothesis import settings

# Drawing a whole ECS spec and its starting point is slow on a loaded machine: no deadline.
settings.register_profile("ci", max_examples=400, deadline=None)
settings.register_profile("dev", max_examples=40, deadline=None)
settings.load_profile(
    os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") == "true" else "dev")
)
