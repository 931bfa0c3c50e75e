"""Who owns an AWS resource, decided from the tags sd-operator writes on everything it creates,
adopts, or configures (docs/ownership.md).

One rule for every AWS object the operator changes: ours (our marker), unclaimed and empty (we
may take it and write the marker), or someone else's (we adopt it only when asked, and never
strip what they wrote). Cloud Map namespaces and services carry the marker as their owner tags;
an ECS service, which the operator never owns, carries it for the parts of its discovery
configuration the operator set or adopted (`ecs_parts`).
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable, Mapping
from enum import StrEnum

from sd_operator.model.spec import DeletionPolicy, Identity

OWNER_TAG = "sd-operator.io/owner"
CLUSTER_TAG = "sd-operator.io/cluster"
# On an adopted Cloud Map resource: which user tags it had when adopted (`adoption_record`).
ADOPTED_TAG = "sd-operator.io/adopted"
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


# Adoption --------------------------------------------------------------------------------------


def _key_token(key: str) -> str:
    """4 characters (24 bits) of the key's SHA-256: a tag value holds 256 characters, a
    resource at most 50 tags, and the record must name them all. Every character may appear
    in a tag key, so keys cannot be listed as they are; a collision only keeps a tag."""
    return base64.urlsafe_b64encode(hashlib.sha256(key.encode()).digest())[:4].decode()


def adoption_record(tags: Mapping[str, str]) -> dict[str, str]:
    """The tag that marks a resource as adopted, recording which user tags it had then: the
    operator never removes those, and removes the others it wrote when it gives it back."""
    tokens = sorted({_key_token(k) for k in tags if is_user_tag(k)})
    return {ADOPTED_TAG: " ".join(tokens)}


def is_adopted(tags: Mapping[str, str]) -> bool:
    return ADOPTED_TAG in tags


def found_at_adoption(key: str, tags: Mapping[str, str]) -> bool:
    """`key` was on the resource when it was adopted (False on a resource we created)."""
    record = tags.get(ADOPTED_TAG)
    return record is not None and _key_token(key) in record.split()


def gives_back(policy: DeletionPolicy | None, tags: Mapping[str, str]) -> bool:
    """Deleting the resource gives an adopted AWS resource back instead of removing it, unless
    the spec says `deletionPolicy: Delete` (left unset, it does not)."""
    return is_adopted(tags) and policy is not DeletionPolicy.DELETE


def given_back_keys(tags: Mapping[str, str]) -> tuple[str, ...]:
    """What giving an adopted resource back removes: our marker and the user tags we added."""
    return tuple(
        sorted(
            k
            for k in tags
            if k in (OWNER_TAG, CLUSTER_TAG, ADOPTED_TAG)
            or (is_user_tag(k) and not found_at_adoption(k, tags))
        )
    )


# ECS services ----------------------------------------------------------------------------------


class EcsPart(StrEnum):
    """The two parts of an ECS service's discovery configuration, as spec.ecs names them."""

    REGISTRY = "registry"
    SERVICE_CONNECT = "serviceConnect"


ECS_PART_TAGS: Mapping[EcsPart, str] = {
    EcsPart.REGISTRY: "sd-operator.io/ecs-registry",
    EcsPart.SERVICE_CONNECT: "sd-operator.io/ecs-service-connect",
}
# The value of a part's tag: the operator set it on an empty part, or adopted what it found.
PART_SET = "set"
PART_ADOPTED = "adopted"


def ecs_parts(tags: Mapping[str, str]) -> dict[EcsPart, str]:
    """The parts an ECS service's marker says its owner holds, and how (set / adopted)."""
    return {part: tags[key] for part, key in ECS_PART_TAGS.items() if key in tags}


def ecs_marker(identity: Identity, cluster: str, parts: Mapping[EcsPart, str]) -> dict[str, str]:
    return {**owner_tags(identity, cluster), **{ECS_PART_TAGS[p]: how for p, how in parts.items()}}


def ecs_marker_keys(tags: Iterable[str]) -> tuple[str, ...]:
    ours = {OWNER_TAG, CLUSTER_TAG, *ECS_PART_TAGS.values()}
    return tuple(sorted(k for k in tags if k in ours))
