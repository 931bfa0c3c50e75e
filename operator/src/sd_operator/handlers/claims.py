"""Who claims the AWS resources a resource declares: the conflict index over kopf's claim
indexes, earliest claimant first."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sd_operator.handlers.indexes import Claimant, ClaimIndex, Namespaces, referenced
from sd_operator.handlers.parsed import ParsedResources
from sd_operator.model.spec import Resource
from sd_operator.reconcile import conflicts


def order(body: Mapping[str, Any]) -> tuple[str, str]:
    """A resource's precedence among claimants: creationTimestamp, then namespace/name."""
    meta = body.get("metadata") or {}
    # RFC 3339 UTC timestamps of one format sort as strings.
    created = str(meta.get("creationTimestamp") or "")
    return created, f"{meta.get('namespace')}/{meta.get('name')}"


def claims_index(
    body: Mapping[str, Any], parsed: ParsedResources
) -> dict[tuple[str, ...], Claimant] | None:
    """A claim index handler's entries for `body`: one per coarse key of what it declares."""
    res = parsed.get(body)
    if res is None:
        return None
    claimant = Claimant(order(body), res)
    return {key: claimant for key in conflicts.coarse_keys(res)}


class Conflicts:
    """Finds the earlier claimant of what a resource declares. `region`: where a resource
    without one of its own lives."""

    def __init__(self, region: str) -> None:
        self._region = region

    def clash(
        self,
        res: Resource,
        order: tuple[str, str],
        namespaces: Namespaces | None,
        indexes: Sequence[ClaimIndex | None],
        granted: Callable[[Resource], bool] = lambda _: True,
        account: Callable[[Resource], str] = lambda _: "",
    ) -> conflicts.Clash | None:
        """The first claim of `res` that an earlier resource (creationTimestamp, then
        namespace/name) holds, from the claim indexes; None when it owns all it declares.
        Only `granted` resources hold a claim: one outside its grants must not keep another
        team's resource from the AWS resource it names. `account`: the 12-digit AWS account
        each acts in (its grant's role's, or the operator's own), where its names live."""
        candidates = {res.identity.uid: Claimant(order, res)}
        for key in conflicts.coarse_keys(res):
            for index in indexes:
                held = index.get(key) if index is not None else None
                for other in held or ():
                    if granted(other.resource):
                        candidates.setdefault(other.resource.identity.uid, other)
        if len(candidates) == 1:
            return None
        ordered = sorted(candidates.values(), key=lambda c: c.order)
        found = conflicts.clashes(
            (
                conflicts.label(c.resource),
                conflicts.claims(
                    c.resource,
                    referenced(c.resource, namespaces),
                    self._region,
                    account(c.resource),
                ),
            )
            for c in ordered
        )
        mine = conflicts.label(res)
        return next((c for c in found if c.later == mine), None)
