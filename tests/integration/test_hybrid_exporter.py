"""The export against the emulator: instance operations followed to the end, nothing sent
twice while in flight, a failed registration retried, others' instances untouched."""

from __future__ import annotations

from typing import Any

import pytest

from sd_devkit.emulator import Emulator
from sd_operator.aws.clients import AwsConfig, cloudmap_client
from sd_operator.aws.cloudmap import CloudMap
from sd_operator.hybrid.export import SliceView, slice_view
from sd_operator.hybrid.exporter import Exporter, ExportOutcome, ExportResult
from sd_operator.model.spec import EndpointsSpec, Identity

REGION = "us-east-1"
OWNER = Identity("ServiceDiscovery", "payments", "pay", uid="uid-1")
SPEC = EndpointsSpec("pay")


def _slice(*ips: str) -> SliceView:
    return slice_view(
        {
            "metadata": {"name": "pay-1"},
            "addressType": "IPv4",
            "ports": [{"name": "", "port": 8080}],
            "endpoints": [{"addresses": [ip]} for ip in ips],
        }
    )


@pytest.fixture
def setup(emulator: Emulator) -> tuple[CloudMap, Any, str]:
    sd = cloudmap_client(AwsConfig(REGION, emulator.endpoint_url))
    op = sd.create_http_namespace(Name="apps")["OperationId"]
    ns_id = sd.get_operation(OperationId=op)["Operation"]["Targets"]["NAMESPACE"]
    service_id = sd.create_service(Name="pay", NamespaceId=ns_id)["Service"]["Id"]
    return CloudMap(sd), sd, service_id


def _sync(exporter: Exporter, service_id: str, view: SliceView) -> ExportResult:
    return exporter.sync(
        OWNER,
        SPEC,
        region=REGION,
        service_id=service_id,
        service_name="pay",
        custom_health=False,
        slices=[view],
    )


def _registers(emulator: Emulator) -> int:
    return emulator.calls().get("servicediscovery:RegisterInstance", 0)


def test_registrations_in_flight_are_polled_not_sent_again(
    emulator: Emulator, setup: tuple[CloudMap, Any, str]
) -> None:
    cm, _sd, service_id = setup
    exporter = Exporter("c1", lambda _r: cm)
    emulator.hold_operations(polls=3)
    first = _sync(exporter, service_id, _slice("10.0.0.1", "10.0.0.2"))
    assert first.outcome is ExportOutcome.PENDING
    assert first.summary.pending == 2
    assert _registers(emulator) == 2
    for _ in range(5):
        result = _sync(exporter, service_id, _slice("10.0.0.1", "10.0.0.2"))
        if result.outcome is ExportOutcome.IN_SYNC:
            break
    assert result.outcome is ExportOutcome.IN_SYNC
    assert result.summary.registered == 2
    assert _registers(emulator) == 2  # polled with GetOperation, never sent again


def test_a_failed_registration_is_reported_and_retried(
    emulator: Emulator, setup: tuple[CloudMap, Any, str]
) -> None:
    cm, sd, service_id = setup
    exporter = Exporter("c1", lambda _r: cm)
    emulator.fail_operations("REGISTER_INSTANCE", "INTERNAL_FAILURE", count=1)
    first = _sync(exporter, service_id, _slice("10.0.0.1"))
    assert "INTERNAL_FAILURE" in str(first.summary.last_failure)
    assert first.summary.registered == 0
    again = _sync(exporter, service_id, _slice("10.0.0.1"))
    assert again.outcome is ExportOutcome.IN_SYNC
    assert again.summary.registered == 1
    assert [i["Id"] for i in sd.list_instances(ServiceId=service_id)["Instances"]] == [
        "c1/payments/pay/10.0.0.1"
    ]


def test_a_second_cluster_exporting_into_the_same_service_is_left_alone(
    emulator: Emulator, setup: tuple[CloudMap, Any, str]
) -> None:
    cm, sd, service_id = setup
    one, two = Exporter("c1", lambda _r: cm), Exporter("c2", lambda _r: cm)
    _sync(one, service_id, _slice("10.0.0.1"))
    _sync(two, service_id, _slice("10.0.0.1", "10.0.0.2"))
    _sync(one, service_id, _slice())  # c1 scales to zero
    ids = sorted(i["Id"] for i in sd.list_instances(ServiceId=service_id)["Instances"])
    assert ids == ["c2/payments/pay/10.0.0.1", "c2/payments/pay/10.0.0.2"]
