"""Operator and CLI settings: a typed tree read once from flags and environment
(`settings_from`, the one place that reads either), validated, then immutable."""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TypeVar, get_args

from sd_operator.aws.budget import Rate, parse_rates
from sd_operator.hybrid import options as hybrid_options
from sd_operator.hybrid.options import HybridSettings
from sd_operator.logs import LogFormat
from sd_operator.model.schema import region_pattern
from sd_operator.model.spec import ClusterIdentity

DEFAULT_CLUSTER_NAME = "default"
PEERING_LIFETIME = 60  # kopf's default
SWEEP_SECONDS = 60.0
METRICS_BIND_ADDRESS = "127.0.0.1"
_T = TypeVar("_T")


class SettingsError(ValueError):
    """A flag or environment variable has a value the operator cannot work with."""


@dataclass(frozen=True)
class AwsSettings:
    region: str
    """For resources without spec.region (--region; AWS_REGION, then AWS_DEFAULT_REGION)."""
    endpoint_url: str | None = None
    """Every AWS call goes here instead of AWS, e.g. an emulator (--aws-endpoint-url)."""
    rates: dict[str, Rate] = field(default_factory=dict)
    """Overrides of the AWS API budget's default rates (--aws-rate; docs/aws-budget.md)."""
    rate_scale: float = 1.0
    """A factor for every rate: an account the operator has to itself, or shares with more
    tools (--aws-rate-scale)."""


@dataclass(frozen=True)
class LoggingSettings:
    format: LogFormat = "console"
    level: str = "INFO"


@dataclass(frozen=True)
class PeeringSettings:
    name: str | None = None
    """The KopfPeering replicas coordinate through; None: standalone (--peering)."""
    priority: int | None = None
    """None: derived from the start time, earlier is higher (--priority)."""
    lifetime: int = PEERING_LIFETIME
    """Seconds the other replicas count this one alive after its last keep-alive."""


@dataclass(frozen=True)
class MetricsSettings:
    bind_address: str = METRICS_BIND_ADDRESS
    port: int | None = None
    """None: no metrics server; 0: any free port, logged (--metrics-port)."""


@dataclass(frozen=True)
class OperatorSettings:
    """What only `run` reads."""

    namespaces: tuple[str, ...] = ()
    """Kubernetes namespaces watched, globs allowed; empty: every one (--namespace)."""
    sweep_seconds: float = SWEEP_SECONDS
    """How often the drift sweep compares every resource with AWS (--sweep-seconds)."""
    liveness: str | None = None
    """kopf's liveness endpoint URL, or None (--liveness)."""
    peering: PeeringSettings = field(default_factory=PeeringSettings)
    metrics: MetricsSettings = field(default_factory=MetricsSettings)
    hybrid: HybridSettings = field(default_factory=HybridSettings)


@dataclass(frozen=True)
class Settings:
    aws: AwsSettings
    cluster: ClusterIdentity
    """Written into ownership tags. The id None: `run` reads the kube-system namespace's UID
    at start; the CLI acts without an id (docs/ownership.md, "Cluster identity")."""
    logging: LoggingSettings = field(default_factory=LoggingSettings)
    operator: OperatorSettings = field(default_factory=OperatorSettings)


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of seconds >= 1, not {text!r}")
    return value


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
        help="identity of this cluster in ownership tags, so two clusters sharing an AWS account "
        "never touch each other's resources (env SD_OPERATOR_CLUSTER_NAME; default: default)",
    )
    parser.add_argument(
        "--cluster-id",
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
        help="log format (env SD_OPERATOR_LOG_FORMAT; default: console)",
    )
    parser.add_argument(
        "--log-level",
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="log level (env SD_OPERATOR_LOG_LEVEL; default: INFO)",
    )


TAG_VALUE = re.compile(r"^[A-Za-z0-9_.:/=+@-]{1,128}$")
NO_REGION = "no AWS region: pass --region or set AWS_REGION (or AWS_DEFAULT_REGION)"


def settings_from(
    args: argparse.Namespace,
    environ: Mapping[str, str],
    *,
    fallback_region: str | None = None,
    no_region_hint: str = "",
) -> Settings:
    """The settings of a command line: a flag over its environment variable over the default.
    `fallback_region` serves when neither --region nor the environment names one (the CLI:
    every resource names its own region); `no_region_hint` is added to the error otherwise.
    `run`'s own flags fill `operator`; other commands keep its defaults."""
    run = getattr(args, "command", None) == "run"
    return Settings(
        aws=_aws(args, environ, fallback_region, no_region_hint),
        cluster=_cluster(args, environ),
        logging=_logging(args, environ),
        operator=_operator(args, environ) if run else OperatorSettings(),
    )


def cluster_name_given(args: argparse.Namespace, environ: Mapping[str, str]) -> bool:
    """Whether SD_OPERATOR_CLUSTER_NAME is set, or --cluster-name names another cluster than
    the default one: `plan --from-cluster` reads the operator's otherwise."""
    env = environ.get("SD_OPERATOR_CLUSTER_NAME")
    return (args.cluster_name or env or DEFAULT_CLUSTER_NAME) != DEFAULT_CLUSTER_NAME or bool(env)


def cluster_id_given(args: argparse.Namespace, environ: Mapping[str, str]) -> bool:
    """Whether --cluster-id or its environment variable names one: `plan --from-cluster`
    reads the operator's otherwise."""
    return args.cluster_id is not None or bool(environ.get("SD_OPERATOR_CLUSTER_ID"))


def _aws(
    args: argparse.Namespace,
    environ: Mapping[str, str],
    fallback_region: str | None,
    no_region_hint: str,
) -> AwsSettings:
    region = (
        args.region
        or environ.get("AWS_REGION")
        or environ.get("AWS_DEFAULT_REGION")
        or fallback_region
    )
    if not region:
        raise SettingsError(NO_REGION + no_region_hint)
    # The region a resource may name (the CRDs' spec.region) is the region a flag may name.
    if not region_pattern().search(region):
        raise SettingsError(f"--region {region!r} is not an AWS region name like us-east-1")
    endpoint = args.aws_endpoint_url or environ.get("AWS_ENDPOINT_URL") or None
    if endpoint is not None and not re.match(r"^https?://", endpoint):
        raise SettingsError(f"--aws-endpoint-url {endpoint!r} must start with http:// or https://")
    try:
        rate_text = ",".join([environ.get("SD_OPERATOR_AWS_RATES", ""), *args.aws_rate])
        aws_rates = parse_rates(rate_text)
    except ValueError as exc:
        raise SettingsError(f"--aws-rate {exc}") from exc
    scale = args.aws_rate_scale
    if scale is None:
        try:
            scale = float(environ.get("SD_OPERATOR_AWS_RATE_SCALE") or 1.0)
        except ValueError as exc:
            raise SettingsError(f"SD_OPERATOR_AWS_RATE_SCALE: {exc}") from exc
    if not scale > 0:
        raise SettingsError(f"--aws-rate-scale must be > 0, got {scale}")
    return AwsSettings(region, endpoint, aws_rates, scale)


def _logging(args: argparse.Namespace, environ: Mapping[str, str]) -> LoggingSettings:
    fmt = args.log_format or environ.get("SD_OPERATOR_LOG_FORMAT")
    return LoggingSettings(
        # As logs.configure always read it: json, or else console.
        format="json" if fmt == "json" else "console",
        level=args.log_level or environ.get("SD_OPERATOR_LOG_LEVEL", "INFO"),
    )


def _cluster(args: argparse.Namespace, environ: Mapping[str, str]) -> ClusterIdentity:
    name = args.cluster_name
    if name is None:
        name = environ.get("SD_OPERATOR_CLUSTER_NAME", DEFAULT_CLUSTER_NAME)
    cluster_id = args.cluster_id
    if cluster_id is None:
        cluster_id = environ.get("SD_OPERATOR_CLUSTER_ID") or None
    for flag, value in (("--cluster-name", name), ("--cluster-id", cluster_id)):
        if value is not None and not TAG_VALUE.match(value):
            raise SettingsError(f"{flag} {value!r} must be 1-128 characters usable in an AWS tag")
    return ClusterIdentity(name, cluster_id)


def _operator(args: argparse.Namespace, environ: Mapping[str, str]) -> OperatorSettings:
    return OperatorSettings(
        namespaces=tuple(args.namespace),
        sweep_seconds=_number(
            args.sweep_seconds, environ, "SD_OPERATOR_SWEEP_SECONDS", SWEEP_SECONDS, float
        ),
        liveness=args.liveness,
        peering=PeeringSettings(
            name=args.peering,
            priority=args.priority,
            lifetime=_number(
                args.peering_lifetime,
                environ,
                "SD_OPERATOR_PEERING_LIFETIME",
                PEERING_LIFETIME,
                positive_int,
            ),
        ),
        metrics=MetricsSettings(
            bind_address=args.metrics_bind_address
            or environ.get("SD_OPERATOR_METRICS_BIND_ADDRESS", METRICS_BIND_ADDRESS),
            port=args.metrics_port,
        ),
        hybrid=hybrid_options.from_args(args),
    )


def _number(
    given: _T | None,
    environ: Mapping[str, str],
    variable: str,
    default: _T,
    parse: Callable[[str], _T],
) -> _T:
    """The flag's value, else the environment variable's parsed as the flag is, else the
    default."""
    if given is not None:
        return given
    text = environ.get(variable)
    if text is None:
        return default
    try:
        return parse(text)
    except (ValueError, argparse.ArgumentTypeError) as exc:
        raise SettingsError(f"{variable}: {exc}") from exc
