"""The call log tests/iam judges docs/iam-policy.json by: each call with the resources it names
and their tags. A service in a namespace shared through RAM is named by its ARN, in its owner's
account: it was left out (resource `*`, no tags), and the policy's tag conditions refused it."""

from __future__ import annotations

from typing import Any

import pytest
from emulator_helpers import REGION, make_http_namespace

from sd_devkit.emulator import Emulator
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
