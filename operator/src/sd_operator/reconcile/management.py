"""spec.managementPolicy: Observe, enforced in one place: the plan of an observe-only resource.

Every step, the operator's and the CLI's, executes a plan (reconcile/execute.py is the only
writer), and an observe-only resource's plan is built here without a single action: what the
spec would change in AWS becomes the reason it is not Ready, nothing more. Its deletion plans
nothing at all (plan.plan_teardown).
"""

from __future__ import annotations

from sd_operator.model import reasons
from sd_operator.model.actions import Blocked, Change, CreateNamespace, CreateService, Plan
from sd_operator.reconcile.render import describe_changes

# A note of the plan that the resource would be adopted, not a difference in AWS.
_ADOPTION_NOTE = "adoptionPolicy"
# The sweep looks again every interval; a change handler backs off from here.
OBSERVE_RETRY_SECONDS = 60.0


def observe_plan(plan: Plan) -> Plan:
    """`plan` (made as if adopting, so that who made what AWS holds does not matter) as an
    observe-only resource sees it: no action; a refusal stands; what differs blocks it
    (ObservedDifferent, or ObservedMissing when something would be created); otherwise its
    block, if any, or in sync."""
    differences = tuple(c for c in plan.changes if c.field != _ADOPTION_NOTE)
    if plan.refusal is not None:
        return Plan(changes=differences, refusal=plan.refusal, advisories=plan.advisories)
    if not differences:
        return Plan(blocked=plan.blocked, advisories=plan.advisories)
    missing = any(isinstance(a, CreateNamespace | CreateService) for a in plan.actions)
    return Plan(
        changes=differences,
        blocked=_observed(differences, missing=missing),
        advisories=plan.advisories,
    )


def _observed(differences: tuple[Change, ...], *, missing: bool) -> Blocked:
    if missing:
        return Blocked(
            reasons.OBSERVED_MISSING,
            "not in AWS, and managementPolicy: Observe creates nothing: "
            f"{describe_changes(differences)}",
            OBSERVE_RETRY_SECONDS,
        )
    return Blocked(
        reasons.OBSERVED_DIFFERENT,
        "AWS differs from the spec, and managementPolicy: Observe changes nothing: "
        f"{describe_changes(differences)}; set managementPolicy: Manage to carry the spec out",
        OBSERVE_RETRY_SECONDS,
    )
