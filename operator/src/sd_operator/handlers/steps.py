"""One step of a resource and its status into kopf's patch, for the change handlers and the
sweep alike: one path per intent (apply the spec, delete what the resource made)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import kopf

from sd_operator import metrics
from sd_operator.handlers.claims import Conflicts, order
from sd_operator.handlers.export_driver import ExportDriver
from sd_operator.handlers.indexes import ClaimIndex, Namespaces, Slices, referenced
from sd_operator.handlers.locks import Locks
from sd_operator.handlers.recorder import Post, kopf_post
from sd_operator.handlers.status_writer import Derive, StatusWriter
from sd_operator.handlers.tenancy import Tenancy
from sd_operator.model import reasons
from sd_operator.model.actions import CONFLICT_RETRY_SECONDS
from sd_operator.model.grants import Role
from sd_operator.model.parse import SpecError
from sd_operator.model.spec import PAUSED_MESSAGE, Resource, is_paused
from sd_operator.reconcile import conflicts
from sd_operator.reconcile import status as status_rules
from sd_operator.reconcile.reconciler import Reconciler
from sd_operator.reconcile.result import Outcome, StepResult

_EXPORT_AFTER = (Outcome.IN_SYNC, Outcome.DRIFT_REPORTED)
# How often a paused deletion looks whether the annotation is gone (an API server read, no
# AWS call); the annotation's own handler resumes everything else at once.
PAUSE_RETRY_SECONDS = 10.0


class Steps:
    """Steps a resource under its lock, unless an earlier claimant holds what it declares,
    and writes the status."""

    def __init__(
        self,
        accounts: Callable[[Role | None], Reconciler],
        locks: Locks,
        conflicts: Conflicts,
        exports: ExportDriver,
        status: StatusWriter,
        tenancy: Tenancy,
    ) -> None:
        self._accounts = accounts
        self._tenancy = tenancy
        self._locks = locks
        self._conflicts = conflicts
        self._exports = exports
        self._status = status

    def step_and_write(
        self,
        body: kopf.Body,
        patch: kopf.Patch,
        res: Resource,
        namespaces: Namespaces | None,
        *,
        from_view: bool,
        slices: Slices | None = None,
        claimants: Sequence[ClaimIndex | None] = (),
        post: Post = kopf_post,
        wait: bool = True,
    ) -> StepResult | None:
        """One step applying `res`'s spec, and its status into `patch`. `from_view`: read the
        account view first (the sweep, a resume). `wait=False` (the sweep): None at once if a
        change handler is stepping the resource, or has not yet handed over the grants."""
        namespace = referenced(res, namespaces)
        if not wait and not self._tenancy.known:
            return None

        def apply(status: Mapping[str, Any], clash: conflicts.Clash | None) -> StepResult:
            # Before any AWS call: a resource outside its grants must not make the operator
            # read, let alone change, what it names.
            admitted = self._tenancy.admit(res, namespace)
            if isinstance(admitted, StepResult):
                return admitted
            if clash is not None:
                return _held_by(clash)
            role = self._tenancy.role(admitted)
            if isinstance(role, StepResult):
                return role
            result = self._accounts(role).step(
                admitted, status, namespace=namespace, from_view=from_view
            )
            if result.outcome not in _EXPORT_AFTER:
                return result
            exported = self._exports.export(
                admitted, status, result, namespace, slices, refresh=from_view
            )
            return exported or result

        step = _Step(apply, status_rules.derive, post, wait)
        return self._step_and_write(body, patch, res, namespaces, claimants, step)

    def delete_and_write(
        self,
        body: kopf.Body,
        patch: kopf.Patch,
        res: Resource,
        namespaces: Namespaces | None,
        *,
        slices: Slices | None = None,
        claimants: Sequence[ClaimIndex | None] = (),
        post: Post = kopf_post,
    ) -> StepResult:
        """One step of the deletion of what `res` made, and its status into `patch`."""
        namespace = referenced(res, namespaces)

        def delete(status: Mapping[str, Any], clash: conflicts.Clash | None) -> StepResult:
            if clash is not None:
                # A later claimant changes nothing in AWS, not even when it is deleted: what
                # is there belongs to the earlier one.
                return StepResult(
                    Outcome.GONE, reason=reasons.REASON_CONFLICT, message=clash.message
                )
            # No grant check: what the resource made is its to remove, whatever the grants say
            # now; only their default deletionPolicy applies (docs/tenancy.md).
            owned = self._tenancy.for_deletion(res)
            role = self._tenancy.role(owned)
            if isinstance(role, StepResult):
                return role
            # Our instances go first: DeleteService is ResourceInUse while any remain.
            withdrawn = self._exports.withdraw(owned, status, namespace)
            return withdrawn or self._accounts(role).delete_step(owned, status, namespace=namespace)

        step = _Step(delete, status_rules.derive_teardown, post)
        result = self._step_and_write(body, patch, res, namespaces, claimants, step)
        assert result is not None  # waited for the lock
        return result

    def write_invalid(self, body: kopf.Body, patch: kopf.Patch, exc: SpecError) -> None:
        """A spec that does not parse: Terminal, nothing stepped."""
        invalid = StepResult(Outcome.REFUSED, reason=reasons.INVALID_SPEC, message=str(exc))
        self._status.write(body, patch, dict(body.get("status") or {}), invalid, res=None)

    def _step_and_write(
        self,
        body: kopf.Body,
        patch: kopf.Patch,
        res: Resource,
        namespaces: Namespaces | None,
        claimants: Sequence[ClaimIndex | None],
        step: _Step,
    ) -> StepResult | None:
        status: Mapping[str, Any] = dict(body.get("status") or {})
        if is_paused(body.metadata):
            # Before anything of the intent runs: it is the intent that calls AWS.
            step = replace(step, run=_paused, derive=status_rules.derive_paused)

        def granted(other: Resource) -> bool:
            return self._tenancy.allows(other, referenced(other, namespaces))

        def account(other: Resource) -> str:
            # The operator's own account by its number, as a role's is: a role in that account
            # and no role at all act on the same Cloud Map and ECS resources.
            role = self._tenancy.role(other)
            if isinstance(role, Role):
                return role.account
            if role is None:
                return self._accounts(None).account(other, referenced(other, namespaces))
            return ""

        # A Terminal resource is still swept: a refusal costs only reads, and what AWS refused
        # (IAM, a conflicting zone) may be fixed outside the spec; once per interval is no storm.
        clash = self._conflicts.clash(res, order(body), namespaces, claimants, granted, account)
        lock = self._locks.lock(res.identity.uid)
        if not lock.acquire(blocking=step.wait):
            return None
        try:
            with metrics.STEP_SECONDS.labels(res.identity.kind).time():
                result = step.run(status, clash)
        finally:
            lock.release()
        metrics.RECONCILES.labels(res.identity.kind, str(result.outcome)).inc()
        self._status.write(body, patch, status, result, res, step.post, step.derive)
        return result


@dataclass(frozen=True)
class _Step:
    """One intent's step for `_step_and_write`: `run(status, clash)` (the clash: an earlier
    claimant of what `res` declares, if any) and how its status is derived."""

    run: Callable[[Mapping[str, Any], conflicts.Clash | None], StepResult]
    derive: Derive
    post: Post = kopf_post
    wait: bool = True


def _paused(status: Mapping[str, Any], clash: conflicts.Clash | None) -> StepResult:
    return StepResult(
        Outcome.PAUSED,
        reason=reasons.PAUSED,
        message=PAUSED_MESSAGE,
        retry_after=PAUSE_RETRY_SECONDS,
    )


def _held_by(clash: conflicts.Clash) -> StepResult:
    return StepResult(
        Outcome.BLOCKED,
        reason=reasons.REASON_CONFLICT,
        message=f"{clash.message}; nothing was changed in AWS",
        retry_after=CONFLICT_RETRY_SECONDS,
    )
