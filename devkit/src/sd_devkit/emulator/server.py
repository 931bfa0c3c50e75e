"""The emulator process: moto's server app behind the fidelity layer, on loopback only."""

from __future__ import annotations

import ipaddress
import itertools
import signal
import sys
import threading
from collections.abc import Mapping, Sequence
from types import FrameType, TracebackType
from typing import Any

from ._http import KeepAliveServer
from ._wsgi import JSON
from .clients import DUMMY_ACCESS_KEY, DUMMY_SECRET_KEY
from .deployments import DEFAULT_FAILURE_REASON
from .layer import (
    FidelityLayer,
    configure_deployments,
    configure_operations,
    configure_throttle,
    fault_rule,
)
from .moto_surface import (
    DEFAULT_ACCOUNT_ID,
    BackendDict,
    DomainDispatcherApplication,
    backend_lock,
    create_backend_app,
)
from .seed import CLUSTER, DEMO_SERVICES, seed_demo_ecs
from .sts import DEFAULT_DURATION
from .throttle import throttle_body

DEMO_REGION = "us-east-1"

_accounts = itertools.count()
_accounts_lock = threading.Lock()


def _next_account_id() -> str:
    """moto's default account for the first emulator of the process, then distinct ones: moto
    keeps its state per account, so each emulator gets state of its own."""
    with _accounts_lock:
        n = next(_accounts)
    return DEFAULT_ACCOUNT_ID if n == 0 else f"{100000000000 + n:012d}"


def _reset_account(account_id: str) -> None:
    """Drop every moto backend of one account (all services, all regions)."""
    with backend_lock:
        instances: list[BackendDict[Any]] = list(BackendDict._instances)  # type: ignore[misc]
        for backend_dict in instances:
            if dict.__contains__(backend_dict, account_id):
                dict.__getitem__(backend_dict, account_id).reset()
                dict.__delitem__(backend_dict, account_id)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class Emulator:
    """moto server on loopback with the fidelity layer in front of it.

    >>> with Emulator() as emu:
    ...     sd = client("servicediscovery", emu.endpoint_url)
    """

    def __init__(
        self, host: str = "127.0.0.1", port: int = 0, *, page_size: int = 0, seed: int = 0
    ) -> None:
        """`page_size` 0 answers list calls with AWS's page sizes (Cloud Map and the Tagging
        API 100, ECS 10 unless maxResults asks for up to 100); a positive value caps every page
        at that many items, a test setting to exercise pagination with few resources."""
        if not _is_loopback(host):
            raise ValueError(f"the emulator listens on loopback only, not {host!r}")
        if page_size < 0:
            raise ValueError("page_size must be >= 0 (0: AWS's page sizes)")
        self._host = host
        self._port = port
        self._account_id = _next_account_id()
        self._layer = FidelityLayer(
            DomainDispatcherApplication(create_backend_app),
            self._account_id,
            page_size=page_size,
            seed=seed,
            reset_backend=_reset_account,
        )
        self._server: KeepAliveServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> str:
        """Listen and serve in a daemon thread; returns the endpoint URL."""
        if self._server is not None:
            return self.endpoint_url
        server = KeepAliveServer(self._host, self._port, self._layer)
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, name=f"sd-emulator-{server.port}", daemon=True
        )
        self._thread.start()
        return self.endpoint_url

    def stop(self) -> None:
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is not None:
            server.shutdown()
            server.server_close()
        if thread is not None:
            thread.join(timeout=10)

    def __enter__(self) -> Emulator:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def endpoint_url(self) -> str:
        if self._server is None:
            raise RuntimeError("the emulator is not running: call start() first")
        host = self._host if ":" not in self._host else f"[{self._host}]"
        return f"http://{host}:{self._server.port}"

    @property
    def account_id(self) -> str:
        """The AWS account id this emulator's resources live in (it appears in ARNs)."""
        return self._account_id

    @property
    def page_size(self) -> int:
        return self._layer.cloudmap.page_size

    @page_size.setter
    def page_size(self, value: int) -> None:
        if value < 0:
            raise ValueError("page_size must be >= 0 (0: AWS's page sizes)")
        self._layer.cloudmap.page_size = value
        self._layer.ecs.page_size = value
        self._layer.tagging.page_size = value

    # -- state ---------------------------------------------------------------------------------

    def reset(self) -> None:
        """Forget everything: moto resources of this emulator's account and of every account a
        role was created or a request acted in, assumed-role sessions, RAM shares, rate
        limits, fault rules, holds,
        fail rules, call counts, deployment counts; the fault sequence restarts from the seed."""
        self._layer.reset()

    # -- accounts ------------------------------------------------------------------------------

    def create_role(
        self,
        account_id: str,
        name: str,
        trust_policy: JSON,
        *,
        max_session_duration: int = DEFAULT_DURATION,
    ) -> str:
        """Create IAM role `name` in account `account_id` with the trust policy given (see
        `sts.trust_policy`); returns its ARN. sts:AssumeRole of it by a caller the policy names
        answers credentials that act in `account_id`; requests signed with any other
        credentials act in this emulator's own account (`account_id` property). Accounts other
        than the emulator's own are shared by the emulators of one process: pick distinct ids."""
        return self._layer.create_role(account_id, name, trust_policy, max_session_duration)

    def expire_sessions(self, role_arn: str | None = None) -> int:
        """End now the sessions AssumeRole gave for one role (None: for every role): requests
        signed with their credentials answer ExpiredTokenException, as AWS does once a
        session's Expiration has passed. Returns how many sessions ended."""
        return self._layer.sts.expire(role_arn)

    # -- faults --------------------------------------------------------------------------------

    def inject(
        self,
        api: str,
        *,
        error: str | None = "ThrottlingException",
        rate: float = 1.0,
        count: int | None = None,
        latency: float = 0.0,
        status: int | None = None,
        account: str | None = None,
    ) -> None:
        """Fault calls to `api` ("servicediscovery:CreateService", "ecs:*", "*"): with
        probability `rate` (seeded), at most `count` times, after `latency` seconds, answer
        `error` (None: only the latency) with `status` (default: 503 for ServiceUnavailable,
        500 for InternalFailure, else 400); with `account`, only calls acting in that
        account."""
        self._layer.faults.add(
            fault_rule(
                {
                    "api": api,
                    "error": error,
                    "rate": rate,
                    "count": count,
                    "latency": latency,
                    "status": status,
                    "account": account,
                }
            )
        )

    def clear_faults(self) -> None:
        self._layer.faults.clear()

    def throttle(
        self,
        rates: Mapping[str, tuple[float, float]] | None = None,
        *,
        documented: bool = True,
        accounts: Sequence[str] | None = None,
        scale: float = 1.0,
    ) -> None:
        """Throttle as AWS does, by rate: a token bucket per API, account and Region, `burst`
        tokens refilled at `per_second`; a call that finds its bucket empty answers
        ThrottlingException (Cloud Map: RequestLimitExceeded). AWS's documented rates
        (throttle.DOCUMENTED) unless `documented` is False, overridden by `rates` ({"api":
        (per_second, burst)}, "service:*" and "*" allowed), all times `scale`; in `accounts`
        only (None: all). Beside, and independent of, the random faults of `inject`."""
        configure_throttle(self._layer.throttle, throttle_body(rates, documented, accounts, scale))

    def clear_throttle(self) -> None:
        self._layer.throttle.clear()

    def hold_operations(self, seconds: float | None = None, polls: int | None = None) -> None:
        """Cloud Map operations submitted from now on answer SUBMITTED, then PENDING, until
        `seconds` have passed and GetOperation has answered `polls` times; then SUCCESS (or
        FAIL). Their effects show only at SUCCESS, as in AWS: a created namespace is not
        listed (GetNamespace: NamespaceNotFound), a deleted one still is, Update*Namespace and
        UpdateService changes are not visible yet. No arguments: operations are final at once
        (moto's behaviour)."""
        configure_operations(self._layer.operations, {"hold": {"seconds": seconds, "polls": polls}})

    def fail_operations(
        self,
        match: str,
        error_code: str = "CANNOT_CREATE_HOSTED_ZONE",
        message: str = "The operation failed (injected by the sd-operator emulator)",
        *,
        count: int | None = None,
    ) -> None:
        """Operations submitted from now on that match (operation type such as
        CREATE_NAMESPACE, or the name/id of their namespace, service or instance) end in FAIL
        with ErrorCode/ErrorMessage, and leave the resource as it was."""
        configure_operations(
            self._layer.operations,
            {
                "fail": {
                    "match": match,
                    "error_code": error_code,
                    "message": message,
                    "count": count,
                }
            },
        )

    def clear_operation_rules(self) -> None:
        self._layer.operations.clear_rules()

    def hold_deployments(self, seconds: float | None = None, polls: int | None = None) -> None:
        """ECS deployments started from now on stay IN_PROGRESS until `seconds` have passed
        and DescribeServices has shown them `polls` times (a rollback is held the same way).
        No arguments: a deployment is COMPLETED (or FAILED and rolled back) by the next ECS
        call, though the answer to the call that started it shows it IN_PROGRESS."""
        configure_deployments(
            self._layer.ecs.rollouts, {"hold": {"seconds": seconds, "polls": polls}}
        )

    def fail_deployments(
        self,
        cluster: str,
        service: str,
        reason: str = DEFAULT_FAILURE_REASON,
        *,
        count: int | None = None,
        forget: bool = False,
    ) -> None:
        """Deployments of that ECS service started from now on fail (rolloutState FAILED,
        the circuit breaker's `reason`) and roll back to the configuration they replaced;
        `forget`: the failed one leaves `deployments[]` once its rollback completes."""
        fail = {
            "cluster": cluster,
            "service": service,
            "reason": reason,
            "count": count,
            "forget": forget,
        }
        configure_deployments(self._layer.ecs.rollouts, {"fail": fail})

    def clear_deployment_rules(self) -> None:
        self._layer.ecs.rollouts.clear_rules()

    def seed_instances(
        self, service_id: str, instances: dict[str, dict[str, str]], region: str = "us-east-1"
    ) -> None:
        """Register new instances (id -> attributes) of a Cloud Map service at once, as
        RegisterInstance calls whose operations succeeded would (its quotas refuse the same,
        ValueError here): a test that needs a service near 1,000 instances makes them without
        a call over HTTP each."""
        self._layer.seed_instances(region, service_id, dict(instances))

    # -- observation ---------------------------------------------------------------------------

    def calls(self) -> dict[str, int]:
        """Calls received per API ("servicediscovery:GetOperation": 3, ...), faulted included."""
        return self._layer.faults.calls()

    def reset_calls(self) -> None:
        self._layer.faults.reset_calls()

    def deployments(self, cluster: str, service: str, region: str = "us-east-1") -> int:
        """ECS deployments started for a service: 1 from CreateService, +1 per UpdateService
        that starts one (0 for an unknown service)."""
        return self._layer.deployments(cluster, service, region)


def serve(
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    page_size: int = 0,
    seed: int = 0,
    seed_demo: bool = False,
) -> None:
    """Run an emulator in the foreground until SIGINT/SIGTERM (`sd-operator emulator`).
    Prints `endpoint: http://127.0.0.1:PORT` once it listens. With `seed_demo`, first creates
    the ECS services examples/myapp expects (seed.seed_demo_ecs), so the endpoint line also
    means they exist, then prints what was seeded."""
    stop = threading.Event()

    def _stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, _stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    emulator = Emulator(host, port, page_size=page_size, seed=seed)
    try:
        url = emulator.start()
        seeded = seed_demo_ecs(url, DEMO_REGION) if seed_demo else []
        print(f"endpoint: {url}", flush=True)
        if seed_demo:
            _print_seeded(url, seeded)
        while not stop.wait(0.5):
            pass
    finally:
        emulator.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        sys.stdout.flush()


def _print_seeded(url: str, service_arns: list[str]) -> None:
    print(f"seeded: ECS cluster {CLUSTER} in {DEMO_REGION}")
    for arn in service_arns:
        name = arn.rsplit("/", 1)[-1]
        port, port_name, protocol = DEMO_SERVICES[name]
        print(f"seeded: ECS service {name} (port {port_name}: {port}/{protocol}) {arn}")
    # The operator's clients read credentials from the environment; any value will do here.
    print(
        f"try: AWS_ACCESS_KEY_ID={DUMMY_ACCESS_KEY} AWS_SECRET_ACCESS_KEY={DUMMY_SECRET_KEY} "
        f"sd-operator apply -f examples/myapp --aws-endpoint-url {url} --region {DEMO_REGION}",
        flush=True,
    )
