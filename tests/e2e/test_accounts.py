"""Many AWS accounts from one operator (docs/tenancy.md, "Many AWS accounts" and "Shared
namespaces"), on the local control plane against the emulator's accounts.

One operator watches four tenant namespaces, each under a DiscoveryGrant naming its own role.
Tenants A and B converge in their own accounts (read back with each account's assumed session,
status.account naming it); tenant B also creates a service and Service Connect in a namespace a
third account shares with it through RAM, and deleting them removes only what B created. Two
tenants whose roles cannot be assumed (no such role; a trust policy not naming the operator)
are Stalled with AssumeRoleFailed while A and B converge beside them.

The operator runs with the emulator's dummy credentials: its identity is the emulator's own
account (`emulator.account_id`), so each role's trust policy names that account.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from e2e_support import (
    DISCOVERIES,
    EXAMPLES,
    GRANTED_LABEL,
    GRANTS,
    JSON,
    NAMESPACES,
    Kubectl,
    StartOperator,
    condition,
    load_docs,
    ready_and_synced,
)

from sd_devkit.emulator import Emulator, assumed_session, client_config, trust_policy
from support import REGION, register_task

# Accounts other than the emulator's own outlive its reset: ids no other test uses.
ACCOUNT_A, ACCOUNT_B, OWNER = "561111111111", "562222222222", "563333333333"
UNTRUSTED = "564444444444"
ECS_FULL = "arn:aws:ram::aws:permission/AWSRAMPermissionCloudMapECSFullPermission"
ASSUME_ROLE_FAILED = "AssumeRoleFailed"


@dataclass(frozen=True)
class Tenant:
    namespace: str
    role_arn: str
    grant: str


@dataclass(frozen=True)
class World:
    a: Tenant
    b: Tenant
    missing_role: Tenant
    untrusted: Tenant
    owner_role: str  # the sharing account's
    shared_arn: str  # the owner's namespace, shared with account B


def aws_client(emulator: Emulator, role_arn: str, service: str) -> Any:
    """A client of `service` in the role's account, as that account's own console sees it."""
    session = assumed_session(emulator.endpoint_url, role_arn, REGION)
    return session.client(service, endpoint_url=emulator.endpoint_url, config=client_config())


def grant(name: str, label: str, role_arn: str, shared: str) -> JSON:
    """The allow-all example for the namespaces labelled `label`, acting through `role_arn`,
    which may also use the namespace `shared` another account shares (`*` never allows one)."""
    [doc] = load_docs(EXAMPLES / "grants" / "allow-all.yaml")
    doc["metadata"]["name"] = name
    doc["spec"]["namespaces"] = {"selector": {"matchLabels": {"e2e-tenant": label}}}
    doc["spec"]["cloudMapNamespaces"]["use"] = ["*", shared]
    doc["spec"]["aws"] = {"roleArn": role_arn}
    return doc


def cloud_map_namespace(name: str, namespace: str) -> JSON:
    return {
        "apiVersion": "sd-operator.io/v1alpha1",
        "kind": "CloudMapNamespace",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"name": name, "type": "Http"},
    }


def discovery(name: str, namespace: str, cloud_map: str, **spec: Any) -> JSON:
    return {
        "apiVersion": "sd-operator.io/v1alpha1",
        "kind": "ServiceDiscovery",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "cloudMapNamespace": {"name": cloud_map},
            "service": {"healthCheck": {"custom": {}}},
            **spec,
        },
    }


def shared_namespace(emulator: Emulator, owner_role: str) -> str:
    """The owner's HTTP namespace `shared` with its own service `billing`, shared with account
    B under the ECS full permission; its ARN."""
    sd = aws_client(emulator, owner_role, "servicediscovery")
    op = sd.create_http_namespace(Name="shared")["OperationId"]
    ns_id = sd.get_operation(OperationId=op)["Operation"]["Targets"]["NAMESPACE"]
    arn = str(sd.get_namespace(Id=ns_id)["Namespace"]["Arn"])
    sd.create_service(Name="billing", NamespaceId=arn)
    aws_client(emulator, owner_role, "ram").create_resource_share(
        name="shared", resourceArns=[arn], principals=[ACCOUNT_B], permissionArns=[ECS_FULL]
    )
    return arn


def ecs_service(emulator: Emulator, role_arn: str) -> None:
    """Tenant B's ECS service `orders`, in its account, without Service Connect yet."""
    ecs = aws_client(emulator, role_arn, "ecs")
    ecs.create_cluster(clusterName="prod")
    register_task(ecs, "orders", 8080)
    ecs.create_service(cluster="prod", serviceName="orders", taskDefinition="orders")


@pytest.fixture
def world(kubectl: Kubectl, emulator: Emulator, namespace: str) -> Iterator[World]:
    """Four tenant namespaces (the test's, its allow-all label taken off, and three more), a
    grant naming a role for each, and the owner's shared namespace."""
    suffix = uuid.uuid4().hex[:6]
    operator = trust_policy(emulator.account_id)
    role_a = emulator.create_role(ACCOUNT_A, f"sd-operator-a-{suffix}", operator)
    role_b = emulator.create_role(ACCOUNT_B, f"sd-operator-b-{suffix}", operator)
    owner = emulator.create_role(OWNER, f"sd-operator-owner-{suffix}", operator)
    # A role that exists, but trusts only its own account, not the operator's.
    untrusted = emulator.create_role(UNTRUSTED, f"sd-operator-u-{suffix}", trust_policy(UNTRUSTED))
    missing = f"arn:aws:iam::{ACCOUNT_A}:role/sd-operator-missing-{suffix}"
    shared = shared_namespace(emulator, owner)

    tenants: dict[str, Tenant] = {}
    made: list[str] = []
    for key, role in (("a", role_a), ("b", role_b), ("m", missing), ("u", untrusted)):
        label = f"{key}-{suffix}"
        k8s_namespace = namespace if key == "a" else f"{namespace[:50]}-{key}"
        if key == "a":
            labels = {GRANTED_LABEL: None, "e2e-tenant": label}
            kubectl.merge_patch("namespace", namespace, None, {"metadata": {"labels": labels}})
        else:
            kubectl.create_namespace(k8s_namespace, labels={"e2e-tenant": label})
            made.append(k8s_namespace)
        tenants[key] = Tenant(k8s_namespace, role, f"e2e-{label}")
        kubectl.apply(grant(f"e2e-{label}", label, role, shared))
    try:
        yield World(tenants["a"], tenants["b"], tenants["m"], tenants["u"], owner, shared)
    finally:
        for tenant in tenants.values():
            kubectl.delete(GRANTS, tenant.grant)
        for k8s_namespace in made:
            kubectl.drop_namespace(k8s_namespace)


def converged(kubectl: Kubectl, kind: str, name: str, namespace: str) -> JSON:
    return kubectl.wait_for_object(kind, name, namespace, ready_and_synced, "Ready and Synced")


def assume_role_failed(kubectl: Kubectl, kind: str, name: str, tenant: Tenant) -> JSON:
    """The resource's Stalled condition, once it says AssumeRoleFailed."""
    obj = kubectl.wait_for_object(
        kind,
        name,
        tenant.namespace,
        lambda o: (condition(o, "Stalled") or {}).get("reason") == ASSUME_ROLE_FAILED,
        f"Stalled, reason {ASSUME_ROLE_FAILED}",
    )
    found = condition(obj, "Stalled")
    assert found is not None
    assert found["status"] == "True"
    assert found["message"].startswith(f"cannot assume role {tenant.role_arn}"), found["message"]
    return found


def lost(tenant: Tenant) -> str:
    """A failed tenant's Cloud Map namespace name, its own: the operator judges two claims of
    one name in one Region a conflict whatever accounts they act in."""
    return f"lost-{tenant.namespace[-1]}"


def namespaces(sd: Any) -> list[JSON]:
    """Every Cloud Map namespace `sd` lists (e2e lists are paged two at a time)."""
    return [
        n for page in sd.get_paginator("list_namespaces").paginate() for n in page["Namespaces"]
    ]


def names_in(sd: Any, namespace_arn: str) -> dict[str, str]:
    """The namespace's services: name -> the account that created it."""
    ns_id = namespace_arn.rsplit("/", 1)[-1]
    pages = sd.get_paginator("list_services").paginate(
        Filters=[{"Name": "NAMESPACE_ID", "Values": [ns_id], "Condition": "EQ"}]
    )
    return {str(s["Name"]): str(s["CreatedByAccount"]) for p in pages for s in p["Services"]}


@pytest.mark.long
def test_tenants_act_in_their_own_accounts_and_in_a_namespace_shared_with_them(
    kubectl: Kubectl,
    emulator: Emulator,
    sd: Any,
    world: World,
    start_operator: StartOperator,
) -> None:
    a, b = world.a, world.b
    ecs_service(emulator, b.role_arn)
    others = (b, world.missing_role, world.untrusted)
    start_operator("op", *(arg for t in others for arg in ("--namespace", t.namespace)))

    # The tenants whose roles cannot be assumed first: A and B converge while they stall.
    for tenant in (world.missing_role, world.untrusted):
        kubectl.apply(cloud_map_namespace(lost(tenant), tenant.namespace))
    for tenant in (world.missing_role, world.untrusted):
        found = assume_role_failed(kubectl, NAMESPACES, lost(tenant), tenant)
        assert "AccessDenied" in found["message"], found["message"]

    sc = {
        "cluster": "prod",
        "service": "orders",
        "serviceConnect": {
            "services": [
                {"portName": "http", "discoveryName": "orders-sc", "clientAliases": [{"port": 80}]}
            ]
        },
    }
    kubectl.apply(
        [
            cloud_map_namespace("teama", a.namespace),
            discovery("web", a.namespace, "teama"),
            cloud_map_namespace("teamb", b.namespace),
            discovery("orders", b.namespace, world.shared_arn, ecs=sc),
        ]
    )
    for kind, name, tenant, account in (
        (NAMESPACES, "teama", a, ACCOUNT_A),
        (DISCOVERIES, "web", a, ACCOUNT_A),
        (NAMESPACES, "teamb", b, ACCOUNT_B),
        (DISCOVERIES, "orders", b, ACCOUNT_B),
    ):
        obj = converged(kubectl, kind, name, tenant.namespace)
        assert obj["status"]["account"] == account, (kind, name, obj["status"])

    # Each account holds its own tenant's namespace; the operator's own account holds nothing.
    a_sd = aws_client(emulator, a.role_arn, "servicediscovery")
    b_sd = aws_client(emulator, b.role_arn, "servicediscovery")
    [teama] = namespaces(a_sd)
    assert teama["Name"] == "teama"
    assert names_in(a_sd, teama["Arn"]) == {"web": ACCOUNT_A}
    # B lists its own namespace and the one shared with it.
    assert {n["Name"] for n in namespaces(b_sd)} == {"teamb", "shared"}
    assert namespaces(sd) == []

    # In the shared namespace: the owner's service, and B's with ECS's for Service Connect.
    owner_sd = aws_client(emulator, world.owner_role, "servicediscovery")
    assert names_in(owner_sd, world.shared_arn) == {
        "billing": OWNER,
        "orders": ACCOUNT_B,
        "orders-sc": ACCOUNT_B,
    }
    b_ecs = aws_client(emulator, b.role_arn, "ecs")
    [described] = b_ecs.describe_services(cluster="prod", services=["orders"])["services"]
    primary = next(d for d in described["deployments"] if d["status"] == "PRIMARY")
    assert primary["serviceConnectConfiguration"]["namespace"] == world.shared_arn

    # Deleting B's resources removes only what B created there: the owner's namespace and
    # service stay as they were, untagged.
    kubectl.delete(DISCOVERIES, "orders", b.namespace, wait=True)
    assert "orders" not in names_in(owner_sd, world.shared_arn)
    assert names_in(owner_sd, world.shared_arn)["billing"] == OWNER
    shared = owner_sd.get_namespace(Id=world.shared_arn)["Namespace"]
    assert shared.get("Description", "") == ""
    assert owner_sd.list_tags_for_resource(ResourceARN=world.shared_arn)["Tags"] == []
    kubectl.delete(NAMESPACES, "teamb", b.namespace, wait=True)
    assert {n["Name"] for n in namespaces(b_sd)} == {"shared"}

    # The failed tenants are still refused and made nothing: not in the untrusting role's
    # account, nor in A's, where the missing role would have been (A holds `teama` only).
    for tenant in (world.missing_role, world.untrusted):
        assume_role_failed(kubectl, NAMESPACES, lost(tenant), tenant)
    reader = emulator.create_role(
        UNTRUSTED, f"reader-{uuid.uuid4().hex[:6]}", trust_policy(emulator.account_id)
    )
    assert namespaces(aws_client(emulator, reader, "servicediscovery")) == []
