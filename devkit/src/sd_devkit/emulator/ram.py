"""AWS RAM resource shares of Cloud Map namespaces (moto's RAM cannot share them).

docs/aws-facts.md, Shared namespaces: the owner account shares a namespace it owns with other
accounts through a resource share; the share's managed permissions decide what the consumers may
do, and Service Connect works only when the share carries AWSRAMPermissionCloudMapECSFullPermission.
Here a share is active, and its consumers see the namespace, as soon as it names them: the case
of accounts in one AWS Organization with sharing enabled (no invitation to accept). The emulator
does not evaluate permission policies: the ECS full permission lets consumers create services and
register instances in the namespace, any other permission (AWS managed or customer managed)
only read and discover.
"""

from __future__ import annotations

import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from enum import Enum

from ._wsgi import JSON, Call, Forward, Handler, Reply, page
from .moto_surface import servicediscovery_backends

ECS_FULL_PERMISSION = "arn:aws:ram::aws:permission/AWSRAMPermissionCloudMapECSFullPermission"
NAMESPACE_TYPE = "servicediscovery:Namespace"
# RAM API reference: ListResources and ListResourceSharePermissions answer at most 500 a page.
_MAX_RESULTS = 500
NAMESPACE_ARN = re.compile(
    r"^arn:aws:servicediscovery:(?P<region>[^:]+):(?P<account>\d{12}):namespace/(?P<id>ns-[\w-]+)$"
)
_ACCOUNT = re.compile(r"^\d{12}$")


class Access(Enum):
    READ = "read"  # Get/List/Discover
    FULL = (
        "full"  # also create services and register instances (AWSRAMPermissionCloudMapECSFull...)
    )


@dataclass
class Share:
    arn: str
    name: str
    owner: str
    region: str
    allow_external: bool
    resources: set[str] = field(default_factory=set)
    principals: set[str] = field(default_factory=set)
    permissions: list[str] = field(default_factory=list)
    created: float = field(default_factory=time.time)

    def json(self) -> JSON:
        return {
            "resourceShareArn": self.arn,
            "name": self.name,
            "owningAccountId": self.owner,
            "allowExternalPrincipals": self.allow_external,
            "status": "ACTIVE",
            "creationTime": self.created,
            "lastUpdatedTime": self.created,
            "featureSet": "STANDARD",
        }


def _invalid(message: str) -> Reply:
    return Reply.error("InvalidParameterException", message)


def _associations(share: Share, entities: list[str], kind: str, status: str) -> list[JSON]:
    return [
        {
            "resourceShareArn": share.arn,
            "resourceShareName": share.name,
            "associatedEntity": entity,
            "associationType": kind,
            "status": status,
            "external": False,
        }
        for entity in entities
    ]


class RamLayer:
    def __init__(self) -> None:
        self._shares: dict[str, Share] = {}
        self._lock = threading.Lock()

    def reset(self) -> None:
        with self._lock:
            self._shares.clear()

    def handlers(self) -> dict[str, Handler]:
        return {
            "CreateResourceShare": self.create_resource_share,
            "AssociateResourceShare": self.associate_resource_share,
            "DisassociateResourceShare": self.disassociate_resource_share,
            "AssociateResourceSharePermission": self.associate_resource_share_permission,
            "GetResourceShares": self.get_resource_shares,
            "DeleteResourceShare": self.delete_resource_share,
            "ListResources": self.list_resources,
            "ListResourceSharePermissions": self.list_resource_share_permissions,
        }

    # -- what the other layers ask -------------------------------------------------------------

    def access(self, consumer: str, namespace_arn: str) -> Access | None:
        """What `consumer` may do with another account's namespace (None: not shared with it)."""
        with self._lock:
            shares = [
                s
                for s in self._shares.values()
                if namespace_arn in s.resources and consumer in s.principals
            ]
        if not shares:
            return None
        if any(ECS_FULL_PERMISSION in s.permissions for s in shares):
            return Access.FULL
        return Access.READ

    def shared_with(self, consumer: str, region: str) -> dict[str, set[str]]:
        """owner account -> ids of its namespaces in `region` shared with `consumer`."""
        found: dict[str, set[str]] = {}
        with self._lock:
            shares = [s for s in self._shares.values() if consumer in s.principals]
        for share in shares:
            for arn in share.resources:
                match = NAMESPACE_ARN.match(arn)
                if match and match["region"] == region:
                    found.setdefault(match["account"], set()).add(match["id"])
        return found

    # -- RAM API -------------------------------------------------------------------------------

    def _share(self, call: Call) -> Share | Reply:
        arn = str(call.body.get("resourceShareArn", ""))
        with self._lock:
            share = self._shares.get(arn)
        if share is None or share.owner != call.account:
            return Reply.error(
                "UnknownResourceException", f"ResourceShare {arn} could not be found."
            )
        return share

    def _refused_resources(self, call: Call, arns: list[str]) -> Reply | None:
        """RAM User Guide: only the owner of a resource can share it (a shared namespace cannot
        be shared again), and a share holds resources of its own Region."""
        b = servicediscovery_backends[call.account][call.region]
        for arn in arns:
            match = NAMESPACE_ARN.match(arn)
            if match is None:
                return Reply.error(
                    "MalformedArnException", f"{arn} is not a Cloud Map namespace ARN"
                )
            if (
                match["account"] != call.account
                or match["region"] != call.region
                or match["id"] not in b.namespaces
            ):
                return Reply.error(
                    "UnknownResourceException",
                    f"Resource {arn} does not exist or is not owned by account {call.account} "
                    f"in {call.region}",
                )
        return None

    @staticmethod
    def _refused_principals(principals: list[str]) -> Reply | None:
        for principal in principals:
            if not _ACCOUNT.match(principal):
                return _invalid(
                    f"principal {principal!r}: the emulator shares with account ids only"
                )
        return None

    def create_resource_share(self, call: Call, forward: Forward) -> Reply:
        resources = [str(a) for a in call.body.get("resourceArns") or []]
        principals = [str(p) for p in call.body.get("principals") or []]
        refused = self._refused_resources(call, resources) or self._refused_principals(principals)
        if refused is not None:
            return refused
        share = Share(
            arn=f"arn:aws:ram:{call.region}:{call.account}:resource-share/{uuid.uuid4()}",
            name=str(call.body.get("name", "")),
            owner=call.account,
            region=call.region,
            allow_external=bool(call.body.get("allowExternalPrincipals", True)),
            resources=set(resources),
            principals=set(principals),
            permissions=[str(p) for p in call.body.get("permissionArns") or []],
        )
        with self._lock:
            self._shares[share.arn] = share
        return Reply.json_ok({"resourceShare": share.json()})

    def associate_resource_share(self, call: Call, forward: Forward) -> Reply:
        return self._associate(call, add=True)

    def disassociate_resource_share(self, call: Call, forward: Forward) -> Reply:
        """Cloud Map Developer Guide, stop sharing: consumers lose access to the namespace and
        to what they created in it."""
        return self._associate(call, add=False)

    def _associate(self, call: Call, *, add: bool) -> Reply:
        share = self._share(call)
        if isinstance(share, Reply):
            return share
        resources = [str(a) for a in call.body.get("resourceArns") or []]
        principals = [str(p) for p in call.body.get("principals") or []]
        if add:
            refused = self._refused_resources(call, resources) or self._refused_principals(
                principals
            )
            if refused is not None:
                return refused
        with self._lock:
            if add:
                share.resources.update(resources)
                share.principals.update(principals)
            else:
                share.resources.difference_update(resources)
                share.principals.difference_update(principals)
        status = "ASSOCIATED" if add else "DISASSOCIATED"
        associations = _associations(share, resources, "RESOURCE", status)
        associations += _associations(share, principals, "PRINCIPAL", status)
        return Reply.json_ok({"resourceShareAssociations": associations})

    def associate_resource_share_permission(self, call: Call, forward: Forward) -> Reply:
        share = self._share(call)
        if isinstance(share, Reply):
            return share
        permission = str(call.body.get("permissionArn", ""))
        with self._lock:
            if call.body.get("replace"):
                share.permissions = [permission]
            elif permission not in share.permissions:
                share.permissions.append(permission)
        return Reply.json_ok({"returnValue": True})

    def get_resource_shares(self, call: Call, forward: Forward) -> Reply:
        shares = self._visible(call, call.body.get("resourceOwner"))
        if isinstance(shares, Reply):
            return shares
        wanted = set(call.body.get("resourceShareArns") or [])
        return Reply.json_ok(
            {"resourceShares": [s.json() for s in shares if not wanted or s.arn in wanted]}
        )

    def _visible(self, call: Call, owner: object) -> list[Share] | Reply:
        """The caller's shares in its Region (SELF) or those naming it (OTHER-ACCOUNTS)."""
        if owner not in ("SELF", "OTHER-ACCOUNTS"):
            return _invalid("resourceOwner must be SELF or OTHER-ACCOUNTS")
        with self._lock:
            return [
                s
                for s in self._shares.values()
                if s.region == call.region
                and (s.owner == call.account if owner == "SELF" else call.account in s.principals)
            ]

    @staticmethod
    def _page(call: Call, key: str, items: list[JSON]) -> Reply:
        try:
            found, token = page(
                items, call.body.get("nextToken"), call.body.get("maxResults"), 0, _MAX_RESULTS
            )
        except ValueError as exc:
            return Reply.error("InvalidNextTokenException", str(exc))
        data: JSON = {key: found}
        if token:
            data["nextToken"] = token
        return Reply.json_ok(data)

    def list_resources(self, call: Call, forward: Forward) -> Reply:
        """RAM API reference, ListResources: the resources the caller shares (SELF) or that are
        shared with it (OTHER-ACCOUNTS), one entry per share holding them, narrowed to shares
        naming `principal` and to `resourceArns` / `resourceShareArns` / `resourceType`."""
        shares = self._visible(call, call.body.get("resourceOwner"))
        if isinstance(shares, Reply):
            return shares
        principal = call.body.get("principal")
        arns = set(call.body.get("resourceArns") or [])
        share_arns = set(call.body.get("resourceShareArns") or [])
        kind = call.body.get("resourceType")
        resources = [
            {
                "arn": arn,
                "type": NAMESPACE_TYPE,
                "resourceShareArn": share.arn,
                "status": "AVAILABLE",
                "creationTime": share.created,
                "lastUpdatedTime": share.created,
                "resourceRegionScope": "REGIONAL",
            }
            for share in sorted(shares, key=lambda s: s.arn)
            if (principal is None or principal in share.principals)
            and (not share_arns or share.arn in share_arns)
            and (kind is None or kind == NAMESPACE_TYPE)
            for arn in sorted(share.resources)
            if not arns or arn in arns
        ]
        return self._page(call, "resources", resources)

    def list_resource_share_permissions(self, call: Call, forward: Forward) -> Reply:
        """RAM API reference, ListResourceSharePermissions: the permissions of a share, to its
        owner and to the accounts it names."""
        arn = str(call.body.get("resourceShareArn", ""))
        with self._lock:
            share = self._shares.get(arn)
        if share is None or call.account not in {share.owner, *share.principals}:
            return Reply.error(
                "UnknownResourceException", f"ResourceShare {arn} could not be found."
            )
        permissions = [
            {
                "arn": permission,
                "version": "1",
                "defaultVersion": True,
                "name": permission.rsplit("/", 1)[-1],
                "resourceType": NAMESPACE_TYPE,
                "status": "ATTACHABLE",
                "creationTime": share.created,
                "lastUpdatedTime": share.created,
                "isResourceTypeDefault": False,
            }
            for permission in share.permissions
        ]
        return self._page(call, "permissions", permissions)

    def delete_resource_share(self, call: Call, forward: Forward) -> Reply:
        share = self._share(call)
        if isinstance(share, Reply):
            return share
        with self._lock:
            self._shares.pop(share.arn, None)
        return Reply.json_ok({"returnValue": True})
