"""The DiscoveryGrants as the operator applies them: each resource's spec checked against the
grants selecting its Kubernetes namespace before anything is read from AWS (model/grants.py,
docs/tenancy.md)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from sd_operator.handlers.indexes import Grants, LiveIndexes, NamespaceLabels
from sd_operator.model import reasons
from sd_operator.model.grants import (
    Grant,
    NotGranted,
    Role,
    acting_role,
    check,
    deletion_default,
)
from sd_operator.model.spec import NamespaceSpec, Resource
from sd_operator.reconcile.result import Outcome, StepResult

# A refused resource is tried again at this pace, backing off (handlers/retry.py), and on every
# sweep: a new or changed grant takes effect without an edit of the resource.
NOT_GRANTED_RETRY_SECONDS = 30.0


class Tenancy:
    """Reads the grants and the namespaces' labels from kopf's live indexes, which the change
    handlers hand over before their first step (kopf fills every index before any handler)."""

    def __init__(self, live: LiveIndexes, default_region: str) -> None:
        self._live = live
        self._default_region = default_region

    @property
    def known(self) -> bool:
        """Whether the grants have been handed over yet: until then nothing is decided."""
        return self._live.grants is not None

    def admit(self, res: Resource, namespace: NamespaceSpec | None) -> Resource | StepResult:
        """`res` with its grants' defaults, or the Stalled result that refuses it."""
        verdict = check(res, namespace, self._grants(), self._labels(res), self._default_region)
        if isinstance(verdict, NotGranted):
            return _refused(verdict)
        return verdict

    def allows(self, res: Resource, namespace: NamespaceSpec | None) -> bool:
        return not isinstance(self.admit(res, namespace), StepResult)

    def role(self, res: Resource) -> Role | StepResult | None:
        """The role `res` acts through (None: the operator's own credentials), or the Stalled
        result when its grants name different ones."""
        return self.role_in(res.identity.namespace)

    def role_in(self, namespace: str) -> Role | StepResult | None:
        """The role of Kubernetes namespace `namespace`'s resources, as `role`."""
        labels = labels_of(self._live.namespace_labels, namespace)
        acting = acting_role(self._grants(), namespace, labels)
        if isinstance(acting, NotGranted):
            return _refused(acting)
        return acting.role

    def for_deletion(self, res: Resource) -> Resource:
        return deletion_default(res, self._grants(), self._labels(res))

    def _grants(self) -> Iterator[Grant]:
        return every_grant(self._live.grants)

    def _labels(self, res: Resource) -> Mapping[str, str]:
        return labels_of(self._live.namespace_labels, res.identity.namespace)


def _refused(verdict: NotGranted) -> StepResult:
    return StepResult(
        Outcome.BLOCKED,
        reason=reasons.NOT_GRANTED,
        message=f"{verdict.message}; nothing was read or changed in AWS",
        retry_after=NOT_GRANTED_RETRY_SECONDS,
    )


def every_grant(index: Grants | None) -> Iterator[Grant]:
    for found in (index or {}).values():
        yield from found


def labels_of(index: NamespaceLabels | None, namespace: str) -> Mapping[str, str]:
    found = index.get(namespace) if index is not None else None
    return next(iter(found), {}) if found else {}
