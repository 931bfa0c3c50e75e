"""The call log tests/iam judges docs/iam-policy.json by: each call with the resources it names
and their tags. A service in a namespace shared through RAM is named by its ARN, in its owner's
account: it was left out (resource `*`, no tags), and the policy's tag conditions refused it."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from emulator_helpers import REGION, make_http_namespace

from sd_devkit.emulator import Emulator, calllog
from sd_devkit.emulator._wsgi import Call
from sd_devkit.emulator.calllog import entry

pytestmark = pytest.mark.integration

CONSUMER = "111111111111"


def test_a_service_named_by_arn_is_logged_with_its_owners_tags(emulator: Emulator, sd: Any) -> None:
    namespace_id = make_http_namespace(sd, "shared")
    tags = [{"Key": "sd-operator.io/cluster", "Value": "c1"}]
    made = sd.create_service(Name="orders", NamespaceId=namespace_id, Tags=tags)["Service"]
    body = {"ServiceId": made["Arn"], "InstanceId": "i-1", "Attributes": {}}

    call = Call("servicediscovery", "RegisterInstance", REGION, CONSUMER, "json", "x", body)

    assert entry(call) == {
        "action": "servicediscovery:RegisterInstance",
        "resources": {made["Arn"]: {"sd-operator.io/cluster": "c1"}},
    }


def test_a_request_cut_within_its_headers_is_not_logged(
    emulator: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An operator SIGKILLed while sending: the request line and some headers arrived, no
    Content-Length and no body. It never reached AWS's authorization, and logged as a
    DeleteService of no resource it failed tests/iam (warm run of 96bcff3)."""
    log = tmp_path / "calls.jsonl"
    monkeypatch.setenv(calllog.ENV, str(log))
    host, port = urlsplit(emulator.endpoint_url).netloc.split(":")
    head = (
        "POST / HTTP/1.1\r\n"
        f"Host: {host}:{port}\r\n"
        "X-Amz-Target: Route53AutoNaming_v20170314.DeleteService\r\n"
        "Content-Type: application/x-amz-json-1.1\r\n"
        "User-Agent: Boto3/1 sd-operator\r\n"
        "Authorization: AWS4-HMAC-SHA256 Credential=AKIAEXAMPLE/20261207/"
        f"{REGION}/servicediscovery/aws4_request, SignedHeaders=host, Signature=0\r\n"
        "\r\n"
    )
    with socket.create_connection((host, int(port))) as conn:
        conn.sendall(head.encode())
        conn.shutdown(socket.SHUT_WR)
        conn.recv(65536)

    assert not log.exists() or log.read_text() == ""
