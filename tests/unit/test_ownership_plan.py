"""Ownership of an ECS service's discovery configuration and adoption, in the pure plan
(issue #21, items 1 and 2): ours, unclaimed and empty, or someone else's, per part."""

from __future__ import annotations

from dataclasses import replace

import pytest

from sd_operator.model.actions import (
    Change,
    DeleteService,
    Plan,
    TagResource,
    UntagResource,
    UpdateEcsService,
)
from sd_operator.model.observed import (
    NamedPort,
    ObservedDeployment,
    ObservedEcsService,
    ObservedRegistry,
    ObservedService,
)
from sd_operator.model.reasons import (
    DEPLOYMENT_IN_PROGRESS,
    REASON_ADOPTION_REQUIRED,
    REASON_OWNED_ELSEWHERE,
)
from sd_operator.model.spec import (
    AdoptionPolicy,
    ClientAlias,
    CloudMapServiceSpec,
    ClusterIdentity,
    DeletionPolicy,
    EcsSpec,
    Identity,
    NamespaceType,
    Registry,
    ServiceConnect,
    ServiceConnectService,
)
from sd_operator.model.status import EcsDeployment
from sd_operator.reconcile.drift_policy import hold
from sd_operator.reconcile.ecs_plan import (
    EcsOwner,
    plan_ecs_owned,
    plan_ecs_release,
)
from sd_operator.reconcile.ownership import (
    ADOPTED_TAG,
    CLUSTER_TAG,
    OWNER_TAG,
    PART_ADOPTED,
    PART_SET,
    EcsPart,
    adoption_record,
    ecs_marker,
    found_at_adoption,
    given_back_keys,
    gives_back,
    owner_tags,
)
from sd_operator.reconcile.plan import (
    plan_service,
    plan_service_delete,
)

REGION = "us-east-1"
ACCOUNT = "123456789012"
CLUSTER = ClusterIdentity("prod-eu")
ME = Identity("ServiceDiscovery", "team-a", "api", uid="uid-a")
THEM = Identity("ServiceDiscovery", "team-b", "api", uid="uid-b")
NS_NAME = "teama"
NS_ARN = f"arn:aws:servicediscovery:{REGION}:{ACCOUNT}:namespace/ns-a"
THEIR_NS_ARN = f"arn:aws:servicediscovery:{REGION}:{ACCOUNT}:namespace/ns-b"
OUR_CM = f"arn:aws:servicediscovery:{REGION}:{ACCOUNT}:service/srv-a"
THEIR_CM = f"arn:aws:servicediscovery:{REGION}:{ACCOUNT}:service/srv-b"
ECS_ARN = f"arn:aws:ecs:{REGION}:{ACCOUNT}:service/prod/api"
WHERE = "prod/api"

SC = ServiceConnect(
    True,
    None,
    (ServiceConnectService("http", "api-a", (ClientAlias(80, None),)),),
)
THEIR_SC = ServiceConnect(
    True,
    THEIR_NS_ARN,
    (ServiceConnectService("http", "api", (ClientAlias(80, None),)),),
)
OUR_SC = replace(SC, namespace=NS_ARN)
REGISTRY = Registry(container_name="app", container_port=8080)


def spec(
    registry: Registry | None = REGISTRY, service_connect: ServiceConnect | None = SC
) -> EcsSpec:
    return EcsSpec("prod", "api", registry=registry, service_connect=service_connect)


def ecs(
    registries: tuple[str, ...] = (),
    service_connect: ServiceConnect | None = None,
    tags: dict[str, str] | None = None,
) -> ObservedEcsService:
    return ObservedEcsService(
        arn=ECS_ARN,
        cluster=f"arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/prod",
        name="api",
        status="ACTIVE",
        deployment_controller="ECS",
        task_definition="td:1",
        network_mode="awsvpc",
        port_mappings={"http": NamedPort("app", 8080, "http")},
        registries=tuple(ObservedRegistry(a, None, "app", 8080) for a in registries),
        service_connect=service_connect,
        tags=tags or {},
    )


def owner(**overrides: object) -> EcsOwner:
    fields: dict[str, object] = {
        "identity": ME,
        "cluster": CLUSTER,
        "cloud_map_service_ours": True,
        "cloud_map_service_created": True,
        "namespace_ours": True,
    }
    return EcsOwner(**{**fields, **overrides})  # type: ignore[arg-type]


def marker(**parts: str) -> dict[str, str]:
    return ecs_marker(ME, CLUSTER, {EcsPart(k): v for k, v in parts.items()})


def apply(s: EcsSpec, observed: ObservedEcsService, **overrides: object) -> Plan:
    return plan_ecs_owned(
        s,
        owner(**overrides),
        observed=observed,
        namespace_name=NS_NAME,
        namespace_arn=NS_ARN,
        cloud_map_service_arn=OUR_CM,
        region=REGION,
    )


def release(s: EcsSpec, observed: ObservedEcsService, **overrides: object) -> Plan:
    return plan_ecs_release(s, owner(**overrides), observed, OUR_CM, NS_NAME, NS_ARN)


# Ours, unclaimed and empty, someone else's ------------------------------------------------------


def test_an_empty_unmarked_service_is_taken_marker_first() -> None:
    p = apply(spec(), ecs())

    tag, update = p.actions
    assert tag == TagResource(ECS_ARN, marker(registry=PART_SET, serviceConnect=PART_SET))
    assert isinstance(update, UpdateEcsService)
    assert update.set_registries
    assert update.set_service_connect


def test_a_service_marked_ours_is_configured_without_marking_again() -> None:
    p = apply(spec(), ecs(tags=marker(registry=PART_SET, serviceConnect=PART_SET)))

    assert [type(a) for a in p.actions] == [UpdateEcsService]


def test_a_marked_service_equal_to_the_spec_is_in_sync() -> None:
    tags = marker(registry=PART_SET, serviceConnect=PART_SET)
    assert apply(spec(), ecs((OUR_CM,), OUR_SC, tags)).in_sync


@pytest.mark.parametrize("adoption", list(AdoptionPolicy))
@pytest.mark.parametrize(
    "tags",
    [
        ecs_marker(THEM, CLUSTER, {EcsPart.SERVICE_CONNECT: PART_SET}),
        ecs_marker(ME, ClusterIdentity("other-cluster"), {EcsPart.SERVICE_CONNECT: PART_SET}),
        owner_tags(THEM, CLUSTER),
    ],
    ids=["other-resource", "other-cluster", "owner-tags-only"],
)
def test_another_owners_marker_is_owned_elsewhere_whatever_the_adoption_policy(
    tags: dict[str, str], adoption: AdoptionPolicy
) -> None:
    p = apply(spec(), ecs(tags=tags), adoption=adoption)

    assert p.actions == ()
    assert p.blocked is not None
    assert p.blocked.reason == REASON_OWNED_ELSEWHERE
    assert f"ECS service {WHERE}" in p.blocked.message
    assert tags[OWNER_TAG] in p.blocked.message


def test_service_connect_set_by_someone_else_needs_adoption() -> None:
    p = apply(spec(registry=None), ecs(service_connect=THEIR_SC))

    assert p.actions == ()
    assert p.blocked is not None
    assert p.blocked.reason == REASON_ADOPTION_REQUIRED
    assert p.blocked.message.startswith(
        f"ECS service {WHERE} already has Service Connect in namespace {THEIR_NS_ARN}"
    )
    assert "adoptionPolicy: Adopt" in p.blocked.message
    assert p.blocked.blockers == (
        f"ECS service {WHERE}: Service Connect in namespace {THEIR_NS_ARN}",
    )


def test_a_registry_set_by_someone_else_needs_adoption_even_when_only_it_is_declared() -> None:
    p = apply(spec(service_connect=None), ecs((THEIR_CM,), THEIR_SC))

    assert p.actions == ()
    assert p.blocked is not None
    assert p.blocked.reason == REASON_ADOPTION_REQUIRED
    assert f"registry {THEIR_CM}" in p.blocked.message
    assert "Service Connect" not in p.blocked.message


def test_a_part_the_spec_does_not_declare_is_left_to_whoever_set_it() -> None:
    """Only the registry is declared: their Service Connect is neither refused nor turned off."""
    p = apply(spec(service_connect=None), ecs(service_connect=THEIR_SC))

    tag, update = p.actions
    assert tag == TagResource(ECS_ARN, marker(registry=PART_SET))
    assert isinstance(update, UpdateEcsService)
    assert update.set_registries
    assert not update.set_service_connect
    assert not any(c.field.startswith("ecs.serviceConnect") for c in p.changes)


def test_service_connect_disabled_in_the_spec_still_claims_someone_elses() -> None:
    off = replace(SC, enabled=False)
    p = apply(spec(registry=None, service_connect=off), ecs(service_connect=THEIR_SC))

    assert p.blocked is not None
    assert p.blocked.reason == REASON_ADOPTION_REQUIRED


def test_adoption_marks_the_part_adopted_and_sends_nothing_equal() -> None:
    """Adopting team B's Service Connect in team B's namespace (spec.cloudMapNamespace), as
    declared: ownership is taken, nothing else (no UpdateService, no deployment)."""
    p = plan_ecs_owned(
        spec(registry=None, service_connect=replace(SC, services=THEIR_SC.services)),
        owner(adoption=AdoptionPolicy.ADOPT, namespace_ours=False),
        observed=ecs(service_connect=THEIR_SC),
        namespace_name="teamb",
        namespace_arn=THEIR_NS_ARN,
        cloud_map_service_arn=None,
    )

    assert p.actions == (TagResource(ECS_ARN, marker(serviceConnect=PART_ADOPTED)),)
    found = f"ECS service {WHERE}: Service Connect in namespace {THEIR_NS_ARN}"
    assert p.changes == (Change("adoptionPolicy", "Adopt", found),)


def test_adopted_part_is_then_managed_as_ours() -> None:
    tags = marker(serviceConnect=PART_ADOPTED)
    p = apply(spec(registry=None), ecs(service_connect=OUR_SC, tags=tags))

    assert p.in_sync


def test_ignoring_spec_ecs_does_not_hide_a_refused_takeover() -> None:
    refused = apply(spec(registry=None), ecs(service_connect=THEIR_SC))
    held = hold(refused, ["spec.ecs"], ())

    assert held.plan.blocked is not None
    assert held.plan.blocked.reason == REASON_ADOPTION_REQUIRED
    assert not held.plan.in_sync


def test_a_held_part_the_spec_drops_is_cleared_then_its_tag_removed() -> None:
    tags = marker(registry=PART_SET, serviceConnect=PART_SET)
    clearing = apply(spec(service_connect=None), ecs((OUR_CM,), OUR_SC, tags))

    (update,) = clearing.actions
    assert isinstance(update, UpdateEcsService)
    assert update.set_service_connect
    assert update.service_connect is None

    cleared = apply(spec(service_connect=None), ecs((OUR_CM,), None, tags))
    assert cleared.actions == (UntagResource(ECS_ARN, ("sd-operator.io/ecs-service-connect",)),)


# Configured before the marker existed -----------------------------------------------------------


def test_a_registry_into_our_own_cloud_map_service_is_recognised_and_marked() -> None:
    p = apply(spec(service_connect=None), ecs((OUR_CM,)))

    assert p.actions == (TagResource(ECS_ARN, marker(registry=PART_SET)),)


def test_service_connect_in_a_namespace_we_own_is_recognised_and_marked() -> None:
    p = apply(spec(registry=None), ecs(service_connect=OUR_SC))

    assert p.actions == (TagResource(ECS_ARN, marker(serviceConnect=PART_SET)),)


def test_our_namespace_by_name_is_not_enough_when_we_do_not_own_it() -> None:
    p = apply(spec(registry=None), ecs(service_connect=OUR_SC), namespace_ours=False)

    assert p.blocked is not None
    assert p.blocked.reason == REASON_ADOPTION_REQUIRED


def test_a_registry_into_a_cloud_map_service_not_ours_is_not_recognised() -> None:
    p = apply(spec(service_connect=None), ecs((OUR_CM,)), cloud_map_service_ours=False)

    assert p.blocked is not None
    assert p.blocked.reason == REASON_ADOPTION_REQUIRED


# Delete: only what is ours ----------------------------------------------------------------------


def test_delete_clears_what_we_set_and_removes_the_marker_last() -> None:
    tags = {"team": "a", **marker(registry=PART_SET, serviceConnect=PART_SET)}
    p = release(spec(), ecs((OUR_CM,), OUR_SC, tags))

    update, untag = p.actions
    assert isinstance(update, UpdateEcsService)
    assert (update.set_registries, update.registries) == (True, ())
    assert (update.set_service_connect, update.service_connect) == (True, None)
    assert isinstance(untag, UntagResource)
    assert "team" not in untag.keys
    assert set(untag.keys) == set(marker(registry=PART_SET, serviceConnect=PART_SET))


@pytest.mark.parametrize(
    "tags", [{}, ecs_marker(THEM, CLUSTER, {EcsPart.REGISTRY: PART_SET})], ids=["none", "theirs"]
)
def test_delete_leaves_someone_elses_configuration(tags: dict[str, str]) -> None:
    assert release(spec(), ecs((THEIR_CM,), THEIR_SC, tags)) == Plan()


def test_delete_waits_for_a_deployment_in_progress_but_not_for_a_rolled_back_one() -> None:
    tags = marker(registry=PART_SET, serviceConnect=PART_SET)
    rolling = replace(
        ecs((OUR_CM,), OUR_SC, tags),
        deployments=(ObservedDeployment("ecs-svc/7", "PRIMARY", "IN_PROGRESS"),),
    )
    ours = EcsDeployment("ecs-svc/7", 3, "IN_PROGRESS")
    held = plan_ecs_release(spec(), owner(), rolling, OUR_CM, NS_NAME, NS_ARN, ours)
    assert held.actions == ()
    assert held.blocked is not None
    assert held.blocked.reason == DEPLOYMENT_IN_PROGRESS
    assert "the one the operator started" in held.blocked.message

    undone = replace(ours, rollout_state="FAILED", reason="boom", rolled_back_to="td:1")
    settled = replace(
        rolling,
        deployments=(
            ObservedDeployment("ecs-svc/8", "PRIMARY", "COMPLETED"),
            ObservedDeployment("ecs-svc/7", "ACTIVE", "FAILED", "boom"),
        ),
    )
    sent = plan_ecs_release(spec(), owner(), settled, OUR_CM, NS_NAME, NS_ARN, undone)
    assert [type(a) for a in sent.actions] == [UpdateEcsService, UntagResource]


def test_delete_clears_what_it_recognises_as_configured_before_the_marker() -> None:
    (update,) = release(spec(), ecs((OUR_CM,), OUR_SC)).actions
    assert isinstance(update, UpdateEcsService)
    assert update.set_registries
    assert update.set_service_connect


def test_delete_gives_adopted_service_connect_back_as_it_is() -> None:
    tags = marker(serviceConnect=PART_ADOPTED)
    p = release(spec(registry=None), ecs(service_connect=THEIR_SC, tags=tags))

    assert p.actions == (UntagResource(ECS_ARN, tuple(sorted(tags))),)


def test_deletion_policy_delete_clears_what_was_adopted_too() -> None:
    tags = marker(serviceConnect=PART_ADOPTED)
    p = release(
        spec(registry=None),
        ecs(service_connect=THEIR_SC, tags=tags),
        deletion=DeletionPolicy.DELETE,
    )

    update, _ = p.actions
    assert isinstance(update, UpdateEcsService)
    assert update.set_service_connect


def test_an_adopted_registry_into_the_service_the_delete_removes_is_cleared() -> None:
    """Left, ECS would keep registering tasks into a Cloud Map service being deleted."""
    tags = marker(registry=PART_ADOPTED)
    (update, _) = release(spec(service_connect=None), ecs((OUR_CM,), tags=tags)).actions
    assert isinstance(update, UpdateEcsService)
    assert update.set_registries


def test_retain_leaves_everything_and_the_marker() -> None:
    tags = marker(registry=PART_SET, serviceConnect=PART_SET)
    observed = ecs((OUR_CM,), OUR_SC, tags)
    assert release(spec(), observed, deletion=DeletionPolicy.RETAIN) == Plan()


# Cloud Map adoption: our tags in, none of theirs out -------------------------------------------


def test_the_adoption_record_names_every_tag_found_and_no_other() -> None:
    tags = {"team": "b", "CostCenter": "42", "aws:x": "1"}
    recorded = {**tags, OWNER_TAG: ME.key, **adoption_record(tags)}

    assert found_at_adoption("team", recorded)
    assert found_at_adoption("CostCenter", recorded)
    assert not found_at_adoption("app", recorded)
    assert not found_at_adoption("team", tags)  # not adopted
    assert len(adoption_record({f"k{i}": "v" for i in range(50)})[ADOPTED_TAG]) <= 256


def test_an_adopted_service_keeps_the_tags_it_had() -> None:
    p = plan_service(
        CloudMapServiceSpec(name="api"),
        ME,
        CLUSTER,
        AdoptionPolicy.ADOPT,
        60,
        *_http(),
        _observed({"team": "b", "CostCenter": "42"}),
    )

    assert not any(isinstance(a, UntagResource) for a in p.actions)
    (tag,) = p.actions
    assert isinstance(tag, TagResource)
    assert tag.tags[OWNER_TAG] == ME.key
    assert ADOPTED_TAG in tag.tags


def test_after_adoption_only_tags_we_wrote_are_removed() -> None:
    found = {"team": "b"}
    tags = {**found, "app": "api", **owner_tags(ME, CLUSTER), **adoption_record(found)}
    p = plan_service(
        CloudMapServiceSpec(name="api"),
        ME,
        CLUSTER,
        AdoptionPolicy.ADOPT,
        60,
        *_http(),
        _observed(tags),
    )

    assert p.actions == (UntagResource(OUR_CM, ("app",)),)


def test_delete_gives_an_adopted_service_back_as_it_was_found() -> None:
    found = {"team": "b"}
    tags = {**found, "app": "api", **owner_tags(ME, CLUSTER), **adoption_record(found)}

    p = plan_service_delete(CloudMapServiceSpec(name="api"), ME, CLUSTER, None, _observed(tags))

    assert p.actions == (UntagResource(OUR_CM, tuple(sorted(given_back_keys(tags)))),)
    assert set(given_back_keys(tags)) == {"app", OWNER_TAG, CLUSTER_TAG, ADOPTED_TAG}


def test_deletion_policy_delete_deletes_an_adopted_service() -> None:
    tags = {**owner_tags(ME, CLUSTER), **adoption_record({})}
    p = plan_service_delete(
        CloudMapServiceSpec(name="api"), ME, CLUSTER, DeletionPolicy.DELETE, _observed(tags)
    )

    assert p.actions == (DeleteService("srv-a", "api"),)


@pytest.mark.parametrize("policy", [None, DeletionPolicy.DELETE])
def test_a_created_service_is_deleted_whether_the_policy_is_set_or_not(
    policy: DeletionPolicy | None,
) -> None:
    p = plan_service_delete(
        CloudMapServiceSpec(name="api"), ME, CLUSTER, policy, _observed(owner_tags(ME, CLUSTER))
    )

    assert p.actions == (DeleteService("srv-a", "api"),)
    assert not gives_back(policy, owner_tags(ME, CLUSTER))


def _http() -> tuple[NamespaceType, str, str]:
    return NamespaceType.HTTP, "teamb", "ns-b"


def _observed(tags: dict[str, str]) -> ObservedService:
    return ObservedService(id="srv-a", arn=OUR_CM, name="api", namespace_id="ns-b", tags=tags)
