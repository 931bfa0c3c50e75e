"""kopf's live indexes as the handlers read them."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

import kopf

from sd_operator.hybrid.export import SliceView
from sd_operator.model.grants import Grant
from sd_operator.model.spec import (
    NamespaceSpec,
    Resource,
    referenced_identity,
)

Slices = kopf.Index[tuple[str, str], SliceView]
Namespaces = Mapping[tuple[str, str], Collection[NamespaceSpec]]


@dataclass(frozen=True)
class Claimant:
    """A resource in the claim indexes, with its precedence (creationTimestamp, ns/name)."""

    order: tuple[str, str]
    resource: Resource


ClaimIndex = kopf.Index[tuple[str, ...], Claimant]
Grants = Mapping[str, Collection[Grant]]
# Each Kubernetes namespace's labels, by its name: what a grant's selector reads.
NamespaceLabels = Mapping[str, Collection[Mapping[str, str]]]


@dataclass
class LiveIndexes:
    """kopf's live indexes, as the change handlers last received them: the sweep runs outside
    kopf's handlers and uses them for exports and claims."""

    slices: Slices | None = None
    claimants: Sequence[ClaimIndex | None] = ()
    grants: Grants | None = None
    namespace_labels: NamespaceLabels | None = None


def referenced(res: Resource, namespaces: Namespaces | None) -> NamespaceSpec | None:
    """The CloudMapNamespace a ServiceDiscovery names in spec.namespaceRef, if it exists."""
    ref = referenced_identity(res.identity, res.spec)
    return None if ref is None else namespace_in(namespaces, ref.namespace, ref.name)


def namespace_in(namespaces: Namespaces | None, namespace: str, name: str) -> NamespaceSpec | None:
    """The CloudMapNamespace `namespace/name` in kopf's index, if it exists."""
    found = namespaces.get((namespace, name)) if namespaces else None
    return next(iter(found), None) if found else None
