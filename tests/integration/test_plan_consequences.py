"""`plan` says what each action does to AWS: in place, a replacement to do by hand, a refusal;
for ECS, the deployment it starts (with DescribeServices' task counts) and the client services
to redeploy; for deletes, what blocks them. `-o json` validates against docs/plan.schema.json.

The emulator returns serviceConnectConfiguration from the PRIMARY deployment and implements
ListServicesByNamespace, as AWS does (moto alone drops both: see docs/ and docs/aws-facts.md, Where
the emulator corrects moto)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from sd_devkit.demo import examples_dir
from sd_devkit.emulator import Emulator, client
from sd_devkit.emulator.seed import CLUSTER, seed_demo_ecs
from sd_operator.cli import EXIT_CHANGES, EXIT_ERROR, EXIT_OK
from support import cli_output

REGION = "us-east-1"
SCHEMA = json.loads((Path(__file__).parents[2] / "docs" / "plan.schema.json").read_text())


def plan_json(emulator: Emulator, manifests: Path, *extra: str) -> tuple[int, dict[str, Any]]:
    code, out = cli_output(emulator, "plan", "-o", "json", "-f", str(manifests), *extra)
    doc = json.loads(out)
    jsonschema.validate(doc, SCHEMA)
    return code, doc


def resource(doc: dict[str, Any], name: str) -> dict[str, Any]:
    return next(r for r in doc["resources"] if r["name"] == name)


@pytest.fixture
def applied(emulator: Emulator, tmp_path: Path) -> Path:
    seed_demo_ecs(emulator.endpoint_url, REGION)
    manifests = tmp_path / "myapp"
    shutil.copytree(examples_dir() / "myapp", manifests)
    code, out = cli_output(emulator, "apply", "-f", str(manifests))
    assert code == EXIT_OK, out
    return manifests


def edit(manifests: Path, name: str, old: str, new: str) -> None:
    path = manifests / f"{name}.yaml"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def test_ttl_change_plans_in_place(emulator: Emulator, applied: Path) -> None:
    edit(applied, "user-service", "ttl: 10", "ttl: 30")
    code, doc = plan_json(emulator, applied)
    assert code == EXIT_CHANGES
    user = resource(doc, "user-service")
    assert user["status"] == "Changes"
    [action] = user["actions"]
    assert (action["kind"], action["type"]) == ("UpdateInPlace", "UpdateService")
    assert action["target"]["type"] == "CloudMapService"
    assert action["fields"] == [
        {"path": "spec.service.dns.records[0].ttl", "desired": 30, "observed": 10}
    ]
    assert [c["kind"] for c in action["consequences"]] == ["DnsCache"]
    assert resource(doc, "payment-service")["status"] == "InSync"
    assert doc["summary"]["changes"] == 1
    assert doc["formatVersion"] == "1.0"


def test_routing_policy_change_is_a_refusal_naming_replacement(
    emulator: Emulator, applied: Path
) -> None:
    edit(applied, "user-service", "routingPolicy: MULTIVALUE", "routingPolicy: WEIGHTED")
    code, doc = plan_json(emulator, applied)
    assert code == EXIT_ERROR
    user = resource(doc, "user-service")
    assert user["status"] == "Refused"
    assert user["actions"] == []
    refusal = user["refusal"]
    assert refusal["kind"] == "Replacement"
    assert refusal["field"] == "spec.service.dns.routingPolicy"
    assert "delete and recreate" in refusal["message"]
    _, text = cli_output(emulator, "plan", "-f", str(applied))
    assert "replacement needed, refused: spec.service.dns.routingPolicy" in text


def test_service_connect_change_names_the_deployment_and_the_clients(
    emulator: Emulator, applied: Path
) -> None:
    edit(applied, "user-service", "- port: 80", "- port: 8080")
    code, doc = plan_json(emulator, applied)
    assert code == EXIT_CHANGES
    [action] = resource(doc, "user-service")["actions"]
    assert action["type"] == "UpdateEcsService"
    assert action["fields"][0]["path"] == (
        "spec.ecs.serviceConnect.services[0].clientAliases[0].port"
    )
    described = client("ecs", emulator.endpoint_url, REGION).describe_services(
        cluster=CLUSTER, services=["user-service"]
    )["services"][0]
    deployment, clients = action["consequences"]
    assert deployment["kind"] == "NewDeployment"
    assert deployment["service"] == f"{CLUSTER}/user-service"
    assert deployment["desiredCount"] == described["desiredCount"] == 2
    assert deployment["runningCount"] == described["runningCount"]
    assert clients["kind"] == "ClientRedeploy"
    assert clients["services"] == [f"{CLUSTER}/payment-service"]

    _, text = cli_output(emulator, "plan", "-f", str(applied))
    assert f"starts a new deployment of ECS service {CLUSTER}/user-service" in text
    assert f"redeploy {CLUSTER}/payment-service to see it" in text


def test_registry_change_starts_a_deployment_but_names_no_clients(
    emulator: Emulator, applied: Path
) -> None:
    """Clients care only about the endpoints Service Connect publishes: a registry change
    replaces the service's tasks and changes no endpoint."""
    edit(applied, "user-service", "containerPort: 3000", "containerPort: 3001")
    _, doc = plan_json(emulator, applied)
    [action] = resource(doc, "user-service")["actions"]
    assert [c["kind"] for c in action["consequences"]] == ["NewDeployment"]


def test_markdown_has_summary_tables_and_collapsed_details(
    emulator: Emulator, applied: Path
) -> None:
    edit(applied, "user-service", "ttl: 10", "ttl: 30")
    edit(applied, "payment-service", "routingPolicy: MULTIVALUE", "routingPolicy: WEIGHTED")
    code, md = cli_output(emulator, "plan", "-o", "markdown", "-f", str(applied))
    assert code == EXIT_ERROR
    lines = md.splitlines()
    assert lines[0] == ("### Plan (apply): 1 action(s) on 1 resource(s), 1 refused, 1 in sync")
    assert "#### ServiceDiscovery `payments/user-service`: changes" in lines
    assert (
        "| in place | CloudMapService user-service | `spec.service.dns.records[0].ttl` "
        "| `10` | `30` |" in lines
    )
    assert any(
        line.startswith("| **replace by hand** | ImmutableField | `spec.service.dns.routingPolicy`")
        for line in lines
    )
    assert md.count("<details><summary>Details</summary>") == 2
    assert md.count("</details>") == 2


def test_plan_delete_names_what_blocks_it(emulator: Emulator, applied: Path) -> None:
    """The namespace still holds the services ECS Service Connect created in it: the plan of
    a delete of the namespace alone names them."""
    code, doc = plan_json(emulator, applied / "namespace.yaml", "--delete")
    assert code == EXIT_ERROR
    ns = resource(doc, "myapp")
    assert doc["operation"] == "delete"
    assert ns["status"] == "Blocked"
    assert ns["blocked"]["reason"] == "NamespaceNotEmpty"
    blockers = ns["blocked"]["blockers"]
    assert any(b.startswith("service user-service (") for b in blockers)
    assert any(b.startswith("service payment-service (") for b in blockers)


def test_plan_delete_of_everything_is_ordered_and_starts_deployments(
    emulator: Emulator, applied: Path
) -> None:
    code, doc = plan_json(emulator, applied, "--delete")
    assert code == EXIT_ERROR  # the namespace is blocked until its services are gone
    names = [r["name"] for r in doc["resources"]]
    assert names[-1] == "myapp"
    user = resource(doc, "user-service")
    kinds = [a["type"] for a in user["actions"]]
    # ECS first; its ownership marker goes with what it marked (docs/ownership.md).
    assert kinds == ["UpdateEcsService", "UntagResource", "DeleteService"]
    assert user["actions"][0]["consequences"][0]["kind"] == "NewDeployment"
    assert user["actions"][2]["kind"] == "Delete"


def test_apply_reports_the_consequences_it_caused(emulator: Emulator, applied: Path) -> None:
    """The same lines go into the AwsChanged Events the operator posts."""
    edit(applied, "user-service", "- port: 80", "- port: 8080")
    code, out = cli_output(emulator, "apply", "-f", str(applied))
    assert code == EXIT_OK, out
    assert f"starts a new deployment of ECS service {CLUSTER}/user-service" in out
    assert f"redeploy {CLUSTER}/payment-service to see it" in out


def test_service_attribute_is_a_field_of_its_own_in_the_plan_and_applied(
    emulator: Emulator, applied: Path
) -> None:
    edit(
        applied,
        "user-service",
        "    healthCheck:",
        "    attributes: {owner: payments}\n    healthCheck:",
    )
    code, doc = plan_json(emulator, applied)
    assert code == EXIT_CHANGES
    attributes = next(
        a
        for a in resource(doc, "user-service")["actions"]
        if a["type"] == "UpdateServiceAttributes"
    )
    assert attributes["target"]["type"] == "CloudMapService"
    assert attributes["fields"] == [
        {"path": "spec.service.attributes.owner", "desired": "payments", "observed": None}
    ]

    code, out = cli_output(emulator, "apply", "-f", str(applied))
    assert code == EXIT_OK, out
    code, doc = plan_json(emulator, applied)
    assert code == EXIT_OK
    assert resource(doc, "user-service")["status"] == "InSync"
