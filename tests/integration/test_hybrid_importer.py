"""The import against the emulator's Cloud Map and an in-memory API server: which addresses and
namespaces it takes, what it never overwrites, and a refused write as a condition."""

from __future__ import annotations

import copy
import ipaddress
from collections.abc import Mapping
from typing import Any

import pytest

from sd_devkit.emulator import Emulator, client
from sd_operator.aws.clients import AwsConfig, cloudmap_client
from sd_operator.aws.cloudmap import CloudMap
from sd_operator.hybrid.importer import Importer, ImportResult
from sd_operator.hybrid.imports import ImportLimits, ImportSpec, Owner
from sd_operator.hybrid.k8s import Rejected
from sd_operator.model.status import Dropped

REGION = "us-east-1"
K8S_NAMESPACE = "payments"
NAME = "user-service"
SPEC = ImportSpec(None, "ecs-apps", NAME, port=80)
OWNER = Owner("sd-operator.io/v1alpha1", "CloudMapImport", NAME, "uid-import")
SLICE = f"{NAME}-ipv4-3000"


class ApiServer:
    """The Kube interface over dicts, answering as Kube does for what the API server refuses:
    Rejected 409 for a name taken, 422 for an address EndpointSlice validation refuses."""

    def __init__(self) -> None:
        self.services: dict[str, dict[str, Any]] = {}
        self.slices_: dict[str, dict[str, Any]] = {}

    def service(self, namespace: str, name: str) -> dict[str, Any] | None:
        return copy.deepcopy(self.services.get(name))

    def create_service(self, body: Mapping[str, Any]) -> None:
        self._create(self.services, "Service", body)

    def patch_service(self, body: Mapping[str, Any]) -> None:
        self.services[body["metadata"]["name"]].update(copy.deepcopy(dict(body)))

    def delete_service(self, namespace: str, name: str) -> None:
        self.services.pop(name, None)

    def slices(self, namespace: str, selector: str) -> list[dict[str, Any]]:
        key, value = selector.split("=")
        return [
            copy.deepcopy(s)
            for s in self.slices_.values()
            if s["metadata"]["labels"].get(key) == value
        ]

    def create_slice(self, body: Mapping[str, Any]) -> None:
        self._validate(body)
        self._create(self.slices_, "EndpointSlice", body)

    def patch_slice(self, body: Mapping[str, Any]) -> None:
        self._validate(body)
        self.slices_[body["metadata"]["name"]].update(copy.deepcopy(dict(body)))

    def delete_slice(self, namespace: str, name: str) -> None:
        self.slices_.pop(name, None)

    @staticmethod
    def _create(store: dict[str, dict[str, Any]], kind: str, body: Mapping[str, Any]) -> None:
        name = body["metadata"]["name"]
        if name in store:
            raise Rejected(kind, name, 409, f'{kind.lower()}s "{name}" already exists')
        store[name] = copy.deepcopy(dict(body))

    @staticmethod
    def _validate(body: Mapping[str, Any]) -> None:
        for ep in body["endpoints"]:
            address = ipaddress.ip_address(ep["addresses"][0])
            if address.is_loopback or address.is_link_local or address.is_unspecified:
                raise Rejected("EndpointSlice", body["metadata"]["name"], 422, "invalid address")


@pytest.fixture
def cloudmap(emulator: Emulator) -> CloudMap:
    """ecs-apps/user-service as ECS leaves it: tasks with addresses of every kind (set up by
    the test's own client: the call log, docs/iam.md, holds only the operator's calls)."""
    sd = client("servicediscovery", emulator.endpoint_url, REGION)
    op = sd.create_http_namespace(Name="ecs-apps")["OperationId"]
    ns_id = sd.get_operation(OperationId=op)["Operation"]["Targets"]["NAMESPACE"]
    service_id = sd.create_service(Name=NAME, NamespaceId=ns_id)["Service"]["Id"]
    for task, ip in (
        ("t1", "10.1.0.1"),
        ("t2", "10.1.0.2"),
        ("lo", "127.0.0.1"),
        ("imds", "169.254.169.254"),
        ("pod", "10.244.1.7"),
    ):
        sd.register_instance(
            ServiceId=service_id,
            InstanceId=task,
            Attributes={"AWS_INSTANCE_IPV4": ip, "AWS_INSTANCE_PORT": "3000"},
        )
    return CloudMap(cloudmap_client(AwsConfig(REGION, emulator.endpoint_url)))


def _sync(cloudmap: CloudMap, api: ApiServer, limits: ImportLimits | None = None) -> ImportResult:
    importer = Importer(lambda _r: cloudmap, lambda: api, limits)  # type: ignore[arg-type,return-value]
    return importer.sync(SPEC, "ecs-apps", NAME, K8S_NAMESPACE, OWNER)


def _addresses(api: ApiServer) -> list[str]:
    return sorted(a for s in api.slices_.values() for e in s["endpoints"] for a in e["addresses"])


def test_special_and_cluster_addresses_never_reach_a_slice_and_are_counted(
    cloudmap: CloudMap,
) -> None:
    api = ApiServer()
    pods = ImportLimits(excluded=(ipaddress.ip_network("10.244.0.0/16"),))
    result = _sync(cloudmap, api, pods)
    assert result.ready, result.message
    assert _addresses(api) == ["10.1.0.1", "10.1.0.2"]
    assert result.status.dropped == (
        Dropped("cluster-range", 1),
        Dropped("link-local", 1),
        Dropped("loopback", 1),
    )
    assert "1 cluster-range, 1 link-local, 1 loopback" in result.message
    for hidden in ("127.0.0.1", "169.254.169.254", "10.244.1.7"):
        assert hidden not in result.message


def test_a_namespace_not_permitted_is_not_read_and_what_it_gave_is_removed(
    cloudmap: CloudMap, emulator: Emulator
) -> None:
    api = ApiServer()
    assert _sync(cloudmap, api).ready  # before the operator was limited
    assert _addresses(api) == ["10.1.0.1", "10.1.0.2", "10.244.1.7"]
    reads = emulator.calls().get("servicediscovery:DiscoverInstances", 0)
    result = _sync(cloudmap, api, ImportLimits(from_namespaces=("shared-*",)))
    assert not result.ready
    assert result.reason == "NamespaceNotPermitted"
    assert emulator.calls().get("servicediscovery:DiscoverInstances", 0) == reads
    assert api.slices_ == {}
    assert result.performed == (f"deleted EndpointSlice {SLICE}",)


def test_a_refused_slice_write_is_a_condition_not_a_retry(cloudmap: CloudMap) -> None:
    """Regression: a 409/422 on the slice write was an exception kopf retried, with no
    condition saying why. Here a slice of that name exists and is not this import's."""
    api = ApiServer()
    api.slices_[SLICE] = {
        "metadata": {"name": SLICE, "labels": {"kubernetes.io/service-name": NAME}},
        "endpoints": [{"addresses": ["10.50.0.1"]}],
    }
    result = _sync(cloudmap, api)
    assert not result.ready
    assert result.reason == "WriteRejected"
    assert f"EndpointSlice {SLICE}: 409" in result.message
    assert result.performed == (f"created Service {NAME}",)
    assert api.slices_[SLICE]["endpoints"] == [{"addresses": ["10.50.0.1"]}]


def test_a_service_of_that_name_not_created_by_the_import_is_left_alone(
    cloudmap: CloudMap,
) -> None:
    api = ApiServer()
    theirs = {"metadata": {"name": NAME, "namespace": K8S_NAMESPACE}, "spec": {"ports": []}}
    api.services[NAME] = copy.deepcopy(theirs)
    result = _sync(cloudmap, api)
    assert (result.ready, result.reason) == (False, "ServiceNotOwned")
    assert api.services[NAME] == theirs
    assert api.slices_ == {}
