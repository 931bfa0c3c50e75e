"""Who owns an AWS resource, decided from the tags sd-operator writes on everything it creates."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from enum import StrEnum

from sd_operator.model.spec import Identity

OWNER_TAG = "sd-operator.io/owner"
CLUSTER_TAG = "sd-operator.io/cluster"
RESERVED_PREFIXES = ("sd-operator.io/", "aws:")


class Ownership(StrEnum):
    OURS = "Ours"
    UNOWNED = "Unowned"
    OTHER = "Other"


def owner_tags(identity: Identity, cluster: str) -> dict[str, str]:
    return {OWNER_TAG: identity.key, CLUSTER_TAG: cluster}


def ownership(tags: Mapping[str, str], identity: Identity, cluster: str) -> Ownership:
    if OWNER_TAG not in tags:
        return Ownership.UNOWNED
    if tags.get(OWNER_TAG) == identity.key and tags.get(CLUSTER_TAG) == cluster:
        return Ownership.OURS
    return Ownership.OTHER


def owner_of(tags: Mapping[str, str]) -> str:
    return f"{tags.get(OWNER_TAG, '?')} in cluster {tags.get(CLUSTER_TAG, '?')}"


def creator_request_id(identity: Identity, cluster: str, nonce: str) -> str:
    """The CreatorRequestId of one create attempt.

    AWS answers a reused CreatorRequestId with the original operation, even after what it
    created was deleted, so an id derived from the resource alone would never create again.
    The reconciler draws a nonce per attempt and records the id in status before sending it:
    retries of that attempt (after a crash) reuse it and cannot create a twin.
    """
    digest = hashlib.sha256(f"{cluster}/{identity.key}/{identity.uid}/{nonce}".encode())
    return f"sdop-{digest.hexdigest()[:40]}"


def is_user_tag(key: str) -> bool:
    return not key.startswith(RESERVED_PREFIXES)
