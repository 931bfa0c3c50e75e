"""Cloud Map fidelity: each test names the docs/aws-facts.md behaviour it checks the emulator
for."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError
from emulator_helpers import (
    all_pages,
    error_field,
    make_http_namespace,
    make_namespace,
    make_service,
    wait_operation,
)

pytestmark = pytest.mark.integration


def _code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


def test_namespace_name_collision_carries_existing_id(sd: Any) -> None:
    """docs/aws-facts.md, Idempotency and names: "Names collide with NamespaceAlreadyExists ... (the
    error carries the existing id)"."""
    ns_id = make_namespace(sd, "app.local")
    with pytest.raises(ClientError) as exc:
        sd.create_private_dns_namespace(Name="app.local", Vpc="vpc-2", CreatorRequestId="other")
    assert _code(exc) == "NamespaceAlreadyExists"
    assert error_field(exc.value, "NamespaceId") == ns_id
    assert len(sd.list_namespaces()["Namespaces"]) == 1


def test_namespace_creator_request_id_returns_the_same_operation(sd: Any) -> None:
    """docs/aws-facts.md, Idempotency and names: "Every Create* accepts CreatorRequestId ... so a
    retry after a crash cannot
    create a twin": the same CreatorRequestId answers the first OperationId."""
    first = sd.create_http_namespace(Name="shop", CreatorRequestId="uid-1")["OperationId"]
    again = sd.create_http_namespace(Name="shop", CreatorRequestId="uid-1")["OperationId"]
    assert again == first
    assert [ns["Name"] for ns in sd.list_namespaces()["Namespaces"]] == ["shop"]


def test_two_private_namespaces_in_one_vpc_are_allowed(sd: Any) -> None:
    """moto refuses any second private namespace in a VPC; AWS only conflicts on overlapping
    domains (see test_emulator_operations for that case)."""
    make_namespace(sd, "a.local", vpc="vpc-1")
    make_namespace(sd, "b.local", vpc="vpc-1")
    names = {ns["Name"] for ns in sd.list_namespaces(MaxResults=10)["Namespaces"]}
    assert names == {"a.local", "b.local"}


def test_service_name_collision_and_creator_request_id(sd: Any) -> None:
    """docs/aws-facts.md, Idempotency and names: ServiceAlreadyExists carries the existing id; the
    same CreatorRequestId answers the same service instead of a twin."""
    ns_id = make_namespace(sd)
    created = sd.create_service(Name="web", NamespaceId=ns_id, CreatorRequestId="svc-uid")
    again = sd.create_service(Name="web", NamespaceId=ns_id, CreatorRequestId="svc-uid")
    assert again["Service"]["Id"] == created["Service"]["Id"]
    with pytest.raises(ClientError) as exc:
        sd.create_service(Name="web", NamespaceId=ns_id, CreatorRequestId="another-uid")
    assert _code(exc) == "ServiceAlreadyExists"
    assert error_field(exc.value, "ServiceId") == created["Service"]["Id"]
    assert len(sd.list_services(MaxResults=10)["Services"]) == 1


def test_create_service_in_unknown_namespace_and_type(sd: Any) -> None:
    """AWS answers NamespaceNotFound and sets the service Type (moto does neither)."""
    with pytest.raises(ClientError) as exc:
        sd.create_service(Name="web", NamespaceId="ns-doesnotexist000000")
    assert _code(exc) == "NamespaceNotFound"
    dns = sd.get_service(Id=make_service(sd, make_namespace(sd)))["Service"]
    http = sd.create_service(Name="api", NamespaceId=make_http_namespace(sd))["Service"]
    assert dns["Type"] == "DNS_HTTP"
    assert http["Type"] == "HTTP"


def test_service_create_date_is_one_instant_in_every_answer(sd: Any) -> None:
    """CreateService, GetService and ListServices carry the service's CreateDate (AWS API
    reference, Service / ServiceSummary), a timestamp: epoch seconds on the wire, so botocore
    answers the same timezone-aware instant in all three. moto 5.2.6 stores a naive datetime
    where 5.2.5 stored epoch seconds."""
    ns_id = make_namespace(sd)
    created = sd.create_service(Name="web", NamespaceId=ns_id)["Service"]
    got = sd.get_service(Id=created["Id"])["Service"]
    (listed,) = sd.list_services()["Services"]
    stamps = [created["CreateDate"], got["CreateDate"], listed["CreateDate"]]
    assert all(stamp.tzinfo is not None for stamp in stamps)
    assert max(stamps) - min(stamps) < timedelta(seconds=1)  # moto's GetService keeps ms only
    assert abs(datetime.now(UTC) - created["CreateDate"]) < timedelta(minutes=5)


def test_delete_service_with_instances_is_resource_in_use(sd: Any) -> None:
    """docs/aws-facts.md, Deletion order: "DeleteService fails with ResourceInUse while instances
    exist"."""
    service_id = make_service(sd, make_namespace(sd))
    wait_operation(
        sd,
        sd.register_instance(
            ServiceId=service_id, InstanceId="i-1", Attributes={"AWS_INSTANCE_IPV4": "10.0.0.1"}
        )["OperationId"],
    )
    with pytest.raises(ClientError) as exc:
        sd.delete_service(Id=service_id)
    assert _code(exc) == "ResourceInUse"
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409
    wait_operation(
        sd, sd.deregister_instance(ServiceId=service_id, InstanceId="i-1")["OperationId"]
    )
    sd.delete_service(Id=service_id)
    with pytest.raises(ClientError) as exc:
        sd.delete_service(Id=service_id)
    assert _code(exc) == "ServiceNotFound"


def test_delete_namespace_with_services_is_resource_in_use(sd: Any) -> None:
    """docs/aws-facts.md, Deletion order: "DeleteNamespace fails with ResourceInUse while services
    exist"."""
    ns_id = make_namespace(sd)
    service_id = make_service(sd, ns_id)
    with pytest.raises(ClientError) as exc:
        sd.delete_namespace(Id=ns_id)
    assert _code(exc) == "ResourceInUse"
    sd.delete_service(Id=service_id)
    assert wait_operation(sd, sd.delete_namespace(Id=ns_id)["OperationId"])["Status"] == "SUCCESS"
    assert sd.list_namespaces()["Namespaces"] == []


@pytest.mark.paged
def test_list_namespaces_paginates_and_filters(sd: Any) -> None:
    """docs/aws-facts.md, Reading: lists and ids: "List calls paginate (MaxResults up to 100,
    NextToken). ListServices/
    ListNamespaces accept Filters"; AWS pages first and filters each page."""
    for name in ("n1.local", "n2.local", "n3.local"):
        make_namespace(sd, name, vpc=f"vpc-{name}")
    make_http_namespace(sd, "h1")
    first = sd.list_namespaces()
    assert len(first["Namespaces"]) == 2
    assert "NextToken" in first
    assert len(sd.list_namespaces(MaxResults=1)["Namespaces"]) == 1  # min(page_size, Max)
    everything, pages = all_pages(sd.list_namespaces, "Namespaces")
    assert len(everything) == 4
    assert pages == 2
    http, _ = all_pages(
        sd.list_namespaces, "Namespaces", Filters=[{"Name": "TYPE", "Values": ["HTTP"]}]
    )
    assert [ns["Name"] for ns in http] == ["h1"]
    # The first page (n1, n2) holds no HTTP namespace: empty, but with a NextToken.
    page = sd.list_namespaces(Filters=[{"Name": "TYPE", "Values": ["HTTP"], "Condition": "EQ"}])
    assert page["Namespaces"] == []
    assert page["NextToken"]
    named, _ = all_pages(
        sd.list_namespaces, "Namespaces", Filters=[{"Name": "NAME", "Values": ["n3.local"]}]
    )
    assert [ns["Name"] for ns in named] == ["n3.local"]
    with pytest.raises(ClientError) as exc:
        sd.list_namespaces(NextToken="not-a-token")
    assert _code(exc) == "InvalidInput"


@pytest.mark.paged
def test_list_services_paginates_and_filters_by_namespace(sd: Any) -> None:
    """docs/aws-facts.md, Reading: lists and ids: ListServices paginates and takes the NAMESPACE_ID
    filter (moto returns every service of the region)."""
    ns_a, ns_b = make_namespace(sd, "a.local"), make_namespace(sd, "b.local", vpc="vpc-b")
    for name in ("s1", "s2", "s3"):
        make_service(sd, ns_a, name)
    make_service(sd, ns_b, "other")
    services, pages = all_pages(
        sd.list_services,
        "Services",
        Filters=[{"Name": "NAMESPACE_ID", "Values": [ns_a], "Condition": "EQ"}],
    )
    assert sorted(s["Name"] for s in services) == ["s1", "s2", "s3"]
    assert pages == 2
    assert all(s["InstanceCount"] == 0 for s in services)


@pytest.mark.paged
def test_list_instances_paginates(sd: Any) -> None:
    service_id = make_service(sd, make_namespace(sd))
    for n in range(5):
        sd.register_instance(
            ServiceId=service_id, InstanceId=f"i-{n}", Attributes={"AWS_INSTANCE_IPV4": "10.0.0.1"}
        )
    instances, pages = all_pages(sd.list_instances, "Instances", ServiceId=service_id)
    assert [i["Id"] for i in instances] == [f"i-{n}" for n in range(5)]
    assert pages == 3


def test_update_service_changes_only_ttls_and_health_check(sd: Any) -> None:
    """docs/aws-facts.md, UpdateService: "Can change only record TTLs of existing DnsRecords,
    HealthCheckConfig and Description"; moto wipes DnsConfig when the request has none."""
    ns_id = make_namespace(sd)
    service_id = make_service(sd, ns_id, ttl=10)
    op = sd.update_service(Id=service_id, Service={"Description": "new words"})["OperationId"]
    wait_operation(sd, op)
    service = sd.get_service(Id=service_id)["Service"]
    assert service["Description"] == "new words"
    assert service["DnsConfig"]["RoutingPolicy"] == "MULTIVALUE"
    assert service["DnsConfig"]["DnsRecords"] == [{"Type": "A", "TTL": 10}]
    op = sd.update_service(
        Id=service_id, Service={"DnsConfig": {"DnsRecords": [{"Type": "A", "TTL": 60}]}}
    )["OperationId"]
    wait_operation(sd, op)
    service = sd.get_service(Id=service_id)["Service"]
    assert service["DnsConfig"]["DnsRecords"] == [{"Type": "A", "TTL": 60}]
    assert service["DnsConfig"]["RoutingPolicy"] == "MULTIVALUE"
    assert service["HealthCheckCustomConfig"] == {"FailureThreshold": 1}
    with pytest.raises(ClientError) as exc:
        sd.update_service(
            Id=service_id, Service={"DnsConfig": {"DnsRecords": [{"Type": "SRV", "TTL": 60}]}}
        )
    assert _code(exc) == "InvalidInput"


def test_update_service_omitted_health_check_config_is_removed(sd: Any) -> None:
    """docs/aws-facts.md, DNS records and health checks: "Send the full DnsConfig.DnsRecords and
    HealthCheckConfig every time: what is omitted is removed"."""
    op_id = sd.create_public_dns_namespace(Name="example.com")["OperationId"]
    ns_id = wait_operation(sd, op_id)["Targets"]["NAMESPACE"]
    service_id = sd.create_service(
        Name="www",
        NamespaceId=ns_id,
        DnsConfig={"RoutingPolicy": "WEIGHTED", "DnsRecords": [{"Type": "A", "TTL": 30}]},
        HealthCheckConfig={"Type": "HTTP", "ResourcePath": "/health", "FailureThreshold": 3},
    )["Service"]["Id"]
    wait_operation(
        sd, sd.update_service(Id=service_id, Service={"Description": "x"})["OperationId"]
    )
    service = sd.get_service(Id=service_id)["Service"]
    assert "HealthCheckConfig" not in service
    assert service["DnsConfig"]["RoutingPolicy"] == "WEIGHTED"


def test_update_service_in_http_namespace_is_refused(sd: Any) -> None:
    """docs/aws-facts.md, UpdateService: "Not allowed for services in HTTP namespaces"."""
    service_id = sd.create_service(Name="api", NamespaceId=make_http_namespace(sd))["Service"]["Id"]
    with pytest.raises(ClientError) as exc:
        sd.update_service(Id=service_id, Service={"Description": "x"})
    assert _code(exc) == "InvalidInput"


def test_register_instance_is_an_upsert(sd: Any) -> None:
    """docs/aws-facts.md, Instances: "RegisterInstance is an upsert keyed on InstanceId" (moto
    duplicates)."""
    service_id = make_service(sd, make_namespace(sd))
    for ip in ("10.0.0.1", "10.0.0.2"):
        op = sd.register_instance(
            ServiceId=service_id, InstanceId="task-1", Attributes={"AWS_INSTANCE_IPV4": ip}
        )
        wait_operation(sd, op["OperationId"])
    instances = sd.list_instances(ServiceId=service_id)["Instances"]
    assert instances == [{"Id": "task-1", "Attributes": {"AWS_INSTANCE_IPV4": "10.0.0.2"}}]
    assert sd.list_services()["Services"][0]["InstanceCount"] == 1


def test_discover_instances_works_with_the_client_helper(sd: Any) -> None:
    """docs/aws-facts.md, Where the emulator corrects moto: "Server mode: DiscoverInstances uses the
    `data-` host prefix; use botocore Config(inject_host_prefix=False)" - `client()` sets it."""
    assert sd.meta.config.inject_host_prefix is False
    service_id = make_service(sd, make_namespace(sd, "disc.local"))
    sd.register_instance(
        ServiceId=service_id, InstanceId="t", Attributes={"AWS_INSTANCE_IPV4": "10.1.2.3"}
    )
    found = sd.discover_instances(NamespaceName="disc.local", ServiceName="web")["Instances"]
    assert [i["Attributes"]["AWS_INSTANCE_IPV4"] for i in found] == ["10.1.2.3"]


def test_update_http_namespace_answers_operation_id(sd: Any) -> None:
    """Update*Namespace is asynchronous (docs/aws-facts.md, Asynchronous calls); moto's
    UpdateHttpNamespace answers a lower-case `operationId` that botocore drops."""
    ns_id = make_http_namespace(sd)
    answer = sd.update_http_namespace(Id=ns_id, Namespace={"Description": "d"})
    assert wait_operation(sd, answer["OperationId"])["Type"] == "UPDATE_NAMESPACE"


def test_service_attributes_round_trip_by_id_and_arn(sd: Any) -> None:
    """Cloud Map API reference, Get/Update/DeleteServiceAttributes: ServiceId is "the ID or
    Amazon Resource Name (ARN) of the service"; an update adds or replaces the keys it names and
    leaves the others, a delete removes only the keys it names."""
    service_id = make_service(sd, make_namespace(sd))
    arn = sd.get_service(Id=service_id)["Service"]["Arn"]
    sd.update_service_attributes(ServiceId=service_id, Attributes={"team": "a", "tier": "1"})
    sd.update_service_attributes(ServiceId=arn, Attributes={"tier": "2"})
    sd.delete_service_attributes(ServiceId=arn, Attributes=["team", "never-set"])
    answer = sd.get_service_attributes(ServiceId=arn)["ServiceAttributes"]
    assert answer["Attributes"] == {"tier": "2"}
    assert answer["ServiceArn"] == arn


@pytest.mark.parametrize(
    "attributes",
    [
        {"k" * 256: "v"},
        {"k": "v" * 1025},
        {f"k{i}": "v" for i in range(31)},
    ],
    ids=["key-over-255", "value-over-1024", "31-entries"],
)
def test_service_attributes_over_the_request_limits_are_invalid_input(
    sd: Any, attributes: dict[str, str]
) -> None:
    """Cloud Map API reference, UpdateServiceAttributes: "Maximum number of 30 items", "Key
    Length Constraints: Maximum length of 255", "Value Length Constraints: Maximum length of
    1024"; InvalidInput: "a string value might exceed length constraints". Nothing is stored."""
    service_id = make_service(sd, make_namespace(sd))
    with pytest.raises(ClientError) as exc:
        sd.update_service_attributes(ServiceId=service_id, Attributes=attributes)
    assert _code(exc) == "InvalidInput"
    assert sd.get_service_attributes(ServiceId=service_id)["ServiceAttributes"]["Attributes"] == {}


def test_service_attributes_at_most_30_per_service(sd: Any) -> None:
    """Cloud Map API reference, UpdateServiceAttributes: ServiceAttributesLimitExceededException
    when the service would hold more than its quota of 30 attributes; the limits are exactly
    reachable (30 entries, a 255-character key, a 1,024-character value)."""
    service_id = make_service(sd, make_namespace(sd))
    first = {f"k{i}": "v" for i in range(29)}
    sd.update_service_attributes(ServiceId=service_id, Attributes=first)
    sd.update_service_attributes(ServiceId=service_id, Attributes={"x" * 255: "v" * 1024})
    with pytest.raises(ClientError) as exc:
        sd.update_service_attributes(ServiceId=service_id, Attributes={"one-more": "v"})
    assert _code(exc) == "ServiceAttributesLimitExceededException"
    held = sd.get_service_attributes(ServiceId=service_id)["ServiceAttributes"]["Attributes"]
    assert len(held) == 30


def test_service_attributes_of_an_unknown_service(sd: Any) -> None:
    """Cloud Map API reference, GetServiceAttributes: ServiceNotFound."""
    with pytest.raises(ClientError) as exc:
        sd.get_service_attributes(ServiceId="srv-doesnotexist")
    assert _code(exc) == "ServiceNotFound"
