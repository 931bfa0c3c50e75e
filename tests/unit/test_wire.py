"""The Service Connect dataclasses are one shape with the CRD and the ECS API, and model/wire.py
derives every mapping from them: parsed manifest, UpdateService request, DescribeServices answer,
rendered value and the plan's field paths."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, get_args, get_origin, get_type_hints

import botocore.session
import pytest
import yaml
from botocore.model import ListShape, Shape, StructureShape
from botocore.validate import ParamValidator

from sd_operator.aws.ecs import service_connect_from, service_connect_request
from sd_operator.model.spec import (
    CertificateAuthority,
    ClientAlias,
    HealthCheck,
    LogConfiguration,
    SecretOption,
    ServiceConnect,
    ServiceConnectService,
    ServiceConnectTestTrafficHeaderMatchRules,
    ServiceConnectTestTrafficHeaderRules,
    ServiceConnectTestTrafficRules,
    Timeout,
    Tls,
)
from sd_operator.model.wire import camel, decode, differences, encode

CRD = Path(__file__).resolve().parents[2] / "crds" / "servicediscoveries.yaml"

FULL = ServiceConnect(
    enabled=True,
    namespace="arn:aws:servicediscovery:us-east-1:123456789012:namespace/ns-1",
    services=(
        ServiceConnectService(
            port_name="http",
            discovery_name="users",
            client_aliases=(
                ClientAlias(
                    80,
                    "users.internal",
                    ServiceConnectTestTrafficRules(
                        ServiceConnectTestTrafficHeaderRules(
                            "x-canary", ServiceConnectTestTrafficHeaderMatchRules("yes")
                        )
                    ),
                ),
            ),
            ingress_port_override=8080,
            timeout=Timeout(60, 15),
            tls=Tls(
                CertificateAuthority(
                    "arn:aws:acm-pca:us-east-1:123456789012:certificate-authority/c"
                ),
                kms_key="alias/sc",
                role_arn="arn:aws:iam::123456789012:role/sc",
            ),
        ),
        ServiceConnectService(port_name="grpc"),
    ),
    log_configuration=LogConfiguration(
        "awslogs", {"awslogs-group": "/ecs/sc"}, (SecretOption("token", "arn:secret"),)
    ),
)


def _service_connect_schema() -> dict[str, Any]:
    [doc] = [d for d in yaml.safe_load_all(CRD.read_text()) if d]
    [version] = doc["spec"]["versions"]
    spec = version["schema"]["openAPIV3Schema"]["properties"]["spec"]
    node: dict[str, Any] = spec["properties"]["ecs"]["properties"]["serviceConnect"]
    return node


def _nested(hint: Any) -> type | None:
    """The dataclass a field holds (directly, optionally, or as tuple entries), if any."""
    origin = get_origin(hint)
    if origin is tuple:
        return _nested(get_args(hint)[0])
    if origin is not None:  # X | None
        inner = [a for a in get_args(hint) if a is not type(None)]
        return _nested(inner[0]) if len(inner) == 1 else None
    return hint if dataclasses.is_dataclass(hint) else None


def _required(f: dataclasses.Field[Any]) -> bool:
    return f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING


def _walk(cls: type, path: str = "serviceConnect") -> list[tuple[str, type, dict[str, Any]]]:
    """(path, dataclass, field name -> hint) for `cls` and every dataclass under it."""
    hints = get_type_hints(cls)
    found = [(path, cls, hints)]
    for f in dataclasses.fields(cls):
        nested = _nested(hints[f.name])
        if nested is not None:
            found += _walk(nested, f"{path}.{camel(f.name)}")
    return found


def _schema_at(path: str) -> dict[str, Any]:
    node = _service_connect_schema()
    for key in path.split(".")[1:]:
        node = node["properties"][key]
        node = node.get("items", node)
    return node


@pytest.mark.parametrize(("path", "cls"), [(p, c) for p, c, _ in _walk(ServiceConnect)])
def test_the_dataclasses_are_the_crd_schema_key_for_key(path: str, cls: type) -> None:
    node = _schema_at(path)
    fields = {camel(f.name): f for f in dataclasses.fields(cls)}
    assert set(fields) == set(node["properties"]), path
    required = {k for k, f in fields.items() if _required(f)}
    assert required == set(node.get("required", ())), path


def _ecs_shape(path: str) -> Shape:
    model = botocore.session.get_session().get_service_model("ecs")
    shape: Shape = model.shape_for("ServiceConnectConfiguration")
    for key in path.split(".")[1:]:
        assert isinstance(shape, StructureShape)
        shape = shape.members[key]
        if isinstance(shape, ListShape):
            shape = shape.member
    return shape


@pytest.mark.parametrize(("path", "cls"), [(p, c) for p, c, _ in _walk(ServiceConnect)])
def test_every_field_is_a_member_of_the_ecs_api_shape(path: str, cls: type) -> None:
    """The same keys reach ECS: each field is a member of botocore's shape at that path, and
    the ECS API's required members are always sent (required, or a default that is not None)."""
    shape = _ecs_shape(path)
    assert isinstance(shape, StructureShape)
    keys = {camel(f.name) for f in dataclasses.fields(cls)}
    assert keys <= set(shape.members), (path, keys - set(shape.members))
    required = {
        camel(f.name)
        for f in dataclasses.fields(cls)
        if _required(f) or f.default not in (None, dataclasses.MISSING)
    }
    assert set(shape.required_members) <= required, path


def test_the_update_request_is_valid_for_the_ecs_api() -> None:
    model = botocore.session.get_session().get_service_model("ecs")
    shape = model.operation_model("UpdateService").input_shape
    request = {"service": "s", "serviceConnectConfiguration": service_connect_request(FULL)}
    report = ParamValidator().validate(request, shape)
    assert not report.has_errors(), report.generate_report()
    assert service_connect_request(None) == {"enabled": False}


def test_an_ecs_answer_reads_back_as_what_was_sent() -> None:
    answer = {**service_connect_request(FULL), "containerConfigurations": []}  # not modelled
    assert service_connect_from(answer) == FULL
    assert service_connect_from({"enabled": False, "namespace": "ns"}) is None
    assert decode(ServiceConnect, encode(FULL)) == FULL


def test_encode_leaves_out_unset_and_empty_fields() -> None:
    assert encode(ServiceConnectService("http", timeout=Timeout())) == {"portName": "http"}
    assert encode(HealthCheck(custom=True)) == {"custom": {}}  # its own document


def _paths(want: object, have: object) -> list[str]:
    return [path for path, _, _ in differences("sc", want, have)]


def test_differences_match_services_by_port_name_not_position() -> None:
    http, grpc = FULL.services
    swapped = dataclasses.replace(FULL, services=(grpc, http))
    assert _paths(FULL, swapped) == []
    renamed = dataclasses.replace(http, discovery_name="people")
    assert _paths(dataclasses.replace(FULL, services=(renamed, grpc)), FULL) == [
        "sc.services[0].discoveryName"
    ]
    assert differences("sc", dataclasses.replace(FULL, services=(http,)), FULL) == [
        ("sc.services", ["http"], ["http", "grpc"])
    ]
    assert differences("sc", FULL, dataclasses.replace(FULL, services=(http,))) == [
        ("sc.services[1]", "grpc", None)
    ]


def test_differences_compare_an_all_optional_object_with_its_empty_form() -> None:
    assert _paths(ServiceConnectService("a", timeout=Timeout(60)), ServiceConnectService("a")) == [
        "sc.timeout.idleTimeoutSeconds"
    ]
    tls = FULL.services[0].tls
    assert differences("sc", ServiceConnectService("a", tls=tls), ServiceConnectService("a")) == [
        ("sc.tls", encode(tls), None)
    ]
