"""Effects of Cloud Map operations show when the operation is final, not when it is submitted.

docs/aws-facts.md, Asynchronous calls: Create*Namespace, DeleteNamespace, Update*Namespace and
UpdateService return an OperationId, and "A new namespace's id is known only from GetOperation's
Targets["NAMESPACE"]". moto applies every change at once; the emulator applies it when the
operation reaches SUCCESS (and never after a FAIL).
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from botocore.exceptions import ClientError
from emulator_helpers import (
    all_pages,
    error_field,
    make_http_namespace,
    make_namespace,
    make_service,
)

from sd_devkit.emulator import Emulator

pytestmark = pytest.mark.integration


def _poll(sd: Any, op_id: str) -> dict[str, Any]:
    operation: dict[str, Any] = sd.get_operation(OperationId=op_id)["Operation"]
    return operation


def _names(sd: Any) -> list[str]:
    namespaces, _ = all_pages(sd.list_namespaces, "Namespaces")
    return [ns["Name"] for ns in namespaces]


def _calls(emulator: Emulator, action: str) -> int:
    return emulator.calls().get(f"servicediscovery:{action}", 0)


def _error(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


def test_held_create_is_invisible_until_success(sd: Any, emulator: Emulator) -> None:
    emulator.hold_operations(polls=2)
    op_id = sd.create_http_namespace(Name="held", CreatorRequestId="req-1")["OperationId"]
    assert _names(sd) == []
    first = _poll(sd, op_id)
    assert first["Status"] == "SUBMITTED"
    ns_id = first["Targets"]["NAMESPACE"]
    with pytest.raises(ClientError) as missing:
        sd.get_namespace(Id=ns_id)
    assert _error(missing) == "NamespaceNotFound"
    with pytest.raises(ClientError) as no_parent:
        sd.create_service(Name="web", NamespaceId=ns_id)
    assert _error(no_parent) == "NamespaceNotFound"

    # The same request again (same CreatorRequestId) is the same operation, not a twin.
    again = sd.create_http_namespace(Name="held", CreatorRequestId="req-1")["OperationId"]
    assert again == op_id
    # Another request for the same name while the first is in flight: DuplicateRequest
    # (aws/aws-cdk #25554: "Another operation of type CreateHttpNamespace and id ... is in
    # progress"), carrying the operation in flight.
    with pytest.raises(ClientError) as duplicate:
        sd.create_http_namespace(Name="held", CreatorRequestId="req-2")
    assert _error(duplicate) == "DuplicateRequest"
    assert error_field(duplicate.value, "DuplicateOperationId") == op_id
    assert _names(sd) == []

    assert _poll(sd, op_id)["Status"] == "PENDING"
    assert _poll(sd, op_id)["Status"] == "SUCCESS"
    assert _names(sd) == ["held"]
    assert sd.get_namespace(Id=ns_id)["Namespace"]["Name"] == "held"
    # Once it exists, another create of the name is NamespaceAlreadyExists.
    with pytest.raises(ClientError) as exists:
        sd.create_http_namespace(Name="held", CreatorRequestId="req-3")
    assert _error(exists) == "NamespaceAlreadyExists"
    assert error_field(exists.value, "NamespaceId") == ns_id
    assert _calls(emulator, "CreateHttpNamespace") == 4


def test_held_create_by_time_appears_without_polling(sd: Any, emulator: Emulator) -> None:
    emulator.hold_operations(seconds=0.3)
    sd.create_private_dns_namespace(Name="timed.local", Vpc="vpc-1")
    assert _names(sd) == []
    time.sleep(0.35)
    assert _names(sd) == ["timed.local"]
    assert _calls(emulator, "GetOperation") == 0


def test_held_create_that_fails_leaves_no_namespace_and_frees_the_name(
    sd: Any, emulator: Emulator
) -> None:
    emulator.hold_operations(polls=1)
    emulator.fail_operations("doomed", "CANNOT_CREATE_HOSTED_ZONE", "quota", count=1)
    op_id = sd.create_http_namespace(Name="doomed")["OperationId"]
    with pytest.raises(ClientError) as duplicate:
        sd.create_http_namespace(Name="doomed")
    assert _error(duplicate) == "DuplicateRequest"
    assert _poll(sd, op_id)["Status"] == "SUBMITTED"
    failed = _poll(sd, op_id)
    assert (failed["Status"], failed["ErrorCode"]) == ("FAIL", "CANNOT_CREATE_HOSTED_ZONE")
    assert _names(sd) == []
    with pytest.raises(ClientError) as missing:
        sd.get_namespace(Id=failed["Targets"]["NAMESPACE"])
    assert _error(missing) == "NamespaceNotFound"
    retry = sd.create_http_namespace(Name="doomed")["OperationId"]
    assert [_poll(sd, retry)["Status"] for _ in range(2)] == ["SUBMITTED", "SUCCESS"]
    assert _names(sd) == ["doomed"]


def test_held_overlapping_private_namespace_still_conflicts(sd: Any, emulator: Emulator) -> None:
    """The hosted zone of a namespace being created already counts for ConflictingDomainExists
    (docs/aws-facts.md, Asynchronous calls: "FAIL carries ... ConflictingDomainExists when the VPC
    already has an overlapping private zone")."""
    emulator.hold_operations(polls=1)
    first = sd.create_private_dns_namespace(Name="corp.local", Vpc="vpc-9")["OperationId"]
    second = sd.create_private_dns_namespace(Name="team.corp.local", Vpc="vpc-9")["OperationId"]
    for op_id in (first, second):
        assert _poll(sd, op_id)["Status"] == "SUBMITTED"
    assert _poll(sd, first)["Status"] == "SUCCESS"
    failed = _poll(sd, second)
    assert (failed["Status"], failed["ErrorCode"]) == ("FAIL", "ConflictingDomainExists")
    assert _names(sd) == ["corp.local"]


def test_held_delete_keeps_the_namespace_until_success(sd: Any, emulator: Emulator) -> None:
    keep = make_http_namespace(sd, "keep")
    ns_id = make_namespace(sd, "going.local")
    emulator.hold_operations(polls=2)
    op_id = sd.delete_namespace(Id=ns_id)["OperationId"]
    assert _names(sd) == ["keep", "going.local"]  # still listed, in its place
    assert sd.get_namespace(Id=ns_id)["Namespace"]["Name"] == "going.local"
    with pytest.raises(ClientError) as duplicate:
        sd.delete_namespace(Id=ns_id)
    assert _error(duplicate) == "DuplicateRequest"
    assert error_field(duplicate.value, "DuplicateOperationId") == op_id
    # The name is still taken while the delete is in flight.
    with pytest.raises(ClientError) as exists:
        sd.create_private_dns_namespace(Name="going.local", Vpc="vpc-2")
    assert _error(exists) == "NamespaceAlreadyExists"
    assert [_poll(sd, op_id)["Status"] for _ in range(3)] == ["SUBMITTED", "PENDING", "SUCCESS"]
    assert _names(sd) == ["keep"]
    with pytest.raises(ClientError) as missing:
        sd.get_namespace(Id=ns_id)
    assert _error(missing) == "NamespaceNotFound"
    assert sd.get_namespace(Id=keep)["Namespace"]["Name"] == "keep"


def test_held_delete_that_fails_keeps_the_namespace(sd: Any, emulator: Emulator) -> None:
    ns_id = make_http_namespace(sd, "sticky")
    emulator.hold_operations(polls=1)
    emulator.fail_operations("DELETE_NAMESPACE", "INTERNAL_FAILURE", "boom")
    op_id = sd.delete_namespace(Id=ns_id)["OperationId"]
    assert [_poll(sd, op_id)["Status"] for _ in range(2)] == ["SUBMITTED", "FAIL"]
    assert _names(sd) == ["sticky"]
    assert sd.get_namespace(Id=ns_id)["Namespace"]["Id"] == ns_id


def test_held_update_service_shows_new_ttl_at_success(sd: Any, emulator: Emulator) -> None:
    service_id = make_service(sd, make_namespace(sd), "web", ttl=10)
    emulator.hold_operations(polls=2)
    op_id = sd.update_service(
        Id=service_id,
        Service={"Description": "new", "DnsConfig": {"DnsRecords": [{"Type": "A", "TTL": 99}]}},
    )["OperationId"]

    def current() -> tuple[Any, Any]:
        service = sd.get_service(Id=service_id)["Service"]
        return service.get("Description"), service["DnsConfig"]["DnsRecords"]

    assert current() == (None, [{"Type": "A", "TTL": 10}])
    assert _poll(sd, op_id)["Status"] == "SUBMITTED"
    assert current() == (None, [{"Type": "A", "TTL": 10}])
    assert [_poll(sd, op_id)["Status"] for _ in range(2)] == ["PENDING", "SUCCESS"]
    assert current() == ("new", [{"Type": "A", "TTL": 99}])


def test_held_update_namespace_shows_at_success(sd: Any, emulator: Emulator) -> None:
    ns_id = make_http_namespace(sd, "described")
    emulator.hold_operations(polls=1)
    op_id = sd.update_http_namespace(Id=ns_id, Namespace={"Description": "after"})["OperationId"]
    assert sd.get_namespace(Id=ns_id)["Namespace"].get("Description") in (None, "")
    assert [_poll(sd, op_id)["Status"] for _ in range(2)] == ["SUBMITTED", "SUCCESS"]
    assert sd.get_namespace(Id=ns_id)["Namespace"]["Description"] == "after"
