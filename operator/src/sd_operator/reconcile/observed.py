"""What AWS holds, as frozen values the pure plan can compare with the spec."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from sd_operator.model.spec import DnsConfig, HealthCheck, NamespaceType


@dataclass(frozen=True)
class ObservedNamespace:
    id: str
    arn: str
    name: str
    type: NamespaceType
    description: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)
    hosted_zone_id: str | None = None
    # VPC ids of a DnsPrivate namespace's hosted zone (Route 53 GetHostedZone): Cloud Map does
    # not return the VPC. None = not read (other types, or lookups that do not need it).
    vpcs: frozenset[str] | None = None


@dataclass(frozen=True)
class ObservedService:
    id: str
    arn: str
    name: str
    namespace_id: str
    description: str | None = None
    dns: DnsConfig | None = None
    health_check: HealthCheck | None = None
    tags: Mapping[str, str] = field(default_factory=dict)
    instance_count: int = 0
    # HTTP (API-only: DiscoverInstances, no DNS), DNS_HTTP or DNS; None when not reported
    type: str | None = None


class OperationStatus(StrEnum):
    SUBMITTED = "SUBMITTED"
    PENDING = "PENDING"
    SUCCESS = "SUCCESS"
    FAIL = "FAIL"

    @property
    def done(self) -> bool:
        return self in (OperationStatus.SUCCESS, OperationStatus.FAIL)


@dataclass(frozen=True)
class ObservedOperation:
    id: str
    type: str
    status: OperationStatus
    error_code: str | None = None
    error_message: str | None = None
    targets: Mapping[str, str] = field(default_factory=dict)
