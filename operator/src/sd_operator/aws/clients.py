"""boto3 clients with the retry policy, endpoint, API budget and call metrics every adapter
shares.

Every request (each botocore attempt, retries included) first takes a token from the budget of
its account and region (budget.py), and is counted afterwards in
`sd_operator_aws_calls_total{api,outcome}` with its latency in `sd_operator_aws_call_seconds`.
A throttled answer slows that API down for every caller.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config

from sd_operator import metrics
from sd_operator.aws.budget import BUDGETS, THROTTLE_CODES, Budget
from sd_operator.once import once_per_key

if TYPE_CHECKING:
    from mypy_boto3_ecs import ECSClient
    from mypy_boto3_resourcegroupstaggingapi import ResourceGroupsTaggingAPIClient
    from mypy_boto3_route53 import Route53Client
    from mypy_boto3_servicediscovery import ServiceDiscoveryClient

OUTCOME_OK = "ok"
OUTCOME_THROTTLED = "throttled"
OUTCOME_ERROR = "error"


@dataclass(frozen=True)
class AwsConfig:
    """`endpoint_url` None means boto3's own resolution, which honours AWS_ENDPOINT_URL."""

    region: str
    endpoint_url: str | None = None
    max_attempts: int = 5


def _botocore_config(config: AwsConfig) -> Config:
    return Config(
        region_name=config.region,
        retries={"mode": "standard", "max_attempts": config.max_attempts},
        # Host prefixes (data-, ...) cannot resolve against a loopback or proxy endpoint.
        inject_host_prefix=config.endpoint_url is None,
        user_agent_extra="sd-operator",
        # The sweep describes and lists from several threads at once.
        max_pool_connections=32,
    )


class _CallHook:
    """botocore event handlers: budget before each attempt, metrics after it."""

    def __init__(self, prefix: str, config: AwsConfig) -> None:
        self._prefix = prefix
        self._config = config
        self._started = threading.local()

    @property
    def _budget(self) -> Budget:
        return BUDGETS.get(self._config.region, self._config.endpoint_url)

    def _api(self, event_name: str) -> str:
        return f"{self._prefix}:{event_name.rsplit('.', 1)[-1]}"

    def before_send(self, event_name: str, **_: Any) -> None:
        api = self._api(event_name)
        waited = self._budget.acquire(api)
        if waited > 0:
            metrics.AWS_BUDGET_WAIT.labels(api).observe(waited)
        self._started.at = time.perf_counter()

    def after_attempt(
        self,
        event_name: str,
        response: Any = None,
        caught_exception: Any = None,
        **_: Any,
    ) -> None:
        api = self._api(event_name)
        started = getattr(self._started, "at", None)
        if started is not None:
            metrics.AWS_CALL_SECONDS.labels(api).observe(time.perf_counter() - started)
            self._started.at = None
        outcome = OUTCOME_ERROR if caught_exception is not None else OUTCOME_OK
        if response is not None:
            http, parsed = response
            if int(getattr(http, "status_code", 200)) >= 300:
                code = str((parsed or {}).get("Error", {}).get("Code", ""))
                outcome = OUTCOME_THROTTLED if code in THROTTLE_CODES else OUTCOME_ERROR
        if outcome == OUTCOME_THROTTLED:
            self._budget.throttled(api)
        metrics.AWS_CALLS.labels(api, outcome).inc()
        metrics.AWS_BUDGET_RATE.labels(api).set(self._budget.current_rate(api))


# One boto3 Session for every client. Each Session has its own loader, which parses botocore's
# endpoint and partition data (about 7 MiB in memory) and each service model again; a Session
# per client held that once per client. A Session is not thread-safe, its clients are: clients
# are made under the lock.
_SESSION_LOCK = threading.Lock()


@cache
def _session() -> boto3.session.Session:
    return boto3.session.Session()


def _client(service: str, config: AwsConfig) -> Any:
    with _SESSION_LOCK:
        client = _session().client(
            service,  # type: ignore[call-overload]
            endpoint_url=config.endpoint_url,
            config=_botocore_config(config),
        )
    hook = _CallHook(str(client.meta.service_model.endpoint_prefix), config)
    client.meta.events.register("before-send", hook.before_send)
    client.meta.events.register("needs-retry", hook.after_attempt)
    return client


@once_per_key
def cloudmap_client(config: AwsConfig) -> ServiceDiscoveryClient:
    client: ServiceDiscoveryClient = _client("servicediscovery", config)
    return client


@once_per_key
def ecs_client(config: AwsConfig) -> ECSClient:
    client: ECSClient = _client("ecs", config)
    return client


@once_per_key
def route53_client(config: AwsConfig) -> Route53Client:
    """Route 53 is global (one endpoint per partition); the region picks the partition."""
    client: Route53Client = _client("route53", config)
    return client


@once_per_key
def tagging_client(config: AwsConfig) -> ResourceGroupsTaggingAPIClient:
    client: ResourceGroupsTaggingAPIClient = _client("resourcegroupstaggingapi", config)
    return client
