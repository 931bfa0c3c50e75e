"""The adapters of one AWS account (the operator's own credentials, or one assumed role) and
endpoint, per region: what the reads (reconcile/reader.py), the writes (reconcile/execute.py)
and the hybrid exporter and importer share.

A region of None is the default region (a resource that names none). The boto3 clients behind
the adapters are made once per region (clients.py); the adapters are cheap wrappers, except the
ECS one, which caches task definitions and is therefore kept.
"""

from __future__ import annotations

from sd_operator.aws.clients import (
    AwsConfig,
    cloudmap_client,
    ecs_client,
    ram_client,
    route53_client,
    tagging_client,
)
from sd_operator.aws.cloudmap import CloudMap
from sd_operator.aws.ecs import EcsAdapter
from sd_operator.aws.ram import Ram
from sd_operator.aws.route53 import Route53
from sd_operator.aws.tagging import Tagging
from sd_operator.model.grants import Role


class Adapters:
    def __init__(
        self,
        default_region: str,
        endpoint_url: str | None,
        *,
        max_attempts: int = AwsConfig.max_attempts,
        role: Role | None = None,
    ) -> None:
        """`max_attempts`: how often botocore retries one call (its `max_attempts`) before
        the adapters classify the error; tests of what follows pass fewer than AWS needs.
        `role`: the IAM role every call assumes (None: the operator's own credentials)."""
        self.default_region = default_region
        self.endpoint_url = endpoint_url
        self.max_attempts = max_attempts
        self.role = role
        self._ecs: dict[str, EcsAdapter] = {}

    def _config(self, region: str | None) -> AwsConfig:
        return AwsConfig(
            region or self.default_region, self.endpoint_url, self.max_attempts, self.role
        )

    def as_role(self, role: Role) -> Adapters:
        return Adapters(
            self.default_region, self.endpoint_url, max_attempts=self.max_attempts, role=role
        )

    def acting(self, role: Role | None) -> Adapters:
        """These adapters through `role` (None: as they are)."""
        return self if role is None else self.as_role(role)

    def account(self, region: str | None) -> str:
        """The 12-digit account these adapters act in."""
        return self._config(region).account

    def cloudmap(self, region: str | None) -> CloudMap:
        return CloudMap(cloudmap_client(self._config(region)))

    def tagging(self, region: str | None) -> Tagging:
        return Tagging(tagging_client(self._config(region)))

    def route53(self, region: str | None) -> Route53:
        return Route53(route53_client(self._config(region)))

    def ram(self, region: str | None) -> Ram:
        return Ram(ram_client(self._config(region)))

    def ecs(self, region: str | None) -> EcsAdapter:
        """One adapter per region, kept: it caches task definitions, which never change."""
        config = self._config(region)
        if config.region not in self._ecs:
            self._ecs[config.region] = EcsAdapter(ecs_client(config))
        return self._ecs[config.region]
