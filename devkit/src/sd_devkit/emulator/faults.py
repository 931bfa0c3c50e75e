"""Call counting and injected faults (errors, throttling, latency), deterministic by seed.

docs/aws-facts.md, Throttling and quotas: "Error codes: ThrottlingException and RequestLimitExceeded
(handle both), also 5xx ServiceUnavailable." moto has none of this ("No throttling, latency or 5xx
injection built in"), so the layer adds it in front of moto.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from dataclasses import asdict, dataclass
from fnmatch import fnmatchcase
from typing import Any

# HTTP status AWS uses for the error codes tests inject most; anything else is a 400.
DEFAULT_STATUS = {
    "ThrottlingException": 400,
    "Throttling": 400,
    "RequestLimitExceeded": 400,
    "TooManyRequestsException": 429,
    "ServiceUnavailable": 503,
    "ServiceUnavailableException": 503,
    "InternalFailure": 500,
    "InternalServerError": 500,
    "InternalError": 500,
    "ServerException": 500,
}
_THROTTLE_CODES = {"ThrottlingException", "Throttling", "RequestLimitExceeded"}


@dataclass
class FaultRule:
    """`api` is "service:Action", with fnmatch wildcards ("servicediscovery:*", "*")."""

    api: str
    error: str | None = "ThrottlingException"
    rate: float = 1.0
    count: int | None = None
    latency: float = 0.0
    status: int | None = None
    account: str | None = None  # only calls acting in this account (None: any)
    fired: int = 0

    def __post_init__(self) -> None:
        if not 0.0 <= self.rate <= 1.0:
            raise ValueError(f"rate must be within 0..1, got {self.rate}")
        if self.count is not None and self.count < 0:
            raise ValueError(f"count must be >= 0, got {self.count}")
        if self.latency < 0:
            raise ValueError(f"latency must be >= 0, got {self.latency}")
        if not self.api:
            raise ValueError("api must name an API like 'servicediscovery:CreateService'")

    @property
    def exhausted(self) -> bool:
        return self.count is not None and self.fired >= self.count

    @property
    def http_status(self) -> int:
        if self.status is not None:
            return self.status
        return DEFAULT_STATUS.get(self.error or "", 400)

    @property
    def message(self) -> str:
        if self.error in _THROTTLE_CODES:
            return "Rate exceeded"
        return f"{self.error} injected by the sd-operator emulator"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Decision:
    latency: float = 0.0
    error: FaultRule | None = None


class Faults:
    """Fault rules plus per-API call counts. Thread safe."""

    def __init__(self, seed: int = 0) -> None:
        self._seed = seed
        self._rng = random.Random(seed)
        self._rules: list[FaultRule] = []
        self._calls: Counter[str] = Counter()
        self._lock = threading.Lock()

    def add(self, rule: FaultRule) -> None:
        with self._lock:
            self._rules.append(rule)

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    def rules(self) -> list[dict[str, Any]]:
        with self._lock:
            return [rule.to_json() for rule in self._rules]

    def reset(self) -> None:
        """No rules, no counts, and the random sequence restarts from the seed."""
        with self._lock:
            self._rules.clear()
            self._calls.clear()
            self._rng = random.Random(self._seed)

    def record(self, api: str) -> None:
        with self._lock:
            self._calls[api] += 1

    def calls(self) -> dict[str, int]:
        with self._lock:
            return dict(self._calls)

    def reset_calls(self) -> None:
        with self._lock:
            self._calls.clear()

    def decide(self, api: str, account: str = "") -> Decision:
        """Which rules fire for this call. Every live matching rule draws one number from the
        seeded generator, so the same seed and the same call sequence give the same faults.
        Latencies of the rules that fire add up; the first firing rule with an error wins."""
        latency = 0.0
        with self._lock:
            for rule in self._rules:
                if rule.exhausted or not fnmatchcase(api, rule.api):
                    continue
                if rule.account is not None and rule.account != account:
                    continue
                if self._rng.random() >= rule.rate:
                    continue
                rule.fired += 1
                latency += rule.latency
                if rule.error:
                    return Decision(latency, rule)
        return Decision(latency, None)
