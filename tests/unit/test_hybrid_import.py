"""Cloud Map instances -> selectorless Service and EndpointSlices (hybrid/imports.py)."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any

import pytest
import yaml

from sd_operator.hybrid.imports import (
    ImportLimits,
    ImportSpec,
    Owner,
    address_refusal,
    group,
    needs_update,
    owned_by,
    parse_import,
    service_body,
    slice_bodies,
)
from sd_operator.model.observed import DiscoveredInstance
from sd_operator.model.schema import Invalid

SPEC = ImportSpec(None, "myapp.local", "user-service", port=80, port_name="http")
OWNER = Owner("sd-operator.io/v1alpha1", "CloudMapImport", "user-service", "uid-1")


def _inst(iid: str, **attrs: str) -> DiscoveredInstance:
    return DiscoveredInstance(iid, attrs)


def test_instances_are_grouped_by_family_and_port_and_unusable_ones_skipped() -> None:
    grouped = group(
        [
            _inst("t1", AWS_INSTANCE_IPV4="10.0.1.2", AWS_INSTANCE_PORT="3000"),
            _inst("t2", AWS_INSTANCE_IPV4="10.0.1.1", AWS_INSTANCE_PORT="3000"),
            _inst("t3", AWS_INSTANCE_IPV6="fd00::3", AWS_INSTANCE_PORT="3000"),
            _inst("t4", AWS_INSTANCE_IPV4="10.0.1.4"),
            _inst("cname", AWS_INSTANCE_CNAME="db.example.com", AWS_INSTANCE_PORT="5432"),
            _inst("bad", AWS_INSTANCE_IPV4="not-an-ip", AWS_INSTANCE_PORT="3000"),
        ],
        target_port=None,
    )
    assert grouped.ipv4 == {3000: ("10.0.1.1", "10.0.1.2")}
    assert grouped.ipv6 == {3000: ("fd00::3",)}
    assert grouped.skipped == ("bad", "cname", "t4")
    with_default = group([_inst("t4", AWS_INSTANCE_IPV4="10.0.1.4")], target_port=8080)
    assert with_default.ipv4 == {8080: ("10.0.1.4",)}


def test_the_service_is_selectorless_and_owned() -> None:
    body = service_body(SPEC, "user-service", "payments", OWNER)
    assert "selector" not in body["spec"]
    assert body["spec"]["ports"] == [
        {"name": "http", "port": 80, "protocol": "TCP", "targetPort": 80}
    ]
    [ref] = body["metadata"]["ownerReferences"]
    assert ref["uid"] == "uid-1"
    assert ref["kind"] == "CloudMapImport"


def test_one_slice_per_family_and_port_labelled_for_the_service() -> None:
    grouped = group(
        [
            _inst("a", AWS_INSTANCE_IPV4="10.0.0.1", AWS_INSTANCE_PORT="3000"),
            _inst("b", AWS_INSTANCE_IPV4="10.0.0.2", AWS_INSTANCE_PORT="3001"),
        ],
        None,
    )
    bodies = slice_bodies(SPEC, "user-service", "payments", OWNER, grouped)
    assert sorted(bodies) == ["user-service-ipv4-3000", "user-service-ipv4-3001"]
    body = bodies["user-service-ipv4-3000"]
    assert body["metadata"]["labels"]["kubernetes.io/service-name"] == "user-service"
    assert body["metadata"]["labels"]["endpointslice.kubernetes.io/managed-by"] == "sd-operator.io"
    assert body["ports"] == [{"name": "http", "port": 3000, "protocol": "TCP"}]
    assert body["endpoints"] == [{"addresses": ["10.0.0.1"], "conditions": {"ready": True}}]


def test_server_defaults_are_no_change_but_a_new_address_is() -> None:
    desired = service_body(SPEC, "user-service", "payments", OWNER)
    current = {
        **desired,
        "metadata": {**desired["metadata"], "resourceVersion": "7", "uid": "x"},
        "spec": {**desired["spec"], "clusterIP": "10.96.0.10", "sessionAffinity": "None"},
    }
    assert not needs_update(current, desired)
    changed = {**desired, "spec": {**desired["spec"], "ports": [{"name": "http", "port": 81}]}}
    assert needs_update(current, changed)


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("127.8.9.10", "loopback"),
        ("::1", "loopback"),
        ("::ffff:127.0.0.1", "loopback"),
        ("169.254.169.254", "link-local"),
        ("fe80::1", "link-local"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("224.0.0.251", "multicast"),
        ("ff02::1", "multicast"),
        ("10.96.0.10", "cluster-range"),
        ("fd00:10:96::a", "cluster-range"),
        ("10.1.0.1", None),
        ("fd00::3", None),
        ("203.0.113.7", None),
    ],
)
def test_special_and_cluster_addresses_are_refused_with_a_reason(
    address: str, reason: str | None
) -> None:
    cluster = (ipaddress.ip_network("10.96.0.0/12"), ipaddress.ip_network("fd00:10:96::/108"))
    assert address_refusal(address, cluster) == reason


def test_refused_addresses_are_dropped_and_counted_not_written() -> None:
    """Regression: one loopback or link-local instance went into the slice, and the API server
    refused the whole slice (422)."""
    grouped = group(
        [
            _inst("t1", AWS_INSTANCE_IPV4="10.1.0.1", AWS_INSTANCE_PORT="3000"),
            _inst("lo", AWS_INSTANCE_IPV4="127.0.0.1", AWS_INSTANCE_PORT="3000"),
            _inst("imds", AWS_INSTANCE_IPV4="169.254.169.254", AWS_INSTANCE_PORT="3000"),
            _inst("lo6", AWS_INSTANCE_IPV6="::1", AWS_INSTANCE_PORT="3000"),
            _inst("svc", AWS_INSTANCE_IPV4="10.96.0.1", AWS_INSTANCE_PORT="3000"),
        ],
        target_port=None,
        excluded=(ipaddress.ip_network("10.96.0.0/12"),),
    )
    assert grouped.ipv4 == {3000: ("10.1.0.1",)}
    assert grouped.ipv6 == {}
    assert grouped.dropped == {"cluster-range": 1, "link-local": 1, "loopback": 2}
    assert grouped.skipped == ()
    assert grouped.count == 1


@pytest.mark.parametrize(
    ("allowed", "name", "permitted"),
    [
        (None, "anything.local", True),
        (("shared.local",), "shared.local", True),
        (("shared.local",), "team-b.local", False),
        (("team-a-*",), "team-a-apps", True),
        (("team-a-*",), "team-b-apps", False),
        ((), "shared.local", False),
    ],
)
def test_import_limits_permit_only_listed_namespaces(
    allowed: tuple[str, ...] | None, name: str, permitted: bool
) -> None:
    assert ImportLimits(from_namespaces=allowed).permits(name) is permitted


def test_ownership_is_the_owner_reference_uid_not_the_name() -> None:
    body = service_body(SPEC, "user-service", "payments", OWNER)
    assert owned_by(body, OWNER)
    same_name_other_uid = Owner(OWNER.api_version, OWNER.kind, OWNER.name, "uid-2")
    assert not owned_by(body, same_name_other_uid)
    assert not owned_by({"metadata": {"name": "user-service"}}, OWNER)


def _example() -> dict[str, Any]:
    path = Path(__file__).resolve().parents[2] / "examples" / "hybrid" / "user-service-import.yaml"
    body: dict[str, Any] = yaml.safe_load(path.read_text())
    return body


def test_an_import_is_read_as_its_crd_defaults_it() -> None:
    assert parse_import(_example()) == ImportSpec(
        "myapp", None, "user-service", port=80, port_name="http", target_port=3000
    )


def test_an_import_its_crd_refuses_is_invalid_at_the_field() -> None:
    body = _example()
    body["spec"]["port"] = 70000
    with pytest.raises(Invalid) as refused:
        parse_import(body)
    assert refused.value.field == "spec.port"
