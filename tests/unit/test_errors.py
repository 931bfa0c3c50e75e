"""botocore errors classified once into Retryable, Terminal, NotFound and Conflict."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import (
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    ReadTimeoutError,
)

from sd_operator.aws.errors import (
    RETRY_DELAY_SECONDS,
    AwsError,
    Conflict,
    NotFound,
    Retryable,
    Terminal,
    call,
    translate,
)


def client_error(
    code: str,
    message: str = "boom",
    status: int = 400,
    api: str = "CreateService",
    **modeled: Any,
) -> ClientError:
    """As botocore builds it: modeled error fields sit beside "Error" at the top level."""
    response: Any = {
        "Error": {"Code": code, "Message": message},
        "ResponseMetadata": {"HTTPStatusCode": status},
        **modeled,
    }
    return ClientError(response, api)


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("ThrottlingException", 400),
        ("Throttling", 400),
        ("RequestLimitExceeded", 429),
        ("TooManyRequestsException", 429),
        ("ServiceUnavailable", 503),
        ("ServiceUnavailableException", 503),
        ("InternalFailure", 500),
        ("ServerException", 500),
        ("RequestTimeout", 408),
    ],
)
def test_throttling_and_service_errors_are_retried(code: str, status: int) -> None:
    error = translate("ListServices", client_error(code, status=status))

    assert isinstance(error, Retryable)
    assert error.code == code
    assert error.api == "ListServices"
    assert error.delay == RETRY_DELAY_SECONDS


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_any_5xx_is_retried_whatever_its_code(status: int) -> None:
    error = translate("GetOperation", client_error("SomethingNew", status=status))

    assert isinstance(error, Retryable)


def test_duplicate_request_is_retried_not_failed() -> None:
    error = translate(
        "CreatePrivateDnsNamespace",
        client_error("DuplicateRequest", status=409, DuplicateOperationId="op-1"),
    )

    assert isinstance(error, Retryable)


def test_resource_in_use_is_retried() -> None:
    assert isinstance(
        translate("DeleteNamespace", client_error("ResourceInUse", status=409)), Retryable
    )


def test_namespace_already_exists_carries_the_existing_id() -> None:
    error = translate(
        "CreatePrivateDnsNamespace",
        client_error(
            "NamespaceAlreadyExists",
            "exists",
            CreatorRequestId="sdop-1",
            NamespaceId="ns-existing",
        ),
    )

    assert isinstance(error, Conflict)
    assert error.existing_id == "ns-existing"
    assert error.code == "NamespaceAlreadyExists"
    assert error.message == "exists"


def test_service_already_exists_carries_the_existing_id() -> None:
    error = translate(
        "CreateService",
        client_error("ServiceAlreadyExists", ServiceId="srv-existing", ServiceArn="arn:srv"),
    )

    assert isinstance(error, Conflict)
    assert error.existing_id == "srv-existing"


def test_conflict_without_an_id_says_so() -> None:
    error = translate("GetOperation", client_error("ConflictingDomainExists"))

    assert isinstance(error, Conflict)
    assert error.existing_id is None


@pytest.mark.parametrize(
    "code",
    [
        "NamespaceNotFound",
        "ServiceNotFound",
        "OperationNotFound",
        "InstanceNotFound",
        "ResourceNotFoundException",
        "ServiceNotFoundException",
        "ServiceNotActiveException",
        "ClusterNotFoundException",
    ],
)
def test_not_found_codes_are_not_found(code: str) -> None:
    error = translate("GetService", client_error(code, status=404))

    assert isinstance(error, NotFound)
    assert error.code == code


@pytest.mark.parametrize(
    "code",
    [
        "InvalidInput",
        "ResourceLimitExceeded",
        "TooManyTagsException",
        "AccessDeniedException",
        "InvalidParameterException",
        "SomethingNew",
    ],
)
def test_request_errors_are_terminal(code: str) -> None:
    error = translate("CreateService", client_error(code, "bad request"))

    assert isinstance(error, Terminal)
    assert error.code == code


def test_error_text_names_the_call_code_and_message() -> None:
    error = translate("CreateService", client_error("InvalidInput", "TTL out of range"))

    assert str(error) == "CreateService: InvalidInput: TTL out of range"


def test_response_without_error_details_is_terminal_unknown() -> None:
    error = translate("CreateService", ClientError({}, "CreateService"))

    assert isinstance(error, Terminal)
    assert error.code == "Unknown"


def test_connection_failure_is_retried() -> None:
    error = translate(
        "ListNamespaces", EndpointConnectionError(endpoint_url="https://servicediscovery")
    )

    assert isinstance(error, Retryable)
    assert error.code == "EndpointConnectionError"


@pytest.mark.parametrize(
    "exc",
    [
        ReadTimeoutError(endpoint_url="https://servicediscovery"),
        ConnectTimeoutError(endpoint_url="https://servicediscovery"),
    ],
)
def test_timeouts_are_retried(exc: Exception) -> None:
    assert isinstance(translate("ListNamespaces", exc), Retryable)


@pytest.mark.parametrize("exc", [NoCredentialsError(), NoRegionError()])
def test_missing_credentials_or_region_are_terminal(exc: Exception) -> None:
    error = translate("ListNamespaces", exc)

    assert isinstance(error, Terminal)
    assert error.code == type(exc).__name__


def test_non_aws_exceptions_are_not_swallowed() -> None:
    with pytest.raises(KeyError):
        translate("ListNamespaces", KeyError("x"))


def test_every_classification_is_an_aws_error() -> None:
    for exc in (
        client_error("ThrottlingException"),
        client_error("InvalidInput"),
        client_error("ServiceNotFound"),
        client_error("ServiceAlreadyExists"),
    ):
        assert isinstance(translate("X", exc), AwsError)


def test_an_adapter_call_answers_or_leaves_classified_with_the_sdk_error_as_cause() -> None:
    def throttled() -> None:
        raise client_error("ThrottlingException", api="ListServices")

    assert call("ListServices", lambda: "answer") == "answer"
    with pytest.raises(Retryable) as caught:
        call("ListServices", throttled)
    assert caught.value.api == "ListServices"
    assert isinstance(caught.value.__cause__, ClientError)
