"""The Kubernetes objects CloudMapImport maintains (Service, EndpointSlice), through the
kubernetes client that kopf logged in with. Reads and writes only; the decisions are in
imports.py."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kubernetes import client  # type: ignore[import-untyped]
from kubernetes.client.exceptions import ApiException  # type: ignore[import-untyped]

MERGE_PATCH = "application/merge-patch+json"  # lists (ports, endpoints) replaced whole


class Kube:
    def __init__(self) -> None:
        api = client.ApiClient()
        self._core = client.CoreV1Api(api)
        self._discovery = client.DiscoveryV1Api(api)
        self._api = api

    def _plain(self, obj: Any) -> dict[str, Any]:
        out: dict[str, Any] = self._api.sanitize_for_serialization(obj)
        return out

    def service(self, namespace: str, name: str) -> dict[str, Any] | None:
        try:
            return self._plain(self._core.read_namespaced_service(name, namespace))
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise

    def create_service(self, body: Mapping[str, Any]) -> None:
        self._core.create_namespaced_service(body["metadata"]["namespace"], dict(body))

    def patch_service(self, body: Mapping[str, Any]) -> None:
        meta = body["metadata"]
        self._core.patch_namespaced_service(
            meta["name"], meta["namespace"], dict(body), _content_type=MERGE_PATCH
        )

    def delete_service(self, namespace: str, name: str) -> None:
        try:
            self._core.delete_namespaced_service(name, namespace)
        except ApiException as exc:
            if exc.status != 404:
                raise

    def slices(self, namespace: str, selector: str) -> list[dict[str, Any]]:
        listed = self._discovery.list_namespaced_endpoint_slice(namespace, label_selector=selector)
        return [self._plain(item) for item in listed.items]

    def create_slice(self, body: Mapping[str, Any]) -> None:
        self._discovery.create_namespaced_endpoint_slice(body["metadata"]["namespace"], dict(body))

    def patch_slice(self, body: Mapping[str, Any]) -> None:
        meta = body["metadata"]
        self._discovery.patch_namespaced_endpoint_slice(
            meta["name"], meta["namespace"], dict(body), _content_type=MERGE_PATCH
        )

    def delete_slice(self, namespace: str, name: str) -> None:
        try:
            self._discovery.delete_namespaced_endpoint_slice(name, namespace)
        except ApiException as exc:
            if exc.status != 404:
                raise
