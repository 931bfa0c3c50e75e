"""The plan as a document (docs/plan.schema.json), as text, or as a pull-request comment."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, TextIO

from sd_operator.cli.plan import PlanReport
from sd_operator.reconcile.render import plan_document, render_markdown, render_text


def document(
    reports: Sequence[PlanReport], *, cluster_name: str, operation: str = "apply"
) -> dict[str, Any]:
    return plan_document(
        [r.view() for r in reports], cluster_name=cluster_name, operation=operation
    )


def render_plan(
    reports: Sequence[PlanReport],
    out: TextIO,
    output: str = "text",
    *,
    cluster_name: str = "",
    operation: str = "apply",
) -> None:
    doc = document(reports, cluster_name=cluster_name, operation=operation)
    if output == "json":
        json.dump(doc, out, indent=2)
        print(file=out)
    elif output == "markdown":
        render_markdown(doc, out)
    else:
        render_text(doc, out)
