"""ECS Service Connect log options and secret references never leave the process (issue 21,
item 7; docs/redaction.md): not in `plan` (markdown, JSON, text), `apply`'s output, nor the
status, Events and log lines the handlers write for a drift; the key names still are.

Against the emulator, which keeps serviceConnectConfiguration as it was sent (logConfiguration
included). Both tests fail on main (8c61be0), where every one of those outputs echoed them."""

from __future__ import annotations

import copy
import json
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import kopf
import pytest
import yaml

from builders import units_granting_all
from sd_devkit.demo import examples_dir
from sd_devkit.emulator import Emulator, client
from sd_devkit.emulator.seed import CLUSTER as ECS_CLUSTER
from sd_devkit.emulator.seed import seed_demo_ecs
from sd_operator.aws.adapters import Adapters
from sd_operator.cli import EXIT_CHANGES, EXIT_OK
from sd_operator.handlers.steps import Steps
from sd_operator.model.parse import parse_resource
from sd_operator.reconcile.reconciler import Reconciler
from sd_operator.reconcile.result import Outcome
from support import cli_output

REGION = "us-east-1"
ACCOUNT = "123456789012"
GROUP = "/ecs/payments-audit"
SECRET_ISH = "hunter2-token-value"
SECRET_ISH_NEW = "correct-horse-battery"
SECRET_REF = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:splunk-token-AbCdEf"
SECRET_REF_NEW = f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/splunk-token-v2"
VALUES = (GROUP, SECRET_ISH, SECRET_ISH_NEW, SECRET_REF, SECRET_REF_NEW)
SECRET_PATH = "spec.ecs.serviceConnect.logConfiguration.secretOptions[0].valueFrom"

LOG_CONFIGURATION = f"""      enabled: true
      logConfiguration:
        logDriver: awslogs
        options:
          awslogs-group: {GROUP}
          secret-ish: {SECRET_ISH}
        secretOptions:
          - name: splunk-token
            valueFrom: {SECRET_REF}
"""


def assert_hidden(text: str) -> None:
    for value in VALUES:
        assert value not in text, (value, text)


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


@pytest.fixture
def manifests(emulator: Emulator, tmp_path: Path) -> Path:
    """The demo's manifests, user-service's Service Connect with a log configuration."""
    seed_demo_ecs(emulator.endpoint_url, REGION)
    path = tmp_path / "myapp"
    shutil.copytree(examples_dir() / "myapp", path)
    (path / "payment-service.yaml").unlink()
    edit(path / "user-service.yaml", "      enabled: true\n", LOG_CONFIGURATION)
    return path


def service_connect(emulator: Emulator) -> dict[str, Any]:
    ecs = client("ecs", emulator.endpoint_url, REGION)
    [service] = ecs.describe_services(cluster=ECS_CLUSTER, services=["user-service"])["services"]
    [primary] = [d for d in service["deployments"] if d["status"] == "PRIMARY"]
    sc: dict[str, Any] = primary["serviceConnectConfiguration"]
    return sc


def test_plan_and_apply_name_the_keys_without_the_values(
    emulator: Emulator, manifests: Path
) -> None:
    code, out = cli_output(emulator, "apply", "-f", str(manifests))
    assert code == EXIT_OK, out
    assert_hidden(out)
    user = manifests / "user-service.yaml"
    edit(user, SECRET_ISH, SECRET_ISH_NEW)
    edit(user, SECRET_REF, SECRET_REF_NEW)

    code, markdown = cli_output(emulator, "plan", "-o", "markdown", "-f", str(manifests))
    assert code == EXIT_CHANGES, markdown
    code, text = cli_output(emulator, "plan", "-f", str(manifests))
    assert code == EXIT_CHANGES, text
    code, document = cli_output(emulator, "plan", "-o", "json", "-f", str(manifests))
    assert code == EXIT_CHANGES, document
    for output in (markdown, text, document):
        assert_hidden(output)
        assert "awslogs-group" in output
        assert "secret-ish" in output
        assert SECRET_PATH in output
    [resource] = [r for r in json.loads(document)["resources"] if r["name"] == "user-service"]
    [action] = resource["actions"]
    paths = [f["path"] for f in action["fields"]]
    assert paths == ["spec.ecs.serviceConnect.logConfiguration.options", SECRET_PATH]

    code, out = cli_output(emulator, "apply", "-f", str(manifests))
    assert code == EXIT_OK, out
    assert_hidden(out)
    # only what is shown is redacted: ECS was sent the values themselves
    sent = service_connect(emulator)["logConfiguration"]
    assert sent["options"] == {"awslogs-group": GROUP, "secret-ish": SECRET_ISH_NEW}
    assert sent["secretOptions"] == [{"name": "splunk-token", "valueFrom": SECRET_REF_NEW}]


class Cluster:
    """The API server's side of the handlers: the objects, their status, the Events."""

    def __init__(self, manifests: Path) -> None:
        self.bodies: dict[str, dict[str, Any]] = {}
        for path in sorted(manifests.glob("*.yaml")):
            doc = yaml.safe_load(path.read_text())
            doc["metadata"].update(uid=f"uid-{doc['metadata']['name']}", generation=1)
            self.bodies[doc["metadata"]["name"]] = doc
        self.events: list[tuple[str, str, str]] = []

    def post(self, body: Mapping[str, Any], type_: str, reason: str, message: str) -> None:
        self.events.append((type_, reason, message))

    def namespaces(self) -> dict[tuple[str, str], list[Any]]:
        found: dict[tuple[str, str], list[Any]] = {}
        for raw in self.bodies.values():
            if raw["kind"] == "CloudMapNamespace":
                key = (raw["metadata"]["namespace"], raw["metadata"]["name"])
                found[key] = [parse_resource(raw).spec]
        return found

    def step(self, steps: Steps, name: str) -> tuple[Outcome, dict[str, Any]]:
        """One change-handler call: the step, its status patch applied to the object."""
        raw = self.bodies[name]
        patch = kopf.Patch()
        result = steps.step_and_write(
            kopf.Body(raw),  # type: ignore[arg-type]
            patch,
            parse_resource(raw),
            self.namespaces(),
            from_view=False,
            post=self.post,
        )
        assert result is not None
        written = copy.deepcopy(dict(patch.get("status") or {}))
        raw["status"] = {**(raw.get("status") or {}), **written}
        return result.outcome, written

    def converge(self, steps: Steps, name: str) -> None:
        for _ in range(30):
            outcome, _ = self.step(steps, name)
            if outcome is Outcome.IN_SYNC:
                return
        raise AssertionError(f"{name} did not converge: {self.bodies[name].get('status')}")


def test_a_reported_drift_names_the_keys_without_the_values(
    emulator: Emulator,
    manifests: Path,
    reconciler: Reconciler,
    log_lines: list[dict[str, Any]],
) -> None:
    edit(manifests / "user-service.yaml", "driftPolicy: Correct", "driftPolicy: Report")
    cluster = Cluster(manifests)
    steps = units_granting_all(reconciler, Adapters(REGION, emulator.endpoint_url)).steps
    cluster.converge(steps, "myapp")
    cluster.converge(steps, "user-service")
    cluster.events.clear()
    changed = service_connect(emulator)
    changed["logConfiguration"]["options"]["secret-ish"] = SECRET_ISH_NEW
    changed["logConfiguration"]["secretOptions"][0]["valueFrom"] = SECRET_REF_NEW
    ecs = client("ecs", emulator.endpoint_url, REGION)
    ecs.update_service(
        cluster=ECS_CLUSTER, service="user-service", serviceConnectConfiguration=changed
    )

    log_lines.clear()
    outcome, status = cluster.step(steps, "user-service")

    assert outcome is Outcome.DRIFT_REPORTED
    fields = [entry["field"] for entry in status["drift"]]
    assert fields == [
        "ecs.serviceConnect.logConfiguration.options",
        SECRET_PATH.removeprefix("spec."),
    ]
    written = json.dumps(status)  # status.drift and every condition's message
    events = json.dumps(cluster.events)
    logged = json.dumps(log_lines, default=str)
    for output in (written, events, logged):
        assert_hidden(output)
        assert "secret-ish" in output
    assert [reason for _, reason, _ in cluster.events] == ["DriftDetected"]
    assert [line["field"] for line in log_lines if line["event"] == "drift"] == [
        f"spec.{f}" for f in fields
    ]
