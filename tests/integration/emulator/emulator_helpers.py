"""Helpers shared by the emulator tests (plain functions; fixtures live in conftest.py)."""

from __future__ import annotations

from typing import Any, cast

from botocore.config import Config
from botocore.exceptions import ClientError

REGION = "us-east-1"
# No botocore retries: a test sees each injected fault exactly as the emulator answered it.
NO_RETRIES = Config(retries={"total_max_attempts": 1, "mode": "standard"})


def wait_operation(sd: Any, operation_id: str, polls: int = 50) -> dict[str, Any]:
    """Poll GetOperation until SUCCESS/FAIL; returns the operation."""
    for _ in range(polls):
        op: dict[str, Any] = sd.get_operation(OperationId=operation_id)["Operation"]
        if op["Status"] in ("SUCCESS", "FAIL"):
            return op
    raise AssertionError(f"operation {operation_id} still in flight after {polls} polls")


def make_namespace(sd: Any, name: str = "app.local", vpc: str = "vpc-1") -> str:
    op_id = sd.create_private_dns_namespace(Name=name, Vpc=vpc)["OperationId"]
    return str(wait_operation(sd, op_id)["Targets"]["NAMESPACE"])


def make_http_namespace(sd: Any, name: str = "app-http") -> str:
    op_id = sd.create_http_namespace(Name=name)["OperationId"]
    return str(wait_operation(sd, op_id)["Targets"]["NAMESPACE"])


def make_service(sd: Any, namespace_id: str, name: str = "web", ttl: int = 10) -> str:
    service = sd.create_service(
        Name=name,
        NamespaceId=namespace_id,
        DnsConfig={"RoutingPolicy": "MULTIVALUE", "DnsRecords": [{"Type": "A", "TTL": ttl}]},
        HealthCheckCustomConfig={"FailureThreshold": 1},
    )["Service"]
    return str(service["Id"])


def all_pages(call: Any, key: str, **kwargs: Any) -> tuple[list[Any], int]:
    items: list[Any] = []
    pages = 0
    token = None
    while True:
        answer = call(**kwargs, **({"NextToken": token} if token else {}))
        pages += 1
        items.extend(answer[key])
        token = answer.get("NextToken")
        if not token:
            return items, pages


def error_field(error: ClientError, key: str) -> Any:
    """A modeled member of an AWS error (NamespaceId, ServiceId, DuplicateOperationId...)."""
    return cast(dict[str, Any], error.response)[key]
