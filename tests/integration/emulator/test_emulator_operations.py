"""Cloud Map operation lifecycle in the emulator: hold, FAIL, DuplicateRequest, ListOperations.

docs/aws-facts.md, Asynchronous calls: "Poll GetOperation: SUBMITTED/PENDING are in flight,
SUCCESS/FAIL are final. FAIL
carries ErrorCode/ErrorMessage"; moto: "GetOperation is SUCCESS immediately".
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from botocore.exceptions import ClientError
from emulator_helpers import all_pages, error_field, make_namespace, make_service, wait_operation

from sd_devkit.emulator import Emulator

pytestmark = pytest.mark.integration


def _status(sd: Any, op_id: str) -> str:
    return str(sd.get_operation(OperationId=op_id)["Operation"]["Status"])


def test_hold_by_polls_then_success_with_namespace_target(sd: Any, emulator: Emulator) -> None:
    emulator.hold_operations(polls=3)
    op_id = sd.create_private_dns_namespace(Name="held.local", Vpc="vpc-1")["OperationId"]
    assert [_status(sd, op_id) for _ in range(3)] == ["SUBMITTED", "PENDING", "PENDING"]
    op = sd.get_operation(OperationId=op_id)["Operation"]
    assert op["Status"] == "SUCCESS"
    assert op["Type"] == "CREATE_NAMESPACE"
    ns_id = op["Targets"]["NAMESPACE"]
    assert sd.get_namespace(Id=ns_id)["Namespace"]["Name"] == "held.local"
    assert _status(sd, op_id) == "SUCCESS"  # final stays final


def test_hold_by_time(sd: Any, emulator: Emulator) -> None:
    emulator.hold_operations(seconds=0.4)
    op_id = sd.create_http_namespace(Name="timed")["OperationId"]
    assert _status(sd, op_id) == "SUBMITTED"
    assert _status(sd, op_id) == "PENDING"
    time.sleep(0.45)
    assert _status(sd, op_id) == "SUCCESS"


def test_hold_applies_to_operations_submitted_after_it(sd: Any, emulator: Emulator) -> None:
    before = sd.create_http_namespace(Name="before")["OperationId"]
    emulator.hold_operations(polls=1)
    after = sd.create_http_namespace(Name="after")["OperationId"]
    assert _status(sd, before) == "SUCCESS"
    assert _status(sd, after) == "SUBMITTED"
    assert _status(sd, after) == "SUCCESS"


def test_fail_create_namespace_leaves_no_namespace(sd: Any, emulator: Emulator) -> None:
    emulator.fail_operations("CREATE_NAMESPACE", "CANNOT_CREATE_HOSTED_ZONE", "zone quota", count=1)
    op_id = sd.create_private_dns_namespace(Name="x.local", Vpc="vpc-1", CreatorRequestId="u1")[
        "OperationId"
    ]
    op = wait_operation(sd, op_id)
    assert op["Status"] == "FAIL"
    assert op["ErrorCode"] == "CANNOT_CREATE_HOSTED_ZONE"
    assert op["ErrorMessage"] == "zone quota"
    assert sd.list_namespaces()["Namespaces"] == []
    # The rule fired its one time, and a failed create frees its CreatorRequestId: the retry
    # (same CreatorRequestId, as an operator deriving it from the resource uid sends) succeeds.
    retry = sd.create_private_dns_namespace(Name="x.local", Vpc="vpc-1", CreatorRequestId="u1")[
        "OperationId"
    ]
    assert retry != op_id
    assert wait_operation(sd, retry)["Status"] == "SUCCESS"


def test_fail_with_hold_is_pending_first(sd: Any, emulator: Emulator) -> None:
    emulator.hold_operations(polls=2)
    emulator.fail_operations("doomed.local", "ConflictingDomainExists", "overlap")
    op_id = sd.create_private_dns_namespace(Name="doomed.local", Vpc="vpc-1")["OperationId"]
    assert [_status(sd, op_id) for _ in range(3)] == ["SUBMITTED", "PENDING", "FAIL"]


def test_fail_update_service_by_name_keeps_the_service(sd: Any, emulator: Emulator) -> None:
    service_id = make_service(sd, make_namespace(sd), "web", ttl=10)
    emulator.fail_operations("web", "INTERNAL_FAILURE", "boom")
    op_id = sd.update_service(
        Id=service_id, Service={"DnsConfig": {"DnsRecords": [{"Type": "A", "TTL": 99}]}}
    )["OperationId"]
    op = wait_operation(sd, op_id)
    assert (op["Status"], op["ErrorCode"]) == ("FAIL", "INTERNAL_FAILURE")
    records = sd.get_service(Id=service_id)["Service"]["DnsConfig"]["DnsRecords"]
    assert records == [{"Type": "A", "TTL": 10}]


def test_overlapping_private_namespace_in_same_vpc_fails(sd: Any) -> None:
    """docs/aws-facts.md, Asynchronous calls: FAIL carries "ConflictingDomainExists when the VPC
    already has an overlapping private zone"."""
    make_namespace(sd, "corp.local", vpc="vpc-9")
    op_id = sd.create_private_dns_namespace(Name="team.corp.local", Vpc="vpc-9")["OperationId"]
    op = wait_operation(sd, op_id)
    assert (op["Status"], op["ErrorCode"]) == ("FAIL", "ConflictingDomainExists")
    elsewhere = sd.create_private_dns_namespace(Name="team.corp.local", Vpc="vpc-8")
    assert wait_operation(sd, elsewhere["OperationId"])["Status"] == "SUCCESS"


def test_duplicate_request_while_in_flight(sd: Any, emulator: Emulator) -> None:
    """docs/aws-facts.md, Idempotency and names: "DuplicateRequest means the same request is still
    in progress"."""
    service_id = make_service(sd, make_namespace(sd))
    emulator.hold_operations(polls=1)
    attrs = {"AWS_INSTANCE_IPV4": "10.0.0.1"}
    op_id = sd.register_instance(ServiceId=service_id, InstanceId="i-1", Attributes=attrs)[
        "OperationId"
    ]
    with pytest.raises(ClientError) as exc:
        sd.register_instance(ServiceId=service_id, InstanceId="i-1", Attributes=attrs)
    assert exc.value.response["Error"]["Code"] == "DuplicateRequest"
    assert error_field(exc.value, "DuplicateOperationId") == op_id
    assert _status(sd, op_id) == "SUBMITTED"
    assert _status(sd, op_id) == "SUCCESS"
    sd.register_instance(ServiceId=service_id, InstanceId="i-1", Attributes=attrs)


@pytest.mark.paged
def test_list_operations_paginates_filters_and_keeps_instance_operations(
    sd: Any, emulator: Emulator
) -> None:
    """docs/aws-facts.md, Reading: lists and ids: "List calls paginate"; moto ignores paging and
    filters, and forgets service
    and instance operations on ListOperations (GetOperation then fails)."""
    ns_id = make_namespace(sd)
    service_id = make_service(sd, ns_id)
    register = sd.register_instance(
        ServiceId=service_id, InstanceId="i-1", Attributes={"AWS_INSTANCE_IPV4": "10.0.0.1"}
    )["OperationId"]
    emulator.hold_operations(polls=5)
    pending = sd.register_instance(
        ServiceId=service_id, InstanceId="i-2", Attributes={"AWS_INSTANCE_IPV4": "10.0.0.2"}
    )["OperationId"]
    first = sd.list_operations()
    assert len(first["Operations"]) == 2
    assert first["NextToken"]
    rest = sd.list_operations(NextToken=first["NextToken"])
    assert "NextToken" not in rest
    ids = [o["Id"] for o in first["Operations"] + rest["Operations"]]
    assert len(ids) == 3
    assert register in ids
    assert sd.get_operation(OperationId=register)["Operation"]["Type"] == "REGISTER_INSTANCE"
    in_flight, _ = all_pages(
        sd.list_operations,
        "Operations",
        Filters=[{"Name": "STATUS", "Values": ["SUBMITTED", "PENDING"], "Condition": "IN"}],
    )
    assert [o["Id"] for o in in_flight] == [pending]
    by_service, _ = all_pages(
        sd.list_operations, "Operations", Filters=[{"Name": "SERVICE_ID", "Values": [service_id]}]
    )
    assert {o["Id"] for o in by_service} == {register, pending}


def test_list_operations_update_date_filter(sd: Any) -> None:
    """AWS API reference, ListOperations: UPDATE_DATE takes BETWEEN and two values, "the start
    date and end date in Unix date/time format". moto 5.2.6 stores operation dates as datetimes
    (5.2.5: epoch seconds); the filter reads either."""
    op_id = sd.create_http_namespace(Name="dated")["OperationId"]
    now = time.time()

    def between(low: float, high: float) -> list[str]:
        window = [{"Name": "UPDATE_DATE", "Values": [str(low), str(high)], "Condition": "BETWEEN"}]
        operations, _ = all_pages(sd.list_operations, "Operations", Filters=window)
        return [o["Id"] for o in operations]

    assert between(now - 300, now + 300) == [op_id]
    assert between(now - 900, now - 600) == []
