"""boto3 clients with the retry policy and endpoint every adapter shares."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

import boto3
from botocore.config import Config

if TYPE_CHECKING:
    from mypy_boto3_ecs import ECSClient
    from mypy_boto3_route53 import Route53Client
    from mypy_boto3_servicediscovery import ServiceDiscoveryClient


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
    )


@cache
def cloudmap_client(config: AwsConfig) -> ServiceDiscoveryClient:
    return boto3.session.Session().client(
        "servicediscovery", endpoint_url=config.endpoint_url, config=_botocore_config(config)
    )


@cache
def ecs_client(config: AwsConfig) -> ECSClient:
    return boto3.session.Session().client(
        "ecs", endpoint_url=config.endpoint_url, config=_botocore_config(config)
    )


@cache
def route53_client(config: AwsConfig) -> Route53Client:
    """Route 53 is global (one endpoint per partition); the region picks the partition."""
    return boto3.session.Session().client(
        "route53", endpoint_url=config.endpoint_url, config=_botocore_config(config)
    )
