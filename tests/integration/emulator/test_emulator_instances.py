"""Cloud Map instance fidelity the hybrid export and import rely on: each test names the AWS
behaviour (docs/aws-facts.md or the AWS API reference) it checks the emulator for."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError
from emulator_helpers import make_namespace, make_service, wait_operation

pytestmark = pytest.mark.integration


def _code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


def _register(sd: Any, service_id: str, instance_id: str, **attributes: str) -> None:
    op = sd.register_instance(ServiceId=service_id, InstanceId=instance_id, Attributes=attributes)
    assert wait_operation(sd, op["OperationId"])["Status"] == "SUCCESS"


def _plain_service(sd: Any, namespace_id: str, name: str = "plain") -> str:
    return str(
        sd.create_service(
            Name=name,
            NamespaceId=namespace_id,
            DnsConfig={"RoutingPolicy": "MULTIVALUE", "DnsRecords": [{"Type": "A", "TTL": 10}]},
        )["Service"]["Id"]
    )


def _discovered(sd: Any, status: str, service: str = "web") -> dict[str, str]:
    found = sd.discover_instances(
        NamespaceName="app.local", ServiceName=service, HealthStatus=status, MaxResults=1000
    )["Instances"]
    return {i["InstanceId"]: i["HealthStatus"] for i in found}


def test_custom_health_status_changes_what_discover_instances_returns(sd: Any) -> None:
    """AWS API reference, UpdateInstanceCustomHealthStatus and DiscoverInstances HealthStatus
    (HEALTHY, UNHEALTHY, ALL): an instance marked UNHEALTHY leaves the HEALTHY answer."""
    service_id = make_service(sd, make_namespace(sd))
    _register(sd, service_id, "a", AWS_INSTANCE_IPV4="10.0.0.1")
    _register(sd, service_id, "b", AWS_INSTANCE_IPV4="10.0.0.2")
    sd.update_instance_custom_health_status(
        ServiceId=service_id, InstanceId="b", Status="UNHEALTHY"
    )
    assert _discovered(sd, "HEALTHY") == {"a": "HEALTHY"}
    assert _discovered(sd, "UNHEALTHY") == {"b": "UNHEALTHY"}
    assert _discovered(sd, "ALL") == {"a": "HEALTHY", "b": "UNHEALTHY"}
    sd.update_instance_custom_health_status(ServiceId=service_id, InstanceId="b", Status="HEALTHY")
    assert _discovered(sd, "HEALTHY") == {"a": "HEALTHY", "b": "HEALTHY"}


def test_custom_health_status_needs_a_custom_health_check(sd: Any) -> None:
    """AWS API reference, UpdateInstanceCustomHealthStatus: only for services created with
    HealthCheckCustomConfig (CustomHealthNotFound otherwise; moto changes any instance)."""
    service_id = _plain_service(sd, make_namespace(sd))
    _register(sd, service_id, "a", AWS_INSTANCE_IPV4="10.0.0.1")
    with pytest.raises(ClientError) as exc:
        sd.update_instance_custom_health_status(
            ServiceId=service_id, InstanceId="a", Status="UNHEALTHY"
        )
    assert _code(exc) == "CustomHealthNotFound"
    assert _discovered(sd, "HEALTHY", "plain") == {"a": "HEALTHY"}


def test_custom_health_status_of_an_unknown_instance_is_instance_not_found(sd: Any) -> None:
    service_id = make_service(sd, make_namespace(sd))
    with pytest.raises(ClientError) as exc:
        sd.update_instance_custom_health_status(
            ServiceId=service_id, InstanceId="nope", Status="UNHEALTHY"
        )
    assert _code(exc) == "InstanceNotFound"


def test_init_health_status_sets_the_first_custom_status(sd: Any) -> None:
    """AWS API reference, RegisterInstance: AWS_INIT_HEALTH_STATUS gives a custom health
    check's initial status (HEALTHY when absent); a re-registration starts from it again."""
    service_id = make_service(sd, make_namespace(sd))
    _register(sd, service_id, "a", AWS_INSTANCE_IPV4="10.0.0.1", AWS_INIT_HEALTH_STATUS="UNHEALTHY")
    assert _discovered(sd, "ALL") == {"a": "UNHEALTHY"}
    _register(sd, service_id, "a", AWS_INSTANCE_IPV4="10.0.0.1")
    assert _discovered(sd, "ALL") == {"a": "HEALTHY"}


def test_deregister_instance_removes_it_and_an_unknown_one_is_not_found(sd: Any) -> None:
    """AWS API reference, DeregisterInstance: asynchronous (an OperationId); InstanceNotFound
    for an id the service does not have."""
    service_id = make_service(sd, make_namespace(sd))
    _register(sd, service_id, "a", AWS_INSTANCE_IPV4="10.0.0.1")
    _register(sd, service_id, "b", AWS_INSTANCE_IPV4="10.0.0.2")
    op = sd.deregister_instance(ServiceId=service_id, InstanceId="a")["OperationId"]
    assert wait_operation(sd, op)["Type"] == "DEREGISTER_INSTANCE"
    assert [i["Id"] for i in sd.list_instances(ServiceId=service_id)["Instances"]] == ["b"]
    with pytest.raises(ClientError) as exc:
        sd.deregister_instance(ServiceId=service_id, InstanceId="a")
    assert _code(exc) == "InstanceNotFound"


def test_more_than_30_custom_attributes_are_refused(sd: Any) -> None:
    """docs/aws-facts.md, Throttling and quotas: "30 custom attributes per instance" (AWS_* ones are
    not custom)."""
    service_id = make_service(sd, make_namespace(sd))
    thirty = {f"k{i}": "v" for i in range(30)}
    _register(sd, service_id, "a", AWS_INSTANCE_IPV4="10.0.0.1", AWS_INSTANCE_PORT="80", **thirty)
    with pytest.raises(ClientError) as exc:
        sd.register_instance(
            ServiceId=service_id, InstanceId="b", Attributes={**thirty, "k30": "v"}
        )
    assert _code(exc) == "InvalidInput"


def test_more_than_1000_instances_per_service_are_refused(sd: Any, emulator: Any) -> None:
    """docs/aws-facts.md, Throttling and quotas: "1,000 instances per service (not adjustable)";
    re-registering an existing instance at the limit is still an update. The first 999 are
    seeded at once (the same quotas apply); the 1,000th and what follows go through
    RegisterInstance."""
    service_id = make_service(sd, make_namespace(sd))
    address = {"AWS_INSTANCE_IPV4": "10.0.0.1"}
    emulator.seed_instances(service_id, {f"i-{i}": address for i in range(999)})
    _register(sd, service_id, "i-999", **address)
    with pytest.raises(ClientError) as exc:
        sd.register_instance(
            ServiceId=service_id, InstanceId="i-1000", Attributes={"AWS_INSTANCE_IPV4": "10.0.0.1"}
        )
    assert _code(exc) == "ResourceLimitExceeded"
    sd.register_instance(
        ServiceId=service_id, InstanceId="i-0", Attributes={"AWS_INSTANCE_IPV4": "10.0.0.9"}
    )
    listed = sd.get_paginator("list_instances").paginate(ServiceId=service_id)
    instances = {i["Id"]: i["Attributes"] for page in listed for i in page["Instances"]}
    assert len(instances) == 1000
    assert instances["i-0"]["AWS_INSTANCE_IPV4"] == "10.0.0.9"
    with pytest.raises(ValueError, match="ResourceLimitExceeded"):
        emulator.seed_instances(service_id, {"i-1001": address})
