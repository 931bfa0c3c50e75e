"""Resource Groups Tagging API (tag:GetResources) over Cloud Map's tags.

moto's tagging API does not know servicediscovery. AWS (GetResources API reference):
"Returns all the tagged or previously tagged resources that are located in the specified Region
for the account", filtered by `TagFilters` (every filter must match: the key present and, when
`Values` are given, its value one of them) and `ResourceTypeFilters` ("service[:resourceType]",
e.g. servicediscovery:service); `ResourcesPerPage` 1..100; the last page has an empty
`PaginationToken`. Here: Cloud Map namespaces and services that carry at least one tag; other
resource types are never returned (the operator asks for nothing else). AWS answers with
eventual consistency; the emulator answers what is tagged now.
"""

from __future__ import annotations

from ._wsgi import JSON, Call, Forward, Handler, Reply, page
from .moto_surface import servicediscovery_backends

MAX_PER_PAGE = 100


def _invalid(message: str) -> Reply:
    return Reply.error("InvalidParameterException", message)


def _type_of(arn: str) -> str:
    """servicediscovery:namespace from arn:aws:servicediscovery:r:a:namespace/ns-..."""
    parts = arn.split(":", 5)
    return f"{parts[2]}:{parts[5].split('/', 1)[0]}" if len(parts) == 6 else ""


def _wanted(resource_type: str, filters: list[str]) -> bool:
    if not filters:
        return True
    service = resource_type.split(":", 1)[0]
    return any(f in (service, resource_type) for f in filters)


def _matches(tags: dict[str, str], filters: list[JSON]) -> bool:
    for flt in filters:
        key = str(flt.get("Key", ""))
        values = [str(v) for v in flt.get("Values") or []]
        if key not in tags or (values and tags[key] not in values):
            return False
    return True


class TaggingLayer:
    def __init__(self, page_size: int) -> None:
        self.page_size = page_size

    def handlers(self) -> dict[str, Handler]:
        return {"GetResources": self.get_resources}

    def get_resources(self, call: Call, forward: Forward) -> Reply:
        per_page = call.body.get("ResourcesPerPage")
        if per_page is not None and not 1 <= int(per_page) <= MAX_PER_PAGE:
            return _invalid("ResourcesPerPage must be between 1 and 100")
        type_filters = [str(t) for t in call.body.get("ResourceTypeFilters") or []]
        tag_filters = list(call.body.get("TagFilters") or [])
        b = servicediscovery_backends[call.account][call.region]
        arns = [ns.arn for ns in b.namespaces.values()] + [s.arn for s in b.services.values()]
        matched: list[JSON] = []
        for arn in arns:
            if not _wanted(_type_of(arn), type_filters):
                continue
            # moto's stored tags ({arn: {key: value}}), not its renderer's {"Tags": [...]}
            stored = b.tagger.tags.get(arn) or {}
            tags = {key: value or "" for key, value in stored.items()}
            if tags and _matches(tags, tag_filters):
                tag_list = [{"Key": k, "Value": v} for k, v in tags.items()]
                matched.append({"ResourceARN": arn, "Tags": tag_list})
        try:
            window, token = page(
                matched,
                call.body.get("PaginationToken") or None,
                int(per_page) if per_page else None,
                self.page_size,
                MAX_PER_PAGE,
            )
        except ValueError as exc:
            return _invalid(str(exc))
        return Reply.json_ok({"ResourceTagMappingList": window, "PaginationToken": token or ""})
