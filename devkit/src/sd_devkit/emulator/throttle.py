"""Throttling modelled on AWS's own: a token bucket per API, account and Region.

docs/aws-facts.md, Throttling and quotas: Cloud Map (DiscoverInstances) and ECS throttle each
account per Region with the token bucket algorithm. A bucket holds at most `burst` tokens and
refills at `per_second`; each request takes a token, and a request that finds the bucket empty is
refused (Cloud Map: RequestLimitExceeded; ECS: ThrottlingException). Unlike the random share of
faults.py, the refusals depend on how fast a caller calls: a client that slows down below the rate
is never throttled. AWS publishes no rates for the other Cloud Map calls: they are throttled only
at rates a test gives.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

JSON = dict[str, Any]


@dataclass(frozen=True)
class Limit:
    per_second: float
    burst: float

    def __post_init__(self) -> None:
        if self.per_second <= 0 or self.burst < 1:
            raise ValueError(f"a limit needs per_second > 0 and burst >= 1, got {self}")


# Sources: AWS Cloud Map service quotas; Amazon ECS request throttling and service quotas pages.
DOCUMENTED: Mapping[str, Limit] = {
    "servicediscovery:DiscoverInstances": Limit(1000, 2000),
    "servicediscovery:DiscoverInstancesRevision": Limit(3000, 3000),
    "ecs:CreateService": Limit(5, 50),
    "ecs:UpdateService": Limit(5, 50),
    "ecs:DeleteService": Limit(5, 50),
    "ecs:DescribeServices": Limit(20, 100),
    "ecs:ListServices": Limit(20, 100),
    "ecs:ListServicesByNamespace": Limit(1, 10),
}
# Cloud Map's throttling page names RequestLimitExceeded; ECS's ThrottlingException.
ERROR_CODES = {"servicediscovery": "RequestLimitExceeded"}


def error_code(api: str) -> str:
    return ERROR_CODES.get(api.split(":", 1)[0], "ThrottlingException")


def limit_of(limits: Mapping[str, Limit], api: str) -> Limit | None:
    """The limit of an API: its own, else its service's ("ecs:*"), else everyone's ("*")."""
    service = api.split(":", 1)[0]
    for key in (api, f"{service}:*", "*"):
        if key in limits:
            return limits[key]
    return None


def throttle_body(
    rates: Mapping[str, tuple[float, float]] | None,
    documented: bool,
    accounts: Sequence[str] | None,
    scale: float,
) -> JSON:
    """The control API's POST /_emulator/throttle body (layer.py) for these settings."""
    return {
        "rates": {api: list(rate) for api, rate in (rates or {}).items()},
        "documented": documented,
        "accounts": list(accounts) if accounts is not None else None,
        "scale": scale,
    }


class RateLimits:
    """Off until configured. Thread safe."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._limits: dict[str, Limit] = {}
        self._accounts: frozenset[str] | None = None
        self._buckets: dict[tuple[str, str, str], tuple[float, float]] = {}  # tokens, when
        self._lock = threading.Lock()

    def configure(
        self,
        limits: Mapping[str, Limit] | None = None,
        *,
        documented: bool = True,
        accounts: frozenset[str] | None = None,
        scale: float = 1.0,
    ) -> None:
        """Throttle at AWS's documented rates (unless `documented` is False) overridden by
        `limits` ("service:Action", "service:*" or "*"), each rate and burst times `scale`,
        in `accounts` only (None: every account). Buckets start full."""
        if scale <= 0:
            raise ValueError("scale must be > 0")
        merged = {**(DOCUMENTED if documented else {}), **(limits or {})}
        with self._lock:
            self._limits = {
                api: Limit(limit.per_second * scale, max(1.0, limit.burst * scale))
                for api, limit in merged.items()
            }
            self._accounts = accounts
            self._buckets.clear()

    def clear(self) -> None:
        with self._lock:
            self._limits = {}
            self._accounts = None
            self._buckets.clear()

    def config(self) -> JSON:
        with self._lock:
            return {
                "limits": {api: asdict(limit) for api, limit in self._limits.items()},
                "accounts": sorted(self._accounts) if self._accounts is not None else None,
            }

    def take(self, account: str, region: str, api: str) -> bool:
        """One token of the caller's bucket for this API: False when it is empty (throttled)."""
        with self._lock:
            limit = limit_of(self._limits, api)
            if limit is None or (self._accounts is not None and account not in self._accounts):
                return True
            now = self._clock()
            key = (account, region, api)
            tokens, then = self._buckets.get(key, (limit.burst, now))
            tokens = min(limit.burst, tokens + (now - then) * limit.per_second)
            allowed = tokens >= 1.0
            self._buckets[key] = (tokens - 1.0 if allowed else tokens, now)
            return allowed
