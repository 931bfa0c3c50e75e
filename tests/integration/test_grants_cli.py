"""`--grants FILE` (docs/tenancy.md) through the CLI against the emulator: team A's manifests
checked against the platform team's grant. Each way of reaching team B's world (team_b.py) is
refused naming the grant and the field, with no AWS call at all, and team B's resources read
back exactly as before; team A's own resources converge as without grants."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from builders import (
    ADOPT_API,
    ADOPT_SERVICE_CONNECT,
    BOTH_ON_OWN,
    SERVICE_CONNECT_ON_VICTIM,
    TEAM_A_NAMESPACE,
)
from sd_devkit.emulator import Emulator, client
from sd_operator.cli import EXIT_ERROR, EXIT_OK
from support import REGION, calls_since, cli, cli_output
from team_b import ECS_CLUSTER, VICTIM, TeamB, make_team_b, plan_json, team_b_as_read, write

# The platform team's file: team A's namespace by its label, what it may touch.
GRANTS = """\
apiVersion: v1
kind: Namespace
metadata: {name: team-a, labels: {team: a}}
---
apiVersion: sd-operator.io/v1alpha1
kind: DiscoveryGrant
metadata: {name: team-a}
spec:
  namespaces: {selector: {matchLabels: {team: a}}}
  regions: [us-east-1]
  cloudMapNamespaces:
    create: {names: [teama], dnsSuffixes: [teama.internal], vpcs: [vpc-0aaaaaaaaaaaaaaaa]}
  ecs: [{cluster: prod, services: ["teama-*"]}]
"""
A_VPC, B_VPC = "vpc-0aaaaaaaaaaaaaaaa", "vpc-0bbbbbbbbbbbbbbbb"


def private_namespace(name: str, vpc: str) -> str:
    return f"""\
apiVersion: sd-operator.io/v1alpha1
kind: CloudMapNamespace
metadata: {{name: private, namespace: team-a}}
spec: {{name: {name}, type: DnsPrivate, vpc: {vpc}}}
"""


# (what team A tries, its manifests, the field the refusal names, what the message says)
SCENARIOS = [
    ("team-b-ecs-service", [TEAM_A_NAMESPACE, SERVICE_CONNECT_ON_VICTIM], "spec.ecs.service",
     f"'{ECS_CLUSTER}/{VICTIM}' is not granted"),
    ("team-b-cloud-map-namespace", [ADOPT_API], "spec.cloudMapNamespace.name",
     "'teamb' is not granted"),
    ("adopting-team-b-service", [ADOPT_SERVICE_CONNECT], "spec.cloudMapNamespace.name",
     "'teamb' is not granted"),
    ("name-outside-suffixes", [private_namespace("orders.teamb.internal", A_VPC)], "spec.name",
     "'orders.teamb.internal' is not granted"),
    ("vpc-not-granted", [private_namespace("orders.teama.internal", B_VPC)], "spec.vpc",
     f"'{B_VPC}' is not granted"),
]  # fmt: skip


@pytest.fixture
def team_b(sd: Any, emulator: Emulator) -> TeamB:
    return make_team_b(sd, client("ecs", emulator.endpoint_url, REGION))


@pytest.fixture
def grants(tmp_path: Path) -> Path:
    path = tmp_path / "grants.yaml"
    path.write_text(GRANTS)
    return path


@pytest.mark.parametrize(
    ("manifests", "field", "says"),
    [s[1:] for s in SCENARIOS],
    ids=[s[0] for s in SCENARIOS],
)
def test_apply_outside_the_grant_is_refused_with_no_aws_call(
    emulator: Emulator,
    sd: Any,
    team_b: TeamB,
    grants: Path,
    tmp_path: Path,
    manifests: list[str],
    field: str,
    says: str,
) -> None:
    path = write(tmp_path / "m", *manifests)
    before, calls = team_b_as_read(emulator, sd), emulator.calls()

    code, out = cli_output(emulator, "apply", "-f", str(path), "--grants", str(grants))

    assert code == EXIT_ERROR, out
    assert f"refused (NotGranted): {field}: " in out
    assert says in out
    assert "DiscoveryGrant team-a " in out
    assert "nothing was changed" in out
    assert calls_since(emulator, calls) == {}
    assert team_b_as_read(emulator, sd) == before


@pytest.mark.parametrize(
    ("manifests", "field"), [s[1:3] for s in SCENARIOS], ids=[s[0] for s in SCENARIOS]
)
def test_plan_shows_the_refusal_with_its_reason_and_field(
    emulator: Emulator,
    sd: Any,
    team_b: TeamB,
    grants: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    manifests: list[str],
    field: str,
) -> None:
    path = write(tmp_path / "m", *manifests)
    before = team_b_as_read(emulator, sd)
    code, document = plan_json(emulator, capsys, path, "--grants", str(grants))
    assert code == EXIT_ERROR
    refusals = [r["refusal"] for r in document["resources"] if r["refusal"] is not None]
    assert [(r["reason"], r["field"]) for r in refusals] == [("NotGranted", field)]
    assert team_b_as_read(emulator, sd) == before


def test_a_namespace_no_grant_selects_is_refused_naming_it(
    emulator: Emulator, grants: Path, tmp_path: Path
) -> None:
    path = write(tmp_path / "m", TEAM_A_NAMESPACE.replace("team-a", "team-c"))
    calls = emulator.calls()
    code, out = cli_output(emulator, "apply", "-f", str(path), "--grants", str(grants))
    assert code == EXIT_ERROR
    assert "refused (NotGranted): metadata.namespace: no DiscoveryGrant selects" in out
    assert calls_since(emulator, calls) == {}


def test_team_a_own_resources_converge_under_the_grant(
    emulator: Emulator, sd: Any, team_b: TeamB, grants: Path, tmp_path: Path
) -> None:
    path = write(tmp_path / "m", TEAM_A_NAMESPACE, BOTH_ON_OWN)
    before = team_b_as_read(emulator, sd)
    with_grants = ("-f", str(path), "--grants", str(grants))
    assert cli(emulator, "apply", *with_grants) == EXIT_OK
    assert cli(emulator, "plan", *with_grants) == EXIT_OK
    assert team_b_as_read(emulator, sd) == before


def test_without_grants_the_cli_checks_none(
    emulator: Emulator, sd: Any, team_b: TeamB, tmp_path: Path
) -> None:
    """The CLI acts with its user's own credentials: no grant is checked unless given, and the
    ownership rules (docs/ownership.md) still refuse team B's ECS service."""
    path = write(tmp_path / "m", TEAM_A_NAMESPACE, SERVICE_CONNECT_ON_VICTIM)
    before = team_b_as_read(emulator, sd)
    code, out = cli_output(emulator, "apply", "-f", str(path))
    assert code == EXIT_ERROR
    assert "NotGranted" not in out
    assert "AdoptionRequired" in out
    assert team_b_as_read(emulator, sd) == before


def test_an_invalid_grant_file_is_an_error_naming_the_field(
    emulator: Emulator, tmp_path: Path
) -> None:
    path = write(tmp_path / "m", TEAM_A_NAMESPACE)
    bad = tmp_path / "bad.yaml"
    bad.write_text(GRANTS.replace("regions: [us-east-1]", "regions: us-east-1"))
    assert cli(emulator, "plan", "-f", str(path), "--grants", str(bad)) == EXIT_ERROR
