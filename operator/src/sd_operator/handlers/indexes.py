"""kopf's live indexes as the handlers read them."""

from __future__ import annotations

from collections.abc import Collection, Mapping

import kopf

from sd_operator.hybrid.export import SliceView
from sd_operator.model.spec import NamespaceSpec, Resource, ServiceDiscoverySpec

Slices = kopf.Index[tuple[str, str], SliceView]
Namespaces = Mapping[tuple[str, str], Collection[NamespaceSpec]]


def referenced(res: Resource, namespaces: Namespaces | None) -> NamespaceSpec | None:
    """The CloudMapNamespace a ServiceDiscovery names in spec.namespaceRef, if it exists."""
    if not isinstance(res.spec, ServiceDiscoverySpec) or not res.spec.namespace_ref:
        return None
    if namespaces is None:
        return None
    found = namespaces.get((res.identity.namespace, res.spec.namespace_ref))
    return next(iter(found), None) if found else None
