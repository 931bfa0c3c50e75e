"""Route 53 through the emulator: a private namespace's hosted zone knows its VPC.

AWS API reference, CreatePrivateDnsNamespace: "When you create a private DNS namespace, Cloud Map
automatically creates an Amazon Route 53 private hosted zone", and Vpc is "The ID of the Amazon
VPC that you want to associate the namespace with"; Route 53 GetHostedZone answers that
association as `VPCs: [{VPCRegion, VPCId}]`. moto creates the zone without any VPC; the emulator
associates the namespace's VPC. Route 53 is a REST-XML service: its calls are counted and can be
faulted like the JSON-protocol ones.
"""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError
from emulator_helpers import NO_RETRIES, REGION, make_namespace, wait_operation

from sd_devkit.emulator import Emulator, client

pytestmark = pytest.mark.integration


@pytest.fixture
def r53(emulator: Emulator) -> Any:
    return client("route53", emulator.endpoint_url, REGION, config=NO_RETRIES)


def _zone_id(sd: Any, namespace_id: str) -> str:
    namespace = sd.get_namespace(Id=namespace_id)["Namespace"]
    return str(namespace["Properties"]["DnsProperties"]["HostedZoneId"])


def test_private_namespace_zone_is_associated_with_its_vpc(sd: Any, r53: Any) -> None:
    ns_id = make_namespace(sd, "app.local", vpc="vpc-0a1b2c3d")

    zone = r53.get_hosted_zone(Id=_zone_id(sd, ns_id))

    assert zone["HostedZone"]["Config"]["PrivateZone"] is True
    assert zone["VPCs"] == [{"VPCRegion": REGION, "VPCId": "vpc-0a1b2c3d"}]


def test_each_private_namespace_zone_has_its_own_vpc(sd: Any, r53: Any) -> None:
    first = make_namespace(sd, "a.local", vpc="vpc-1")
    second = make_namespace(sd, "b.local", vpc="vpc-2")

    assert [v["VPCId"] for v in r53.get_hosted_zone(Id=_zone_id(sd, first))["VPCs"]] == ["vpc-1"]
    assert [v["VPCId"] for v in r53.get_hosted_zone(Id=_zone_id(sd, second))["VPCs"]] == ["vpc-2"]


def test_a_failed_private_namespace_create_leaves_no_hosted_zone(
    emulator: Emulator, sd: Any, r53: Any
) -> None:
    """docs/aws-facts.md, Asynchronous calls: "FAIL carries ErrorCode/ErrorMessage (e.g.
    CANNOT_CREATE_HOSTED_ZONE, ...)"; a
    failed create leaves neither a namespace nor its zone (moto makes the zone at once)."""
    emulator.fail_operations("CREATE_NAMESPACE")
    op_id = sd.create_private_dns_namespace(Name="gone.local", Vpc="vpc-1")["OperationId"]

    assert wait_operation(sd, op_id)["Status"] == "FAIL"
    assert r53.list_hosted_zones()["HostedZones"] == []


def test_get_hosted_zone_is_counted_and_unknown_zones_are_not_found(
    emulator: Emulator, sd: Any, r53: Any
) -> None:
    ns_id = make_namespace(sd)
    zone_id = _zone_id(sd, ns_id)
    emulator.reset_calls()

    r53.get_hosted_zone(Id=zone_id)
    with pytest.raises(ClientError) as exc:
        r53.get_hosted_zone(Id="Z0000000NOSUCHZONE")

    assert exc.value.response["Error"]["Code"] == "NoSuchHostedZone"
    assert emulator.calls() == {"route53:GetHostedZone": 2}


def test_faults_can_be_injected_into_route53(emulator: Emulator, sd: Any, r53: Any) -> None:
    zone_id = _zone_id(sd, make_namespace(sd))
    emulator.inject("route53:GetHostedZone", error="Throttling", count=1)

    with pytest.raises(ClientError) as exc:
        r53.get_hosted_zone(Id=zone_id)

    assert exc.value.response["Error"]["Code"] == "Throttling"
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert r53.get_hosted_zone(Id=zone_id)["VPCs"][0]["VPCId"] == "vpc-1"
