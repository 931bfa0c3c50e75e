"""The Kubernetes objects CloudMapImport maintains (Service, EndpointSlice), through the
kubernetes client that kopf logged in with (sd_operator.kube.client). Reads and writes only;
the decisions are in imports.py."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from sd_operator.kube.client import ApiException, apis

MERGE_PATCH = "application/merge-patch+json"  # lists (ports, endpoints) replaced whole
# 409: the name is taken (by an object this import does not own); 422: the body is invalid.
# Sending the same body again gets the same answer.
REJECTED = (409, 422)


class Rejected(Exception):
    """The API server refused a write of ours for good (REJECTED): the import says why in its
    condition instead of retrying the same body."""

    def __init__(self, kind: str, name: str, status: int, message: str) -> None:
        super().__init__(f"the API server refused {kind} {name}: {status} {message}")
        self.status = status


@contextmanager
def _writing(kind: str, body: Mapping[str, Any]) -> Iterator[None]:
    try:
        yield
    except ApiException as exc:
        if exc.status not in REJECTED:
            raise
        raise Rejected(kind, body["metadata"]["name"], exc.status, _message(exc)) from exc


def _message(exc: ApiException) -> str:
    """The Status object's message (which field, which value), else the HTTP reason."""
    try:
        return str(json.loads(exc.body)["message"])
    except (TypeError, ValueError, KeyError):
        return str(exc.reason)


class Kube:
    def __init__(self) -> None:
        loaded = apis()
        self._core = loaded.core
        self._discovery = loaded.discovery
        self._api = loaded.client

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
        with _writing("Service", body):
            self._core.create_namespaced_service(body["metadata"]["namespace"], dict(body))

    def patch_service(self, body: Mapping[str, Any]) -> None:
        with _writing("Service", body):
            _patch(self._core.patch_namespaced_service, body)

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
        with _writing("EndpointSlice", body):
            self._discovery.create_namespaced_endpoint_slice(
                body["metadata"]["namespace"], dict(body)
            )

    def patch_slice(self, body: Mapping[str, Any]) -> None:
        with _writing("EndpointSlice", body):
            _patch(self._discovery.patch_namespaced_endpoint_slice, body)

    def delete_slice(self, namespace: str, name: str) -> None:
        try:
            self._discovery.delete_namespaced_endpoint_slice(name, namespace)
        except ApiException as exc:
            if exc.status != 404:
                raise


def _patch(call: Callable[..., Any], body: Mapping[str, Any]) -> None:
    meta = body["metadata"]
    call(meta["name"], meta["namespace"], dict(body), _content_type=MERGE_PATCH)
