"""Route 53: a VPC of one account associated with a private hosted zone of another.

docs/aws-facts.md, Shared namespaces: DNS lookups in a private namespace shared with another
account work from the consumer's VPC only once the namespace's owner has authorized the
association (CreateVPCAssociationAuthorization, by the account of the hosted zone) and the
consumer has associated its VPC (AssociateVPCWithHostedZone, by the account of the VPC); without
the authorization the association is NotAuthorizedException. ListHostedZonesByVPC, called by the
VPC's account, then lists the owner's zone with the owner's account. moto keeps hosted zones per
account and has none of this.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from xml.sax.saxutils import escape

from ._wsgi import JSON, Call, Forward, Handler, Reply
from .moto_surface import FakeZone, route53_backends

XMLNS = "https://route53.amazonaws.com/doc/2013-04-01/"


def _xml(action: str, inner: str) -> Reply:
    body = f'<{action}Response xmlns="{XMLNS}">{inner}</{action}Response>'.encode()
    return Reply(200, (("Content-Type", "text/xml"), ("Content-Length", str(len(body)))), body)


def _vpc(call: Call) -> tuple[str, str]:
    vpc = call.body.get("VPC") or {}
    return str(vpc.get("VPCId", "")), str(vpc.get("VPCRegion", ""))


def _zone_id(call: Call) -> str:
    return str(call.body.get("Id", "")).replace("/hostedzone/", "")


class Route53Layer:
    def __init__(self, accounts: Callable[[], Iterable[str]]) -> None:
        self._accounts = accounts  # every account the emulator has state in
        # (zone owner, zone id, VPC id) the zone's owner authorized
        self._authorized: set[tuple[str, str, str]] = set()
        self._lock = threading.Lock()

    def reset(self) -> None:
        with self._lock:
            self._authorized.clear()

    def handlers(self) -> dict[str, Handler]:
        return {
            "CreateVPCAssociationAuthorization": self.create_vpc_association_authorization,
            "AssociateVPCWithHostedZone": self.associate_vpc_with_hosted_zone,
            "ListHostedZonesByVPC": self.list_hosted_zones_by_vpc,
        }

    def _zones(self, account: str) -> dict[str, FakeZone]:
        zones: dict[str, FakeZone] = route53_backends[account]["aws"].zones
        return zones

    def _foreign_zone(self, call: Call, zone_id: str) -> tuple[str, FakeZone] | None:
        """(owner, zone) of another account's hosted zone with that id."""
        for account in self._accounts():
            if account != call.account and zone_id in self._zones(account):
                return account, self._zones(account)[zone_id]
        return None

    def create_vpc_association_authorization(self, call: Call, forward: Forward) -> Reply:
        zone_id = _zone_id(call)
        vpc_id, vpc_region = _vpc(call)
        if zone_id not in self._zones(call.account):
            return Reply.query_error(
                "NoSuchHostedZone", f"No hosted zone found with ID: {zone_id}", 404
            )
        with self._lock:
            self._authorized.add((call.account, zone_id, vpc_id))
        return _xml(
            "CreateVPCAssociationAuthorization",
            f"<HostedZoneId>{escape(zone_id)}</HostedZoneId><VPC><VPCRegion>"
            f"{escape(vpc_region)}</VPCRegion><VPCId>{escape(vpc_id)}</VPCId></VPC>",
        )

    def associate_vpc_with_hosted_zone(self, call: Call, forward: Forward) -> Reply:
        zone_id = _zone_id(call)
        if zone_id in self._zones(call.account):
            return forward()
        found = self._foreign_zone(call, zone_id)
        if found is None:
            return Reply.query_error(
                "NoSuchHostedZone", f"No hosted zone found with ID: {zone_id}", 404
            )
        owner, zone = found
        vpc_id, vpc_region = _vpc(call)
        with self._lock:
            authorized = (owner, zone_id, vpc_id) in self._authorized
        if not authorized:
            return Reply.query_error(
                "NotAuthorizedException",
                f"The VPC: {vpc_id} in region: {vpc_region} has not authorized to associate "
                "with your hosted zone.",
                401,
            )
        if not any(v.get("vpc_id") == vpc_id for v in zone.vpcs):
            zone.add_vpc(vpc_id, vpc_region)
        submitted = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return _xml(
            "AssociateVPCWithHostedZone",
            f"<ChangeInfo><Id>/change/C{secrets.token_hex(8).upper()}</Id><Status>INSYNC</Status>"
            f"<SubmittedAt>{submitted}</SubmittedAt></ChangeInfo>",
        )

    def list_hosted_zones_by_vpc(self, call: Call, forward: Forward) -> Reply:
        """The private zones, of any account, the VPC is associated with, each with its
        owner's account (moto lists the caller's own zones only)."""
        vpc_id = str(call.body.get("vpcid", ""))
        summaries: list[JSON] = []
        accounts = [call.account] + [a for a in self._accounts() if a != call.account]
        for account in accounts:
            for zone in self._zones(account).values():
                if zone.private_zone and any(v.get("vpc_id") == vpc_id for v in zone.vpcs):
                    summaries.append({"id": zone.resource_id, "name": zone.name, "owner": account})
        inner = "".join(
            f"<HostedZoneSummary><HostedZoneId>{escape(s['id'])}</HostedZoneId>"
            f"<Name>{escape(s['name'])}</Name><Owner><OwningAccount>{s['owner']}</OwningAccount>"
            "</Owner></HostedZoneSummary>"
            for s in summaries
        )
        return _xml(
            "ListHostedZonesByVPC",
            f"<HostedZoneSummaries>{inner}</HostedZoneSummaries><MaxItems>100</MaxItems>",
        )
