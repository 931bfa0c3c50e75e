"""`--grants FILE`: the manifests checked against DiscoveryGrants as the operator checks them
(docs/tenancy.md). Without it the CLI checks no grant: it acts with its user's own AWS
credentials, which are what limit it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sd_operator.cli.plan import PlanReport
from sd_operator.cli.resources import namespace_lookup, referenced_namespace
from sd_operator.model import reasons
from sd_operator.model.actions import Plan, Refusal
from sd_operator.model.grants import NotGranted, check, deletion_default
from sd_operator.model.parse import load_grants
from sd_operator.model.spec import Resource


@dataclass(frozen=True)
class Checked:
    """The resources the grants allow (with their default deletionPolicy), and a refused plan
    for each of the others, in the order given."""

    allowed: list[Resource]
    refused: list[PlanReport]


def check_grants(paths: Sequence[str], resources: Sequence[Resource], region: str) -> Checked:
    """SpecError when a grants file cannot be read or holds an invalid grant."""
    grants, labels = load_grants(paths)
    namespaces = namespace_lookup(resources)
    checked = Checked([], [])
    for res in resources:
        ns_labels = labels.get(res.identity.namespace, {})
        verdict = check(res, referenced_namespace(res, namespaces), grants, ns_labels, region)
        if isinstance(verdict, NotGranted):
            checked.refused.append(PlanReport(res, plan=Plan(refusal=_refusal(verdict))))
        else:
            checked.allowed.append(verdict)
    return checked


def deletion_defaults(paths: Sequence[str], resources: Sequence[Resource]) -> list[Resource]:
    """A delete is never refused by grants (what a resource made is its to remove), only given
    their default deletionPolicy, as in the operator."""
    grants, labels = load_grants(paths)
    return [deletion_default(r, grants, labels.get(r.identity.namespace, {})) for r in resources]


def _refusal(verdict: NotGranted) -> Refusal:
    # A Refusal's field is relative to spec (render.field_path); metadata.namespace is not.
    return Refusal(reasons.NOT_GRANTED, verdict.field.removeprefix("spec."), verdict.message)
