"""`plan`: what apply (or delete) would do, read once per resource, and its exit code."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from sd_operator.aws.errors import AwsError
from sd_operator.cli.codes import EXIT_CHANGES, EXIT_ERROR, EXIT_OK
from sd_operator.cli.resources import namespace_lookup, referenced_namespace
from sd_operator.model import reasons
from sd_operator.model.actions import Blocked, Plan
from sd_operator.model.spec import PAUSED_MESSAGE, NamespaceSpec, Resource
from sd_operator.model.status import (
    DiscoveryStatus,
    ServiceConnectResource,
    given,
    status_from_wire,
)
from sd_operator.reconcile.reader import view_as_read
from sd_operator.reconcile.reconciler import Planned, Reconciler, error_result
from sd_operator.reconcile.render import resource_view

# How long `plan` keeps trying a resource whose reads fail transiently (throttling, 5xx) after
# botocore's own attempts; `apply` uses its --timeout.
PLAN_RETRY_SECONDS = 60.0


@dataclass
class PlanReport:
    resource: Resource
    plan: Plan | None = None
    error: str | None = None
    # What the ECS service's PRIMARY deployment reports (status.serviceConnectResources).
    service_connect_resources: tuple[ServiceConnectResource, ...] = ()
    account: str | None = None

    def view(self) -> dict[str, Any]:
        """This resource in the plan document (docs/plan.schema.json, `resources[]`)."""
        return resource_view(
            self.resource.identity,
            self.resource.source,
            self.plan,
            self.error,
            self.service_connect_resources,
            self.account,
        )


def plan_resources(
    reconciler: Reconciler,
    resources: Sequence[Resource],
    *,
    retry_seconds: float = PLAN_RETRY_SECONDS,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> list[PlanReport]:
    """What `apply` would do. One moment's view of every resource: reads go through the
    reconciler's account view, so a plan over many resources lists each namespace and
    describes each ECS cluster once. A read that fails transiently is tried again for up to
    `retry_seconds` in all (by `clock`, waiting with `sleep`): under throttling, a read that
    ran out of botocore's attempts made apply refuse the whole manifest."""

    def plan(res: Resource, namespace: NamespaceSpec | None) -> Planned:
        # As the sweep plans: the account view first, read again fresh unless in sync.
        return reconciler.plan(
            res, namespace=namespace, from_view=True, known=_remembered(res.status)
        )

    return _plan_each(reconciler, resources, resources, plan, retry_seconds, sleep, clock)


def _remembered(status: Mapping[str, Any] | None) -> DiscoveryStatus | None:
    """Of a resource's status in the cluster, what the operator would plan differently by: the
    ECS deployment ECS undid (and the refresh since). Ids are looked up as for a manifest."""
    if status is None:
        return None
    recorded = status_from_wire(status, DiscoveryStatus)
    return DiscoveryStatus(ecs_deployment=recorded.ecs_deployment, refresh=recorded.refresh)


def plan_deletion(reconciler: Reconciler, resources: Sequence[Resource]) -> list[PlanReport]:
    """What `delete` would do, read as `plan_resources` reads, in the order `delete` goes:
    reversed (ECS links and services before their namespace)."""

    def plan(res: Resource, namespace: NamespaceSpec | None) -> Planned:
        return reconciler.plan_delete(res, namespace=namespace, from_view=True)

    ordered = list(reversed(resources))
    return _plan_each(
        reconciler, resources, ordered, plan, PLAN_RETRY_SECONDS, time.sleep, time.monotonic
    )


def _plan_each(
    reconciler: Reconciler,
    resources: Sequence[Resource],
    ordered: Sequence[Resource],
    plan: Callable[[Resource, NamespaceSpec | None], Planned],
    retry_seconds: float,
    sleep: Callable[[float], None],
    clock: Callable[[], float],
) -> list[PlanReport]:
    namespaces = namespace_lookup(resources)
    for res in resources:
        reconciler.announce(res, referenced_namespace(res, namespaces))
    deadline = clock() + retry_seconds
    reports = []
    # One moment's view, as a sweep's: under throttling the plan outlasts the view's ttl, and
    # each resource after that read the whole account again (bench/RESULTS.md, N = 1,000).
    with view_as_read():
        for res in ordered:
            namespace = referenced_namespace(res, namespaces)
            report = _plan_one(res, namespace, plan, deadline, sleep, clock)
            reports.append(replace(report, account=reconciler.account(res, namespace)))
    return reports


def _plan_one(
    res: Resource,
    namespace: NamespaceSpec | None,
    plan: Callable[[Resource, NamespaceSpec | None], Planned],
    deadline: float,
    sleep: Callable[[float], None],
    clock: Callable[[], float],
) -> PlanReport:
    if res.paused:
        # As the operator: not even a read; `apply` and `delete` refuse it (cli/manifests.py).
        return PlanReport(res, plan=Plan(blocked=Blocked(reasons.PAUSED, PAUSED_MESSAGE)))
    while True:
        try:
            planned = plan(res, namespace)
            return PlanReport(
                res,
                plan=planned.plan,
                service_connect_resources=given(planned.ids.service_connect_resources) or (),
            )
        except AwsError as exc:
            # No status here: every ARN in the error text is masked.
            failed = error_result(exc, {})
            if failed.retry_after is None or clock() + failed.retry_after >= deadline:
                return PlanReport(res, error=failed.message)
            sleep(failed.retry_after)


def _cannot_proceed(report: PlanReport) -> bool:
    """Errors, refusals, and blocks with nothing to do before them; a block behind actions is
    sequencing (an ECS registry waits for the Cloud Map service the same apply creates)."""
    plan = report.plan
    if report.error or plan is None:
        return True
    return plan.refusal is not None or (plan.blocked is not None and not plan.actions)


def plan_exit_code(reports: Sequence[PlanReport]) -> int:
    if any(_cannot_proceed(r) for r in reports):
        return EXIT_ERROR
    return EXIT_OK if all(r.plan and r.plan.in_sync for r in reports) else EXIT_CHANGES
