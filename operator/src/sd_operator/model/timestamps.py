"""The one spelling of a point in time the operator writes: RFC 3339 in UTC, to the second.

Status times (lastObservedTime, lastTransitionTime, detectedAt, ...), Event times and the
refresh annotation all use it; the CRDs declare them `format: date-time`.
"""

from __future__ import annotations

from datetime import UTC, datetime

_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def format_time(at: datetime) -> str:
    return at.astimezone(UTC).strftime(_FORMAT)


def utc_now() -> str:
    return format_time(datetime.now(UTC))


def parse_time(text: str) -> datetime:
    """An RFC 3339 time (ours, or kopf's with fractions and an offset) as an aware datetime;
    ValueError if it is not one."""
    at = datetime.fromisoformat(text)
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)
