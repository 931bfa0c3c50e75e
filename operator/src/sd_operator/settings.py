"""Operator and CLI settings: read once from flags and environment, validated, then immutable."""

from __future__ import annotations

import argparse
import os
import re
from dataclasses import dataclass, field
from typing import get_args

from sd_operator.aws.budget import Rate, parse_rates
from sd_operator.logs import LogFormat
from sd_operator.model.schema import region_pattern
from sd_operator.model.spec import ClusterIdentity


class SettingsError(ValueError):
    """A flag or environment variable has a value the operator cannot work with."""


@dataclass(frozen=True)
class Settings:
    region: str
    endpoint_url: str | None
    cluster_name: str
    log_format: LogFormat
    log_level: str
    # Overrides of the AWS API budget's default rates (docs/aws-budget.md), and a factor for
    # all of them (an account the operator has to itself, or shares with more tools).
    aws_rates: dict[str, Rate] = field(default_factory=dict)
    aws_rate_scale: float = 1.0
    # None: `run` reads the kube-system namespace's UID at start; the CLI acts without an id
    # (docs/ownership.md, "Cluster identity").
    cluster_id: str | None = None

    @property
    def cluster(self) -> ClusterIdentity:
        return ClusterIdentity(self.cluster_name, self.cluster_id)


def add_common_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--region",
        help="default AWS region for resources without spec.region "
        "(env AWS_REGION, then AWS_DEFAULT_REGION)",
    )
    parser.add_argument(
        "--aws-endpoint-url",
        help="send AWS calls to this endpoint, e.g. a local emulator (env AWS_ENDPOINT_URL)",
    )
    parser.add_argument(
        "--cluster-name",
        default=os.environ.get("SD_OPERATOR_CLUSTER_NAME", "default"),
        help="identity of this cluster in ownership tags, so two clusters sharing an AWS account "
        "never touch each other's resources (env SD_OPERATOR_CLUSTER_NAME; default: default)",
    )
    parser.add_argument(
        "--cluster-id",
        default=os.environ.get("SD_OPERATOR_CLUSTER_ID") or None,
        help="id of this cluster in ownership tags, unique per cluster, so two clusters given "
        "the same --cluster-name still never touch each other's resources (env "
        "SD_OPERATOR_CLUSTER_ID; default: run reads the kube-system namespace's UID, "
        "plan --from-cluster the operator's, other CLI commands use none: docs/ownership.md)",
    )
    parser.add_argument(
        "--aws-rate",
        action="append",
        default=[],
        metavar="SERVICE:API=RATE[/BURST]",
        help="requests per second (and burst) the AWS API budget allows for an API, e.g. "
        "servicediscovery:ListServices=4 or ecs:*=10/40; repeatable, comma lists accepted "
        "(env SD_OPERATOR_AWS_RATES; defaults: docs/aws-budget.md)",
    )
    parser.add_argument(
        "--aws-rate-scale",
        type=float,
        default=None,
        help="multiply every AWS API budget rate by this factor "
        "(env SD_OPERATOR_AWS_RATE_SCALE; default: 1)",
    )
    parser.add_argument(
        "--log-format",
        choices=get_args(LogFormat),
        default=os.environ.get("SD_OPERATOR_LOG_FORMAT", "console"),
        help="log format (env SD_OPERATOR_LOG_FORMAT; default: console)",
    )
    parser.add_argument(
        "--log-level",
        default=os.environ.get("SD_OPERATOR_LOG_LEVEL", "INFO"),
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="log level (env SD_OPERATOR_LOG_LEVEL; default: INFO)",
    )


TAG_VALUE = re.compile(r"^[A-Za-z0-9_.:/=+@-]{1,128}$")
NO_REGION = "no AWS region: pass --region or set AWS_REGION (or AWS_DEFAULT_REGION)"


def from_args(
    args: argparse.Namespace, *, fallback_region: str | None = None, no_region_hint: str = ""
) -> Settings:
    """`fallback_region` serves when neither --region nor the environment names one (the CLI:
    every resource names its own region); `no_region_hint` is added to the error otherwise."""
    region = (
        args.region
        or os.environ.get("AWS_REGION")
        or os.environ.get("AWS_DEFAULT_REGION")
        or fallback_region
    )
    if not region:
        raise SettingsError(NO_REGION + no_region_hint)
    # The region a resource may name (the CRDs' spec.region) is the region a flag may name.
    if not region_pattern().search(region):
        raise SettingsError(f"--region {region!r} is not an AWS region name like us-east-1")
    endpoint = args.aws_endpoint_url or os.environ.get("AWS_ENDPOINT_URL") or None
    if endpoint is not None and not re.match(r"^https?://", endpoint):
        raise SettingsError(f"--aws-endpoint-url {endpoint!r} must start with http:// or https://")
    for flag, value in (("--cluster-name", args.cluster_name), ("--cluster-id", args.cluster_id)):
        if value is not None and not TAG_VALUE.match(value):
            raise SettingsError(f"{flag} {value!r} must be 1-128 characters usable in an AWS tag")
    try:
        rate_text = ",".join([os.environ.get("SD_OPERATOR_AWS_RATES", ""), *args.aws_rate])
        aws_rates = parse_rates(rate_text)
    except ValueError as exc:
        raise SettingsError(f"--aws-rate {exc}") from exc
    scale = args.aws_rate_scale
    if scale is None:
        try:
            scale = float(os.environ.get("SD_OPERATOR_AWS_RATE_SCALE") or 1.0)
        except ValueError as exc:
            raise SettingsError(f"SD_OPERATOR_AWS_RATE_SCALE: {exc}") from exc
    if not scale > 0:
        raise SettingsError(f"--aws-rate-scale must be > 0, got {scale}")
    return Settings(
        region=region,
        endpoint_url=endpoint,
        cluster_name=args.cluster_name,
        log_format=args.log_format,
        log_level=args.log_level,
        aws_rates=aws_rates,
        aws_rate_scale=scale,
        cluster_id=args.cluster_id,
    )
