"""A set of resources read together: their namespaces, regions and clashes."""

from __future__ import annotations

from collections.abc import Sequence

from sd_operator.model.spec import (
    NamespaceSpec,
    Resource,
    referenced_identity,
    resource_region,
)
from sd_operator.reconcile import conflicts


def _label(res: Resource) -> str:
    return f"{res.identity.kind} {res.identity.namespace}/{res.identity.name}"


def namespace_lookup(resources: Sequence[Resource]) -> dict[tuple[str, str], NamespaceSpec]:
    return {
        (r.identity.namespace, r.identity.name): r.spec
        for r in resources
        if isinstance(r.spec, NamespaceSpec)
    }


def referenced_namespace(
    res: Resource, namespaces: dict[tuple[str, str], NamespaceSpec]
) -> NamespaceSpec | None:
    ref = referenced_identity(res.identity, res.spec)
    return None if ref is None else namespaces.get((ref.namespace, ref.name))


def own_region(res: Resource, namespaces: dict[tuple[str, str], NamespaceSpec]) -> str | None:
    """The region a resource names itself: a ServiceDiscovery lives in its namespace's."""
    return resource_region(res, referenced_namespace(res, namespaces))


def regions_of(resources: Sequence[Resource]) -> str | None:
    """The first resource's region when every resource names one, else None."""
    namespaces = namespace_lookup(resources)
    regions = [own_region(r, namespaces) for r in resources]
    return regions[0] if regions and all(regions) else None


def set_clashes(resources: Sequence[Resource], default_region: str) -> list[conflicts.Clash]:
    """Two resources of one set claiming the same AWS resource, in document order: the
    operator would let the first manage it; the CLI refuses the whole set."""
    namespaces = namespace_lookup(resources)
    return conflicts.clashes(
        (
            f"{_label(r)} ({r.source})",
            conflicts.claims(r, referenced_namespace(r, namespaces), default_region),
        )
        for r in resources
    )
