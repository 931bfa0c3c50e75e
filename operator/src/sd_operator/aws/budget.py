"""One AWS API budget per account and region, shared by every caller in the process that acts
in that account (the operator's own, or a DiscoveryGrant's role's: clients.py).

Every AWS request (botocore retries included) takes a token from the bucket of its API before
it is sent (`Budget.acquire`, called from the botocore hook in clients.py). Defaults and the
reasoning behind them: docs/aws-budget.md. In short:

- ECS: AWS's published limits (DescribeServices/ListServices 20/s burst 100, UpdateService 5/s
  burst 50, ListServicesByNamespace 1/s burst 10).
- Cloud Map publishes no control-plane rates: the rates the Cloud Map MCS controller uses
  (ListNamespaces 0.5/s, ListServices 2/s, CreateService 5/s, Register/DeregisterInstance 50/s,
  GetOperation 100/s); other Cloud Map calls 10/s (reads) or 5/s (writes).
- Route 53: one 5/s bucket for all of its APIs (Route 53's account-wide limit).

Adaptive: a ThrottlingException / RequestLimitExceeded (or any other throttling code) answered
to anyone cuts that API's rate for everyone (x0.7, at most once a second, never below half the
configured rate); it recovers by 5% of the configured rate per second without throttling. The
floor bounds what throttling that does not depend on the rate can cost: slowing down cannot
help then, and a budget cut further only multiplied a `plan`'s time (docs/aws-budget.md).

Priority: calls made inside `background()` (the drift sweep) yield to calls made outside it
(change handlers, the CLI, hybrid registrations): while a foreground call waits for a token of
an API, background calls of that API wait behind it. `background(until=event)`: once the event
is set, its calls stop waiting for tokens and raise `GiveUp` (the operator is stopping; a
throttled account's sweep would otherwise hold the exit for as long as its reads take).
"""

from __future__ import annotations

import contextvars
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

THROTTLE_CODES = frozenset(
    {
        "ThrottlingException",
        "Throttling",
        "ThrottledException",
        "RequestLimitExceeded",
        "TooManyRequestsException",
        "RequestThrottled",
        "RequestThrottledException",
        "SlowDown",
    }
)

DECREASE = 0.7
# Against AWS's token buckets, a rate below the bucket's refill gains nothing more: the accepted
# rate is the bucket's whichever rate is sent, the rest is refused and retried (bench/budget.py).
MIN_FACTOR = 0.5
RECOVERY_PER_SECOND = 0.05
DECREASE_INTERVAL_SECONDS = 1.0


@dataclass(frozen=True)
class Rate:
    per_second: float
    burst: float

    def __post_init__(self) -> None:
        if self.per_second <= 0 or self.burst < 1:
            raise ValueError(f"a rate needs per_second > 0 and burst >= 1, got {self}")


_CLOUD_MAP_READ = Rate(10.0, 20.0)
_CLOUD_MAP_WRITE = Rate(5.0, 10.0)

# "service:Action" or "service:*" -> rate. Lookup: exact API, then the service's "*".
DEFAULT_RATES: Mapping[str, Rate] = {
    # Cloud Map: the MCS controller's client-side rates ...
    "servicediscovery:ListNamespaces": Rate(0.5, 5.0),
    "servicediscovery:ListServices": Rate(2.0, 10.0),
    "servicediscovery:CreateService": Rate(5.0, 10.0),
    "servicediscovery:RegisterInstance": Rate(50.0, 100.0),
    "servicediscovery:DeregisterInstance": Rate(50.0, 100.0),
    "servicediscovery:GetOperation": Rate(100.0, 200.0),
    # ... and ours for the calls it does not budget.
    "servicediscovery:GetService": _CLOUD_MAP_READ,
    "servicediscovery:GetServiceAttributes": _CLOUD_MAP_READ,
    "servicediscovery:GetNamespace": _CLOUD_MAP_READ,
    "servicediscovery:GetInstance": _CLOUD_MAP_READ,
    "servicediscovery:ListInstances": _CLOUD_MAP_READ,
    "servicediscovery:ListOperations": _CLOUD_MAP_READ,
    "servicediscovery:ListTagsForResource": _CLOUD_MAP_READ,
    "servicediscovery:DiscoverInstances": Rate(1000.0, 2000.0),
    "servicediscovery:*": _CLOUD_MAP_WRITE,
    # ECS: AWS's published limits.
    "ecs:DescribeServices": Rate(20.0, 100.0),
    "ecs:ListServices": Rate(20.0, 100.0),
    "ecs:DescribeTaskDefinition": Rate(20.0, 100.0),
    "ecs:ListServicesByNamespace": Rate(1.0, 10.0),
    "ecs:UpdateService": Rate(5.0, 50.0),
    "ecs:*": Rate(5.0, 50.0),
    # Route 53: 5 requests per second per account, all APIs together.
    "route53:*": Rate(5.0, 5.0),
    # Resource Groups Tagging API (tag:GetResources).
    "tagging:*": Rate(5.0, 10.0),
}


class GiveUp(BaseException):
    """A background call's `until` event was set: the caller is stopping. A BaseException, so
    that the adapters' classification of AWS errors (`except Exception`) lets it through to
    the code that set the event, which expects it."""


@dataclass(frozen=True)
class _Background:
    until: threading.Event | None


_background: contextvars.ContextVar[_Background | None] = contextvars.ContextVar(
    "sd_operator_background", default=None
)


@contextmanager
def background(until: threading.Event | None = None) -> Iterator[None]:
    """Calls made inside yield to foreground calls of the same API; once `until` is set, they
    raise GiveUp instead of waiting for a token."""
    token = _background.set(_Background(until))
    try:
        yield
    finally:
        _background.reset(token)


def parse_rates(text: str) -> dict[str, Rate]:
    """`servicediscovery:ListServices=4,ecs:*=10/40`: API=PER_SECOND[/BURST], comma separated.
    Without a burst, the default burst of that API is kept (at least 1)."""
    rates: dict[str, Rate] = {}
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        api, sep, value = item.partition("=")
        api = api.strip()
        if not sep or ":" not in api:
            raise ValueError(f"{item!r}: expected SERVICE:API=RATE[/BURST], e.g. ecs:*=10")
        per_second, _, burst = value.partition("/")
        try:
            rate = float(per_second)
            default = lookup(DEFAULT_RATES, api)
            rates[api] = Rate(rate, float(burst) if burst else max(1.0, default.burst))
        except ValueError as exc:
            raise ValueError(f"{item!r}: {exc}") from exc
    return rates


def lookup(rates: Mapping[str, Rate], api: str) -> Rate:
    if api in rates:
        return rates[api]
    service = api.split(":", 1)[0]
    return rates.get(f"{service}:*", _CLOUD_MAP_WRITE)


class _Bucket:
    def __init__(self, name: str, rate: Rate, clock: Callable[[], float]) -> None:
        self.name = name
        self.rate = rate
        self._clock = clock
        self._cond = threading.Condition()
        self._tokens = rate.burst
        self._factor = 1.0
        self._stamp = clock()
        self._last_decrease = float("-inf")
        self._foreground_waiting = 0

    @property
    def current_rate(self) -> float:
        with self._cond:
            self._refill()
            return self.rate.per_second * self._factor

    def _refill(self) -> None:
        now = self._clock()
        elapsed = max(0.0, now - self._stamp)
        self._stamp = now
        self._tokens = min(
            self.rate.burst, self._tokens + elapsed * self.rate.per_second * self._factor
        )
        if self._factor < 1.0 and now - self._last_decrease > DECREASE_INTERVAL_SECONDS:
            self._factor = min(1.0, self._factor + elapsed * RECOVERY_PER_SECOND)

    def acquire(self, background: bool, until: threading.Event | None = None) -> float:
        """Take one token, waiting as long as needed; returns the seconds waited. GiveUp once
        `until` is set."""
        start = self._clock()
        with self._cond:
            if not background:
                self._foreground_waiting += 1
            try:
                while True:
                    if until is not None and until.is_set():
                        raise GiveUp
                    self._refill()
                    may = not background or self._foreground_waiting == 0
                    if may and self._tokens >= 1.0:
                        self._tokens -= 1.0
                        break
                    missing = max(0.0, 1.0 - self._tokens)
                    wait = missing / (self.rate.per_second * self._factor)
                    self._cond.wait(timeout=min(max(wait, 0.001), 1.0))
            finally:
                if not background:
                    self._foreground_waiting -= 1
                    self._cond.notify_all()
        return self._clock() - start

    def throttled(self) -> None:
        with self._cond:
            self._refill()
            now = self._clock()
            if now - self._last_decrease < DECREASE_INTERVAL_SECONDS:
                return
            self._last_decrease = now
            self._factor = max(MIN_FACTOR, self._factor * DECREASE)
            # What was saved up at the old rate must not be spent at once either.
            self._tokens = min(self._tokens, 1.0)


class Budget:
    """The token buckets of one account and region."""

    def __init__(
        self,
        rates: Mapping[str, Rate] | None = None,
        clock: Callable[[], float] = time.monotonic,
        scale: float = 1.0,
    ) -> None:
        merged = {**DEFAULT_RATES, **(rates or {})}
        self._rates = {
            api: Rate(r.per_second * scale, max(1.0, r.burst * scale)) for api, r in merged.items()
        }
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    def _bucket(self, api: str) -> _Bucket:
        key = api if api in self._rates else f"{api.split(':', 1)[0]}:*"
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = _Bucket(key, lookup(self._rates, api), self._clock)
                self._buckets[key] = bucket
            return bucket

    def acquire(self, api: str) -> float:
        """Wait for a token of `api` ("servicediscovery:ListServices"); seconds waited."""
        context = _background.get()
        if context is None:
            return self._bucket(api).acquire(background=False)
        return self._bucket(api).acquire(background=True, until=context.until)

    def throttled(self, api: str) -> None:
        """AWS said slow down: every caller of this API slows down."""
        self._bucket(api).throttled()

    def current_rate(self, api: str) -> float:
        return self._bucket(api).current_rate

    def rates(self) -> dict[str, float]:
        """Current rate per bucket in use (after throttling cuts)."""
        with self._lock:
            buckets = list(self._buckets.values())
        return {b.name: b.current_rate for b in buckets}


BudgetKey = tuple[str, str, str | None]
"""(account, region, endpoint): AWS's limits are per account and region."""


class Budgets:
    """One Budget per (account, region, endpoint): a throttled or noisy account slows only its
    own calls, never another account's (AWS throttles each account apart, and so do we)."""

    def __init__(self) -> None:
        self._rates: dict[str, Rate] = {}
        self._scale = 1.0
        self._budgets: dict[BudgetKey, Budget] = {}
        self._lock = threading.Lock()

    def configure(self, rates: Mapping[str, Rate], scale: float = 1.0) -> None:
        """Overrides from flags/env, and a factor for every rate. Clients made before keep
        their budget: call this before the first AWS call."""
        with self._lock:
            self._rates = dict(rates)
            self._scale = scale
            self._budgets.clear()

    def get(self, account: str, region: str, endpoint_url: str | None) -> Budget:
        with self._lock:
            key = (account, region, endpoint_url)
            if key not in self._budgets:
                self._budgets[key] = Budget(self._rates, scale=self._scale)
            return self._budgets[key]

    def all(self) -> dict[BudgetKey, Budget]:
        with self._lock:
            return dict(self._budgets)


BUDGETS = Budgets()
