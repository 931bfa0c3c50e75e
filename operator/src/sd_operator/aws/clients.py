"""boto3 clients with the credentials, retry policy, endpoint, API budget and call metrics every
adapter shares.

Credentials: the operator's own (boto3's chain: IRSA, Pod Identity, environment), or an IAM
role a DiscoveryGrant names (spec.aws), assumed with the operator's own. One boto3 Session per
(role, region, endpoint), made once; its credentials are botocore's refreshing ones
(AssumeRoleCredentialFetcher behind DeferredRefreshableCredentials): the first call assumes the
role, and botocore assumes it again before the credentials expire (15 minutes ahead, or
10 minutes ahead at the latest, blocking then), so nothing here caches or times credentials.

Every request (each botocore attempt, retries included) first takes a token from the budget of
its account and region (budget.py), and is counted afterwards in
`sd_operator_aws_calls_total{account,api,outcome}` with its latency in
`sd_operator_aws_call_seconds`. A throttled answer slows that API down for every caller in that
account and region, and for no one else.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache, partial
from typing import TYPE_CHECKING, Any

import boto3
import botocore.session
from botocore.config import Config
from botocore.credentials import (
    AssumeRoleCredentialFetcher,
    CredentialProvider,
    CredentialResolver,
    Credentials,
    DeferredRefreshableCredentials,
)
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from sd_operator import logs, metrics
from sd_operator.aws.budget import BUDGETS, THROTTLE_CODES, Budget
from sd_operator.aws.errors import RETRY_DELAY_SECONDS, AssumeRoleFailed, AwsError, translate
from sd_operator.model.grants import Role
from sd_operator.once import once_per_key

if TYPE_CHECKING:
    from mypy_boto3_ecs import ECSClient
    from mypy_boto3_resourcegroupstaggingapi import ResourceGroupsTaggingAPIClient
    from mypy_boto3_route53 import Route53Client
    from mypy_boto3_servicediscovery import ServiceDiscoveryClient

OUTCOME_OK = "ok"
OUTCOME_THROTTLED = "throttled"
OUTCOME_ERROR = "error"
# The account label and budget of the operator's own credentials when STS cannot say whose
# they are (no credentials yet, an endpoint without STS): still one budget, apart from roles'.
UNKNOWN_ACCOUNT = "unknown"
MAX_ASSUME_ROLE_BACKOFF = 300.0

log = logs.get(__name__)


@dataclass(frozen=True)
class AwsConfig:
    """`endpoint_url` None means boto3's own resolution, which honours AWS_ENDPOINT_URL.
    `role`: None for the operator's own credentials."""

    region: str
    endpoint_url: str | None = None
    max_attempts: int = 5
    role: Role | None = None

    @property
    def account(self) -> str:
        """The account every call with this config lands in: the role's (from its ARN), or
        the operator's own (STS GetCallerIdentity, once per region and endpoint)."""
        if self.role is not None:
            return self.role.account
        return _own_account(self.region, self.endpoint_url)


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
        config = self._config
        return BUDGETS.get(config.account, config.region, config.endpoint_url)

    def _api(self, event_name: str) -> str:
        return f"{self._prefix}:{event_name.rsplit('.', 1)[-1]}"

    def before_send(self, event_name: str, **_: Any) -> None:
        api = self._api(event_name)
        waited = self._budget.acquire(api)
        if waited > 0:
            metrics.AWS_BUDGET_WAIT.labels(self._config.account, api).observe(waited)
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
            metrics.AWS_CALL_SECONDS.labels(self._config.account, api).observe(
                time.perf_counter() - started
            )
            self._started.at = None
        outcome = OUTCOME_ERROR if caught_exception is not None else OUTCOME_OK
        if response is not None:
            http, parsed = response
            if int(getattr(http, "status_code", 200)) >= 300:
                code = str((parsed or {}).get("Error", {}).get("Code", ""))
                outcome = OUTCOME_THROTTLED if code in THROTTLE_CODES else OUTCOME_ERROR
        if outcome == OUTCOME_THROTTLED:
            self._budget.throttled(api)
        account = self._config.account
        metrics.AWS_CALLS.labels(account, api, outcome).inc()
        metrics.AWS_BUDGET_RATE.labels(account, api).set(self._budget.current_rate(api))


# One botocore session holds the operator's own credentials, and one loader for every session.
# A loader parses botocore's endpoint and partition data (about 7 MiB in memory) and each service
# model again; a Session per client held that once per client. A Session is not thread-safe, its
# clients are: sessions and clients are made under the lock.
_SESSION_LOCK = threading.RLock()


@cache
def _own() -> botocore.session.Session:
    return botocore.session.get_session()


@cache
def _own_session() -> boto3.session.Session:
    return boto3.session.Session(botocore_session=_own())


def _sts(region: str, endpoint_url: str | None, service: str = "sts", **credentials: Any) -> Any:
    """An STS client of the operator's own session (`credentials`: botocore's fetcher passes
    the ones it assumes the role with), made under the lock: roles refresh in any thread. Its
    User-Agent is the other clients' own, so AssumeRole is seen, like any call of the
    operator's, where calls are told apart by it (the emulator's call log, CloudTrail)."""
    with _SESSION_LOCK:
        return _own().create_client(
            service,
            region_name=region,
            endpoint_url=endpoint_url,
            config=_botocore_config(AwsConfig(region, endpoint_url)),
            **credentials,
        )


@once_per_key
def _own_account_once(key: tuple[str, str | None]) -> str:
    region, endpoint_url = key
    try:
        return str(_sts(region, endpoint_url).get_caller_identity()["Account"])
    except Exception as exc:
        log.warning("own AWS account unknown", error=str(translate("sts:GetCallerIdentity", exc)))
        return UNKNOWN_ACCOUNT


def _own_account(region: str, endpoint_url: str | None) -> str:
    return _own_account_once((region, endpoint_url))


class _Assumed(CredentialProvider):
    """Hands botocore the refreshing credentials of one role (its resolver asks providers)."""

    METHOD = "assume-role"

    def __init__(self, credentials: Credentials) -> None:
        super().__init__()
        self._credentials = credentials

    def load(self) -> Credentials:
        return self._credentials


class _OwnCredentials:
    """The operator's own credentials, looked up when AssumeRole is called rather than when the
    session is made: without any, that call (not the operator) fails."""

    def get_frozen_credentials(self) -> Any:
        own = _own().get_credentials()
        if own is None:
            raise NoCredentialsError
        return own.get_frozen_credentials()


class AssumeRoleBackoff:
    """`fetch` (one AssumeRole), whose failure is answered again, without asking STS, until
    its back-off is over (10 s, doubling per failure in a row, at most 5 minutes): botocore asks
    for credentials on every call, and every resource of a broken tenant would otherwise call
    AssumeRole at each of its steps."""

    def __init__(
        self, role: Role, fetch: Callable[[], Any], clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._role = role
        self._fetch = fetch
        self._clock = clock
        self._lock = threading.Lock()
        self._failure: AwsError | None = None
        self._until = 0.0
        self._failures = 0

    def check(self) -> None:
        """AssumeRoleFailed while the last failure's back-off runs."""
        with self._lock:
            if self._failure is not None and self._clock() < self._until:
                raise AssumeRoleFailed(self._role.arn, self._failure)

    def __call__(self) -> Any:
        self.check()
        try:
            fetched = self._fetch()
        except (ClientError, BotoCoreError) as exc:
            # Classified here, where the role is known: the call that needed the credentials
            # (ListServices, ...) says nothing of it.
            cause = translate("sts:AssumeRole", exc)
            with self._lock:
                delay = min(RETRY_DELAY_SECONDS * 2**self._failures, MAX_ASSUME_ROLE_BACKOFF)
                self._failures += 1
                self._failure, self._until = cause, self._clock() + delay
            raise AssumeRoleFailed(self._role.arn, cause) from exc
        with self._lock:
            self._failure, self._failures = None, 0
        return fetched


def _assume(role: Role, config: AwsConfig) -> Credentials:
    extra: dict[str, str] = {"RoleSessionName": role.session_name}
    if role.external_id is not None:
        extra["ExternalId"] = role.external_id
    fetcher = AssumeRoleCredentialFetcher(
        client_creator=partial(_sts, config.region, config.endpoint_url),
        source_credentials=_OwnCredentials(),
        role_arn=role.arn,
        extra_args=extra,
    )
    return RoleCredentials(AssumeRoleBackoff(role, fetcher.fetch_credentials))


class RoleCredentials(DeferredRefreshableCredentials):
    """botocore's deferred refreshing credentials of one role, whose AssumeRole failure is
    answered at once while its back-off runs and none are held: botocore's refresh would log it
    again, with its traceback, at every call of every resource of that tenant."""

    def __init__(self, backoff: AssumeRoleBackoff) -> None:
        super().__init__(refresh_using=backoff, method=_Assumed.METHOD)
        self._backoff = backoff

    def get_frozen_credentials(self) -> Any:
        if self.refresh_needed(refresh_in=0):  # none yet, or expired
            self._backoff.check()
        return super().get_frozen_credentials()


@once_per_key
def _session(config: AwsConfig) -> boto3.session.Session:
    """One session per role, region and endpoint (max_attempts is the clients' business)."""
    role = config.role
    if role is None:
        return _own_session()
    core = botocore.session.Session()
    core.register_component("data_loader", _own().get_component("data_loader"))
    core.register_component(
        "credential_provider", CredentialResolver([_Assumed(_assume(role, config))])
    )
    return boto3.session.Session(botocore_session=core)


def _client(service: str, config: AwsConfig) -> Any:
    with _SESSION_LOCK:
        session = _session(AwsConfig(config.region, config.endpoint_url, role=config.role))
        client = session.client(
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
def ram_client(config: AwsConfig) -> Any:
    return _client("ram", config)


@once_per_key
def tagging_client(config: AwsConfig) -> ResourceGroupsTaggingAPIClient:
    client: ResourceGroupsTaggingAPIClient = _client("resourcegroupstaggingapi", config)
    return client
