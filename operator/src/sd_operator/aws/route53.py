"""Route 53 adapter: the VPCs a private namespace's hosted zone is associated with.

Cloud Map's GetNamespace/ListNamespaces do not return the VPC of a DnsPrivate namespace; only
its hosted zone (Properties.DnsProperties.HostedZoneId) knows it, through GetHostedZone's
`VPCs: [{VPCRegion, VPCId}]`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sd_operator.aws.errors import call

if TYPE_CHECKING:
    from mypy_boto3_route53 import Route53Client


class Route53:
    def __init__(self, client: Route53Client) -> None:
        self._client = client

    def hosted_zone_vpcs(self, hosted_zone_id: str) -> frozenset[str]:
        """The VPC ids associated with a private hosted zone (empty for a public zone).
        NotFound when the zone does not exist; other failures classified."""
        raw = call("GetHostedZone", lambda: self._client.get_hosted_zone(Id=hosted_zone_id))
        return frozenset(str(v["VPCId"]) for v in raw.get("VPCs") or [] if v.get("VPCId"))

    def zones_of_vpc(self, vpc_id: str, region: str) -> frozenset[str]:
        """The ids of the private hosted zones associated with a VPC of this account, whoever
        owns them: how a consumer sees that a shared namespace's zone reaches its VPC (it
        cannot read the owner's zone)."""
        # VPCRegion is a Literal of region names in the stubs; any region string is sent.
        vpc_region: Any = region
        raw = call(
            "ListHostedZonesByVPC",
            lambda: self._client.list_hosted_zones_by_vpc(VPCId=vpc_id, VPCRegion=vpc_region),
        )
        summaries = raw.get("HostedZoneSummaries") or []
        return frozenset(zone_id(str(z["HostedZoneId"])) for z in summaries)


def zone_id(value: str) -> str:
    """A hosted zone's bare id: Route 53 and Cloud Map write it bare or as /hostedzone/ID."""
    return value.rsplit("/", 1)[-1]
