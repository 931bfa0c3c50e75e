"""The settings of a command line, read once, and the process configured by them."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping, Sequence

from sd_operator import logs
from sd_operator.aws.budget import BUDGETS
from sd_operator.cli.resources import regions_of
from sd_operator.model.spec import Resource
from sd_operator.settings import Settings, SettingsError, settings_from

# Resources naming their own regions need no --region: the Reconciler's default serves nothing.
_REGION_HINT = (
    ", or give every CloudMapNamespace (and every ServiceDiscovery with "
    "spec.cloudMapNamespace) spec.region"
)


def configured(
    args: argparse.Namespace,
    environ: Mapping[str, str],
    resources: Sequence[Resource] | None = None,
) -> Settings | None:
    """The settings, with logging and the AWS budget configured by them; None, said on
    stderr, if a flag or variable is unusable. Given the `resources` a command acts on, a
    region they all name serves when no flag or variable names one."""
    try:
        if resources is None:
            settings = settings_from(args, environ)
        else:
            settings = settings_from(
                args, environ, fallback_region=regions_of(resources), no_region_hint=_REGION_HINT
            )
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return None
    logs.configure(settings.logging.format, settings.logging.level)
    BUDGETS.configure(settings.aws.rates, settings.aws.rate_scale)
    return settings
