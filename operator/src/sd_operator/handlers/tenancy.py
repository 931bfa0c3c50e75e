"""The DiscoveryGrants as the operator applies them: each resource's spec checked against the
grants selecting its Kubernetes namespace before anything is read from AWS (model/grants.py,
docs/tenancy.md)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from sd_operator.handlers.indexes import LiveIndexes
from sd_operator.model import reasons
from sd_operator.model.grants import Grant, NotGranted, admit, deletion_default
from sd_operator.model.spec import NamespaceSpec, Resource, ServiceDiscoverySpec
from sd_operator.reconcile.observe import resource_region
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
        spec = res.spec
        if isinstance(spec, ServiceDiscoverySpec):
            external = spec.cloud_map_namespace
            cloud_map = namespace.name if namespace else external.name if external else None
        else:
            cloud_map = None
        region = resource_region(res, namespace) or self._default_region
        verdict = admit(
            res, self._grants(), self._labels(res), region=region, cloud_map_namespace=cloud_map
        )
        if isinstance(verdict, NotGranted):
            return StepResult(
                Outcome.BLOCKED,
                reason=reasons.NOT_GRANTED,
                message=f"{verdict.message}; nothing was read or changed in AWS",
                retry_after=NOT_GRANTED_RETRY_SECONDS,
            )
        return verdict

    def for_deletion(self, res: Resource) -> Resource:
        return deletion_default(res, self._grants(), self._labels(res))

    def _grants(self) -> Iterator[Grant]:
        for found in (self._live.grants or {}).values():
            yield from found

    def _labels(self, res: Resource) -> Mapping[str, str]:
        index = self._live.namespace_labels
        found = index.get(res.identity.namespace) if index is not None else None
        return next(iter(found), {}) if found else {}
