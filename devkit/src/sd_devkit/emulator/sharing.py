"""Cloud Map calls on namespaces another account shared through RAM (ram.py).

docs/aws-facts.md, Shared namespaces: a consumer addresses the shared namespace and its services
by ARN (Get/List calls take ids or ARNs, CreateService's NamespaceId the namespace ARN), passes
OwnerAccount to DiscoverInstances(Revision), and reads ResourceOwner (namespaces, services) and
CreatedByAccount (services, instances) to tell whose is whose. It cannot change, delete or tag
the namespace itself. What it creates lives in the owner's namespace, so here such a call runs in
the owner's account (moto's state there) and the layer remembers which account created what.
"""

from __future__ import annotations

import re
import threading
from dataclasses import replace
from typing import Any

from ._wsgi import JSON, Call, Reply
from .moto_surface import servicediscovery_backends
from .ram import NAMESPACE_ARN, Access, RamLayer

SERVICE_ARN = re.compile(
    r"^arn:aws:servicediscovery:(?P<region>[^:]+):(?P<account>\d{12}):service/(?P<id>srv-[\w-]+)$"
)
# Calls a consumer may make only when the share carries the ECS full permission (ram.py).
WRITES = {
    "CreateService",
    "DeleteService",
    "UpdateService",
    "RegisterInstance",
    "DeregisterInstance",
    "UpdateInstanceCustomHealthStatus",
    "UpdateServiceAttributes",
    "DeleteServiceAttributes",
}
# ... and on a service or instance only when the consumer created it.
_CREATOR_ONLY = WRITES - {"CreateService", "RegisterInstance"}
# Calls only the namespace's owner may make on it.
OWNER_ONLY = {
    "DeleteNamespace",
    "UpdateHttpNamespace",
    "UpdatePrivateDnsNamespace",
    "UpdatePublicDnsNamespace",
    "TagResource",
    "UntagResource",
}
_ID_KEYS = ("Id", "NamespaceId", "ServiceId", "ResourceARN")


def _denied(call: Call, arn: str) -> Reply:
    return Reply.error(
        "AccessDeniedException",
        f"User: arn:aws:iam::{call.account}:root is not authorized to perform: "
        f"servicediscovery:{call.action} on resource: {arn} because no resource-based policy "
        f"allows the servicediscovery:{call.action} action",
    )


def _not_found(kind: str, ref: str) -> Reply:
    return Reply.error(f"{kind}NotFound", f"{kind} {ref} not found")


def _references(body: JSON) -> list[tuple[tuple[str, ...], str]]:
    """(path in the body, value) of every namespace/service reference a call carries."""
    found: list[tuple[tuple[str, ...], str]] = [
        ((key,), str(body[key])) for key in _ID_KEYS if body.get(key)
    ]
    dns_namespace = (body.get("DnsConfig") or {}).get("NamespaceId")
    if dns_namespace:
        found.append((("DnsConfig", "NamespaceId"), str(dns_namespace)))
    for i, flt in enumerate(body.get("Filters") or []):
        if flt.get("Name") == "NAMESPACE_ID" and flt.get("Values"):
            found.append((("Filters", str(i)), str(flt["Values"][0])))
    return found


def _rewrite(body: JSON, path: tuple[str, ...], value: str) -> JSON:
    out: Any = dict(body)
    if path[0] == "DnsConfig":
        out["DnsConfig"] = {**out["DnsConfig"], "NamespaceId": value}
    elif path[0] == "Filters":
        filters = [dict(f) for f in out["Filters"]]
        filters[int(path[1])]["Values"] = [value]
        out["Filters"] = filters
    else:
        out[path[0]] = value
    result: JSON = out
    return result


class Sharing:
    def __init__(self, ram: RamLayer) -> None:
        self._ram = ram
        # (owner, region, service id) -> account that created it, when not the owner
        self._services: dict[tuple[str, str, str], str] = {}
        # (owner, region, service id, instance id) -> account that registered it, likewise
        self._instances: dict[tuple[str, str, str, str], str] = {}
        # operation id -> (owner whose state holds it, account that started it)
        self._operations: dict[str, tuple[str, str]] = {}
        self._lock = threading.Lock()

    def reset(self) -> None:
        with self._lock:
            self._services.clear()
            self._instances.clear()
            self._operations.clear()

    def record_service(self, owner: str, region: str, service_id: str, creator: str) -> None:
        """`creator` made the service in `owner`'s namespace (CreatedByAccount)."""
        if creator != owner:
            with self._lock:
                self._services[(owner, region, service_id)] = creator

    def service_creator(self, owner: str, region: str, service_id: str) -> str:
        with self._lock:
            return self._services.get((owner, region, service_id), owner)

    def _namespace_of(self, owner: str, region: str, service_id: str) -> str | None:
        b = servicediscovery_backends[owner][region]
        service = b.services.get(service_id)
        namespace = b.namespaces.get(service.namespace_id) if service else None
        return namespace.arn if namespace else None

    # -- before the call -----------------------------------------------------------------------

    def route(self, call: Call) -> Call | Reply:
        """The call to run: as it came, with the caller's own ARNs turned into ids, or in the
        owner's account for a namespace shared with the caller; or the refusal AWS answers."""
        if call.action in ("DiscoverInstances", "DiscoverInstancesRevision"):
            return self._route_discovery(call)
        if call.action == "GetOperation":
            return self._route_operation(call)
        routed = call
        for path, value in _references(call.body):
            match = NAMESPACE_ARN.match(value) or SERVICE_ARN.match(value)
            if match is None:
                continue
            kind = "Namespace" if value.split(":")[5].startswith("namespace/") else "Service"
            owner, region, resource_id = match["account"], match["region"], match["id"]
            if region != call.region:
                return _not_found(kind, value)
            if owner != call.account:
                refused = self._refused(call, kind, owner, resource_id, value)
                if refused is not None:
                    return refused
            body = (
                routed.body
                if path == ("ResourceARN",)
                else _rewrite(routed.body, path, resource_id)
            )
            routed = replace(routed, account=owner, body=body)
        return routed

    def _refused(
        self, call: Call, kind: str, owner: str, resource_id: str, arn: str
    ) -> Reply | None:
        namespace_arn = (
            arn if kind == "Namespace" else self._namespace_of(owner, call.region, resource_id)
        )
        access = self._ram.access(call.account, namespace_arn) if namespace_arn else None
        if access is None:
            return _not_found(kind, arn)
        if call.action in OWNER_ONLY and kind == "Namespace":
            return _denied(call, arn)
        if call.action in WRITES and access is not Access.FULL:
            return _denied(call, arn)
        if call.action in OWNER_ONLY | _CREATOR_ONLY and kind == "Service":
            creator = self.service_creator(owner, call.region, resource_id)
            instance = call.body.get("InstanceId")
            if instance is not None:
                with self._lock:
                    key = (owner, call.region, resource_id, str(instance))
                    creator = self._instances.get(key, owner)
            if creator != call.account:
                return _denied(call, arn)
        return None

    def _route_discovery(self, call: Call) -> Call | Reply:
        """DiscoverInstances API reference, OwnerAccount: "For instances associated with
        namespaces that are shared with your account, you must specify an OwnerAccount"."""
        owner = str(call.body.get("OwnerAccount") or call.account)
        body = {k: v for k, v in call.body.items() if k != "OwnerAccount"}
        if owner == call.account:
            return replace(call, body=body)
        name = str(call.body.get("NamespaceName", ""))
        b = servicediscovery_backends[owner][call.region]
        namespace = next((ns for ns in b.namespaces.values() if ns.name == name), None)
        if namespace is None or self._ram.access(call.account, namespace.arn) is None:
            return _not_found("Namespace", name)
        return replace(call, account=owner, body=body)

    def _route_operation(self, call: Call) -> Call:
        with self._lock:
            owner, starter = self._operations.get(str(call.body.get("OperationId")), ("", ""))
        return replace(call, account=owner) if owner and starter == call.account else call

    # -- after the call ------------------------------------------------------------------------

    def annotate(self, call: Call, routed: Call, reply: Reply) -> Reply:
        """Remember what a consumer created; add ResourceOwner and CreatedByAccount to what
        Cloud Map answers (namespaces and services belong to the namespace's owner)."""
        if not reply.ok or not reply.body.startswith(b"{"):
            return reply
        data = reply.json()
        owner, region = routed.account, routed.region
        with self._lock:
            if routed.account != call.account:
                if call.action == "CreateService" and "Service" in data:
                    self._services[(owner, region, str(data["Service"]["Id"]))] = call.account
                if call.action == "RegisterInstance":
                    key = (
                        owner,
                        region,
                        str(routed.body.get("ServiceId")),
                        str(routed.body.get("InstanceId")),
                    )
                    self._instances[key] = call.account
                if data.get("OperationId"):
                    self._operations[str(data["OperationId"])] = (owner, call.account)
            services = dict(self._services)
            instances = dict(self._instances)
        for single in ("Namespace", "Service"):
            if isinstance(data.get(single), dict):
                data[single].setdefault("ResourceOwner", owner)
        for item in data.get("Namespaces") or []:
            item.setdefault("ResourceOwner", owner)
        for item in ([data["Service"]] if isinstance(data.get("Service"), dict) else []) + list(
            data.get("Services") or []
        ):
            item.setdefault("ResourceOwner", owner)
            item["CreatedByAccount"] = services.get((owner, region, str(item.get("Id"))), owner)
        service_id = str(routed.body.get("ServiceId", ""))
        discovered = call.action == "DiscoverInstances"  # HttpInstanceSummary has no owner
        for item in ([data["Instance"]] if isinstance(data.get("Instance"), dict) else []) + list(
            [] if discovered else data.get("Instances") or []
        ):
            creator = instances.get((owner, region, service_id, str(item.get("Id"))))
            # Modelling choice: only in a shared namespace (answers about an account's own
            # instances keep the shape they had).
            if creator is not None or owner != call.account:
                item["CreatedByAccount"] = creator or owner
        return reply.with_json(data)
