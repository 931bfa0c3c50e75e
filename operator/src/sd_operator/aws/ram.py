"""AWS RAM adapter: what a consumer account can read of the shares that bring another account's
Cloud Map namespace to it (docs/tenancy.md, "Shared namespaces")."""

from __future__ import annotations

from functools import partial
from typing import Any

from sd_operator.aws.errors import call

# No boto3 type stubs for RAM are installed: the client is untyped.
RAMClient = Any


class Ram:
    def __init__(self, client: RAMClient) -> None:
        self._client = client

    def share_permissions(self, resource_arn: str) -> frozenset[str]:
        """The names of the RAM permissions of every share bringing `resource_arn` to this
        account (empty: none does)."""
        shares: set[str] = set()
        token: str | None = None
        while True:
            page = call("ListResources", partial(self._resources, resource_arn, token))
            shares |= {str(r["resourceShareArn"]) for r in page.get("resources") or []}
            token = page.get("nextToken")
            if not token:
                break
        names: set[str] = set()
        for share in sorted(shares):
            raw = call("ListResourceSharePermissions", partial(self._permissions, share))
            names |= {str(p["name"]) for p in raw.get("permissions") or []}
        return frozenset(names)

    def _resources(self, resource_arn: str, token: str | None) -> Any:
        more = {"nextToken": token} if token else {}
        return self._client.list_resources(
            resourceOwner="OTHER-ACCOUNTS", resourceArns=[resource_arn], **more
        )

    def _permissions(self, share: str) -> Any:
        return self._client.list_resource_share_permissions(resourceShareArn=share)
