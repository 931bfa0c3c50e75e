"""The grant decision (model/grants.py), case by case: what each resource of team A may touch
under the platform team's grants, and the field and grant a refusal names."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
import yaml

from builders import ALLOW_ALL, REGION, VPC, discovery, namespace
from sd_operator.model.grants import (
    Grant,
    NotGranted,
    admit,
    deletion_default,
    import_denial,
    parse_grant,
    selecting,
)
from sd_operator.model.parse import SpecError, load_grants
from sd_operator.model.spec import (
    AdoptionPolicy,
    DeletionPolicy,
    EcsSpec,
    EndpointsSpec,
    ExternalNamespace,
    Resource,
)

TEAM_A = parse_grant(
    {
        "metadata": {"name": "team-a"},
        "spec": {
            "namespaces": {"names": ["payments"]},
            "regions": [REGION],
            "cloudMapNamespaces": {
                "create": {"names": ["myapp.local"], "dnsSuffixes": ["teama.local"], "vpcs": [VPC]},
                "use": ["shared.local"],
                "adopt": ["legacy.teama.local"],
            },
            "ecs": [{"cluster": "prod", "services": ["teama-*", "user-service"]}],
            "export": {"cloudMapNamespaces": ["myapp.local"]},
        },
    }
)
BY_LABEL = parse_grant(
    {
        "metadata": {"name": "labelled"},
        "spec": {
            "namespaces": {
                "selector": {
                    "matchLabels": {"team": "a"},
                    "matchExpressions": [{"key": "env", "operator": "NotIn", "values": ["prod"]}],
                }
            },
            "regions": ["*"],
            "cloudMapNamespaces": {"create": {"names": ["myapp.local"], "vpcs": ["*"]}},
        },
    }
)

# Namespaces account 111111111111 shares through AWS RAM, addressed by ARN.
SHARED_ARN = f"arn:aws:servicediscovery:{REGION}:111111111111:namespace/ns-shared"
ELSEWHERE_ARN = f"arn:aws:servicediscovery:{REGION}:333333333333:namespace/ns-other"
SHARING = replace(
    TEAM_A,
    use=(*TEAM_A.use, f"arn:aws:servicediscovery:{REGION}:111111111111:namespace/*"),
    export=(SHARED_ARN,),
)


def shared(arn: str = SHARED_ARN, **overrides: Any) -> Resource:
    return discovery(namespace_ref=None, cloud_map_namespace=ExternalNamespace(arn), **overrides)


def ecs(service: str, cluster: str = "prod") -> EcsSpec:
    return EcsSpec(cluster=cluster, service=service)


def moved(res: Resource, to: str) -> Resource:
    return replace(res, identity=replace(res.identity, namespace=to))


@dataclass(frozen=True)
class Case:
    why: str
    resource: Resource
    grants: tuple[Grant, ...] = (TEAM_A,)
    labels: tuple[tuple[str, str], ...] = ()
    region: str = REGION
    cloud_map: str | None = "myapp.local"
    # None: allowed; else the field the refusal names
    refused_at: str | None = None


CASES = [
    Case("its own namespace name and VPC", namespace()),
    Case("a name under its DNS suffix", namespace(name="orders.teama.local")),
    Case("the suffix itself", namespace(name="teama.local")),
    Case("a look-alike of the suffix", namespace(name="xteama.local"), refused_at="spec.name"),
    Case("team B's namespace name", namespace(name="teamb.local"), refused_at="spec.name"),
    Case("a VPC not granted", namespace(vpc="vpc-0bbbbbbbbbbbbbbbb"), refused_at="spec.vpc"),
    Case("a region not granted", namespace(region="eu-west-1"), refused_at="spec.region"),
    Case(
        "adopting a namespace listed for adoption",
        namespace(name="legacy.teama.local", adoption_policy=AdoptionPolicy.ADOPT),
    ),
    Case(
        "adopting a namespace it may only create",
        namespace(adoption_policy=AdoptionPolicy.ADOPT),
        refused_at="spec.name",
    ),
    Case("its own ECS service", discovery(ecs=ecs("teama-api"))),
    Case("team B's ECS service", discovery(ecs=ecs("teamb-api")), refused_at="spec.ecs.service"),
    Case(
        "its service pattern in another cluster",
        discovery(ecs=ecs("teama-api", cluster="staging")),
        refused_at="spec.ecs.service",
    ),
    Case(
        "adopting team B's ECS service",
        discovery(ecs=ecs("teamb-api"), adoption_policy=AdoptionPolicy.ADOPT),
        refused_at="spec.ecs.service",
    ),
    Case(
        "a Cloud Map namespace it may use",
        discovery(namespace_ref=None, cloud_map_namespace=ExternalNamespace("shared.local")),
        cloud_map="shared.local",
    ),
    Case(
        "team B's Cloud Map namespace",
        discovery(namespace_ref=None, cloud_map_namespace=ExternalNamespace("teamb.local")),
        cloud_map="teamb.local",
        refused_at="spec.cloudMapNamespace.name",
    ),
    Case("export into a granted namespace", discovery(endpoints=EndpointsSpec("web"))),
    Case(
        "export into another namespace",
        discovery(
            namespace_ref=None,
            cloud_map_namespace=ExternalNamespace("shared.local"),
            endpoints=EndpointsSpec("web"),
        ),
        cloud_map="shared.local",
        refused_at="spec.endpoints",
    ),
    Case(
        "no grant selects the namespace",
        moved(namespace(), "team-b"),
        refused_at="metadata.namespace",
    ),
    Case("no grant at all", namespace(), grants=(), refused_at="metadata.namespace"),
    Case(
        "selected by labels",
        moved(namespace(), "team-a-dev"),
        grants=(BY_LABEL,),
        labels=(("team", "a"), ("env", "dev")),
    ),
    Case(
        "the selector's NotIn excludes it",
        moved(namespace(), "team-a-prod"),
        grants=(BY_LABEL,),
        labels=(("team", "a"), ("env", "prod")),
        refused_at="metadata.namespace",
    ),
    Case(
        "one of two grants allows it (the union)",
        namespace(region="eu-west-1"),
        grants=(TEAM_A, replace(BY_LABEL, namespaces=TEAM_A.namespaces)),
        region="eu-west-1",
    ),
    Case("allow-all allows team B's names", discovery(ecs=ecs("teamb-api")), grants=(ALLOW_ALL,)),
    Case("a shared namespace its ARN pattern lists", shared(), (SHARING,), cloud_map=SHARED_ARN),
    Case(
        "a namespace another account shares, not listed",
        shared(ELSEWHERE_ARN),
        (SHARING,),
        cloud_map=ELSEWHERE_ARN,
        refused_at="spec.cloudMapNamespace.name",
    ),
    Case(
        "a shared namespace under allow-all's `*`",
        shared(),
        (ALLOW_ALL,),
        cloud_map=SHARED_ARN,
        refused_at="spec.cloudMapNamespace.name",
    ),
    Case(
        "export into a shared namespace its ARN lists",
        shared(endpoints=EndpointsSpec("web")),
        (SHARING,),
        cloud_map=SHARED_ARN,
    ),
    Case(
        "export into a shared namespace under allow-all's `*`",
        shared(endpoints=EndpointsSpec("web")),
        (replace(ALLOW_ALL, use=(SHARED_ARN,)),),
        cloud_map=SHARED_ARN,
        refused_at="spec.endpoints",
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.why for c in CASES])
def test_grant_decision(case: Case) -> None:
    region = case.resource.spec.region or case.region
    verdict = admit(
        case.resource,
        case.grants,
        dict(case.labels),
        region=region,
        cloud_map_namespace=case.cloud_map,
    )
    if case.refused_at is None:
        assert isinstance(verdict, Resource), verdict
    else:
        assert isinstance(verdict, NotGranted)
        assert verdict.field == case.refused_at


def test_a_refusal_names_the_field_what_was_declared_and_every_grant_with_what_it_allows() -> None:
    other = replace(BY_LABEL, name="team-a-extra", namespaces=TEAM_A.namespaces)
    verdict = admit(
        discovery(ecs=ecs("teamb-api")),
        [TEAM_A, other],
        {},
        region=REGION,
        cloud_map_namespace="myapp.local",
    )
    assert isinstance(verdict, NotGranted)
    assert verdict.message.startswith("spec.ecs.service 'prod/teamb-api' is not granted: ")
    assert "DiscoveryGrant team-a may manage ECS services ['prod/{teama-*,user-service}']" in (
        verdict.message
    )
    assert "DiscoveryGrant team-a-extra may manage ECS services []" in verdict.message


@pytest.mark.parametrize(
    ("res", "shown"),
    [
        (namespace(region="eu-west-1"), "spec.region 'eu-west-1'"),
        (namespace(name="teamb.local"), "spec.name 'teamb.local'"),
        (namespace(vpc="vpc-0bbbbbbbbbbbbbbbb"), "spec.vpc 'vpc-0bbbbbbbbbbbbbbbb'"),
        (discovery(endpoints=EndpointsSpec("web")), "spec.endpoints 'myapp.local'"),
    ],
    ids=["region", "name", "vpc", "export"],
)
def test_a_refusal_shows_what_the_resource_declares_at_the_field(res: Resource, shown: str) -> None:
    no_export = replace(TEAM_A, export=None)
    verdict = admit(
        res,
        [no_export],
        {},
        region=res.spec.region or REGION,
        cloud_map_namespace="myapp.local",
    )
    assert isinstance(verdict, NotGranted)
    assert verdict.message.startswith(f"{shown} is not granted: DiscoveryGrant team-a ")


def test_a_namespace_no_grant_selects_is_named() -> None:
    verdict = admit(moved(namespace(), "team-b"), [TEAM_A], {}, region=REGION)
    assert isinstance(verdict, NotGranted)
    assert "no DiscoveryGrant selects Kubernetes namespace team-b" in verdict.message


def policy_grant(name: str, policy: str | None) -> Grant:
    doc: dict[str, Any] = {
        "metadata": {"name": name},
        "spec": {
            "namespaces": {"names": ["payments"]},
            "regions": ["*"],
            "cloudMapNamespaces": {"create": {"names": ["*"], "vpcs": ["*"]}},
        },
    }
    if policy is not None:
        doc["spec"]["deletionPolicy"] = policy
    return parse_grant(doc)


@pytest.mark.parametrize(
    ("own", "grants", "expected"),
    [
        (None, ["Retain"], DeletionPolicy.RETAIN),
        (None, ["Delete"], DeletionPolicy.DELETE),
        (None, ["Delete", "Retain"], DeletionPolicy.RETAIN),
        (None, [None], None),
        (DeletionPolicy.DELETE, ["Retain"], DeletionPolicy.DELETE),
    ],
    ids=["grant-default", "delete", "retain-wins", "no-default", "resource-wins"],
)
def test_the_grants_deletion_policy_is_the_default_of_resources_that_set_none(
    own: DeletionPolicy | None, grants: list[str | None], expected: DeletionPolicy | None
) -> None:
    res = namespace(deletion_policy=own)
    serving = [policy_grant(f"g{i}", p) for i, p in enumerate(grants)]
    admitted = admit(res, serving, {}, region=REGION)
    assert isinstance(admitted, Resource)
    assert admitted.spec.deletion_policy is expected
    assert deletion_default(res, serving, {}).spec.deletion_policy is expected


def test_a_delete_is_given_the_default_even_where_the_spec_is_no_longer_granted() -> None:
    res = namespace(name="teamb.local")
    serving = [replace(TEAM_A, deletion_policy=DeletionPolicy.RETAIN)]
    assert isinstance(admit(res, serving, {}, region=REGION), NotGranted)
    assert deletion_default(res, serving, {}).spec.deletion_policy is DeletionPolicy.RETAIN


@pytest.mark.parametrize(
    ("grants", "source", "refused"),
    [
        ((ALLOW_ALL,), "teamb.local", False),
        ((TEAM_A,), "myapp.local", True),
        ((replace(TEAM_A, import_from=("shared.local",)),), "shared.local", False),
        ((replace(TEAM_A, import_from=("shared.local",)),), "teamb.local", True),
        ((), "shared.local", True),
        ((ALLOW_ALL,), SHARED_ARN, True),
        ((replace(TEAM_A, import_from=(SHARED_ARN,)),), SHARED_ARN, False),
    ],
    ids=[
        "allow-all",
        "no-import-field",
        "granted",
        "not-listed",
        "no-grant",
        "shared-under-allow-all",
        "shared-listed",
    ],
)
def test_an_import_reads_only_cloud_map_namespaces_a_grant_lists(
    grants: tuple[Grant, ...], source: str, refused: bool
) -> None:
    denial = import_denial(grants, "payments", {}, source)
    assert (denial is not None) is refused
    if denial is not None and grants:
        assert f"Cloud Map namespace {source!r} is not granted: DiscoveryGrant" in denial


def test_a_grants_file_is_read_from_kubectl_get_output(tmp_path: Path) -> None:
    """`kubectl get discoverygrants,namespaces -o yaml`: a v1 List, server fields and all."""
    listed = {
        "apiVersion": "v1",
        "kind": "List",
        "items": [
            {
                "apiVersion": "sd-operator.io/v1alpha1",
                "kind": "DiscoveryGrant",
                "metadata": {"name": "team-a", "uid": "u1", "resourceVersion": "7"},
                "spec": {"namespaces": {"selector": {"matchLabels": {"team": "a"}}}},
            },
            {
                "apiVersion": "v1",
                "kind": "Namespace",
                "metadata": {"name": "payments", "labels": {"team": "a"}},
                "status": {"phase": "Active"},
            },
        ],
    }
    path = tmp_path / "grants.yaml"
    path.write_text(yaml.safe_dump(listed))
    grants, labels = load_grants([str(path)])
    assert [g.name for g in grants] == ["team-a"]
    assert labels == {"payments": {"team": "a"}}
    assert selecting(grants, "payments", labels["payments"]) == tuple(grants)


def test_an_invalid_grant_is_an_error_naming_the_grant_and_field(tmp_path: Path) -> None:
    path = tmp_path / "grants.yaml"
    path.write_text(
        "apiVersion: sd-operator.io/v1alpha1\nkind: DiscoveryGrant\nmetadata: {name: g}\n"
        "spec: {namespaces: {}, deletionPolicy: Sometimes}\n"
    )
    with pytest.raises(SpecError) as raised:
        load_grants([str(path)])
    assert raised.value.resource == "DiscoveryGrant/g"
    assert raised.value.field == "spec.deletionPolicy"
