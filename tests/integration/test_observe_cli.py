"""managementPolicy: Observe through the CLI against the emulator: `plan` and `apply` of
observe-only manifests over what was made by hand make no mutating AWS call, whether AWS
matches them, differs or holds nothing; `delete` deletes nothing; switched to Manage (with
adoptionPolicy: Adopt) the same manifest takes the resource over and changes what differs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sd_devkit.emulator import Emulator
from sd_operator.cli import EXIT_ERROR, EXIT_OK
from support import calls_since, cli, cli_output, mutating_calls, service_names_in

VPC = "vpc-0a1b2c3d4e5f60718"
MANIFESTS = f"""\
apiVersion: sd-operator.io/v1alpha1
kind: CloudMapNamespace
metadata: {{name: brown, namespace: payments}}
spec:
  name: brown.local
  type: DnsPrivate
  vpc: {VPC}
  description: made by hand
  managementPolicy: POLICY
  adoptionPolicy: Adopt
---
apiVersion: sd-operator.io/v1alpha1
kind: ServiceDiscovery
metadata: {{name: orders, namespace: payments}}
spec:
  namespaceRef: {{name: brown}}
  service:
    dns: {{records: [{{type: A, ttl: TTL}}]}}
    healthCheck: {{custom: {{}}}}
  managementPolicy: POLICY
  adoptionPolicy: Adopt
"""


def manifests(tmp_path: Path, *, ttl: int = 10, policy: str = "Observe") -> str:
    path = tmp_path / "brown.yaml"
    path.write_text(MANIFESTS.replace("TTL", str(ttl)).replace("POLICY", policy))
    return str(path)


@pytest.fixture
def by_hand(sd: Any) -> str:
    """A DnsPrivate namespace with a service (TTL 10) made outside sd-operator: its id."""
    op = sd.create_private_dns_namespace(Name="brown.local", Vpc=VPC, Description="made by hand")
    ns_id = str(
        sd.get_operation(OperationId=op["OperationId"])["Operation"]["Targets"]["NAMESPACE"]
    )
    sd.create_service(
        Name="orders",
        NamespaceId=ns_id,
        DnsConfig={"RoutingPolicy": "MULTIVALUE", "DnsRecords": [{"Type": "A", "TTL": 10}]},
        HealthCheckCustomConfig={"FailureThreshold": 1},
    )
    return ns_id


def ttl_of(sd: Any, ns_id: str) -> int:
    services = sd.list_services(
        Filters=[{"Name": "NAMESPACE_ID", "Values": [ns_id], "Condition": "EQ"}]
    )["Services"]
    service = sd.get_service(Id=services[0]["Id"])["Service"]
    return int(service["DnsConfig"]["DnsRecords"][0]["TTL"])


def test_observed_manifests_equal_to_aws_plan_and_apply_in_sync_without_a_write(
    emulator: Emulator, sd: Any, by_hand: str, tmp_path: Path
) -> None:
    before = emulator.calls()

    assert cli(emulator, "plan", "-f", manifests(tmp_path)) == EXIT_OK
    assert cli(emulator, "apply", "-f", manifests(tmp_path)) == EXIT_OK

    assert mutating_calls(calls_since(emulator, before)) == {}


def test_observed_difference_is_reported_and_nothing_is_written(
    emulator: Emulator, sd: Any, by_hand: str, tmp_path: Path
) -> None:
    before = emulator.calls()

    code, planned = cli_output(emulator, "plan", "-f", manifests(tmp_path, ttl=60))
    applied_code, applied = cli_output(emulator, "apply", "-f", manifests(tmp_path, ttl=60))

    assert mutating_calls(calls_since(emulator, before)) == {}
    assert code == EXIT_ERROR
    assert "ObservedDifferent" in planned
    assert "spec.service.dns.records[0].ttl" in planned
    assert applied_code == EXIT_ERROR
    assert "ServiceDiscovery payments/orders: Blocked (ObservedDifferent)" in applied
    assert ttl_of(sd, by_hand) == 10


def test_observed_manifests_with_nothing_in_aws_create_nothing(
    emulator: Emulator, sd: Any, tmp_path: Path
) -> None:
    before = emulator.calls()

    code, applied = cli_output(emulator, "apply", "-f", manifests(tmp_path))

    assert mutating_calls(calls_since(emulator, before)) == {}
    assert code == EXIT_ERROR
    assert "CloudMapNamespace payments/brown: Blocked (ObservedMissing)" in applied
    assert sd.list_namespaces()["Namespaces"] == []


def test_deleting_observed_manifests_deletes_nothing(
    emulator: Emulator, sd: Any, by_hand: str, tmp_path: Path
) -> None:
    before = emulator.calls()

    assert cli(emulator, "delete", "-f", manifests(tmp_path)) == EXIT_OK

    assert mutating_calls(calls_since(emulator, before)) == {}
    assert service_names_in(sd, by_hand) == ["orders"]


def test_switched_to_manage_the_manifest_adopts_and_changes_what_differs(
    emulator: Emulator, sd: Any, by_hand: str, tmp_path: Path
) -> None:
    before = emulator.calls()

    code = cli(emulator, "apply", "-f", manifests(tmp_path, ttl=60, policy="Manage"))

    assert code == EXIT_OK
    assert ttl_of(sd, by_hand) == 60
    written = {api.partition(":")[2] for api in mutating_calls(calls_since(emulator, before))}
    # Adoption writes our tags; the TTL is the one update.
    assert written == {"TagResource", "UpdateService"}
