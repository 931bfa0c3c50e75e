"""Ownership of ECS discovery configuration and adoption (issue #21, items 1 and 2), through the
CLI (`main([...])` in-process) and the reconciler against the AWS emulator.

Team B's world is team_b.py's. Team A's resources must never change any of it: no
UpdateService, no tag added or removed, unless team A adopts it; and what it adopted it gives
back on delete.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from builders import (
    ADOPT_API,
    ADOPT_SERVICE_CONNECT,
    BOTH_ON_OWN,
    REGISTRY_ON_VICTIM,
    SERVICE_CONNECT_ON_VICTIM,
    TEAM_A_NAMESPACE,
)
from sd_devkit.emulator import Emulator, client
from sd_operator.cli import EXIT_CHANGES, EXIT_ERROR, EXIT_OK
from sd_operator.model import conditions as cond
from sd_operator.model.parse import load_manifests
from sd_operator.model.spec import NamespaceSpec
from sd_operator.reconcile import status as status_rules
from sd_operator.reconcile.converge import converge
from sd_operator.reconcile.ownership import CLUSTER_TAG, OWNER_TAG
from sd_operator.reconcile.reconciler import Reconciler
from sd_operator.reconcile.result import Outcome
from support import cli
from team_b import (
    ECS_CLUSTER,
    REGION,
    VICTIM,
    TeamB,
    cloud_map_tags,
    describe,
    ecs_state,
    make_team_b,
    plan_json,
    planned,
    snapshot,
    write,
)

# What users read and write (status reasons, the marker's tag keys), spelled as they see them.
REASON_ADOPTION_REQUIRED = "AdoptionRequired"
REASON_OWNED_ELSEWHERE = "OwnedElsewhere"
REGISTRY_TAG = "sd-operator.io/ecs-registry"
SERVICE_CONNECT_TAG = "sd-operator.io/ecs-service-connect"


@pytest.fixture
def ecs(emulator: Emulator) -> Any:
    return client("ecs", emulator.endpoint_url, REGION)


@pytest.fixture
def team_b(sd: Any, ecs: Any) -> TeamB:
    return make_team_b(sd, ecs)


def ecs_writes(emulator: Emulator) -> dict[str, int]:
    """ECS calls that change something (UpdateService starts a deployment; tags)."""
    return {
        name: count
        for name, count in emulator.calls().items()
        if name in ("ecs:UpdateService", "ecs:TagResource", "ecs:UntagResource")
    }


def cloud_map_untags(emulator: Emulator) -> int:
    return emulator.calls().get("servicediscovery:UntagResource", 0)


# Item 1: another team's ECS service --------------------------------------------------------------


def test_service_connect_on_another_teams_ecs_service_is_refused_naming_it(
    emulator: Emulator,
    sd: Any,
    ecs: Any,
    team_b: TeamB,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Before: plan showed an in-place update; apply exited 0, moved team B's Service Connect
    into team A's namespace, removed team B's registry and started a deployment."""
    before = snapshot(emulator, sd, ecs, team_b)
    path = write(tmp_path / "m", TEAM_A_NAMESPACE, SERVICE_CONNECT_ON_VICTIM)
    emulator.reset_calls()

    code, document = plan_json(emulator, capsys, path)
    resource = planned(document, "ServiceDiscovery", "api")
    assert code == EXIT_ERROR  # blocked
    assert resource["status"] == "Blocked"
    assert resource["actions"] == []
    assert resource["blocked"]["reason"] == REASON_ADOPTION_REQUIRED
    assert f"ECS service {ECS_CLUSTER}/{VICTIM}" in resource["blocked"]["message"]
    assert "Service Connect in namespace" in resource["blocked"]["message"]

    capsys.readouterr()
    assert cli(emulator, "apply", "-f", str(path)) == EXIT_ERROR
    out = capsys.readouterr().out
    assert f"Blocked ({REASON_ADOPTION_REQUIRED}): ECS service {ECS_CLUSTER}/{VICTIM}" in out

    assert ecs_writes(emulator) == {}
    assert snapshot(emulator, sd, ecs, team_b) == before


def test_refusal_is_stalled_in_status_naming_the_ecs_service(
    emulator: Emulator, sd: Any, ecs: Any, team_b: TeamB, reconciler: Reconciler, tmp_path: Path
) -> None:
    before = snapshot(emulator, sd, ecs, team_b)
    resources = load_manifests(
        [str(write(tmp_path / "m", TEAM_A_NAMESPACE, SERVICE_CONNECT_ON_VICTIM))]
    )
    namespace, discovery = resources
    assert isinstance(namespace.spec, NamespaceSpec)
    assert converge(reconciler, namespace, None, timeout=30).last is not None
    emulator.reset_calls()

    progress = converge(reconciler, discovery, namespace.spec, timeout=30)

    result = progress.last
    assert result is not None
    assert (result.outcome, result.reason) == (Outcome.BLOCKED, REASON_ADOPTION_REQUIRED)
    assert f"ECS service {ECS_CLUSTER}/{VICTIM}" in result.message
    derived = {c.type: c for c in status_rules.derive(result, {}, 1).conditions}
    assert derived[cond.STALLED].status
    assert not derived[cond.READY].status
    assert derived[cond.READY].reason == REASON_ADOPTION_REQUIRED
    assert ecs_writes(emulator) == {}
    assert snapshot(emulator, sd, ecs, team_b) == before


def test_delete_of_a_resource_naming_another_teams_ecs_service_strips_nothing(
    emulator: Emulator,
    sd: Any,
    ecs: Any,
    team_b: TeamB,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Before: team B's registry and Service Connect were both stripped (exit 0)."""
    before = snapshot(emulator, sd, ecs, team_b)
    path = write(tmp_path / "m", TEAM_A_NAMESPACE, SERVICE_CONNECT_ON_VICTIM)
    cli(emulator, "apply", "-f", str(path))
    emulator.reset_calls()

    code, document = plan_json(emulator, capsys, path, "--delete")
    assert code == EXIT_CHANGES  # team A's own namespace goes
    assert planned(document, "ServiceDiscovery", "api")["actions"] == []
    assert cli(emulator, "delete", "-f", str(path)) == EXIT_OK

    assert ecs_writes(emulator) == {}
    assert snapshot(emulator, sd, ecs, team_b) == before


def test_a_registry_only_spec_does_not_replace_another_teams_registry(
    emulator: Emulator,
    sd: Any,
    ecs: Any,
    team_b: TeamB,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Before: team B's registry was replaced by team A's (and its Service Connect, which the
    spec did not mention, turned off)."""
    before = snapshot(emulator, sd, ecs, team_b)
    path = write(tmp_path / "m", TEAM_A_NAMESPACE, REGISTRY_ON_VICTIM)
    emulator.reset_calls()

    capsys.readouterr()
    assert cli(emulator, "apply", "-f", str(path)) == EXIT_ERROR
    out = capsys.readouterr().out
    assert f"Blocked ({REASON_ADOPTION_REQUIRED}): ECS service {ECS_CLUSTER}/{VICTIM}" in out
    assert f"registry {team_b.api_arn}" in out
    assert ecs_writes(emulator) == {}
    assert snapshot(emulator, sd, ecs, team_b) == before

    assert cli(emulator, "delete", "-f", str(path)) == EXIT_OK
    assert ecs_writes(emulator) == {}
    assert snapshot(emulator, sd, ecs, team_b) == before


def test_ignoring_spec_ecs_does_not_hide_a_takeover(
    emulator: Emulator,
    sd: Any,
    ecs: Any,
    team_b: TeamB,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Before: `driftFields.ignore: [spec.ecs]` showed the resource Ready (in sync) while it
    sent nothing, and its delete, never held, then cleared team B's configuration."""
    before = snapshot(emulator, sd, ecs, team_b)
    ignoring = SERVICE_CONNECT_ON_VICTIM + "  driftFields: {ignore: [spec.ecs]}\n"
    path = write(tmp_path / "m", TEAM_A_NAMESPACE, ignoring)
    emulator.reset_calls()

    assert cli(emulator, "apply", "-f", str(path)) == EXIT_ERROR
    code, document = plan_json(emulator, capsys, path)
    resource = planned(document, "ServiceDiscovery", "api")
    assert code == EXIT_ERROR
    assert resource["status"] == "Blocked"
    assert resource["blocked"]["reason"] == REASON_ADOPTION_REQUIRED

    assert cli(emulator, "delete", "-f", str(path)) == EXIT_OK
    assert ecs_writes(emulator) == {}
    assert snapshot(emulator, sd, ecs, team_b) == before


def test_an_ecs_service_marked_by_another_resource_is_owned_elsewhere(
    emulator: Emulator,
    ecs: Any,
    team_b: TeamB,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    first = write(tmp_path / "a", TEAM_A_NAMESPACE, BOTH_ON_OWN)
    assert cli(emulator, "apply", "-f", str(first)) == EXIT_OK
    held = ecs_state(ecs, "teama-web")
    other = BOTH_ON_OWN.replace("name: web", "name: web2")
    second = write(tmp_path / "b", TEAM_A_NAMESPACE, other)
    emulator.reset_calls()

    code, document = plan_json(emulator, capsys, second)

    resource = planned(document, "ServiceDiscovery", "web2")
    # Its own Cloud Map service would be created; the ECS service is then refused.
    assert code == EXIT_CHANGES
    assert [a["type"] for a in resource["actions"]] == ["CreateService"]
    assert resource["blocked"]["reason"] == REASON_OWNED_ELSEWHERE
    message = resource["blocked"]["message"]
    assert f"ECS service {ECS_CLUSTER}/teama-web" in message
    assert "ServiceDiscovery/team-a/web in cluster default" in message
    assert cli(emulator, "apply", "-f", str(second)) == EXIT_ERROR
    # web2 goes (its Cloud Map service); the namespace is kept while it holds web's.
    assert cli(emulator, "delete", "-f", str(second)) == EXIT_ERROR
    assert ecs_writes(emulator) == {}
    assert ecs_state(ecs, "teama-web") == held


# Item 1: what is ours --------------------------------------------------------------------------


def test_an_empty_ecs_service_is_taken_marked_and_cleared_on_delete(
    emulator: Emulator,
    sd: Any,
    ecs: Any,
    team_b: TeamB,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    before = snapshot(emulator, sd, ecs, team_b)
    path = write(tmp_path / "m", TEAM_A_NAMESPACE, BOTH_ON_OWN)

    assert cli(emulator, "apply", "-f", str(path)) == EXIT_OK

    state = ecs_state(ecs, "teama-web")
    assert state["serviceConnect"]["services"][0]["discoveryName"] == "web-sc"
    assert len(state["registries"]) == 1
    assert state["tags"] == {
        "team": "a",
        OWNER_TAG: "ServiceDiscovery/team-a/web",
        CLUSTER_TAG: "default",
        REGISTRY_TAG: "set",
        SERVICE_CONNECT_TAG: "set",
    }
    assert emulator.deployments(ECS_CLUSTER, "teama-web") == 2  # create + the one update
    assert cli(emulator, "plan", "-f", str(path)) == EXIT_OK

    assert cli(emulator, "delete", "-f", str(path)) == EXIT_OK
    state = ecs_state(ecs, "teama-web")
    assert (state["registries"], state["serviceConnect"]) == ([], None)
    assert state["tags"] == {"team": "a"}
    assert snapshot(emulator, sd, ecs, team_b) == before


def test_an_ecs_service_configured_before_the_marker_is_recognised_and_marked(
    emulator: Emulator,
    ecs: Any,
    team_b: TeamB,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A registry into our own Cloud Map service and Service Connect in a namespace we own,
    with no marker (as an operator before the marker left them): ours, marked, not refused,
    and no new deployment for it."""
    path = write(tmp_path / "m", TEAM_A_NAMESPACE, BOTH_ON_OWN)
    assert cli(emulator, "apply", "-f", str(path)) == EXIT_OK
    arn = describe(ecs, "teama-web")["serviceArn"]
    ecs.untag_resource(
        resourceArn=arn, tagKeys=[OWNER_TAG, CLUSTER_TAG, REGISTRY_TAG, SERVICE_CONNECT_TAG]
    )
    configured = ecs_state(ecs, "teama-web")
    emulator.reset_calls()

    code, document = plan_json(emulator, capsys, path)
    resource = planned(document, "ServiceDiscovery", "web")
    assert code == EXIT_CHANGES
    assert resource["blocked"] is None
    assert [a["type"] for a in resource["actions"]] == ["TagResource"]

    assert cli(emulator, "apply", "-f", str(path)) == EXIT_OK
    assert ecs_writes(emulator) == {"ecs:TagResource": 1}
    marked = ecs_state(ecs, "teama-web")
    assert marked["tags"][OWNER_TAG] == "ServiceDiscovery/team-a/web"
    assert marked["tags"][REGISTRY_TAG] == marked["tags"][SERVICE_CONNECT_TAG] == "set"
    assert (marked["registries"], marked["serviceConnect"]) == (
        configured["registries"],
        configured["serviceConnect"],
    )


# Item 2: adoption takes ownership, nothing else -----------------------------------------------


def test_adopting_a_cloud_map_service_keeps_its_tags_and_gives_it_back_on_delete(
    emulator: Emulator,
    sd: Any,
    ecs: Any,
    team_b: TeamB,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Before: apply printed "remove tags CostCenter, team" and stripped them; delete then
    deleted team B's service."""
    before = snapshot(emulator, sd, ecs, team_b)
    path = write(tmp_path / "m", ADOPT_API)

    capsys.readouterr()
    assert cli(emulator, "apply", "-f", str(path)) == EXIT_OK
    out = capsys.readouterr().out
    assert "remove tags" not in out

    tags = cloud_map_tags(sd, team_b.api_arn)
    assert {k: tags[k] for k in ("team", "CostCenter")} == {"team": "b", "CostCenter": "42"}
    assert tags[OWNER_TAG] == "ServiceDiscovery/team-a/api"
    assert cli(emulator, "plan", "-f", str(path)) == EXIT_OK
    emulator.reset_calls()

    assert cli(emulator, "delete", "-f", str(path)) == EXIT_OK

    assert emulator.calls().get("servicediscovery:DeleteService", 0) == 0
    assert cloud_map_untags(emulator) == 1
    assert snapshot(emulator, sd, ecs, team_b) == before


def test_a_tag_the_spec_adds_to_an_adopted_service_goes_when_it_is_given_back(
    emulator: Emulator,
    sd: Any,
    ecs: Any,
    team_b: TeamB,
    tmp_path: Path,
) -> None:
    before = snapshot(emulator, sd, ecs, team_b)
    tagged = ADOPT_API.replace("service: {name: api}", "service: {name: api, tags: {app: api}}")
    path = write(tmp_path / "m", tagged)
    assert cli(emulator, "apply", "-f", str(path)) == EXIT_OK
    assert cloud_map_tags(sd, team_b.api_arn)["app"] == "api"
    # Removed from the spec: ours (we wrote it), so it goes; the tags found stay.
    write(tmp_path / "m", ADOPT_API)
    assert cli(emulator, "apply", "-f", str(path)) == EXIT_OK
    assert "app" not in cloud_map_tags(sd, team_b.api_arn)
    write(tmp_path / "m", tagged)
    assert cli(emulator, "apply", "-f", str(path)) == EXIT_OK

    assert cli(emulator, "delete", "-f", str(path)) == EXIT_OK

    assert snapshot(emulator, sd, ecs, team_b) == before


def test_adopting_ecs_service_connect_takes_ownership_and_gives_it_back_on_delete(
    emulator: Emulator,
    sd: Any,
    ecs: Any,
    team_b: TeamB,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    before = snapshot(emulator, sd, ecs, team_b)
    path = write(tmp_path / "m", ADOPT_SERVICE_CONNECT)
    emulator.reset_calls()

    code, document = plan_json(emulator, capsys, path)
    resource = planned(document, "ServiceDiscovery", "api")
    assert code == EXIT_CHANGES
    assert [a["type"] for a in resource["actions"]] == ["TagResource"]
    assert cli(emulator, "apply", "-f", str(path)) == EXIT_OK

    adopted = ecs_state(ecs, VICTIM)
    assert adopted["tags"] == {
        **before.ecs["tags"],
        OWNER_TAG: "ServiceDiscovery/team-a/api",
        CLUSTER_TAG: "default",
        SERVICE_CONNECT_TAG: "adopted",
    }
    assert (adopted["registries"], adopted["serviceConnect"]) == (
        before.ecs["registries"],
        before.ecs["serviceConnect"],
    )
    assert emulator.calls().get("ecs:UpdateService", 0) == 0

    assert cli(emulator, "delete", "-f", str(path)) == EXIT_OK
    assert emulator.calls().get("ecs:UpdateService", 0) == 0
    assert snapshot(emulator, sd, ecs, team_b) == before


def test_marking_an_ecs_service_configured_before_the_marker_is_not_drift_to_report(
    emulator: Emulator, ecs: Any, team_b: TeamB, reconciler: Reconciler, tmp_path: Path
) -> None:
    """With `driftPolicy: Report`, writing the marker is not a correction: the step marks the
    service and stays Ready instead of reporting an empty drift."""
    reporting = BOTH_ON_OWN + "  driftPolicy: Report\n"
    namespace, web = load_manifests([str(write(tmp_path / "m", TEAM_A_NAMESPACE, reporting))])
    assert isinstance(namespace.spec, NamespaceSpec)
    converge(reconciler, namespace, None, timeout=30)
    done = converge(reconciler, web, namespace.spec, timeout=30)
    assert done.last is not None
    assert done.last.outcome is Outcome.IN_SYNC, done.last.message
    arn = describe(ecs, "teama-web")["serviceArn"]
    ecs.untag_resource(
        resourceArn=arn, tagKeys=[OWNER_TAG, CLUSTER_TAG, REGISTRY_TAG, SERVICE_CONNECT_TAG]
    )
    steady = {
        **done.status,
        "observedGeneration": web.identity.generation,
        "conditions": [{"type": cond.SYNCED, "status": "True"}],
    }
    emulator.reset_calls()

    result = reconciler.step(web, steady, namespace=namespace.spec)

    assert result.outcome is Outcome.IN_SYNC, (result.reason, result.message)
    assert result.drift == ()
    assert ecs_writes(emulator) == {"ecs:TagResource": 1}
    assert ecs_state(ecs, "teama-web")["tags"][OWNER_TAG] == "ServiceDiscovery/team-a/web"
