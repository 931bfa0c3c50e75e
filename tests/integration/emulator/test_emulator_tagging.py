"""Resource Groups Tagging API (tag:GetResources) over Cloud Map tags, as AWS answers it."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError
from emulator_helpers import NO_RETRIES, REGION, make_namespace, make_service

from sd_devkit.emulator import Emulator, client


@pytest.fixture
def tagging(emulator: Emulator) -> Any:
    return client("resourcegroupstaggingapi", emulator.endpoint_url, REGION, config=NO_RETRIES)


def _all(tagging: Any, **kwargs: Any) -> tuple[dict[str, dict[str, str]], int]:
    found: dict[str, dict[str, str]] = {}
    pages = 0
    token = ""
    while True:
        page = tagging.get_resources(**kwargs, **({"PaginationToken": token} if token else {}))
        pages += 1
        for m in page["ResourceTagMappingList"]:
            found[m["ResourceARN"]] = {t["Key"]: t["Value"] for t in m["Tags"]}
        token = page["PaginationToken"]
        if not token:
            return found, pages


@pytest.mark.paged
def test_get_resources_filters_by_type_and_tag_and_pages(
    emulator: Emulator, sd: Any, tagging: Any
) -> None:
    ns_id = make_namespace(sd)
    ns_arn = sd.get_namespace(Id=ns_id)["Namespace"]["Arn"]
    sd.tag_resource(ResourceARN=ns_arn, Tags=[{"Key": "owner", "Value": "a"}])
    arns = {}
    for i, owner in enumerate(["a", "b", "a"]):
        service_id = make_service(sd, ns_id, name=f"s{i}")
        arn = sd.get_service(Id=service_id)["Service"]["Arn"]
        sd.tag_resource(ResourceARN=arn, Tags=[{"Key": "owner", "Value": owner}])
        arns[f"s{i}"] = arn
    make_service(sd, ns_id, name="untagged")

    services, pages = _all(tagging, ResourceTypeFilters=["servicediscovery:service"])
    assert set(services) == set(arns.values())  # untagged resources are not returned
    assert pages == 2  # the test emulator's page size is 2

    owned, _ = _all(
        tagging,
        ResourceTypeFilters=["servicediscovery:service"],
        TagFilters=[{"Key": "owner", "Values": ["a"]}],
    )
    assert owned == {arns["s0"]: {"owner": "a"}, arns["s2"]: {"owner": "a"}}

    emulator.page_size = 0  # AWS's page sizes
    everything, pages = _all(tagging, ResourceTypeFilters=["servicediscovery"])
    assert set(everything) == {ns_arn, *arns.values()}
    assert pages == 1
    namespaces, _ = _all(tagging, ResourceTypeFilters=["servicediscovery:namespace"])
    assert set(namespaces) == {ns_arn}
    assert _all(tagging, ResourceTypeFilters=["ecs:service"])[0] == {}


def test_get_resources_refuses_more_than_100_per_page(tagging: Any) -> None:
    with pytest.raises(ClientError) as exc:
        tagging.get_resources(ResourcesPerPage=101)
    assert exc.value.response["Error"]["Code"] == "InvalidParameterException"
