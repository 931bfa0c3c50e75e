"""`--grants FILE` (or, for `plan --from-cluster`, the cluster's own grants): the resources
checked against DiscoveryGrants as the operator checks them (docs/tenancy.md). Without either
the CLI checks no grant: it acts with its user's own AWS credentials, which are what limit it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from sd_operator.cli.plan import PlanReport
from sd_operator.cli.resources import namespace_lookup, referenced_namespace
from sd_operator.model import reasons
from sd_operator.model.actions import Plan, Refusal
from sd_operator.model.grants import (
    Grant,
    NotGranted,
    Role,
    acting_role,
    check,
    deletion_default,
)
from sd_operator.model.spec import Resource


@dataclass(frozen=True)
class Checked:
    """The resources the grants allow (with their default deletionPolicy), and a refused plan
    for each of the others, in the order given."""

    allowed: list[Resource]
    refused: list[PlanReport]
    roles: set[Role | None] = field(default_factory=set)
    """The roles the grants give the allowed resources (None: your own credentials)."""


# The grants, and the labels of the Kubernetes namespaces they may select, by name.
Grants = tuple[Sequence[Grant], Mapping[str, Mapping[str, str]]]


def check_grants(given: Grants, resources: Sequence[Resource], region: str) -> Checked:
    grants, labels = given
    namespaces = namespace_lookup(resources)
    checked = Checked([], [])
    for res in resources:
        ns_labels = labels.get(res.identity.namespace, {})
        verdict = check(res, referenced_namespace(res, namespaces), grants, ns_labels, region)
        acting = acting_role(grants, res.identity.namespace, ns_labels)
        if isinstance(verdict, NotGranted):
            checked.refused.append(PlanReport(res, plan=Plan(refusal=_refusal(verdict))))
        elif not isinstance(acting, NotGranted):
            checked.allowed.append(verdict)
            checked.roles.add(acting.role)
    return checked


def deletion_defaults(given: Grants, resources: Sequence[Resource]) -> Checked:
    """A delete is never refused by grants (what a resource made is its to remove), only given
    their default deletionPolicy, as in the operator; but grants naming different roles leave
    the account it lives in unknown, and refuse it."""
    grants, labels = given
    checked = Checked([], [])
    for res in resources:
        ns_labels = labels.get(res.identity.namespace, {})
        acting = acting_role(grants, res.identity.namespace, ns_labels)
        if isinstance(acting, NotGranted):
            checked.refused.append(PlanReport(res, plan=Plan(refusal=_refusal(acting))))
        else:
            checked.allowed.append(deletion_default(res, grants, ns_labels))
            checked.roles.add(acting.role)
    return checked


def _refusal(verdict: NotGranted) -> Refusal:
    # A Refusal's field is relative to spec (render.field_path); metadata.namespace is not.
    return Refusal(reasons.NOT_GRANTED, verdict.field.removeprefix("spec."), verdict.message)
