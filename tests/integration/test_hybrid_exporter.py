"""The export against the emulator: instance operations followed to the end, nothing sent
twice while in flight, a failed registration retried, others' instances untouched."""

from __future__ import annotations

from typing import Any

import pytest

from builders import CLUSTER, pay_slice, units_granting_all
from sd_devkit.emulator import Emulator, client
from sd_operator.aws.adapters import Adapters
from sd_operator.aws.clients import AwsConfig, cloudmap_client
from sd_operator.aws.cloudmap import CloudMap
from sd_operator.handlers.export_driver import ExportDriver
from sd_operator.handlers.units import Units
from sd_operator.hybrid.export import CLUSTER_ATTRIBUTE, OWNER_ATTRIBUTE, SliceView, slice_view
from sd_operator.hybrid.exporter import ExportAccount, Exporter, ExportOutcome, ExportResult
from sd_operator.model.spec import (
    GROUP,
    PAUSED_ANNOTATION,
    VERSION,
    ClusterIdentity,
    EndpointsSpec,
    Identity,
)
from sd_operator.reconcile.ownership import CLUSTER_TAG, OWNER_TAG, owner_tags
from sd_operator.reconcile.reconciler import Reconciler
from support import calls_since, mutating_calls

REGION = "us-east-1"
OWNER = Identity("ServiceDiscovery", "payments", "pay", uid="uid-1")
SPEC = EndpointsSpec("pay")


@pytest.fixture
def setup(emulator: Emulator) -> tuple[CloudMap, Any, str]:
    """The Cloud Map service `pay`, created by OWNER in cluster c1 (its owner tags), and the
    test's own client: what the test sets up or looks at goes through it, so the call log
    (docs/iam.md) holds only the operator's calls under test."""
    made = client("servicediscovery", emulator.endpoint_url, REGION)
    op = made.create_http_namespace(Name="apps")["OperationId"]
    ns_id = made.get_operation(OperationId=op)["Operation"]["Targets"]["NAMESPACE"]
    tags = [{"Key": k, "Value": v} for k, v in owner_tags(OWNER, ClusterIdentity("c1")).items()]
    service_id = made.create_service(Name="pay", NamespaceId=ns_id, Tags=tags)["Service"]["Id"]
    return CloudMap(cloudmap_client(AwsConfig(REGION, emulator.endpoint_url))), made, service_id


def _exporter(cm: CloudMap) -> Exporter:
    """Cluster c1's Exporter, judging ownership by the service's tags as AWS has them now."""

    def tags(_region: str | None, service_id: str) -> dict[str, str] | None:
        found = cm.get_service(service_id)
        return None if found is None else dict(found.tags)

    return Exporter(ClusterIdentity("c1"), lambda _role: ExportAccount(lambda _r: cm, tags))


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
    exporter = _exporter(cm)
    emulator.hold_operations(polls=3)
    first = _sync(exporter, service_id, pay_slice("10.0.0.1", "10.0.0.2"))
    assert first.outcome is ExportOutcome.PENDING
    assert first.summary.pending == 2
    assert _registers(emulator) == 2
    for _ in range(5):
        result = _sync(exporter, service_id, pay_slice("10.0.0.1", "10.0.0.2"))
        if result.outcome is ExportOutcome.IN_SYNC:
            break
    assert result.outcome is ExportOutcome.IN_SYNC
    assert result.summary.registered == 2
    assert _registers(emulator) == 2  # polled with GetOperation, never sent again


def test_a_failed_registration_masks_the_arns_aws_names(
    emulator: Emulator, setup: tuple[CloudMap, Any, str]
) -> None:
    """status.export.lastFailure is read by the tenant: another account's ARN in AWS's text is
    masked there, as in every condition message (docs/redaction.md)."""
    cm, _sd, service_id = setup
    role = "arn:aws:iam::210987654321:role/platform-admin"
    emulator.fail_operations("REGISTER_INSTANCE", "INTERNAL_FAILURE", f"denied for {role}", count=1)
    first = _sync(_exporter(cm), service_id, pay_slice("10.0.0.1"))
    assert "INTERNAL_FAILURE: denied for arn:aws:iam::<account>:role/<redacted>" in str(
        first.summary.last_failure
    )
    assert "210987654321" not in str(first.summary.last_failure)


def test_a_failed_registration_is_reported_and_retried(
    emulator: Emulator, setup: tuple[CloudMap, Any, str]
) -> None:
    cm, sd, service_id = setup
    exporter = _exporter(cm)
    emulator.fail_operations("REGISTER_INSTANCE", "INTERNAL_FAILURE", count=1)
    first = _sync(exporter, service_id, pay_slice("10.0.0.1"))
    assert "INTERNAL_FAILURE" in str(first.summary.last_failure)
    assert first.summary.registered == 0
    again = _sync(exporter, service_id, pay_slice("10.0.0.1"))
    assert again.outcome is ExportOutcome.IN_SYNC
    assert again.summary.registered == 1
    assert [i["Id"] for i in sd.list_instances(ServiceId=service_id)["Instances"]] == [
        "c1/payments/pay/10.0.0.1"
    ]


def test_a_second_cluster_exporting_into_the_same_service_is_left_alone(
    emulator: Emulator, setup: tuple[CloudMap, Any, str]
) -> None:
    cm, sd, service_id = setup
    one = _exporter(cm)
    _sync(one, service_id, pay_slice("10.0.0.1"))
    # what c2's export registers (its own Exporter would be refused: the service is c1's)
    for ip in ("10.0.0.1", "10.0.0.2"):
        sd.register_instance(
            ServiceId=service_id,
            InstanceId=f"c2/payments/pay/{ip}",
            Attributes={
                "AWS_INSTANCE_IPV4": ip,
                "AWS_INSTANCE_PORT": "8080",
                OWNER_ATTRIBUTE: OWNER.key,
                CLUSTER_ATTRIBUTE: "c2",
            },
        )
    _sync(one, service_id, pay_slice())  # c1 scales to zero
    ids = sorted(i["Id"] for i in sd.list_instances(ServiceId=service_id)["Instances"])
    assert ids == ["c2/payments/pay/10.0.0.1", "c2/payments/pay/10.0.0.2"]


# Through the handlers, as an EndpointSlice event reaches them: the ServiceDiscovery's status
# names the service, the account view and a read by id say whose it is.

SD_NAME = "pay-sd"


def _discovery_body(service_id: str) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "ServiceDiscovery",
        "metadata": {"name": SD_NAME, "namespace": "payments", "uid": "uid-sd", "generation": 1},
        "spec": {
            "cloudMapNamespace": {"name": "apps"},
            "service": {"name": "pay"},
            "endpoints": {"fromService": {"name": "pay"}},
        },
        "status": {"serviceId": service_id},
    }


def _service(sd: Any, name: str, tags: dict[str, str]) -> str:
    ns_id = next(n["Id"] for n in sd.list_namespaces()["Namespaces"] if n["Name"] == "apps")
    pairs = [{"Key": k, "Value": v} for k, v in tags.items()]
    return str(sd.create_service(Name=name, NamespaceId=ns_id, Tags=pairs)["Service"]["Id"])


def _slices(view: SliceView) -> dict[tuple[str, str], list[SliceView]]:
    return {("payments", "pay"): [view]}


def _exports(reconciler: Reconciler, emulator: Emulator) -> ExportDriver:
    return units_granting_all(reconciler, Adapters(REGION, emulator.endpoint_url)).exports


def test_a_slice_event_registers_nothing_for_a_resource_outside_its_grants(
    emulator: Emulator, setup: tuple[CloudMap, Any, str], reconciler: Reconciler
) -> None:
    """No grant selects its namespace (docs/tenancy.md): the slice event makes no AWS call."""
    _cm, sd, _ = setup
    owner = Identity("ServiceDiscovery", "payments", SD_NAME, uid="uid-sd")
    service_id = _service(sd, "pay-sd", owner_tags(owner, CLUSTER))
    units = Units.build(reconciler, Adapters(REGION, emulator.endpoint_url), 30)
    units.live.grants, units.live.namespace_labels = {}, {}
    calls = emulator.calls()
    units.exports.export_from_slice(
        _discovery_body(service_id), None, _slices(pay_slice("10.0.0.1"))
    )
    assert calls_since(emulator, calls) == {}
    assert sd.list_instances(ServiceId=service_id)["Instances"] == []


def test_a_slice_event_for_a_service_in_sync_changes_nothing_and_raises_nothing(
    emulator: Emulator, setup: tuple[CloudMap, Any, str], reconciler: Reconciler
) -> None:
    """Regression: _merge_export asserted a step result the EndpointSlice path never has, so
    every slice event after the first export raised AssertionError (the hybrid e2e log)."""
    _cm, sd, _ = setup
    owner = Identity("ServiceDiscovery", "payments", SD_NAME, uid="uid-sd")
    service_id = _service(sd, "pay-sd", owner_tags(owner, CLUSTER))
    exports = units_granting_all(reconciler, Adapters(REGION, emulator.endpoint_url)).exports
    body = _discovery_body(service_id)
    exports.export_from_slice(body, None, _slices(pay_slice("10.0.0.1")))  # registers
    exports.export_from_slice(body, None, _slices(pay_slice("10.0.0.1")))  # in sync
    assert [i["Id"] for i in sd.list_instances(ServiceId=service_id)["Instances"]] == [
        f"{CLUSTER.name}/payments/{SD_NAME}/10.0.0.1"
    ]
    assert _registers(emulator) == 1


@pytest.mark.parametrize(
    "tags",
    [{}, {OWNER_TAG: "ServiceDiscovery/other-team/pay", CLUSTER_TAG: CLUSTER.name}],
    ids=["untagged", "another-resource"],
)
def test_status_service_id_naming_a_service_not_ours_gets_no_instance(
    emulator: Emulator,
    setup: tuple[CloudMap, Any, str],
    reconciler: Reconciler,
    tags: dict[str, str],
    log_lines: list[dict[str, Any]],
) -> None:
    """Regression: the export registered into whatever status.serviceId named."""
    _cm, sd, _ = setup
    foreign = _service(sd, "someone-elses", tags)
    exports = units_granting_all(reconciler, Adapters(REGION, emulator.endpoint_url)).exports
    exports.export_from_slice(_discovery_body(foreign), None, _slices(pay_slice("10.0.0.1")))
    assert sd.list_instances(ServiceId=foreign)["Instances"] == []
    assert _registers(emulator) == 0
    [exported] = [line for line in log_lines if line["event"] == "exported"]
    assert exported["outcome"] == "Refused"
    assert "does not carry this resource's owner tags" in exported["message"]


def test_slices_not_written_by_the_endpointslice_controller_are_not_exported(
    emulator: Emulator, setup: tuple[CloudMap, Any, str]
) -> None:
    """A tenant's hand-written slice (or an imported one) for the same Service name."""
    cm, sd, service_id = setup
    exporter = _exporter(cm)
    made_by_hand = slice_view(
        {
            "metadata": {"name": "pay-x", "labels": {"kubernetes.io/service-name": "pay"}},
            "addressType": "IPv4",
            "ports": [{"name": "", "port": 8080}],
            "endpoints": [{"addresses": ["10.0.0.9"]}],
        }
    )
    result = exporter.sync(
        OWNER,
        SPEC,
        region=REGION,
        service_id=service_id,
        service_name="pay",
        custom_health=False,
        slices=[made_by_hand, pay_slice("10.0.0.1")],
    )
    assert result.outcome is not ExportOutcome.REFUSED
    registered = [i["Attributes"]["AWS_INSTANCE_IPV4"] for i in _instances(sd, service_id)]
    assert registered == ["10.0.0.1"]


def _instances(sd: Any, service_id: str) -> list[dict[str, Any]]:
    return list(sd.list_instances(ServiceId=service_id)["Instances"])


@pytest.mark.parametrize("held", ["observe", "paused"])
def test_a_slice_event_registers_nothing_for_an_observed_or_paused_resource(
    emulator: Emulator, setup: tuple[CloudMap, Any, str], reconciler: Reconciler, held: str
) -> None:
    """managementPolicy: Observe writes nothing; a paused resource makes no AWS call at all."""
    _cm, sd, _ = setup
    owner = Identity("ServiceDiscovery", "payments", SD_NAME, uid="uid-sd")
    service_id = _service(sd, "pay-sd", owner_tags(owner, CLUSTER))
    body = _discovery_body(service_id)
    if held == "observe":
        body["spec"]["managementPolicy"] = "Observe"
    else:
        body["metadata"]["annotations"] = {PAUSED_ANNOTATION: "true"}
    exports = _exports(reconciler, emulator)
    calls = emulator.calls()

    exports.export_from_slice(body, None, _slices(pay_slice("10.0.0.1")))

    assert mutating_calls(calls_since(emulator, calls)) == {}
    if held == "paused":
        assert calls_since(emulator, calls) == {}
    assert sd.list_instances(ServiceId=service_id)["Instances"] == []
