"""`sd-operator`: run the operator, or plan / apply manifests against AWS without a cluster.

One module per command (plan, apply, delete, refresh, run's settings), the command line in
parser.py; `main` is the console script's entry point."""

from __future__ import annotations

from sd_operator.cli.apply import apply_resources
from sd_operator.cli.codes import EXIT_CHANGES, EXIT_ERROR, EXIT_OK
from sd_operator.cli.main import main
from sd_operator.cli.plan import PlanReport, plan_resources
from sd_operator.cli.render import document, render_plan
from sd_operator.cli.resources import namespace_lookup, referenced_namespace

__all__ = [
    "EXIT_CHANGES",
    "EXIT_ERROR",
    "EXIT_OK",
    "PlanReport",
    "apply_resources",
    "document",
    "main",
    "namespace_lookup",
    "plan_resources",
    "referenced_namespace",
    "render_plan",
]
