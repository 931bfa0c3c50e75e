"""Two tenants on one cluster (docs/tenancy.md): the operator, watching both teams' namespaces,
under the platform team's DiscoveryGrants. Each way team A could use the operator's AWS role on
team B's world (team_b.py: made with boto3, as Terraform would) is refused, Stalled with reason
NotGranted naming the grant and the field; team B's AWS resources read back exactly as before
and start no deployment; team A's own resources converge as without grants.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import yaml
from e2e_support import (
    DISCOVERIES,
    EXAMPLES,
    GRANTED_LABEL,
    GRANTS,
    IMPORTS,
    JSON,
    NAMESPACES,
    Kubectl,
    StartOperator,
    condition,
    kube_cli,
    ready_and_synced,
)

from builders import (
    ADOPT_SERVICE_CONNECT,
    BOTH_ON_OWN,
    SERVICE_CONNECT_ON_VICTIM,
    TEAM_A_NAMESPACE,
)
from sd_devkit.emulator import Emulator, client
from support import REGION
from team_b import ECS_CLUSTER, VICTIM, make_team_b, team_b_as_read

A_VPC, B_VPC = "vpc-0aaaaaaaaaaaaaaaa", "vpc-0bbbbbbbbbbbbbbbb"
NOT_GRANTED = "NotGranted"


def grant(name: str, team: str, cloud_map: str, vpc: str, services: str) -> JSON:
    """The platform team's grant for the namespaces labelled `team`: Cloud Map namespaces
    `cloud_map` and under `cloud_map`.internal in `vpc`, importing from `cloud_map`."""
    create = {"names": [cloud_map], "dnsSuffixes": [f"{cloud_map}.internal"], "vpcs": [vpc]}
    return {
        "apiVersion": "sd-operator.io/v1alpha1",
        "kind": "DiscoveryGrant",
        "metadata": {"name": name},
        "spec": {
            "namespaces": {"selector": {"matchLabels": {"e2e-team": team}}},
            "regions": [REGION],
            "cloudMapNamespaces": {"create": create},
            "ecs": [{"cluster": ECS_CLUSTER, "services": [services]}],
            "import": {"cloudMapNamespaces": [cloud_map]},
        },
    }


def moved(text: str, namespace: str, name: str | None = None) -> JSON:
    """One of builders' team A manifests, into `namespace` (and renamed)."""
    doc: JSON = yaml.safe_load(text)
    doc["metadata"]["namespace"] = namespace
    doc["metadata"]["name"] = name or doc["metadata"]["name"]
    return doc


def private_namespace(name: str, cloud_map_name: str, vpc: str, namespace: str) -> JSON:
    return {
        "apiVersion": "sd-operator.io/v1alpha1",
        "kind": "CloudMapNamespace",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"name": cloud_map_name, "type": "DnsPrivate", "vpc": vpc},
    }


def import_from(cloud_map_namespace: str, namespace: str) -> JSON:
    return {
        "apiVersion": "sd-operator.io/v1alpha1",
        "kind": "CloudMapImport",
        "metadata": {"name": "b-api", "namespace": namespace},
        "spec": {
            "cloudMapNamespace": {"name": cloud_map_namespace},
            "serviceName": "api",
            "port": 80,
        },
    }


@dataclass(frozen=True)
class Tenants:
    team_a: str
    team_b: str
    grant_a: str


@pytest.fixture
def tenants(kubectl: Kubectl, namespace: str) -> Iterator[Tenants]:
    """Team A's namespace (the test's, its allow-all label taken off) and team B's, each
    labelled with its team, and the platform team's grant for each."""
    suffix = uuid.uuid4().hex[:6]
    label_a, label_b = f"a-{suffix}", f"b-{suffix}"
    labels = {GRANTED_LABEL: None, "e2e-team": label_a}
    kubectl.merge_patch("namespace", namespace, None, {"metadata": {"labels": labels}})
    other = f"{namespace[:50]}-b"
    kubectl.create_namespace(other, labels={"e2e-team": label_b})
    grants = [
        grant(f"e2e-{label_a}", label_a, "teama", A_VPC, "teama-*"),
        grant(f"e2e-{label_b}", label_b, "teamb", B_VPC, "teamb-*"),
    ]
    kubectl.apply(grants)
    try:
        yield Tenants(namespace, other, f"e2e-{label_a}")
    finally:
        for g in grants:
            kubectl.delete(GRANTS, g["metadata"]["name"])
        kubectl.drop_namespace(other)


def refusal(kubectl: Kubectl, kind: str, name: str, namespace: str) -> JSON:
    """The resource's Stalled condition, once it says NotGranted."""
    obj = kubectl.wait_for_object(
        kind,
        name,
        namespace,
        lambda o: (condition(o, "Stalled") or {}).get("reason") == NOT_GRANTED,
        f"Stalled, reason {NOT_GRANTED}",
    )
    found = condition(obj, "Stalled")
    assert found is not None
    assert found["status"] == "True"
    return found


def test_team_a_cannot_reach_team_b_and_converges_on_its_own(
    kubectl: Kubectl,
    emulator: Emulator,
    sd: Any,
    tenants: Tenants,
    start_operator: StartOperator,
) -> None:
    team_a, team_b = tenants.team_a, tenants.team_b
    make_team_b(sd, client("ecs", emulator.endpoint_url, REGION))
    before = team_b_as_read(emulator, sd)
    start_operator("op", "--namespace", team_b)

    # Team B's own resource, through the operator, under its grant.
    kubectl.apply(private_namespace("orders", "orders.teamb.internal", B_VPC, team_b))
    # Team A: its own namespace and ECS service, and each way into team B's world.
    scenarios = {
        # team B's ECS service, with Service Connect in team A's namespace
        (DISCOVERIES, "api"): ("spec.ecs.service", f"'{ECS_CLUSTER}/{VICTIM}'"),
        # team B's Cloud Map namespace, adopting its Service Connect
        (DISCOVERIES, "adopt"): ("spec.cloudMapNamespace.name", "'teamb'"),
        # a namespace name outside team A's suffixes, and one in a VPC not granted
        (NAMESPACES, "outside"): ("spec.name", "'orders.teamb.internal'"),
        (NAMESPACES, "vpc"): ("spec.vpc", f"'{B_VPC}'"),
    }
    kubectl.apply(
        [
            moved(TEAM_A_NAMESPACE, team_a),
            moved(BOTH_ON_OWN, team_a),
            moved(SERVICE_CONNECT_ON_VICTIM.replace("SERVICE", VICTIM), team_a),
            moved(ADOPT_SERVICE_CONNECT, team_a, "adopt"),
            private_namespace("outside", "orders.teamb.internal", A_VPC, team_a),
            private_namespace("vpc", "orders.teama.internal", B_VPC, team_a),
            import_from("teamb", team_a),
        ]
    )

    for (kind, name), (field, declared) in scenarios.items():
        found = refusal(kubectl, kind, name, team_a)
        prefix = f"{field} {declared} is not granted: DiscoveryGrant {tenants.grant_a} "
        assert found["message"].startswith(prefix), found["message"]
        assert "nothing was read or changed in AWS" in found["message"]
    imported = kubectl.wait_for_object(
        IMPORTS,
        "b-api",
        team_a,
        lambda o: (condition(o, "Ready") or {}).get("reason") == NOT_GRANTED,
        f"Ready=False, reason {NOT_GRANTED}",
    )
    assert "importing from Cloud Map namespace 'teamb' is not granted" in str(
        (condition(imported, "Ready") or {}).get("message")
    )

    for kind, name in ((NAMESPACES, "teama"), (DISCOVERIES, "web")):
        kubectl.wait_for_object(kind, name, team_a, ready_and_synced, "Ready and Synced")
    kubectl.wait_for_object(NAMESPACES, "orders", team_b, ready_and_synced, "Ready and Synced")
    assert team_b_as_read(emulator, sd) == before


def test_plan_from_cluster_judges_by_the_clusters_grants(
    kubectl: Kubectl, emulator: Emulator, tenants: Tenants
) -> None:
    """What the operator would refuse, `plan --from-cluster` refuses too, reading the grants and
    namespace labels from the cluster (before, it planned every resource as allowed unless
    handed a --grants file); an explicit --grants file still takes their place."""
    team_a = tenants.team_a
    kubectl.apply(
        [
            moved(TEAM_A_NAMESPACE, team_a),
            private_namespace("outside", "orders.teamb.internal", A_VPC, team_a),
        ]
    )
    plan = ("plan", "--from-cluster", "-n", team_a, "--cluster-name", "e2e")
    aws = ("--aws-endpoint-url", emulator.endpoint_url, "--region", REGION)
    judged = kube_cli(kubectl, *plan, *aws)
    assert judged.returncode == 1, judged.stdout + judged.stderr
    head = f"CloudMapNamespace {team_a}/outside (cluster:{team_a}/outside"
    [line] = [line for line in judged.stdout.splitlines() if line.startswith(head)]
    assert "refused: spec.name: spec.name 'orders.teamb.internal' is not granted: " in line, line
    assert f"DiscoveryGrant {tenants.grant_a} " in line, line
    assert f"CloudMapNamespace {team_a}/teama" in judged.stdout

    allow_all = str(EXAMPLES / "grants" / "allow-all.yaml")
    given = kube_cli(kubectl, *plan, *aws, "--grants", allow_all)
    assert given.returncode == 2, given.stdout + given.stderr
    assert "not granted" not in given.stdout
