"""The redaction function (docs/redaction.md): ECS log options and secret references shown by
key only, a changed value still marked as changed; AWS error text keeps no ARN but the
resource's own. Where it is applied: tests/unit/test_plan_redaction.py."""

from __future__ import annotations

import pytest

from sd_operator.aws.errors import Retryable, Terminal
from sd_operator.model.actions import Change
from sd_operator.model.redact import CHANGED, REDACTED, own_arns, redact, redact_arns
from sd_operator.model.spec import LogConfiguration, SecretOption
from sd_operator.reconcile.reconciler import error_result
from sd_operator.reconcile.result import Outcome

ACCOUNT = "123456789012"
OTHER_ACCOUNT = "210987654321"
SERVICE_ARN = f"arn:aws:ecs:us-east-1:{ACCOUNT}:service/production/user-service"
LOGS = "ecs.serviceConnect.logConfiguration"


def test_option_values_are_hidden_and_their_keys_kept() -> None:
    shown = redact(
        Change(f"{LOGS}.options", {"a": "same", "b": "old"}, {"a": "same", "b": "new", "c": "x"})
    )
    assert shown.desired == {"a": REDACTED, "b": CHANGED}
    assert shown.observed == {"a": REDACTED, "b": CHANGED, "c": CHANGED}


def test_a_secret_reference_is_hidden_its_name_kept() -> None:
    shown = redact(
        Change(
            f"{LOGS}.secretOptions",
            (SecretOption("token", "arn:a"), SecretOption("key", "arn:b")),
            (SecretOption("token", "arn:a"),),
        )
    )
    assert shown.desired == [
        {"name": "token", "valueFrom": REDACTED},
        {"name": "key", "valueFrom": CHANGED},
    ]
    assert shown.observed == [{"name": "token", "valueFrom": REDACTED}]
    leaf = redact(Change(f"{LOGS}.secretOptions[0].valueFrom", "a", "b"))
    assert (leaf.desired, leaf.observed) == (CHANGED, CHANGED)


def test_a_whole_log_configuration_keeps_its_driver_and_keys() -> None:
    added = LogConfiguration("awslogs", {"awslogs-group": "/g"}, (SecretOption("t", "arn:x"),))
    shown = redact(Change(LOGS, added, None))
    assert shown.desired == {
        "logDriver": "awslogs",
        "options": {"awslogs-group": CHANGED},
        "secretOptions": [{"name": "t", "valueFrom": CHANGED}],
    }
    assert shown.observed is None


@pytest.mark.parametrize(
    ("field", "desired", "observed"),
    [
        ("service.dns.records[0].ttl", 10, 300),
        ("service.description", "options", None),
        ("ecs.serviceConnect.services[0].discoveryName", "options", "valueFrom"),
        (f"{LOGS}.logDriver", "awslogs", "splunk"),
        ("service.tags.options", "a", "b"),
    ],
)
def test_other_fields_are_shown_as_they_are(field: str, desired: object, observed: object) -> None:
    assert redact(Change(field, desired, observed)) == Change(field, desired, observed)


DENIED = (
    f"User: arn:aws:sts::{ACCOUNT}:assumed-role/sd-operator-prod/botocore-session-1 is not "
    f"authorized to perform: ecs:UpdateService on resource: {SERVICE_ARN} because no "
    f"identity-based policy allows it (see arn:aws:iam::{OTHER_ACCOUNT}:role/platform-admin)."
)


def test_error_text_keeps_the_resources_own_arn_and_masks_the_others() -> None:
    text = redact_arns(DENIED, keep={SERVICE_ARN})
    assert SERVICE_ARN in text
    assert "sd-operator-prod" not in text
    assert OTHER_ACCOUNT not in text
    assert "User: arn:aws:sts::<account>:assumed-role/<redacted> is not" in text
    assert "(see arn:aws:iam::<account>:role/<redacted>)." in text


@pytest.mark.parametrize(
    ("arn", "masked"),
    [
        (f"arn:aws:iam::{ACCOUNT}:role/x", "arn:aws:iam::<account>:role/<redacted>"),
        (
            f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:token-AbCdEf",
            "arn:aws:secretsmanager:us-east-1:<account>:secret:<redacted>",
        ),
        (
            f"arn:aws-cn:sns:cn-north-1:{ACCOUNT}:alerts",
            "arn:aws-cn:sns:cn-north-1:<account>:<redacted>",
        ),
        ("arn:aws:s3:::team-bucket", "arn:aws:s3:::<redacted>"),
    ],
)
def test_an_arn_keeps_partition_service_region_and_type(arn: str, masked: str) -> None:
    assert redact_arns(f"on '{arn}'") == f"on '{masked}'"


def test_text_without_arns_is_left_as_it_is() -> None:
    text = "ServiceNotFoundException: Service not found: arn-less text, aws:ecs"
    assert redact_arns(text) == text


@pytest.mark.parametrize(
    "exc",
    [
        Terminal("UpdateService", "AccessDeniedException", DENIED),
        Retryable("UpdateService", "AccessDeniedException", DENIED, delay=5.0),
    ],
    ids=["terminal", "retryable"],
)
def test_a_failed_step_keeps_only_the_arns_its_status_shows(
    exc: Terminal | Retryable,
) -> None:
    status = {"serviceId": "srv-1", "ecsServiceArn": SERVICE_ARN, "serviceArn": None}
    assert own_arns(status) == {SERVICE_ARN}
    result = error_result(exc, status)
    retried = isinstance(exc, Retryable)
    assert result.outcome is (Outcome.ERROR if retried else Outcome.FAILED)
    assert result.retry_after == (5.0 if retried else None)
    assert result.reason == "AccessDeniedException"
    assert SERVICE_ARN in result.message
    assert "sd-operator-prod" not in result.message
    assert OTHER_ACCOUNT not in result.message
