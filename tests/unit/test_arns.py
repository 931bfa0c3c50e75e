"""ARNs read in one place (model/arns.py): what the plan, the executor and the adapters take
from them."""

from __future__ import annotations

import pytest

from sd_operator.model import arns

SERVICE = "arn:aws:ecs:eu-west-1:123456789012:service/prod/payments"


def test_an_arn_splits_at_its_first_five_colons() -> None:
    parsed = arns.parse("arn:aws:servicediscovery:eu-west-1:123456789012:service/srv-1:x")
    assert parsed == arns.Arn(
        "aws", "servicediscovery", "eu-west-1", "123456789012", "service/srv-1:x"
    )


@pytest.mark.parametrize("value", [None, "payments", "arn:aws:ecs:eu-west-1"])
def test_a_name_or_a_short_value_is_no_arn(value: str | None) -> None:
    assert arns.parse(value) is None
    assert arns.region(value) is None


def test_a_global_resource_names_no_region() -> None:
    assert arns.region("arn:aws:iam::123456789012:role/x") is None
    assert arns.region(SERVICE) == "eu-west-1"


def test_the_service_tells_an_ecs_arn_from_a_cloud_map_one() -> None:
    assert arns.service(SERVICE) == "ecs"
    assert arns.service("arn:aws:servicediscovery:eu-west-1:1:namespace/ns-1") == (
        "servicediscovery"
    )


@pytest.mark.parametrize(
    ("value", "last"),
    [(SERVICE, "payments"), ("arn:aws:ecs:eu-west-1:1:cluster/prod", "prod"), ("prod", "prod")],
)
def test_the_resource_id_is_the_last_part_and_a_name_is_its_own(value: str, last: str) -> None:
    assert arns.resource_id(value) == last


def test_the_resource_path_keeps_the_parent() -> None:
    assert arns.resource_path(SERVICE) == "prod/payments"
    assert arns.resource_path("arn:aws:ecs:eu-west-1:1:service/payments") == "payments"
