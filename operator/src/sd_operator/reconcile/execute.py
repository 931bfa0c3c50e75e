"""Execute: carry a plan's actions out, in order, one method per Action type. The only part of
reconcile/ that writes to AWS (the import-linter contracts in pyproject.toml keep observe, the
plan and the readers from importing it).

A run stops at the first asynchronous Cloud Map operation: its id goes into
status.operation, which the caller persists before anything waits on it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from sd_operator.aws.api import AwsAdapters, CloudMapApi, EcsApi
from sd_operator.aws.errors import Conflict, NotFound, Retryable
from sd_operator.model import arns
from sd_operator.model.actions import (
    Action,
    CreateNamespace,
    CreateService,
    DeleteNamespace,
    DeleteService,
    DeleteServiceAttributes,
    Plan,
    TagResource,
    UntagResource,
    UpdateEcsService,
    UpdateNamespace,
    UpdateService,
    UpdateServiceAttributes,
)
from sd_operator.model.observed import ObservedService
from sd_operator.model.reasons import (
    REASON_NAMESPACE_NOT_READY,
)
from sd_operator.model.status import EcsDeployment, Operation, StatusPatch, given
from sd_operator.reconcile.deployments import IN_PROGRESS
from sd_operator.reconcile.render import performed_line

# The Cloud Map operation each asynchronous action submits, as GetOperation names its type.
OPERATION_TYPES: Mapping[type[Action], str] = {
    CreateNamespace: "CREATE_NAMESPACE",
    UpdateNamespace: "UPDATE_NAMESPACE",
    DeleteNamespace: "DELETE_NAMESPACE",
    UpdateService: "UPDATE_SERVICE",
}


@dataclass(frozen=True)
class Executed:
    """`performed`: a line per action carried out, in order; `submitted`: the id of the Cloud
    Map operation the run stopped at, if any."""

    performed: tuple[str, ...]
    submitted: str | None


@dataclass
class _Run:
    """What the methods of one execution share: the region's adapters, the create request's
    id, the status changes the writes make (`updates`) and what a write's own answer showed,
    by id (`answered`), for the step's next round to read instead of reading it back."""

    cloudmap: CloudMapApi
    ecs: EcsApi
    request_id: str
    updates: StatusPatch
    answered: dict[str, ObservedService]


class _ReadFirst(Exception):
    """Nothing was done: the step must read again before anything else is sent."""


A = TypeVar("A", bound=Action)
_Method = Callable[["Executor", A, _Run], "str | None"]
# Action type -> the Executor method that carries it out (filled by @_executes below).
EXECUTORS: dict[type[Action], _Method[Any]] = {}


def _executes(kind: type[A]) -> Callable[[_Method[A]], _Method[A]]:
    """Register an Executor method as the one for `kind`; mypy checks it takes that type."""

    def register(method: _Method[A]) -> _Method[A]:
        EXECUTORS[kind] = method
        return method

    return register


class Executor:
    def __init__(self, adapters: AwsAdapters, clock: Callable[[], str]) -> None:
        self._adapters = adapters
        self._clock = clock

    def execute(
        self,
        plan: Plan,
        region: str,
        request_id: str,
        updates: StatusPatch,
        answered: dict[str, ObservedService],
    ) -> Executed:
        """Carry out synchronous actions in order; stop at the first asynchronous one (its
        operation goes into `updates.operation`), or where the step must read again first.
        `updates` and `answered` are filled in as the writes answer."""
        run = _Run(
            self._adapters.cloudmap(region),
            self._adapters.ecs(region),
            request_id,
            updates,
            answered,
        )
        performed: list[str] = []
        for action in plan.actions:
            method = EXECUTORS.get(type(action))
            if method is None:
                raise TypeError(f"no executor for {type(action).__name__}")
            try:
                operation_id = method(self, action, run)
            except _ReadFirst:
                break
            performed.append(performed_line(action, plan.changes))
            if operation_id is not None:
                updates.operation = Operation(
                    operation_id, OPERATION_TYPES[type(action)], self._clock()
                )
                return Executed(tuple(performed), operation_id)
        return Executed(tuple(performed), None)

    @_executes(CreateNamespace)
    def create_namespace(self, action: CreateNamespace, run: _Run) -> str | None:
        return run.cloudmap.create_namespace(action, run.request_id)

    @_executes(UpdateNamespace)
    def update_namespace(self, action: UpdateNamespace, run: _Run) -> str | None:
        return run.cloudmap.update_namespace(action)

    @_executes(DeleteNamespace)
    def delete_namespace(self, action: DeleteNamespace, run: _Run) -> str | None:
        # NotFound: gone already; the next read by id confirms it.
        with contextlib.suppress(NotFound):
            return run.cloudmap.delete_namespace(action.id)
        return None

    @_executes(CreateService)
    def create_service(self, action: CreateService, run: _Run) -> str | None:
        namespace_id = action.namespace_id or given(run.updates.namespace_id)
        if not namespace_id:
            raise Retryable(
                "CreateService",
                REASON_NAMESPACE_NOT_READY,
                f"namespace {action.namespace_name} is not created yet",
            )
        try:
            made = run.cloudmap.create_service(action, namespace_id, run.request_id)
        except Conflict as exc:
            if exc.existing_id is None:
                raise
            # The account view did not list it yet (it is read once per interval): read that
            # one by id next round, where ownership decides (ours, adopt, or AlreadyExists).
            # Nothing was created.
            run.updates.update(StatusPatch(service_id=exc.existing_id, namespace_id=namespace_id))
            raise _ReadFirst from exc
        run.updates.update(StatusPatch(service_id=made.id, service_arn=made.arn))
        run.answered[made.id] = made
        return None

    @_executes(UpdateService)
    def update_service(self, action: UpdateService, run: _Run) -> str | None:
        return run.cloudmap.update_service(action)

    @_executes(DeleteService)
    def delete_service(self, action: DeleteService, run: _Run) -> str | None:
        with contextlib.suppress(NotFound):  # as for DeleteNamespace
            run.cloudmap.delete_service(action.id)
        return None

    @_executes(UpdateServiceAttributes)
    def update_service_attributes(self, action: UpdateServiceAttributes, run: _Run) -> str | None:
        run.cloudmap.update_service_attributes(action.id, action.attributes)
        return None

    @_executes(DeleteServiceAttributes)
    def delete_service_attributes(self, action: DeleteServiceAttributes, run: _Run) -> str | None:
        run.cloudmap.delete_service_attributes(action.id, action.keys)
        return None

    @_executes(UpdateEcsService)
    def update_ecs_service(self, action: UpdateEcsService, run: _Run) -> str | None:
        updated = run.ecs.update(action)
        run.updates.ecs_service_arn = updated.arn
        if updated.deployment_id is not None:
            run.updates.ecs_deployment = EcsDeployment(
                updated.deployment_id, action.generation, IN_PROGRESS
            )
        return None

    @_executes(TagResource)
    def tag_resource(self, action: TagResource, run: _Run) -> str | None:
        if arns.service(action.arn) == "ecs":  # its ownership marker is written there
            run.ecs.tag(action.arn, action.tags)
        else:
            run.cloudmap.tag(action.arn, action.tags)
        return None

    @_executes(UntagResource)
    def untag_resource(self, action: UntagResource, run: _Run) -> str | None:
        if arns.service(action.arn) == "ecs":
            run.ecs.untag(action.arn, action.keys)
        else:
            run.cloudmap.untag(action.arn, action.keys)
        return None
