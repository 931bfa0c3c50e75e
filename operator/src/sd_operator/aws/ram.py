"""AWS RAM adapter: what a consumer account can read of the shares that bring another account's
Cloud Map namespace to it (docs/tenancy.md, "Shared namespaces")."""

from __future__ import annotations

from functools import partial
from typing import Any

from sd_operator.aws.errors import call


class Ram:
    def __init__(self, client: Any) -> None:
        # No boto3 type stubs for RAM are installed: the client is untyped.
        self._client = client

    def share_permissions(self, resource_arn: str) -> frozenset[str]:
        """The names of the RAM permissions of every share bringing `resource_arn` to this
        account (empty: none does)."""
        shares: set[str] = set()
        pages = iter(
            self._client.get_paginator("list_resources").paginate(
                resourceOwner="OTHER-ACCOUNTS", resourceArns=[resource_arn]
            )
        )
        while (page := call("ListResources", lambda: next(pages, None))) is not None:
            shares |= {str(r["resourceShareArn"]) for r in page.get("resources") or []}
        names: set[str] = set()
        for share in sorted(shares):
            raw = call(
                "ListResourceSharePermissions",
                partial(self._client.list_resource_share_permissions, resourceShareArn=share),
            )
            names |= {str(p["name"]) for p in raw.get("permissions") or []}
        return frozenset(names)
