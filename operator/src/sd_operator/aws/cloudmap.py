"""Cloud Map adapter: boto3 calls in, frozen observed values and classified errors out."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any, cast

from sd_operator.aws.errors import NotFound, Retryable, call
from sd_operator.model.actions import CreateNamespace, CreateService, UpdateNamespace, UpdateService
from sd_operator.model.observed import (
    DiscoveredInstance,
    ObservedInstance,
    ObservedNamespace,
    ObservedOperation,
    ObservedService,
    OperationStatus,
)
from sd_operator.model.spec import (
    DnsConfig,
    DnsRecord,
    HealthCheck,
    NamespaceType,
    RecordType,
    Route53CheckType,
    Route53HealthCheck,
    RoutingPolicy,
)

if TYPE_CHECKING:
    from mypy_boto3_servicediscovery import ServiceDiscoveryClient
    from mypy_boto3_servicediscovery.type_defs import ServiceChangeTypeDef, TagTypeDef

_AWS_NAMESPACE_TYPES = {
    "HTTP": NamespaceType.HTTP,
    "DNS_PRIVATE": NamespaceType.DNS_PRIVATE,
    "DNS_PUBLIC": NamespaceType.DNS_PUBLIC,
}
PAGE_SIZE = 100
# A scan that misses a name is repeated until two full scans in a row list the same ids: a list
# that changed between pages (offset tokens skip an item when one before it is deleted) does not
# count as "not there". Bounded: a list that never settles is a retryable error.
SETTLE_SCANS = 5
# DiscoverInstances has no NextToken: MaxResults (up to 1,000, AWS's instance quota per
# service) is the whole answer.
DISCOVER_MAX_RESULTS = 1000


def _dns_config(raw: Mapping[str, Any] | None) -> DnsConfig | None:
    if not raw or not raw.get("DnsRecords"):
        return None
    return DnsConfig(
        routing_policy=RoutingPolicy(raw.get("RoutingPolicy", "MULTIVALUE")),
        records=tuple(
            DnsRecord(RecordType(r["Type"]), int(r["TTL"])) for r in raw.get("DnsRecords", [])
        ),
    )


def _health_check(raw: Mapping[str, Any]) -> HealthCheck | None:
    if "HealthCheckCustomConfig" in raw:
        return HealthCheck(custom=True)
    config = raw.get("HealthCheckConfig")
    if config:
        return HealthCheck(
            route53=Route53HealthCheck(
                type=Route53CheckType(config["Type"]),
                resource_path=config.get("ResourcePath"),
                failure_threshold=int(config.get("FailureThreshold", 1)),
            )
        )
    return None


class CloudMap:
    """One region's Cloud Map. List calls paginate; lookups by name filter server-side where
    AWS supports it and again client-side, so an endpoint that ignores filters stays correct."""

    def __init__(self, client: ServiceDiscoveryClient) -> None:
        self._client = client

    def _pages(self, api: str, key: str, **kwargs: Any) -> Iterator[Mapping[str, Any]]:
        paginator: Any = self._client.get_paginator(api)  # type: ignore[call-overload]
        pages = iter(paginator.paginate(**kwargs, PaginationConfig={"PageSize": PAGE_SIZE}))
        while (page := call(api, lambda: next(pages, None))) is not None:
            yield from page.get(key, [])

    # Observation ---------------------------------------------------------------------------

    def tags(self, arn: str) -> dict[str, str]:
        raw = call(
            "ListTagsForResource", lambda: self._client.list_tags_for_resource(ResourceARN=arn)
        )
        return {t["Key"]: t["Value"] for t in raw.get("Tags", [])}

    def _namespace(self, raw: Mapping[str, Any], with_tags: bool) -> ObservedNamespace:
        dns = raw.get("Properties", {}).get("DnsProperties", {})
        return ObservedNamespace(
            id=raw["Id"],
            arn=raw["Arn"],
            name=raw["Name"],
            type=_AWS_NAMESPACE_TYPES[raw["Type"]],
            description=raw.get("Description") or None,
            tags=self.tags(raw["Arn"]) if with_tags else {},
            hosted_zone_id=dns.get("HostedZoneId"),
            owner_account=raw.get("ResourceOwner"),
        )

    def _settled(
        self,
        api: str,
        key: str,
        first: list[Mapping[str, Any]] | None = None,
        **kwargs: Any,
    ) -> list[Mapping[str, Any]]:
        """Every item of a list, scanned until two scans in a row agree (see SETTLE_SCANS);
        `first` is a scan already made."""
        listed = first if first is not None else list(self._pages(api, key, **kwargs))
        for _ in range(SETTLE_SCANS):
            again = list(self._pages(api, key, **kwargs))
            if [raw["Id"] for raw in again] == [raw["Id"] for raw in listed]:
                return again
            listed = again
        raise Retryable(api, "ListChanging", "the list kept changing between pages")

    def find_namespace(self, name: str, *, with_tags: bool = True) -> ObservedNamespace | None:
        """The namespace of that name, found by scanning: only for a namespace whose id we do
        not know yet. None is not proof that it is gone (GetNamespace by id is)."""
        filters = [{"Name": "NAME", "Values": [name], "Condition": "EQ"}]
        listed = list(self._pages("list_namespaces", "Namespaces", Filters=filters))
        if not any(raw["Name"] == name for raw in listed):
            listed = self._settled("list_namespaces", "Namespaces", listed, Filters=filters)
        found = next((raw for raw in listed if raw["Name"] == name), None)
        return self._namespace(found, with_tags) if found else None

    def get_namespace(
        self, namespace_id: str, *, with_tags: bool = True
    ) -> ObservedNamespace | None:
        """The namespace with that id; None only when AWS answers NotFound (proof it is gone)."""
        try:
            raw = call("GetNamespace", lambda: self._client.get_namespace(Id=namespace_id))
        except NotFound:
            return None
        return self._namespace(raw["Namespace"], with_tags)

    def list_namespaces(self) -> list[ObservedNamespace]:
        """Every namespace of the region, tags not read (one ListNamespaces page per 100)."""
        return [self._namespace(raw, False) for raw in self._pages("list_namespaces", "Namespaces")]

    def owned_namespace(self, owner: Mapping[str, str]) -> ObservedNamespace | None:
        """The namespace carrying these owner tags, whatever its name (one tag read each)."""
        for found in self.list_namespaces():
            tags = self.tags(found.arn)
            if all(tags.get(k) == v for k, v in owner.items()):
                return replace(found, tags=tags)
        return None

    def owned_service(self, namespace_id: str, owner: Mapping[str, str]) -> ObservedService | None:
        """The service of a namespace carrying these owner tags, whatever its name."""
        for found in self.list_services(namespace_id):
            tagged = self.with_tags(found)
            if all(tagged.tags.get(k) == v for k, v in owner.items()):
                return tagged
        return None

    def list_services(self, namespace_id: str, *, settled: bool = False) -> list[ObservedService]:
        """Every service in a namespace, tags not read (one ListServices page per 100).
        `settled`: scanned until two scans agree, for callers that conclude from what is
        missing (a namespace about to be deleted is empty)."""
        return self._services(namespace_id, self._list_services(namespace_id, settled))

    def _list_services(
        self, namespace_id: str, settled: bool, first: list[Mapping[str, Any]] | None = None
    ) -> list[Mapping[str, Any]]:
        filters = [{"Name": "NAMESPACE_ID", "Values": [namespace_id], "Condition": "EQ"}]
        if settled:
            return self._settled("list_services", "Services", first, Filters=filters)
        return list(self._pages("list_services", "Services", Filters=filters))

    def _services(
        self, namespace_id: str, listed: list[Mapping[str, Any]]
    ) -> list[ObservedService]:
        return [
            self._service(raw, namespace_id, with_tags=False)
            for raw in listed
            if raw.get("NamespaceId", namespace_id) == namespace_id
        ]

    def _service(
        self, raw: Mapping[str, Any], namespace_id: str, *, with_tags: bool
    ) -> ObservedService:
        return ObservedService(
            id=_service_ref(raw),
            arn=raw["Arn"],
            name=raw["Name"],
            namespace_id=namespace_id,
            description=raw.get("Description") or None,
            dns=_dns_config(raw.get("DnsConfig")),
            health_check=_health_check(raw),
            tags=self.tags(raw["Arn"]) if with_tags else {},
            instance_count=int(raw.get("InstanceCount", 0)),
            type=raw.get("Type"),
            created_by_account=raw.get("CreatedByAccount") or raw.get("ResourceOwner"),
        )

    def find_service(self, namespace_id: str, name: str) -> ObservedService | None:
        """The service of that name, found by scanning: only for a service whose id we do not
        know yet. None is not proof that it is gone (GetService by id is)."""
        listed = self._list_services(namespace_id, settled=False)
        found = next((s for s in self._services(namespace_id, listed) if s.name == name), None)
        if found is None:
            settled = self._services(namespace_id, self._list_services(namespace_id, True, listed))
            found = next((s for s in settled if s.name == name), None)
        return self.with_tags(found) if found else None

    def get_service(self, service_id: str, *, with_tags: bool = True) -> ObservedService | None:
        """The service with that id; None only when AWS answers NotFound (proof it is gone)."""
        try:
            raw = call("GetService", lambda: self._client.get_service(Id=service_id))
        except NotFound:
            return None
        service = raw["Service"]
        return self._service(service, str(service["NamespaceId"]), with_tags=with_tags)

    def with_tags(self, service: ObservedService) -> ObservedService:
        return replace(service, tags=self.tags(service.arn))

    def get_operation(self, operation_id: str) -> ObservedOperation:
        raw = call("GetOperation", lambda: self._client.get_operation(OperationId=operation_id))[
            "Operation"
        ]
        return ObservedOperation(
            id=raw["Id"],
            type=raw.get("Type", ""),
            status=OperationStatus(raw["Status"]),
            error_code=raw.get("ErrorCode"),
            error_message=raw.get("ErrorMessage"),
            targets={str(k): v for k, v in raw.get("Targets", {}).items()},
        )

    # Changes -------------------------------------------------------------------------------

    def create_namespace(self, action: CreateNamespace, creator_request_id: str) -> str:
        tags = [{"Key": k, "Value": v} for k, v in sorted(action.tags.items())]
        common: dict[str, Any] = {
            "Name": action.name,
            "CreatorRequestId": creator_request_id,
            "Tags": tags,
        }
        if action.description:
            common["Description"] = action.description
        match action.type:
            case NamespaceType.HTTP:
                raw = call(
                    "CreateHttpNamespace", lambda: self._client.create_http_namespace(**common)
                )
            case NamespaceType.DNS_PRIVATE:
                raw = call(
                    "CreatePrivateDnsNamespace",
                    lambda: self._client.create_private_dns_namespace(
                        Vpc=action.vpc or "", **common
                    ),
                )
            case NamespaceType.DNS_PUBLIC:
                raw = call(
                    "CreatePublicDnsNamespace",
                    lambda: self._client.create_public_dns_namespace(**common),
                )
        return raw["OperationId"]

    def update_namespace(self, action: UpdateNamespace) -> str:
        description = action.description or ""
        match action.type:
            case NamespaceType.HTTP:
                raw = call(
                    "UpdateHttpNamespace",
                    lambda: self._client.update_http_namespace(
                        Id=action.id, Namespace={"Description": description}
                    ),
                )
            case NamespaceType.DNS_PRIVATE:
                raw = call(
                    "UpdatePrivateDnsNamespace",
                    lambda: self._client.update_private_dns_namespace(
                        Id=action.id, Namespace={"Description": description}
                    ),
                )
            case NamespaceType.DNS_PUBLIC:
                raw = call(
                    "UpdatePublicDnsNamespace",
                    lambda: self._client.update_public_dns_namespace(
                        Id=action.id, Namespace={"Description": description}
                    ),
                )
        return raw["OperationId"]

    def delete_namespace(self, namespace_id: str) -> str:
        raw = call("DeleteNamespace", lambda: self._client.delete_namespace(Id=namespace_id))
        return raw["OperationId"]

    def create_service(
        self, action: CreateService, namespace_id: str, creator_request_id: str
    ) -> ObservedService:
        """The service as CreateService answers it (AWS's record of what it made, or, for a
        resent CreatorRequestId, of what the first attempt made), with the tags sent along:
        Cloud Map applies them in the same call."""
        args: dict[str, Any] = {
            "Name": action.name,
            "NamespaceId": namespace_id,
            "CreatorRequestId": creator_request_id,
            "Tags": [{"Key": k, "Value": v} for k, v in sorted(action.tags.items())],
        }
        if action.description:
            args["Description"] = action.description
        if action.dns is not None:
            args["DnsConfig"] = {
                "RoutingPolicy": str(action.dns.routing_policy),
                "DnsRecords": [{"Type": str(r.type), "TTL": r.ttl} for r in action.dns.records],
            }
        hc = action.health_check
        if hc is not None and hc.custom:
            # FailureThreshold is ignored by AWS (always 1): send none.
            args["HealthCheckCustomConfig"] = {}
        elif hc is not None and hc.route53 is not None:
            args["HealthCheckConfig"] = _route53_config(hc.route53)
        raw = call("CreateService", lambda: self._client.create_service(**args))
        service = raw["Service"]
        made = self._service(service, service.get("NamespaceId", namespace_id), with_tags=False)
        return replace(made, tags=dict(action.tags))

    def update_service(self, action: UpdateService) -> str:
        change: dict[str, Any] = {"Description": action.description or ""}
        if action.records:
            change["DnsConfig"] = {
                "DnsRecords": [{"Type": str(r.type), "TTL": r.ttl} for r in action.records]
            }
        if action.route53 is not None:
            change["HealthCheckConfig"] = _route53_config(action.route53)
        raw = call(
            "UpdateService",
            lambda: self._client.update_service(
                Id=action.id, Service=cast("ServiceChangeTypeDef", change)
            ),
        )
        return raw["OperationId"]

    def delete_service(self, service_id: str) -> None:
        call("DeleteService", lambda: self._client.delete_service(Id=service_id))

    def service_attributes(self, service_id: str) -> dict[str, str]:
        raw = call(
            "GetServiceAttributes",
            lambda: self._client.get_service_attributes(ServiceId=service_id),
        )
        return dict(raw["ServiceAttributes"].get("Attributes", {}))

    def update_service_attributes(self, service_id: str, attributes: Mapping[str, str]) -> None:
        call(
            "UpdateServiceAttributes",
            lambda: self._client.update_service_attributes(
                ServiceId=service_id, Attributes=dict(attributes)
            ),
        )

    def delete_service_attributes(self, service_id: str, keys: tuple[str, ...]) -> None:
        call(
            "DeleteServiceAttributes",
            lambda: self._client.delete_service_attributes(
                ServiceId=service_id, Attributes=list(keys)
            ),
        )

    def tag(self, arn: str, tags: Mapping[str, str]) -> None:
        pairs: list[TagTypeDef] = [{"Key": k, "Value": v} for k, v in sorted(tags.items())]
        call("TagResource", lambda: self._client.tag_resource(ResourceARN=arn, Tags=pairs))

    def untag(self, arn: str, keys: tuple[str, ...]) -> None:
        call(
            "UntagResource",
            lambda: self._client.untag_resource(ResourceARN=arn, TagKeys=list(keys)),
        )

    # Instances (hybrid export and import) ----------------------------------------------------

    def list_instances(self, service_id: str) -> list[ObservedInstance]:
        """Every instance of a service with its attributes (one ListInstances page per 100)."""
        return [
            ObservedInstance(
                raw["Id"],
                dict(raw.get("Attributes") or {}),
                created_by_account=raw.get("CreatedByAccount"),
            )
            for raw in self._pages("list_instances", "Instances", ServiceId=service_id)
        ]

    def instances_health(self, service_id: str) -> dict[str, str]:
        """Custom health status per instance id (GetInstancesHealthStatus, 100 per page)."""
        status: dict[str, str] = {}
        token: str | None = None
        while True:
            args: dict[str, Any] = {"ServiceId": service_id, "MaxResults": PAGE_SIZE}
            if token:
                args["NextToken"] = token
            raw = call(
                "GetInstancesHealthStatus",
                lambda args=args: self._client.get_instances_health_status(**args),  # type: ignore[misc]
            )
            status.update(raw.get("Status") or {})
            token = raw.get("NextToken")
            if not token:
                return status

    def register_instance(
        self, service_id: str, instance_id: str, attributes: Mapping[str, str]
    ) -> str:
        raw = call(
            "RegisterInstance",
            lambda: self._client.register_instance(
                ServiceId=service_id, InstanceId=instance_id, Attributes=dict(attributes)
            ),
        )
        return raw["OperationId"]

    def deregister_instance(self, service_id: str, instance_id: str) -> str | None:
        """The OperationId, or None when the instance is gone already."""
        try:
            raw = call(
                "DeregisterInstance",
                lambda: self._client.deregister_instance(
                    ServiceId=service_id, InstanceId=instance_id
                ),
            )
        except NotFound as exc:
            if exc.code == "InstanceNotFound":
                return None
            raise
        return raw["OperationId"]

    def set_instance_health(self, service_id: str, instance_id: str, healthy: bool) -> None:
        """UpdateInstanceCustomHealthStatus: synchronous, no operation to poll."""
        call(
            "UpdateInstanceCustomHealthStatus",
            lambda: self._client.update_instance_custom_health_status(
                ServiceId=service_id,
                InstanceId=instance_id,
                Status="HEALTHY" if healthy else "UNHEALTHY",
            ),
        )

    def discover_instances(
        self,
        namespace_name: str,
        service_name: str,
        health: str = "HEALTHY",
        owner_account: str | None = None,
    ) -> list[DiscoveredInstance]:
        """DiscoverInstances (1,000/s, docs/aws-facts.md, Throttling and quotas) rather than
        ListInstances (~50/s): also
        answers for API-only services such as those ECS Service Connect creates.
        `owner_account`: the account owning a namespace shared with ours through AWS RAM
        (a name alone means one of our own account's)."""
        args: dict[str, Any] = {
            "NamespaceName": namespace_name,
            "ServiceName": service_name,
            "HealthStatus": health,
            "MaxResults": DISCOVER_MAX_RESULTS,
        }
        if owner_account is not None:
            args["OwnerAccount"] = owner_account
        raw = call("DiscoverInstances", lambda: self._client.discover_instances(**args))
        return [
            DiscoveredInstance(
                str(i.get("InstanceId", "")),
                dict(i.get("Attributes") or {}),
                str(i.get("HealthStatus", "UNKNOWN")),
            )
            for i in raw.get("Instances", [])
        ]


def _service_ref(raw: Mapping[str, Any]) -> str:
    """How the service is addressed: by id, or by ARN when it sits in a namespace shared
    through AWS RAM (its creator is not the namespace's owner): an id names only a resource of
    the caller's own account, an ARN serves the owner and the creator alike
    (docs/aws-facts.md, "Shared namespaces")."""
    owner, creator = raw.get("ResourceOwner"), raw.get("CreatedByAccount")
    return str(raw["Arn"]) if owner and creator and owner != creator else str(raw["Id"])


def _route53_config(check: Route53HealthCheck) -> dict[str, Any]:
    config: dict[str, Any] = {
        "Type": str(check.type),
        "FailureThreshold": check.failure_threshold,
    }
    if check.resource_path is not None:
        config["ResourcePath"] = check.resource_path
    return config
