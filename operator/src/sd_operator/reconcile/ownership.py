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

from sd_operator.model import reasons
from sd_operator.model.actions import Blocked, Plan, TagResource
from sd_operator.model.spec import ClusterIdentity, DeletionPolicy, Identity

# How soon a claimed resource is read again (claim_plan).
CLAIM_RETRY_SECONDS = 1.0

OWNER_TAG = "sd-operator.io/owner"
CLUSTER_TAG = "sd-operator.io/cluster"
# The cluster's id (ClusterIdentity.id): two clusters given the same name still differ by it.
CLUSTER_ID_TAG = "sd-operator.io/cluster-id"
# On an adopted Cloud Map resource: which user tags it had when adopted (`adoption_record`).
ADOPTED_TAG = "sd-operator.io/adopted"
# On a Cloud Map service: which service attribute keys are its resource's (`attributes_record`).
ATTRIBUTES_TAG = "sd-operator.io/attributes"
RESERVED_PREFIXES = ("sd-operator.io/", "aws:")


class Ownership(StrEnum):
    OURS = "Ours"
    UNOWNED = "Unowned"
    OTHER = "Other"


def owner_tags(identity: Identity, cluster: ClusterIdentity) -> dict[str, str]:
    tags = {OWNER_TAG: identity.key, CLUSTER_TAG: cluster.name}
    if cluster.id is not None:
        tags[CLUSTER_ID_TAG] = cluster.id
    return tags


def ownership(tags: Mapping[str, str], identity: Identity, cluster: ClusterIdentity) -> Ownership:
    """Ours: our resource's key and our cluster's name, and our cluster's id or none at all (a
    resource tagged before cluster ids existed, or by the CLI given none: `id_claim` adds
    ours). Another id is another cluster of the same name."""
    if OWNER_TAG not in tags:
        return Ownership.UNOWNED
    if tags.get(OWNER_TAG) != identity.key or tags.get(CLUSTER_TAG) != cluster.name:
        return Ownership.OTHER
    if CLUSTER_ID_TAG in tags and tags[CLUSTER_ID_TAG] != cluster.id:
        return Ownership.OTHER
    return Ownership.OURS


def id_claim(
    tags: Mapping[str, str], identity: Identity, cluster: ClusterIdentity
) -> dict[str, str]:
    """The id tag a resource of ours still lacks (docs/ownership.md, "Cluster identity"): the
    plan writes it alone and reads the resource again before changing anything else, so of two
    clusters of one name claiming it, only the one whose id stays on it goes on."""
    if cluster.id is None or CLUSTER_ID_TAG in tags:
        return {}
    if ownership(tags, identity, cluster) is not Ownership.OURS:
        return {}
    # The cluster tag again, unchanged: IAM sees no aws:ResourceTag on Cloud Map's TagResource,
    # so only the request's own cluster tag lets the scoped policy tell a claim of ours
    # (docs/iam.md, statement CloudMapTagWithOurMarker).
    return {CLUSTER_TAG: cluster.name, CLUSTER_ID_TAG: cluster.id}


def claim_plan(
    what: str, arn: str, tags: Mapping[str, str], identity: Identity, cluster: ClusterIdentity
) -> Plan | None:
    """The plan of a resource of ours that lacks our id (`id_claim`): that tag alone, then a
    stop, so the next round reads the resource again before anything else is changed."""
    claim = id_claim(tags, identity, cluster)
    if not claim:
        return None
    return Plan(
        actions=(TagResource(arn, claim),),
        blocked=Blocked(
            reasons.CLAIMING_CLUSTER_ID,
            f"{what} carries this cluster's name ({cluster.name}) and no cluster id: tagging "
            f"it with this cluster's id {cluster.id}, then reading it again",
            CLAIM_RETRY_SECONDS,
        ),
    )


def owner_of(tags: Mapping[str, str], cluster: ClusterIdentity) -> str:
    """Who owns a resource that is not ours, named as its tags name it; when it is another
    cluster of our name, also which one we are (and, for the CLI given no id, how to be it)."""
    other_id = tags.get(CLUSTER_ID_TAG)
    owner = f"{tags.get(OWNER_TAG, '?')} in cluster {tags.get(CLUSTER_TAG, '?')}"
    if other_id is None or tags.get(CLUSTER_TAG) != cluster.name:
        return owner
    if cluster.id is None:
        return (
            f"{owner} (id {other_id}); no --cluster-id was given: pass --cluster-id "
            f"{other_id} (or plan --from-cluster) to act as that cluster"
        )
    return f"{owner} (id {other_id}), another cluster of this name (this one: id {cluster.id})"


def creator_request_id(identity: Identity, cluster: ClusterIdentity, nonce: str) -> str:
    """The CreatorRequestId of one create attempt.

    AWS answers a reused CreatorRequestId with the original operation, even after what it
    created was deleted, so an id derived from the resource alone would never create again.
    The reconciler draws a nonce per attempt and records the id in status before sending it:
    retries of that attempt (after a crash) reuse it and cannot create a twin.
    """
    # The cluster's id too: two clusters of one name never share a create's idempotency token.
    scope = cluster.name if cluster.id is None else f"{cluster.name}#{cluster.id}"
    digest = hashlib.sha256(f"{scope}/{identity.key}/{identity.uid}/{nonce}".encode())
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
            if k in (OWNER_TAG, CLUSTER_TAG, CLUSTER_ID_TAG, ADOPTED_TAG, ATTRIBUTES_TAG)
            or (is_user_tag(k) and not found_at_adoption(k, tags))
        )
    )


# Service attributes -----------------------------------------------------------------------------
#
# The keys a resource declared are recorded on the service itself, as tokens of the keys in a
# tag, not in status: the decision "ours, delete it" / "someone else's, leave it" is then made
# from what AWS holds alone, as for the adoption record, so it survives a status lost (a restore,
# a re-created resource) and the CLI, which has no status, decides the same. Attributes cannot
# carry the record: it would take one of the 30 a service may hold.


def attributes_record(keys: Iterable[str]) -> str:
    """The ATTRIBUTES_TAG value naming `keys` (30 keys at most: 149 characters)."""
    return " ".join(sorted({_key_token(k) for k in keys}))


def recorded_attribute(key: str, tags: Mapping[str, str]) -> bool:
    """`key` is one the service's resource declared (a collision only keeps an attribute)."""
    return _key_token(key) in tags.get(ATTRIBUTES_TAG, "").split()


def reads_attributes(declared: Mapping[str, str], tags: Mapping[str, str]) -> bool:
    """A service's attributes are worth a GetServiceAttributes only when its spec declares some
    or its record names some to delete: the others cost the sweep nothing."""
    return bool(declared) or ATTRIBUTES_TAG in tags


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


def ecs_marker(
    identity: Identity, cluster: ClusterIdentity, parts: Mapping[EcsPart, str]
) -> dict[str, str]:
    return {**owner_tags(identity, cluster), **{ECS_PART_TAGS[p]: how for p, how in parts.items()}}


def ecs_marker_keys(tags: Iterable[str]) -> tuple[str, ...]:
    ours = {OWNER_TAG, CLUSTER_TAG, CLUSTER_ID_TAG, *ECS_PART_TAGS.values()}
    return tuple(sorted(k for k in tags if k in ours))
