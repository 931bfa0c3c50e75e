"""boto3 clients for the emulator: loopback endpoint, dummy credentials, explicit region.

Server mode and DiscoverInstances: botocore prefixes the host of DiscoverInstances with
`data-` (its endpoint is data-servicediscovery.<region>.amazonaws.com), which against
`http://127.0.0.1:PORT` gives `data-127.0.0.1` and a failed connection (docs/aws-facts.md, Where
the emulator corrects moto). Every client made here has inject_host_prefix=False; code that
builds its own clients against the emulator must set it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal, overload

import boto3
from botocore.config import Config

if TYPE_CHECKING:
    from mypy_boto3_ecs.client import ECSClient
    from mypy_boto3_servicediscovery.client import ServiceDiscoveryClient

# Never real credentials: the emulator does not check them, and nothing can reach AWS with them.
DUMMY_ACCESS_KEY = "AKIAEMULATOREXAMPLE0"
DUMMY_SECRET_KEY = "emulator-secret-not-a-real-key"


def client_config(**overrides: Any) -> Config:
    """botocore Config for the emulator: inject_host_prefix=False (plus any overrides, e.g.
    retries={"total_max_attempts": 1} to see injected faults unretried)."""
    return Config(inject_host_prefix=False, **overrides)


@overload
def client(
    service: Literal["servicediscovery"],
    endpoint_url: str,
    region: str = ...,
    *,
    config: Config | None = ...,
) -> ServiceDiscoveryClient: ...


@overload
def client(
    service: Literal["ecs"], endpoint_url: str, region: str = ..., *, config: Config | None = ...
) -> ECSClient: ...


@overload
def client(
    service: str, endpoint_url: str, region: str = ..., *, config: Config | None = ...
) -> Any: ...


def client(
    service: str, endpoint_url: str, region: str = "us-east-1", *, config: Config | None = None
) -> Any:
    """A boto3 client for `service` at the emulator's endpoint, with dummy credentials (no
    credential lookup), the region given, and `client_config()` merged with `config`."""
    session = boto3.session.Session(
        aws_access_key_id=DUMMY_ACCESS_KEY,
        aws_secret_access_key=DUMMY_SECRET_KEY,
        region_name=region,
    )
    merged = client_config() if config is None else client_config().merge(config)
    return session.client(  # type: ignore[call-overload]
        service, endpoint_url=endpoint_url, region_name=region, config=merged
    )
