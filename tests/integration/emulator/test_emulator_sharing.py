"""Cloud Map namespaces shared through AWS RAM, as the owner and as a consumer account.

docs/aws-facts.md, Shared namespaces: the consumer addresses the shared namespace and its
services by ARN, passes OwnerAccount to DiscoverInstances, reads ResourceOwner and
CreatedByAccount; it creates services and registers instances only under a share that carries
AWSRAMPermissionCloudMapECSFullPermission, never changes, deletes or tags the namespace, and
Service Connect takes the namespace's ARN, in the same Region, under that permission only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from botocore.exceptions import ClientError
from emulator_helpers import NO_RETRIES, REGION, make_http_namespace, make_namespace, wait_operation

from sd_devkit.emulator import Emulator, assumed_session, client_config, trust_policy
from support import register_task

pytestmark = pytest.mark.integration

OWNER = "333333333333"
CONSUMER = "111111111111"
ECS_FULL = "arn:aws:ram::aws:permission/AWSRAMPermissionCloudMapECSFullPermission"
# RAM also takes customer managed permissions; the emulator lets any permission but the ECS
# full one read and discover only.
READ_ONLY = f"arn:aws:ram:{REGION}:{OWNER}:permission/CloudMapReadOnly"


@dataclass
class Account:
    id: str
    session: Any
    endpoint: str

    def client(self, service: str, region: str = REGION) -> Any:
        return self.session.client(
            service,
            endpoint_url=self.endpoint,
            region_name=region,
            config=client_config().merge(NO_RETRIES),
        )


def _account(emulator: Emulator, account_id: str) -> Account:
    role = emulator.create_role(account_id, "admin", trust_policy(emulator.account_id))
    return Account(
        account_id, assumed_session(emulator.endpoint_url, role, REGION), emulator.endpoint_url
    )


@pytest.fixture
def owner(emulator: Emulator) -> Account:
    return _account(emulator, OWNER)


@pytest.fixture
def consumer(emulator: Emulator) -> Account:
    return _account(emulator, CONSUMER)


def _shared_namespace(owner: Account, permission: str = ECS_FULL, name: str = "shared") -> str:
    """The owner's HTTP namespace, shared with CONSUMER; returns its ARN."""
    sd = owner.client("servicediscovery")
    ns_id = make_http_namespace(sd, name)
    arn = str(sd.get_namespace(Id=ns_id)["Namespace"]["Arn"])
    owner.client("ram").create_resource_share(
        name=f"{name}-share", resourceArns=[arn], principals=[CONSUMER], permissionArns=[permission]
    )
    return arn


def _code(error: pytest.ExceptionInfo[ClientError]) -> str:
    return str(error.value.response["Error"]["Code"])


def test_the_consumer_reads_the_shared_namespace_by_arn(owner: Account, consumer: Account) -> None:
    arn = _shared_namespace(owner)
    sd = consumer.client("servicediscovery")
    namespace = sd.get_namespace(Id=arn)["Namespace"]
    assert (namespace["Name"], namespace["ResourceOwner"]) == ("shared", OWNER)
    with pytest.raises(ClientError) as by_id:  # an id names a namespace of the caller's own
        sd.get_namespace(Id=namespace["Id"])
    assert _code(by_id) == "NamespaceNotFound"
    make_http_namespace(sd, "mine")
    listed = {n["Name"]: n["ResourceOwner"] for n in sd.list_namespaces()["Namespaces"]}
    assert listed == {"mine": CONSUMER, "shared": OWNER}
    others = sd.list_namespaces(
        Filters=[{"Name": "RESOURCE_OWNER", "Values": ["OTHER_ACCOUNTS"], "Condition": "EQ"}]
    )["Namespaces"]
    assert [n["Name"] for n in others] == ["shared"]


def test_a_namespace_not_shared_with_the_caller_is_not_found(
    owner: Account, consumer: Account
) -> None:
    sd = owner.client("servicediscovery")
    arn = sd.get_namespace(Id=make_http_namespace(sd, "private"))["Namespace"]["Arn"]
    with pytest.raises(ClientError) as caught:
        consumer.client("servicediscovery").get_namespace(Id=arn)
    assert _code(caught) == "NamespaceNotFound"
    assert [
        n["Name"] for n in consumer.client("servicediscovery").list_namespaces()["Namespaces"]
    ] == []


def test_the_consumer_creates_a_service_and_registers_instances(
    owner: Account, consumer: Account
) -> None:
    arn = _shared_namespace(owner)
    sd = consumer.client("servicediscovery")
    service = sd.create_service(Name="api", NamespaceId=arn)["Service"]
    assert service["Arn"].split(":")[4] == OWNER  # it lives in the owner's namespace
    assert (service["ResourceOwner"], service["CreatedByAccount"]) == (OWNER, CONSUMER)
    op_id = sd.register_instance(
        ServiceId=service["Arn"], InstanceId="i-1", Attributes={"AWS_INSTANCE_IPV4": "10.0.0.1"}
    )["OperationId"]
    assert wait_operation(sd, op_id)["Status"] == "SUCCESS"
    listed = sd.list_instances(ServiceId=service["Arn"])
    assert listed["ResourceOwner"] == OWNER
    assert [(i["Id"], i["CreatedByAccount"]) for i in listed["Instances"]] == [("i-1", CONSUMER)]
    # the owner sees the consumer's service in its namespace, and whose it is
    owner_sd = owner.client("servicediscovery")
    ns_id = arn.rsplit("/", 1)[1]
    services = owner_sd.list_services(
        Filters=[{"Name": "NAMESPACE_ID", "Values": [ns_id], "Condition": "EQ"}]
    )["Services"]
    assert [(s["Name"], s["CreatedByAccount"]) for s in services] == [("api", CONSUMER)]


def test_discover_instances_in_a_shared_namespace_takes_the_owner_account(
    owner: Account, consumer: Account
) -> None:
    arn = _shared_namespace(owner)
    sd = consumer.client("servicediscovery")
    service_arn = sd.create_service(Name="api", NamespaceId=arn)["Service"]["Arn"]
    sd.register_instance(
        ServiceId=service_arn, InstanceId="i-1", Attributes={"AWS_INSTANCE_IPV4": "10.0.0.1"}
    )
    found = sd.discover_instances(NamespaceName="shared", ServiceName="api", OwnerAccount=OWNER)
    assert [i["InstanceId"] for i in found["Instances"]] == ["i-1"]
    with pytest.raises(ClientError) as caught:  # without OwnerAccount: the caller's own account
        sd.discover_instances(NamespaceName="shared", ServiceName="api")
    assert _code(caught) == "NamespaceNotFound"


def test_a_share_without_the_ecs_full_permission_only_reads(
    owner: Account, consumer: Account
) -> None:
    arn = _shared_namespace(owner, permission=READ_ONLY)
    sd = consumer.client("servicediscovery")
    assert sd.get_namespace(Id=arn)["Namespace"]["ResourceOwner"] == OWNER
    with pytest.raises(ClientError) as caught:
        sd.create_service(Name="api", NamespaceId=arn)
    assert _code(caught) == "AccessDeniedException"
    assert "servicediscovery:CreateService" in caught.value.response["Error"]["Message"]


def test_the_consumer_cannot_delete_change_or_tag_the_namespace(
    owner: Account, consumer: Account
) -> None:
    arn = _shared_namespace(owner)
    sd = consumer.client("servicediscovery")
    for attempt in (
        lambda: sd.delete_namespace(Id=arn),
        lambda: sd.update_http_namespace(Id=arn, Namespace={"Description": "mine now"}),
        lambda: sd.tag_resource(ResourceARN=arn, Tags=[{"Key": "team", "Value": "b"}]),
    ):
        with pytest.raises(ClientError) as caught:
            attempt()
        assert _code(caught) == "AccessDeniedException"
    owner_sd = owner.client("servicediscovery")
    assert owner_sd.get_namespace(Id=arn)["Namespace"].get("Description", "") == ""
    assert owner_sd.list_tags_for_resource(ResourceARN=arn)["Tags"] == []


def test_the_consumer_deletes_only_the_services_it_created(
    owner: Account, consumer: Account
) -> None:
    arn = _shared_namespace(owner)
    theirs = owner.client("servicediscovery").create_service(Name="owned", NamespaceId=arn)
    sd = consumer.client("servicediscovery")
    with pytest.raises(ClientError) as caught:
        sd.delete_service(Id=theirs["Service"]["Arn"])
    assert _code(caught) == "AccessDeniedException"
    mine = sd.create_service(Name="mine", NamespaceId=arn)["Service"]["Arn"]
    sd.delete_service(Id=mine)
    with pytest.raises(ClientError) as gone:
        sd.get_service(Id=mine)
    assert _code(gone) == "ServiceNotFound"


def test_unsharing_ends_the_consumers_access(owner: Account, consumer: Account) -> None:
    arn = _shared_namespace(owner)
    ram = owner.client("ram")
    share = ram.get_resource_shares(resourceOwner="SELF")["resourceShares"][0]
    assert consumer.client("ram").get_resource_shares(resourceOwner="OTHER-ACCOUNTS")[
        "resourceShares"
    ] == [share]
    ram.disassociate_resource_share(
        resourceShareArn=share["resourceShareArn"], principals=[CONSUMER]
    )
    with pytest.raises(ClientError) as caught:
        consumer.client("servicediscovery").get_namespace(Id=arn)
    assert _code(caught) == "NamespaceNotFound"


def test_only_the_owner_can_share_a_namespace(owner: Account, consumer: Account) -> None:
    arn = _shared_namespace(owner)
    with pytest.raises(ClientError) as caught:
        consumer.client("ram").create_resource_share(
            name="again", resourceArns=[arn], principals=[OWNER]
        )
    assert _code(caught) == "UnknownResourceException"


@pytest.fixture
def consumer_ecs(consumer: Account) -> Any:
    ecs = consumer.client("ecs")
    ecs.create_cluster(clusterName="prod")
    register_task(ecs, "api", 80)
    return ecs


def _create_with_service_connect(ecs: Any, namespace: str) -> Any:
    service_connect = {
        "enabled": True,
        "namespace": namespace,
        "services": [{"portName": "http", "discoveryName": "api", "clientAliases": [{"port": 80}]}],
    }
    return ecs.create_service(
        cluster="prod",
        serviceName="api",
        taskDefinition="api",
        desiredCount=1,
        serviceConnectConfiguration=service_connect,
    )


def test_service_connect_takes_a_shared_namespace_with_the_ecs_full_permission(
    owner: Account, consumer_ecs: Any
) -> None:
    arn = _shared_namespace(owner)
    created = _create_with_service_connect(consumer_ecs, arn)["service"]
    listed = consumer_ecs.list_services_by_namespace(namespace=arn)["serviceArns"]
    assert listed == [created["serviceArn"]]
    # ECS makes the discoveryName's Cloud Map service in the owner's namespace, as the consumer
    primary = next(d for d in created["deployments"] if d["status"] == "PRIMARY")
    [resource] = primary["serviceConnectResources"]
    assert resource["discoveryArn"].split(":")[4] == OWNER
    services = owner.client("servicediscovery").list_services(
        Filters=[{"Name": "NAMESPACE_ID", "Values": [arn.rsplit("/", 1)[1]], "Condition": "EQ"}]
    )["Services"]
    assert [(s["Name"], s["CreatedByAccount"]) for s in services] == [("api", CONSUMER)]


def test_service_connect_refuses_a_share_without_the_ecs_full_permission(
    owner: Account, consumer_ecs: Any
) -> None:
    arn = _shared_namespace(owner, permission=READ_ONLY)
    with pytest.raises(ClientError) as caught:
        _create_with_service_connect(consumer_ecs, arn)
    assert _code(caught) == "ClientException"
    assert "servicediscovery:CreateService" in caught.value.response["Error"]["Message"]


def test_service_connect_refuses_a_namespace_in_another_region(
    owner: Account, consumer: Account, consumer_ecs: Any
) -> None:
    sd = owner.client("servicediscovery", "eu-west-1")
    arn = sd.get_namespace(Id=make_http_namespace(sd, "far"))["Namespace"]["Arn"]
    owner.client("ram", "eu-west-1").create_resource_share(
        name="far", resourceArns=[arn], principals=[CONSUMER], permissionArns=[ECS_FULL]
    )
    # the share is in eu-west-1: the consumer reads the namespace there, not from us-east-1
    far = consumer.client("servicediscovery", "eu-west-1").get_namespace(Id=arn)["Namespace"]
    assert far["Name"] == "far"
    with pytest.raises(ClientError) as here:
        consumer.client("servicediscovery").get_namespace(Id=arn)
    assert _code(here) == "NamespaceNotFound"
    with pytest.raises(ClientError) as caught:
        _create_with_service_connect(consumer_ecs, arn)
    assert _code(caught) == "InvalidParameterException"


def test_a_consumer_vpc_joins_a_shared_private_namespace_only_once_authorized(
    owner: Account, consumer: Account
) -> None:
    """Route 53 Developer Guide, associating a VPC and a private hosted zone of different
    accounts: the zone's account authorizes, then the VPC's account associates."""
    sd = owner.client("servicediscovery")
    ns_id = make_namespace(sd, "private.local", vpc="vpc-owner")
    zone_id = sd.get_namespace(Id=ns_id)["Namespace"]["Properties"]["DnsProperties"]["HostedZoneId"]
    vpc = {"VPCRegion": REGION, "VPCId": "vpc-consumer"}
    consumer_r53 = consumer.client("route53")
    with pytest.raises(ClientError) as caught:
        consumer_r53.associate_vpc_with_hosted_zone(HostedZoneId=zone_id, VPC=vpc)
    assert _code(caught) == "NotAuthorizedException"
    assert (
        consumer_r53.list_hosted_zones_by_vpc(VPCId="vpc-consumer", VPCRegion=REGION)[
            "HostedZoneSummaries"
        ]
        == []
    )
    owner.client("route53").create_vpc_association_authorization(HostedZoneId=zone_id, VPC=vpc)
    consumer_r53.associate_vpc_with_hosted_zone(HostedZoneId=zone_id, VPC=vpc)
    summaries = consumer_r53.list_hosted_zones_by_vpc(VPCId="vpc-consumer", VPCRegion=REGION)[
        "HostedZoneSummaries"
    ]
    assert [(s["HostedZoneId"], s["Owner"]["OwningAccount"]) for s in summaries] == [
        (zone_id.split("/")[-1], OWNER)
    ]
    owner_vpcs = owner.client("route53").get_hosted_zone(Id=zone_id)["VPCs"]
    assert {v["VPCId"] for v in owner_vpcs} == {"vpc-owner", "vpc-consumer"}


def test_list_resources_answers_the_consumer_what_is_shared_with_it(
    owner: Account, consumer: Account, emulator: Emulator
) -> None:
    """RAM API reference, ListResources: OTHER-ACCOUNTS lists what others share with the caller,
    SELF what the caller shares; resourceArns and principal narrow the answer."""
    arn = _shared_namespace(owner)
    other = _shared_namespace(owner, name="other")
    stranger = _account(emulator, "222222222222").client("ram")
    shares = owner.client("ram").get_resource_shares(resourceOwner="SELF")["resourceShares"]
    [share_arn] = [s["resourceShareArn"] for s in shares if s["name"] == "shared-share"]
    ram = consumer.client("ram")
    mine = ram.list_resources(resourceOwner="OTHER-ACCOUNTS", resourceArns=[arn])["resources"]
    assert [(r["arn"], r["resourceShareArn"]) for r in mine] == [(arn, share_arn)]
    everything = ram.list_resources(resourceOwner="OTHER-ACCOUNTS")["resources"]
    assert {r["arn"] for r in everything} == {arn, other}
    assert ram.list_resources(resourceOwner="SELF")["resources"] == []
    owned = owner.client("ram").list_resources(resourceOwner="SELF", principal=CONSUMER)
    assert {r["arn"] for r in owned["resources"]} == {arn, other}
    assert stranger.list_resources(resourceOwner="OTHER-ACCOUNTS")["resources"] == []


def test_list_resource_share_permissions_names_the_shares_permissions(
    owner: Account, consumer: Account, emulator: Emulator
) -> None:
    """RAM API reference, ListResourceSharePermissions: the share's permissions, to its owner and
    its consumers; another account does not find the share."""
    arn = _shared_namespace(owner, permission=READ_ONLY)
    [found] = consumer.client("ram").list_resources(
        resourceOwner="OTHER-ACCOUNTS", resourceArns=[arn]
    )["resources"]
    share = found["resourceShareArn"]
    listed = consumer.client("ram").list_resource_share_permissions(resourceShareArn=share)
    assert [(p["arn"], p["name"]) for p in listed["permissions"]] == [
        (READ_ONLY, "CloudMapReadOnly")
    ]
    owner.client("ram").associate_resource_share_permission(
        resourceShareArn=share, permissionArn=ECS_FULL, replace=True
    )
    listed = owner.client("ram").list_resource_share_permissions(resourceShareArn=share)
    assert [p["name"] for p in listed["permissions"]] == [
        "AWSRAMPermissionCloudMapECSFullPermission"
    ]
    stranger = _account(emulator, "222222222222").client("ram")
    with pytest.raises(ClientError) as caught:
        stranger.list_resource_share_permissions(resourceShareArn=share)
    assert _code(caught) == "UnknownResourceException"
