"""ECS log options and secret references never appear in what leaves the process: `plan` in
every format, drift as conditions and Events say it, status.drift (issue 21, item 7).

Only what main (8c61be0) already had is used here, so each test fails there as reported; the
redaction itself is tests/unit/test_redact.py."""

from __future__ import annotations

import io
import json

import pytest

from sd_operator.cli import PlanReport, render_plan
from sd_operator.model.actions import Plan
from sd_operator.model.observed import NamedPort, ObservedEcsService
from sd_operator.model.spec import (
    EcsSpec,
    Identity,
    LogConfiguration,
    Resource,
    SecretOption,
    ServiceConnect,
    ServiceConnectService,
    ServiceDiscoverySpec,
)
from sd_operator.reconcile.ecs_plan import plan_ecs
from sd_operator.reconcile.render import describe_changes
from sd_operator.reconcile.result import Outcome, StepResult, merge_status

ACCOUNT = "123456789012"
GROUP = "/ecs/payments-audit"
SECRET_ISH = "hunter2-token-value"
SECRET_ISH_NEW = "correct-horse-battery"
SECRET_REF = f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:splunk-token-AbCdEf"
SECRET_REF_NEW = f"arn:aws:ssm:us-east-1:{ACCOUNT}:parameter/splunk-token-v2"
VALUES = (GROUP, SECRET_ISH, SECRET_ISH_NEW, SECRET_REF, SECRET_REF_NEW)
LOGS = "spec.ecs.serviceConnect.logConfiguration"


def logs(secret_ish: str, secret_ref: str) -> LogConfiguration:
    return LogConfiguration(
        "awslogs",
        {"awslogs-group": GROUP, "secret-ish": secret_ish},
        (SecretOption("splunk-token", secret_ref),),
    )


def service_connect(log_configuration: LogConfiguration | None) -> ServiceConnect:
    return ServiceConnect(
        services=(ServiceConnectService("http"),), log_configuration=log_configuration
    )


def ecs_plan(want: LogConfiguration | None, have: LogConfiguration | None) -> Plan:
    """The operator's plan for an ECS service whose Service Connect log configuration differs
    from the spec's."""
    observed = ObservedEcsService(
        arn=f"arn:aws:ecs:us-east-1:{ACCOUNT}:service/production/user-service",
        cluster="production",
        name="user-service",
        status="ACTIVE",
        deployment_controller="ECS",
        task_definition="user-service:1",
        network_mode="awsvpc",
        port_mappings={"http": NamedPort("app", 8080, "http")},
        service_connect=service_connect(have),
    )
    plan = plan_ecs(
        EcsSpec("production", "user-service", service_connect=service_connect(want)),
        observed=observed,
        namespace_name="myapp.local",
        namespace_arn=None,
        cloud_map_service_arn=None,
    )
    assert plan.actions, plan
    assert plan.changes, plan
    return plan


CHANGED = ecs_plan(logs(SECRET_ISH_NEW, SECRET_REF_NEW), logs(SECRET_ISH, SECRET_REF))
ADDED = ecs_plan(logs(SECRET_ISH, SECRET_REF), None)


def assert_hidden(text: str) -> None:
    for value in VALUES:
        assert value not in text, (value, text)


def rendered(plan: Plan, output: str) -> str:
    res = Resource(
        Identity("ServiceDiscovery", "payments", "user-service"), ServiceDiscoverySpec(), "a.yaml"
    )
    out = io.StringIO()
    render_plan([PlanReport(res, plan=plan)], out, output)
    return out.getvalue()


# A changed secret reference is named by its path (by index, as every list without a key is).
SHOWN = {
    "changed": ("awslogs-group", "secret-ish", "logConfiguration.secretOptions[0].valueFrom"),
    "added": ("awslogs-group", "secret-ish", "splunk-token", "logConfiguration"),
}


@pytest.mark.parametrize(
    ("plan", "case"),
    [pytest.param(CHANGED, "changed", id="changed"), pytest.param(ADDED, "added", id="added")],
)
@pytest.mark.parametrize("output", ["text", "json", "markdown"])
def test_plan_output_names_the_keys_without_the_values(plan: Plan, case: str, output: str) -> None:
    text = rendered(plan, output)
    assert_hidden(text)
    for key in SHOWN[case]:
        assert key in text, (key, text)


def test_a_changed_value_still_shows_as_a_change() -> None:
    doc = json.loads(rendered(CHANGED, "json"))
    [action] = doc["resources"][0]["actions"]
    fields = {f["path"]: (f["desired"], f["observed"]) for f in action["fields"]}
    desired, observed = fields[f"{LOGS}.options"]
    assert desired.keys() == observed.keys() == {"awslogs-group", "secret-ish"}
    # the unchanged group and the changed option are marked apart, on both sides
    assert desired["awslogs-group"] == observed["awslogs-group"]
    assert desired["secret-ish"] != desired["awslogs-group"]
    assert observed["secret-ish"] != observed["awslogs-group"]
    assert f"{LOGS}.secretOptions[0].valueFrom" in fields


@pytest.mark.parametrize("plan", [CHANGED, ADDED], ids=["changed", "added"])
def test_drift_in_conditions_events_and_status_names_the_keys_without_the_values(
    plan: Plan,
) -> None:
    drift = plan.changes
    message = describe_changes(drift)  # the DriftReported condition and the DriftDetected Event
    assert_hidden(message)
    assert "secret-ish" in message
    result = StepResult(Outcome.DRIFT_REPORTED, drift=drift, reported=drift, message=message)
    status = merge_status({}, result)
    assert_hidden(json.dumps(status))
    assert [e["field"] for e in status["drift"]] == [c.field for c in drift]


def test_a_reported_drift_is_recorded_once_while_it_stays_the_same() -> None:
    drift = CHANGED.changes
    result = StepResult(Outcome.DRIFT_REPORTED, drift=drift, reported=drift)
    once = merge_status({}, result)
    assert merge_status(once, result)["drift"] == once["drift"]
