"""A tenant whose grant acts in account B creates a Cloud Map service and Service Connect in a
namespace account A shares with B through AWS RAM, against the emulator: created by ARN, owned by
B, and deleting the tenant's resource removes only what it created (docs/tenancy.md, "Shared
namespaces")."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

import pytest
from test_hybrid_importer import ApiServer

from builders import CLUSTER, REGION
from fake_time import FakeTime
from sd_devkit.emulator import Emulator, assumed_session, trust_policy
from sd_operator.aws.adapters import Adapters
from sd_operator.hybrid.importer import Importer
from sd_operator.hybrid.imports import ImportSpec, Owner
from sd_operator.model import reasons
from sd_operator.model.grants import Role
from sd_operator.model.parse import parse_resource
from sd_operator.model.spec import Resource
from sd_operator.reconcile.reconciler import Reconciler
from sd_operator.reconcile.result import Outcome
from support import register_task

OWNER = "333333333333"
TENANT = "444444444444"
ECS_FULL = "arn:aws:ram::aws:permission/AWSRAMPermissionCloudMapECSFullPermission"
READ_ONLY = f"arn:aws:ram:{REGION}:{OWNER}:permission/CloudMapReadOnly"
TENANT_VPC = "vpc-0bbbbbbbbbbbbbbbb"


def _session(emulator: Emulator, account: str) -> Any:
    role = emulator.create_role(account, "admin", trust_policy(emulator.account_id))
    return assumed_session(emulator.endpoint_url, role, REGION)


def _client(session: Any, emulator: Emulator, service: str) -> Any:
    return session.client(service, endpoint_url=emulator.endpoint_url, region_name=REGION)


@pytest.fixture
def owner(emulator: Emulator) -> Any:
    return _session(emulator, OWNER)


@pytest.fixture
def tenant_ecs(emulator: Emulator) -> Any:
    """ECS in the tenant's account: its service, without Service Connect yet."""
    ecs = _client(_session(emulator, TENANT), emulator, "ecs")
    ecs.create_cluster(clusterName="prod")
    register_task(ecs, "orders", 8080)
    ecs.create_service(cluster="prod", serviceName="orders", taskDefinition="orders")
    return ecs


@pytest.fixture
def tenant(emulator: Emulator) -> Reconciler:
    """The operator acting in the tenant's account, through its grant's role. A role name of
    each test's own: the operator keeps its clients per role for the life of the process, and
    the credentials a client assumed in an earlier test are gone with the emulator's reset."""
    name = f"sd-operator-{uuid4().hex[:8]}"
    role = emulator.create_role(TENANT, name, trust_policy(emulator.account_id))
    return Reconciler(Adapters(REGION, emulator.endpoint_url, role=Role(role)), CLUSTER)


def _shared(emulator: Emulator, owner: Any, permission: str) -> str:
    """Account A's HTTP namespace `shared`, shared with the tenant's account; its ARN."""
    sd = _client(owner, emulator, "servicediscovery")
    op = sd.create_http_namespace(Name="shared")["OperationId"]
    ns_id = sd.get_operation(OperationId=op)["Operation"]["Targets"]["NAMESPACE"]
    arn = str(sd.get_namespace(Id=ns_id)["Namespace"]["Arn"])
    _client(owner, emulator, "ram").create_resource_share(
        name="shared", resourceArns=[arn], principals=[TENANT], permissionArns=[permission]
    )
    return arn


def _orders(arn: str) -> Resource:
    return parse_resource(
        {
            "apiVersion": "sd-operator.io/v1alpha1",
            "kind": "ServiceDiscovery",
            "metadata": {"name": "orders", "namespace": "team-b", "uid": "u-orders"},
            "spec": {
                "cloudMapNamespace": {"name": arn},
                "region": REGION,
                "service": {"healthCheck": {"custom": {}}},
                "ecs": {
                    "cluster": "prod",
                    "service": "orders",
                    "serviceConnect": {
                        "services": [
                            {
                                "portName": "http",
                                "discoveryName": "orders-sc",
                                "clientAliases": [{"port": 80}],
                            }
                        ]
                    },
                },
            },
        }
    )


def test_a_tenant_creates_its_service_and_service_connect_in_a_shared_namespace_and_deletes_it(
    emulator: Emulator, owner: Any, tenant: Reconciler, tenant_ecs: Any
) -> None:
    arn = _shared(emulator, owner, ECS_FULL)
    owner_sd = _client(owner, emulator, "servicediscovery")
    theirs = owner_sd.create_service(Name="billing", NamespaceId=arn)["Service"]["Arn"]
    res = _orders(arn)

    done = FakeTime().converge(tenant, res, None, timeout=30)
    assert done.last is not None
    assert done.last.outcome is Outcome.IN_SYNC, done.last.message
    ns_id = arn.rsplit("/", 1)[-1]
    listed = owner_sd.list_services(
        Filters=[{"Name": "NAMESPACE_ID", "Values": [ns_id], "Condition": "EQ"}]
    )["Services"]
    assert {s["Name"]: s["CreatedByAccount"] for s in listed} == {
        "billing": OWNER,
        "orders": TENANT,
        "orders-sc": TENANT,  # ECS's, for Service Connect, in the tenant's name
    }
    described = tenant_ecs.describe_services(cluster="prod", services=["orders"])["services"][0]
    primary = next(d for d in described["deployments"] if d["status"] == "PRIMARY")
    assert primary["serviceConnectConfiguration"]["namespace"] == arn

    gone = FakeTime().converge_delete(tenant, res, None, timeout=30)
    assert gone.last is not None
    assert gone.last.outcome is Outcome.GONE, gone.last.message
    left = owner_sd.list_services(
        Filters=[{"Name": "NAMESPACE_ID", "Values": [ns_id], "Condition": "EQ"}]
    )["Services"]
    assert "orders" not in {s["Name"] for s in left}
    assert owner_sd.get_service(Id=theirs)["Service"]["Name"] == "billing"
    # The owner's namespace: still there, untagged, unchanged.
    namespace = owner_sd.get_namespace(Id=arn)["Namespace"]
    assert namespace.get("Description", "") == ""
    assert owner_sd.list_tags_for_resource(ResourceARN=arn)["Tags"] == []


def test_service_connect_is_refused_until_the_share_carries_the_ecs_full_permission(
    emulator: Emulator, owner: Any, tenant: Reconciler, tenant_ecs: Any
) -> None:
    """The operator reads the share's permissions with RAM ListResources and
    ListResourceSharePermissions as the tenant, and refuses what ECS would refuse."""
    arn = _shared(emulator, owner, READ_ONLY)
    res = _orders(arn)
    refused = tenant.plan(res, namespace=None).plan.refusal
    assert refused is not None
    assert refused.reason == reasons.SHARE_PERMISSION_MISSING
    assert "['CloudMapReadOnly']" in refused.message

    ram = _client(owner, emulator, "ram")
    [share] = ram.get_resource_shares(resourceOwner="SELF")["resourceShares"]
    ram.associate_resource_share_permission(
        resourceShareArn=share["resourceShareArn"], permissionArn=ECS_FULL, replace=True
    )
    assert tenant.plan(res, namespace=None).plan.refusal is None


def test_a_private_namespace_is_refused_until_the_tenants_vpc_is_associated(
    emulator: Emulator, owner: Any, tenant: Reconciler
) -> None:
    sd = _client(owner, emulator, "servicediscovery")
    op = sd.create_private_dns_namespace(Name="shared.local", Vpc="vpc-0aaaaaaaaaaaaaaaa")
    ns_id = sd.get_operation(OperationId=op["OperationId"])["Operation"]["Targets"]["NAMESPACE"]
    namespace = sd.get_namespace(Id=ns_id)["Namespace"]
    arn, zone = namespace["Arn"], namespace["Properties"]["DnsProperties"]["HostedZoneId"]
    _client(owner, emulator, "ram").create_resource_share(
        name="shared", resourceArns=[arn], principals=[TENANT], permissionArns=[ECS_FULL]
    )
    res = parse_resource(
        {
            "apiVersion": "sd-operator.io/v1alpha1",
            "kind": "ServiceDiscovery",
            "metadata": {"name": "orders", "namespace": "team-b", "uid": "u-orders"},
            "spec": {
                "cloudMapNamespace": {"name": arn, "vpc": TENANT_VPC},
                "region": REGION,
                "service": {
                    "dns": {"routingPolicy": "MULTIVALUE", "records": [{"type": "A", "ttl": 10}]},
                    "healthCheck": {"custom": {}},
                },
            },
        }
    )
    refused = tenant.plan(res, namespace=None).plan.refusal
    assert refused is not None
    assert refused.reason == reasons.VPC_NOT_ASSOCIATED
    assert f"{TENANT_VPC} is not associated" in refused.message

    vpc = {"VPCRegion": REGION, "VPCId": TENANT_VPC}
    _client(owner, emulator, "route53").create_vpc_association_authorization(
        HostedZoneId=zone, VPC=vpc
    )
    tenant_session = _session(emulator, TENANT)
    _client(tenant_session, emulator, "route53").associate_vpc_with_hosted_zone(
        HostedZoneId=zone, VPC=vpc
    )
    planned = tenant.plan(res, namespace=None).plan
    assert planned.refusal is None
    assert [type(a).__name__ for a in planned.actions] == ["CreateService"]


def test_a_tenant_imports_from_a_shared_namespace_with_the_owner_account(
    emulator: Emulator, owner: Any, tenant: Reconciler
) -> None:
    arn = _shared(emulator, owner, ECS_FULL)
    owner_sd = _client(owner, emulator, "servicediscovery")
    service = owner_sd.create_service(Name="billing", NamespaceId=arn)["Service"]["Id"]
    owner_sd.register_instance(
        ServiceId=service,
        InstanceId="t1",
        Attributes={"AWS_INSTANCE_IPV4": "10.1.0.1", "AWS_INSTANCE_PORT": "3000"},
    )
    api = ApiServer()
    importer = Importer(tenant.adapters.cloudmap, lambda: api)  # type: ignore[arg-type,return-value]
    owner_ref = Owner("sd-operator.io/v1alpha1", "CloudMapImport", "billing", "uid-import")
    spec = ImportSpec(None, arn, "billing", port=80, region=REGION)
    result = importer.sync(spec, arn, "billing", "team-b", owner_ref)
    assert result.ready, result.message
    assert [a for s in api.slices_.values() for e in s["endpoints"] for a in e["addresses"]] == [
        "10.1.0.1"
    ]
