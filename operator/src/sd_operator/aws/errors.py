"""AWS errors classified once, at the adapter boundary, into what the caller should do next."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, NoRegionError

T = TypeVar("T")

RETRY_DELAY_SECONDS = 10.0

_RETRYABLE = frozenset(
    {
        "ThrottlingException",
        "Throttling",
        "RequestLimitExceeded",
        "TooManyRequestsException",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "InternalFailure",
        "InternalServerError",
        "ServerException",
        "DuplicateRequest",
        "ResourceInUse",
        "RequestTimeout",
    }
)
_NOT_FOUND = frozenset(
    {
        "NamespaceNotFound",
        "ServiceNotFound",
        "OperationNotFound",
        "InstanceNotFound",
        "ResourceNotFoundException",
        "ServiceNotFoundException",
        "ServiceNotActiveException",
        "ClusterNotFoundException",
        "NoSuchHostedZone",
    }
)
_CONFLICT = frozenset({"NamespaceAlreadyExists", "ServiceAlreadyExists", "ConflictingDomainExists"})


class AwsError(Exception):
    """Base: `code` is AWS's error code, `api` the call that failed."""

    def __init__(self, api: str, code: str, message: str) -> None:
        super().__init__(f"{api}: {code}: {message}")
        self.api = api
        self.code = code
        self.message = message


class Retryable(AwsError):
    """Transient (throttling, 5xx, in progress, in use): try again after `delay` seconds."""

    def __init__(
        self, api: str, code: str, message: str, delay: float = RETRY_DELAY_SECONDS
    ) -> None:
        super().__init__(api, code, message)
        self.delay = delay


class AssumeRoleFailed(Retryable):
    """The operator could not assume `role` (`cause`: AWS's error, classified): nothing can be
    done in that role's account until the role, its trust policy or the operator's permission
    to assume it is fixed. Retried, backing off, like any AWS error that may be fixed outside."""

    def __init__(self, role: str, cause: AwsError) -> None:
        super().__init__(cause.api, cause.code, f"cannot assume role {role}: {cause.message}")
        self.role = role
        self.cause = cause


class Terminal(AwsError):
    """The request itself is wrong or forbidden: retrying the same request cannot succeed."""


class NotFound(AwsError):
    """The resource does not exist (any more)."""


class Conflict(AwsError):
    """A resource of that name exists already; `existing_id` names it when AWS says so."""

    def __init__(self, api: str, code: str, message: str, existing_id: str | None) -> None:
        super().__init__(api, code, message)
        self.existing_id = existing_id


def call(api: str, fn: Callable[[], T]) -> T:
    """`fn()`, an AWS call: every botocore failure leaves it classified (`translate`)."""
    try:
        return fn()
    except Exception as exc:
        raise translate(api, exc) from exc


def translate(api: str, exc: Exception) -> AwsError:
    """Map a botocore exception to the small set callers act on (one already classified, such
    as an AssumeRole failure raised inside botocore's credential refresh, as it is)."""
    if isinstance(exc, AwsError):
        return exc
    if isinstance(exc, ClientError):
        return _from_client_error(api, exc.response)
    if isinstance(exc, (NoCredentialsError, NoRegionError)):
        return Terminal(api, type(exc).__name__, str(exc))
    if isinstance(exc, BotoCoreError):  # connection failures and timeouts
        return Retryable(api, type(exc).__name__, str(exc))
    raise exc


def _from_client_error(api: str, response: Any) -> AwsError:
    error = response.get("Error", {})
    code = str(error.get("Code", "Unknown"))
    message = str(error.get("Message", ""))
    status = int(response.get("ResponseMetadata", {}).get("HTTPStatusCode", 400))
    if code in _RETRYABLE or status >= 500:
        return Retryable(api, code, message)
    if code in _NOT_FOUND:
        return NotFound(api, code, message)
    if code in _CONFLICT:
        existing = response.get("NamespaceId") or response.get("ServiceId")
        return Conflict(api, code, message, str(existing) if existing else None)
    return Terminal(api, code, message)
