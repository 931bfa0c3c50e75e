"""`run`'s hybrid flags read into HybridSettings (hybrid/options.py), and the Kubernetes
adapter's classification of a refused write (hybrid/k8s.py)."""

from __future__ import annotations

import argparse
import ipaddress
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from kubernetes import client  # type: ignore[import-untyped]
from kubernetes.client.exceptions import ApiException  # type: ignore[import-untyped]

from sd_operator.hybrid.k8s import Kube, Rejected
from sd_operator.hybrid.options import HybridSettings, add_flags, from_args


def _parse(*argv: str) -> HybridSettings:
    parser = argparse.ArgumentParser()
    add_flags(parser)
    return from_args(parser.parse_args(argv))


def test_by_default_both_directions_run_and_any_namespace_is_read() -> None:
    settings = _parse()
    assert (settings.import_enabled, settings.export_enabled) == (True, True)
    assert settings.limits.from_namespaces is None
    assert settings.limits.excluded == ()


def test_lists_are_comma_separated_and_repeatable() -> None:
    settings = _parse(
        "--no-export",
        "--import-from-namespaces",
        "shared.local, team-a-*",
        "--import-from-namespaces=ecs-apps",
        "--import-exclude-cidrs",
        "10.96.0.0/12,fd00:10:96::/108",
    )
    assert not settings.export_enabled
    assert settings.limits.from_namespaces == ("shared.local", "team-a-*", "ecs-apps")
    assert settings.limits.excluded == (
        ipaddress.ip_network("10.96.0.0/12"),
        ipaddress.ip_network("fd00:10:96::/108"),
    )


def test_an_empty_namespace_list_permits_none() -> None:
    assert not _parse("--import-from-namespaces", "").limits.permits("anything")


class _Refusing(BaseHTTPRequestHandler):
    """Answers every request as the API server answers a write it refuses for good, or
    fails it (500) when the path asks so."""

    def do_POST(self) -> None:
        status = 500 if "fails" in self.path else 422
        body = json.dumps(
            {"kind": "Status", "status": "Failure", "message": "endpoints[0].addresses: bad"}
        ).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def kube() -> Iterator[Kube]:
    server = HTTPServer(("127.0.0.1", 0), _Refusing)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    config = client.Configuration(host=f"http://127.0.0.1:{server.server_port}")
    client.Configuration.set_default(config)
    try:
        yield Kube()
    finally:
        client.Configuration.set_default(None)
        server.shutdown()


def _slice(namespace: str) -> dict[str, object]:
    return {"metadata": {"name": "s-ipv4-80", "namespace": namespace}, "addressType": "IPv4"}


def test_a_write_refused_for_good_is_rejected_with_the_servers_reason(kube: Kube) -> None:
    with pytest.raises(Rejected) as caught:
        kube.create_slice(_slice("payments"))
    assert caught.value.status == 422
    assert str(caught.value) == (
        "the API server refused EndpointSlice s-ipv4-80: 422 endpoints[0].addresses: bad"
    )


def test_other_failures_stay_api_errors_for_kopf_to_retry(kube: Kube) -> None:
    with pytest.raises(ApiException) as caught:
        kube.create_slice(_slice("fails"))
    assert caught.value.status == 500
