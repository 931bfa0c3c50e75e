"""The ownership decision with cluster ids (issue 21, item 4; docs/ownership.md, "Cluster
identity"): a resource of our name and another id is OwnedElsewhere, one of our name and no id
is claimed (the id tag alone, then read again), and everything we write carries the id."""

from __future__ import annotations

import argparse
import os
from types import SimpleNamespace

import pytest

from sd_operator import kube
from sd_operator.hybrid.export import (
    CLUSTER_ATTRIBUTE,
    CLUSTER_ID_ATTRIBUTE,
    OWNER_ATTRIBUTE,
    Endpoint,
    desired_instances,
    plan_export,
)
from sd_operator.model import reasons
from sd_operator.model.actions import CreateService, Plan, TagResource
from sd_operator.model.observed import ObservedInstance, ObservedService
from sd_operator.model.reasons import REASON_OWNED_ELSEWHERE
from sd_operator.model.spec import (
    AdoptionPolicy,
    CloudMapServiceSpec,
    ClusterIdentity,
    HealthCheck,
    Identity,
    NamespaceType,
)
from sd_operator.reconcile.ownership import (
    CLUSTER_ID_TAG,
    CLUSTER_TAG,
    OWNER_TAG,
    Ownership,
    creator_request_id,
    given_back_keys,
    id_claim,
    owner_tags,
    ownership,
)
from sd_operator.reconcile.plan import plan_service, plan_service_delete
from sd_operator.settings import SettingsError, add_common_flags, settings_from

ME = Identity("ServiceDiscovery", "payments", "orders", uid="uid-1")
A = ClusterIdentity("default", "id-a")
B = ClusterIdentity("default", "id-b")
LEGACY = ClusterIdentity("default")  # as tagged before cluster ids, or by the CLI given none
# A claim rewrites the cluster tag beside the id: IAM reads only the request's tags on TagResource.
CLAIM_A = {CLUSTER_TAG: "default", CLUSTER_ID_TAG: "id-a"}
ARN = "arn:aws:servicediscovery:us-east-1:123456789012:service/srv-1"
SPEC = CloudMapServiceSpec(name="orders", health_check=HealthCheck(custom=True))


def _service(tags: dict[str, str]) -> ObservedService:
    return ObservedService(
        id="srv-1",
        arn=ARN,
        name="orders",
        namespace_id="ns-1",
        health_check=HealthCheck(custom=True),
        tags=tags,
    )


def _plan(cluster: ClusterIdentity, observed: ObservedService | None) -> Plan:
    return plan_service(
        SPEC,
        ME,
        cluster,
        AdoptionPolicy.ADOPT,
        60,
        NamespaceType.HTTP,
        "apps.local",
        "ns-1",
        observed,
    )


@pytest.mark.parametrize(
    ("tagged_by", "seen_by", "expected"),
    [
        (A, A, Ownership.OURS),
        (A, B, Ownership.OTHER),
        (LEGACY, A, Ownership.OURS),
        (A, LEGACY, Ownership.OTHER),
        (LEGACY, LEGACY, Ownership.OURS),
        (ClusterIdentity("prod", "id-a"), A, Ownership.OTHER),
    ],
    ids=["same-id", "other-id", "no-id-yet", "cli-without-id", "neither-has-ids", "other-name"],
)
def test_ownership_needs_our_name_and_our_id_or_none(
    tagged_by: ClusterIdentity, seen_by: ClusterIdentity, expected: Ownership
) -> None:
    assert ownership(owner_tags(ME, tagged_by), ME, seen_by) is expected


def test_owner_tags_carry_the_cluster_id() -> None:
    assert owner_tags(ME, A) == {OWNER_TAG: ME.key, CLUSTER_TAG: "default", CLUSTER_ID_TAG: "id-a"}
    assert CLUSTER_ID_TAG not in owner_tags(ME, LEGACY)


def test_a_service_is_created_with_the_cluster_id() -> None:
    (create,) = _plan(A, None).actions
    assert isinstance(create, CreateService)
    assert create.tags[CLUSTER_ID_TAG] == "id-a"


def test_the_same_named_clusters_service_is_owned_elsewhere_naming_both_ids() -> None:
    p = _plan(B, _service(owner_tags(ME, A)))

    assert p.actions == ()
    assert p.blocked is not None
    assert p.blocked.reason == REASON_OWNED_ELSEWHERE
    assert "id id-a" in p.blocked.message
    assert "this one: id id-b" in p.blocked.message


def test_the_cli_without_an_id_is_told_which_id_to_pass() -> None:
    p = _plan(LEGACY, _service(owner_tags(ME, A)))

    assert p.blocked is not None
    assert p.blocked.reason == REASON_OWNED_ELSEWHERE
    assert "--cluster-id id-a" in p.blocked.message


def test_the_same_named_clusters_service_is_never_deleted() -> None:
    assert plan_service_delete(SPEC, ME, B, None, _service(owner_tags(ME, A))) == Plan()


def test_a_service_without_an_id_is_claimed_alone_before_anything_else() -> None:
    legacy = {**owner_tags(ME, LEGACY), "stale": "tag"}  # the spec declares no tags
    assert id_claim(legacy, ME, A) == CLAIM_A

    p = _plan(A, _service(legacy))

    assert p.actions == (TagResource(ARN, CLAIM_A),)
    assert p.blocked is not None
    assert p.blocked.reason == reasons.CLAIMING_CLUSTER_ID


def test_a_delete_claims_before_it_deletes() -> None:
    p = plan_service_delete(SPEC, ME, A, None, _service(owner_tags(ME, LEGACY)))
    assert p.actions == (TagResource(ARN, CLAIM_A),)


def test_nothing_is_claimed_that_is_not_ours_or_already_carries_an_id() -> None:
    assert id_claim(owner_tags(ME, A), ME, A) == {}
    assert id_claim(owner_tags(ME, A), ME, B) == {}
    assert id_claim({}, ME, A) == {}
    assert id_claim(owner_tags(ME, LEGACY), ME, LEGACY) == {}


def test_giving_an_adopted_resource_back_removes_the_id_too() -> None:
    assert CLUSTER_ID_TAG in given_back_keys(owner_tags(ME, A))


def test_two_clusters_of_one_name_never_share_a_create_request_id() -> None:
    assert creator_request_id(ME, A, "n") != creator_request_id(ME, B, "n")
    assert creator_request_id(ME, A, "n") != creator_request_id(ME, LEGACY, "n")


# Export ------------------------------------------------------------------------------------------


def _instance(iid: str, cluster: ClusterIdentity) -> ObservedInstance:
    attributes = {OWNER_ATTRIBUTE: ME.key, CLUSTER_ATTRIBUTE: cluster.name}
    if cluster.id is not None:
        attributes[CLUSTER_ID_ATTRIBUTE] = cluster.id
    return ObservedInstance(iid, {"AWS_INSTANCE_IPV4": "10.0.0.1", **attributes})


def test_export_never_deregisters_the_same_named_clusters_instances() -> None:
    plan = plan_export({}, [_instance("i-a", A)], owner=ME, cluster=B, custom_health=False)
    assert plan.deregister == ()


def test_export_registers_with_the_id_and_records_it_on_instances_registered_before_ids() -> None:
    desired = desired_instances(
        [Endpoint("10.0.0.1", "IPv4", 8080, ready=True)],
        owner=ME,
        cluster=A,
        service="orders",
        custom_health=False,
    )
    assert isinstance(desired, dict)
    (want,) = desired.values()
    assert want.attributes[CLUSTER_ID_ATTRIBUTE] == "id-a"

    plan = plan_export(
        desired, [_instance(want.id, LEGACY)], owner=ME, cluster=A, custom_health=False
    )
    assert plan.register == (want,)
    assert plan.conflicts == ()


# Settings ----------------------------------------------------------------------------------------


def _settings(*argv: str) -> ClusterIdentity:
    parser = argparse.ArgumentParser()
    add_common_flags(parser)
    return settings_from(parser.parse_args([*argv, "--region", "us-east-1"]), os.environ).cluster


def test_the_cluster_id_comes_from_the_flag_or_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("SD_OPERATOR_CLUSTER_ID", raising=False)
    assert _settings() == ClusterIdentity("default", None)
    assert _settings("--cluster-id", "id-a") == A
    monkeypatch.setenv("SD_OPERATOR_CLUSTER_ID", "id-b")
    assert _settings() == B


def test_a_cluster_id_unusable_in_a_tag_is_refused() -> None:
    with pytest.raises(SettingsError, match="--cluster-id"):
        _settings("--cluster-id", "not a tag value!")


# Where the CLI's plan --from-cluster finds the operator's id -------------------------------------


def _deployment(name: str, args: list[str], env: dict[str, str] | None = None) -> SimpleNamespace:
    container = SimpleNamespace(
        command=None,
        args=args,
        env=[SimpleNamespace(name=k, value=v) for k, v in (env or {}).items()],
    )
    return SimpleNamespace(
        metadata=SimpleNamespace(namespace="sd-operator", name=name),
        spec=SimpleNamespace(
            template=SimpleNamespace(spec=SimpleNamespace(containers=[container]))
        ),
    )


class _Apps:
    def __init__(self, *deployments: SimpleNamespace) -> None:
        self.items = list(deployments)

    def list_deployment_for_all_namespaces(self, label_selector: str) -> SimpleNamespace:
        return SimpleNamespace(items=self.items)


class _Core:
    def read_namespace(self, name: str) -> SimpleNamespace:
        return SimpleNamespace(metadata=SimpleNamespace(uid=f"uid-of-{name}"))


def test_the_operators_id_is_its_flag_or_env_and_else_kube_systems_uid() -> None:
    flagged = _deployment("flagged", ["run", "--cluster-id=id-a"])
    from_env = _deployment("env", ["run", "-A"], {"SD_OPERATOR_CLUSTER_ID": "id-b"})
    reads_it = _deployment("reads", ["run", "-A", "--x"])
    cluster = kube.Cluster(None, _Apps(flagged, from_env, reads_it), _Core(), "default")

    assert kube.operator_cluster_ids(cluster) == {
        "sd-operator/flagged": "id-a",
        "sd-operator/env": "id-b",
    }
    assert kube.operator_cluster_names(cluster) == dict.fromkeys(
        ("sd-operator/flagged", "sd-operator/env", "sd-operator/reads"), "default"
    )
    assert kube.cluster_id(cluster) == "uid-of-kube-system"
