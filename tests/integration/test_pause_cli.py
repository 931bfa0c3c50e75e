"""sd-operator.io/paused: "true" in a manifest file, through the CLI against the emulator: as
the operator, no AWS call for the resource. `plan` shows it blocked (Paused) without reading
it, beside the others it plans; `apply` and `delete` of a set holding one refuse the whole set
before any AWS call (docs/cli.md, "Paused manifests")."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from sd_devkit.emulator import Emulator
from sd_operator.cli import EXIT_ERROR, EXIT_OK
from support import calls_since, cli, cli_output

MANIFESTS = """\
apiVersion: sd-operator.io/v1alpha1
kind: CloudMapNamespace
metadata: {name: shop, namespace: payments}
spec: {name: shop, type: Http}
---
apiVersion: sd-operator.io/v1alpha1
kind: ServiceDiscovery
metadata:
  name: orders
  namespace: payments
  annotations: ANNOTATIONS
spec:
  namespaceRef: {name: shop}
  service: {tags: {stage: STAGE}}
"""
PAUSED = '{sd-operator.io/paused: "true"}'


def manifests(tmp_path: Path, *, annotations: str = "{}", stage: str = "v1") -> str:
    path = tmp_path / "shop.yaml"
    path.write_text(MANIFESTS.replace("ANNOTATIONS", annotations).replace("STAGE", stage))
    return str(path)


def stage(sd: Any) -> str:
    [service] = sd.list_services()["Services"]
    tags = sd.list_tags_for_resource(ResourceARN=service["Arn"])["Tags"]
    return str(next(t["Value"] for t in tags if t["Key"] == "stage"))


@pytest.fixture
def applied(emulator: Emulator, tmp_path: Path) -> Emulator:
    """The two resources applied, unpaused."""
    assert cli(emulator, "apply", "-f", manifests(tmp_path)) == EXIT_OK
    return emulator


def test_plan_shows_a_paused_resource_blocked_without_reading_it(
    applied: Emulator, sd: Any, tmp_path: Path
) -> None:
    path = manifests(tmp_path, annotations=PAUSED, stage="v2")
    before = applied.calls()

    code, out = cli_output(applied, "plan", "-f", path, "-o", "json")

    assert code == EXIT_ERROR
    by_name = {r["name"]: r for r in json.loads(out)["resources"]}
    assert by_name["shop"]["status"] == "InSync"
    assert by_name["orders"]["status"] == "Blocked"
    assert by_name["orders"]["blocked"]["reason"] == "Paused"
    assert by_name["orders"]["actions"] == []
    # The namespace is read; the paused service is not: no GetService, nothing of ECS.
    read = calls_since(applied, before)
    assert "servicediscovery:GetService" not in read
    assert not [api for api in read if api.startswith("ecs:")]


@pytest.mark.parametrize("command", ["apply", "delete"])
def test_apply_and_delete_refuse_a_set_with_a_paused_resource_before_any_aws_call(
    applied: Emulator, sd: Any, tmp_path: Path, command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = manifests(tmp_path, annotations=PAUSED, stage="v2")
    capsys.readouterr()
    before = applied.calls()

    code = cli(applied, command, "-f", path)

    assert code == EXIT_ERROR
    assert calls_since(applied, before) == {}
    err = capsys.readouterr().err
    assert f"error: ServiceDiscovery payments/orders ({path}#1): paused: " in err
    assert f"1 resource(s) paused; remove sd-operator.io/paused from them to {command}" in err
    assert stage(sd) == "v1"
    assert [n["Name"] for n in sd.list_namespaces()["Namespaces"]] == ["shop"]


def test_unpaused_the_same_manifests_apply(applied: Emulator, sd: Any, tmp_path: Path) -> None:
    path = manifests(tmp_path, annotations='{sd-operator.io/paused: "false"}', stage="v2")

    assert cli(applied, "apply", "-f", path) == EXIT_OK

    assert stage(sd) == "v2"
