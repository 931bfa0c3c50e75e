"""ARNs (`arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE`), read in one place.

Pure (no botocore): the plan reads ARNs too, and must not import the AWS SDK. botocore's
ArnParser splits the same way: six parts at the first five colons; the resource may hold more.
"""

from __future__ import annotations

import re
from typing import NamedTuple


class Arn(NamedTuple):
    partition: str
    service: str
    region: str
    account: str
    resource: str  # `type/id`, `type/parent/id` or `type:id`, as the service chose


# An ARN within free text (AWS error messages, which redact.py masks): the same six parts, the
# account digits or `aws`; the resource may hold `/` and `:`, and ends before blanks, quotes,
# brackets and a sentence's closing punctuation.
IN_TEXT = re.compile(
    r"arn:(?P<partition>aws[a-z-]*):(?P<service>[a-z0-9-]+):(?P<region>[a-z0-9-]*):"
    r"(?P<account>[0-9]*|aws):(?P<resource>[^\s\"'`,;()<>\[\]{}]*[^\s\"'`,;()<>\[\]{}.:])"
)


def parse(value: str | None) -> Arn | None:
    """The parts of an ARN; None for anything else (a name, an id, None)."""
    if value is None or not is_arn(value):
        return None
    parts = value.split(":", 5)
    if len(parts) != 6:
        return None
    return Arn(*parts[1:])


def is_arn(value: str) -> bool:
    """AWS fields that take "a name or an ARN" tell them apart by this prefix."""
    return value.startswith("arn:")


def region(value: str | None) -> str | None:
    """The region an ARN names; None for a non-ARN or a global resource's ARN (no region)."""
    arn = parse(value)
    return arn.region or None if arn else None


def service(value: str) -> str | None:
    """The AWS service an ARN belongs to (`ecs`, `servicediscovery`, ...)."""
    arn = parse(value)
    return arn.service if arn else None


def resource_id(value: str) -> str:
    """The last part of an ARN's resource: `srv-...` of `...:service/srv-...`, NAME of ECS's
    `...:service/CLUSTER/NAME`. A plain name or id is its own."""
    return value.rsplit("/", 1)[-1] if is_arn(value) else value


def resource_path(value: str) -> str:
    """An ARN's resource without its type: `CLUSTER/NAME` of `...:service/CLUSTER/NAME`."""
    arn = parse(value)
    resource = arn.resource if arn else value
    return resource.split("/", 1)[-1]
