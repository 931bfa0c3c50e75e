"""Resource Groups Tagging API adapter: the tags of many Cloud Map resources per call.

Cloud Map's own ListTagsForResource reads one ARN per call. tag:GetResources reads up to 100
resources (with all their tags) per page, filtered by resource type and tag; AWS documents that
GetResources supports every resource type (see docs/aws-budget.md). It is eventually
consistent, so an answer that lacks a resource proves nothing: callers read that ARN again with
ListTagsForResource before acting on it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from sd_operator.aws.errors import call

if TYPE_CHECKING:
    from mypy_boto3_resourcegroupstaggingapi import ResourceGroupsTaggingAPIClient

NAMESPACE_TYPE = "servicediscovery:namespace"
SERVICE_TYPE = "servicediscovery:service"
RESOURCES_PER_PAGE = 100  # GetResources: ResourcesPerPage at most 100


class Tagging:
    def __init__(self, client: ResourceGroupsTaggingAPIClient) -> None:
        self._client = client

    def resources(
        self, resource_types: Iterable[str], tags: Mapping[str, str]
    ) -> dict[str, dict[str, str]]:
        """ARN -> tags of every resource of those types carrying all of `tags`."""
        request: dict[str, Any] = {
            "ResourceTypeFilters": list(resource_types),
            "TagFilters": [{"Key": k, "Values": [v]} for k, v in sorted(tags.items())],
            "ResourcesPerPage": RESOURCES_PER_PAGE,
        }
        found: dict[str, dict[str, str]] = {}
        while True:
            page = call("GetResources", lambda: self._client.get_resources(**request))
            for mapping in page.get("ResourceTagMappingList", []):
                found[mapping["ResourceARN"]] = {
                    t["Key"]: t["Value"] for t in mapping.get("Tags", [])
                }
            token = page.get("PaginationToken")
            if not token:
                return found
            request["PaginationToken"] = token
