"""Cloud Map (servicediscovery) fidelity: where moto differs from AWS, make it behave like AWS.

Each hook lets moto do the work and then corrects moto's in-process state or its answer; the
docstrings quote the line of docs/aws-facts.md (or the AWS API reference) that the
hook reproduces.
"""

from __future__ import annotations

import copy
import json
import uuid
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from ._wsgi import JSON, Call, Forward, Handler, Reply, page
from .moto_surface import (
    FakeZone,
    Namespace,
    Operation,
    Service,
    ServiceDiscoveryBackend,
    get_partition,
    route53_backends,
    servicediscovery_backends,
)
from .operations import Failure, OperationTracker
from .ram import RamLayer

DEFAULT_MAX_RESULTS = 100  # Cloud Map List* without MaxResults return up to 100 items
MAX_INSTANCES_PER_SERVICE = 1000
MAX_CUSTOM_ATTRIBUTES = 30
# Cloud Map API reference, UpdateServiceAttributes: "Map Entries: Maximum number of 30 items",
# "Key Length Constraints: Maximum length of 255", "Value Length Constraints: Maximum length of
# 1024"; the 30 also bound what a service holds (ServiceAttributesLimitExceededException).
MAX_SERVICE_ATTRIBUTES = 30
MAX_SERVICE_ATTRIBUTE_KEY = 255
MAX_SERVICE_ATTRIBUTE_VALUE = 1024


def backend(call: Call) -> ServiceDiscoveryBackend:
    return servicediscovery_backends[call.account][call.region]


def _hosted_zone(call: Call, namespace: Namespace) -> FakeZone | None:
    """The moto Route 53 zone moto made for a DNS namespace (Route 53 is global: one backend
    per partition)."""
    zone_id = (namespace.dns_properties or {}).get("HostedZoneId")
    if not zone_id:
        return None
    zones = route53_backends[call.account][get_partition(call.region)].zones
    return zones.get(str(zone_id).replace("/hostedzone/", ""))


def _seconds(stamp: float | datetime) -> float:
    """A timestamp moto stores, as the epoch seconds Cloud Map's JSON answers carry: moto 5.2.5
    stores epoch floats, 5.2.6 naive UTC datetimes (`utcnow()`)."""
    if isinstance(stamp, datetime):
        return (stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)).timestamp()
    return float(stamp)


def _service_json(service: Service) -> JSON:
    """A service as Cloud Map's CreateService / GetService / ListServices answer it, rendered
    from the attributes moto stores: moto's own renderers have moved between patch releases
    (5.2.6 dropped `Service.to_json`), its stored state has not (moto_surface.py)."""
    item: JSON = {
        "Id": service.id,
        "Arn": service.arn,
        "Name": service.name,
        "NamespaceId": service.namespace_id,
        "Description": service.description,
        "Type": service.service_type,
        "CreateDate": _seconds(service.created),
        "CreatorRequestId": service.creator_request_id,
        "DnsConfig": service.dns_config,
        "HealthCheckConfig": service.health_check_config,
        "HealthCheckCustomConfig": service.health_check_custom_config,
    }
    rendered: JSON = json.loads(json.dumps(item, default=str))
    return rendered


def _invalid(message: str) -> Reply:
    return Reply.error("InvalidInput", message)


def _same_name(a: str, b: str) -> bool:
    return a.lower().rstrip(".") == b.lower().rstrip(".")


def _same_domain_or_subdomain(a: str, b: str) -> bool:
    a, b = a.lower().rstrip("."), b.lower().rstrip(".")
    return a == b or a.endswith("." + b) or b.endswith("." + a)


def _restore(namespaces: dict[str, Namespace], items: list[tuple[str, Namespace]]) -> None:
    """Put moto's namespaces back as they were listed (same order)."""
    namespaces.clear()
    namespaces.update(items)


class _FilterError(ValueError):
    pass


def _matches(value: str | None, condition: str, values: list[str]) -> bool:
    if value is None:
        return False
    if condition == "EQ":
        return value == values[0]
    if condition == "IN":
        return value in values
    if condition == "BEGINS_WITH":
        return value.startswith(values[0])
    raise _FilterError(f"condition {condition} is not supported here")


def _epoch(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def _apply_filters(
    items: list[Any],
    filters: list[JSON],
    fields: Mapping[str, Callable[[Any], str | None]],
) -> list[Any]:
    """AWS: "If you specify more than one filter, [an item] must match all filters"."""
    kept = items
    for flt in filters:
        name = flt.get("Name", "")
        values = [str(v) for v in flt.get("Values") or []]
        condition = flt.get("Condition") or "EQ"
        if not values:
            raise _FilterError(f"filter {name} needs at least one value")
        if name == "RESOURCE_OWNER" and name not in fields:
            # What the caller lists here is its own (shared namespaces: ListNamespaces).
            if values[0] != "SELF":
                kept = []
            continue
        if name == "UPDATE_DATE":
            if condition != "BETWEEN" or len(values) != 2:
                raise _FilterError("UPDATE_DATE takes condition BETWEEN and two values")
            low, high = _epoch(values[0]), _epoch(values[1])
            kept = [i for i in kept if low <= float(i.get("UpdateDate", 0)) <= high]
            continue
        getter = fields.get(name)
        if getter is None:
            raise _FilterError(f"filter name {name!r} is not valid here")
        kept = [i for i in kept if _matches(getter(i), condition, values)]
    return kept


def _registration_refused(service: Service, instance_id: str, attributes: JSON) -> Reply | None:
    """RegisterInstance's quotas (docs/aws-facts.md, Throttling and quotas): "30 custom
    attributes per instance" (AWS_* ones are not custom), "1,000 instances per service (not
    adjustable)" for a new InstanceId."""
    custom = [k for k in attributes if not str(k).startswith("AWS_")]
    if len(custom) > MAX_CUSTOM_ATTRIBUTES:
        return _invalid(
            f"an instance can have at most {MAX_CUSTOM_ATTRIBUTES} custom attributes, "
            f"got {len(custom)}"
        )
    known = {i.instance_id for i in service.instances}
    if instance_id not in known and len(known) >= MAX_INSTANCES_PER_SERVICE:
        return Reply.error(
            "ResourceLimitExceeded",
            f"service {service.id} already has {len(known)} instances, the maximum",
        )
    return None


def _attributes_refused(attributes: Mapping[str, str]) -> Reply | None:
    if len(attributes) > MAX_SERVICE_ATTRIBUTES:
        return _invalid(
            f"Attributes has {len(attributes)} entries; at most {MAX_SERVICE_ATTRIBUTES} "
            "are allowed"
        )
    for key, value in attributes.items():
        if len(key) > MAX_SERVICE_ATTRIBUTE_KEY:
            return _invalid(f"attribute key {key[:32]}... is longer than 255 characters")
        if len(value) > MAX_SERVICE_ATTRIBUTE_VALUE:
            return _invalid(f"the value of attribute {key} is longer than 1024 characters")
    return None


def _init_health(service: Service, instance_id: str, attributes: JSON) -> None:
    """AWS_INIT_HEALTH_STATUS of a registration sets a custom health check's status."""
    if service.health_check_custom_config is None:
        return
    init = attributes.get("AWS_INIT_HEALTH_STATUS")
    for instance in service.instances:
        if instance.instance_id == instance_id:
            instance.health_status = "UNHEALTHY" if init == "UNHEALTHY" else "HEALTHY"


class CloudMapLayer:
    def __init__(self, tracker: OperationTracker, page_size: int, ram: RamLayer) -> None:
        self._tracker = tracker
        self._ram = ram
        self.page_size = page_size
        # (account, region, CreatorRequestId) -> OperationId of the namespace create it made
        self._namespace_requests: dict[tuple[str, str, str], str] = {}
        # OperationId of a namespace create still in flight -> (its backend, the namespace),
        # kept out of moto's namespaces until the operation succeeds
        self._creating: dict[str, tuple[ServiceDiscoveryBackend, Namespace]] = {}

    def reset(self) -> None:
        self._namespace_requests.clear()
        self._creating.clear()

    def handlers(self) -> dict[str, Handler]:
        return {
            "CreateHttpNamespace": self.create_namespace,
            "CreatePrivateDnsNamespace": self.create_namespace,
            "CreatePublicDnsNamespace": self.create_namespace,
            "DeleteNamespace": self.delete_namespace,
            "UpdateHttpNamespace": self.update_namespace,
            "UpdatePrivateDnsNamespace": self.update_namespace,
            "UpdatePublicDnsNamespace": self.update_namespace,
            "CreateService": self.create_service,
            "DeleteService": self.delete_service,
            "GetService": self.get_service,
            "UpdateService": self.update_service,
            "GetServiceAttributes": self.service_attributes,
            "UpdateServiceAttributes": self.service_attributes,
            "DeleteServiceAttributes": self.service_attributes,
            "RegisterInstance": self.register_instance,
            "DeregisterInstance": self.deregister_instance,
            "UpdateInstanceCustomHealthStatus": self.update_instance_custom_health_status,
            "GetOperation": self.get_operation,
            "ListOperations": self.list_operations,
            "ListNamespaces": self.list_namespaces,
            "ListServices": self.list_services,
            "ListInstances": self.list_instances,
        }

    # -- helpers -----------------------------------------------------------------------------

    def _duplicate(self, op_type: str, key: tuple[str, ...]) -> Reply | None:
        """docs/aws-facts.md, Idempotency and names: "DuplicateRequest means the same request is
        still in progress". Modelled
        as: an operation of the same type on the same target is still SUBMITTED/PENDING."""
        op_id = self._tracker.in_flight(op_type, key)
        if op_id is None:
            return None
        return Reply.error(
            "DuplicateRequest",
            f"Operation {op_id} ({op_type}) is already in progress",
            status=409,
            DuplicateOperationId=op_id,
        )

    def _being_created(self, b: ServiceDiscoveryBackend) -> list[tuple[str, Namespace]]:
        """(OperationId, namespace) of the namespace creates in flight in that backend."""
        return [(op_id, ns) for op_id, (owner, ns) in self._creating.items() if owner is b]

    @staticmethod
    def _operation(call: Call, reply: Reply) -> Operation:
        data = reply.json()
        op_id = data.get("OperationId") or data.get("operationId")
        return backend(call).operations[str(op_id)]

    # -- namespaces --------------------------------------------------------------------------

    def create_namespace(self, call: Call, forward: Forward) -> Reply:
        """docs/aws-facts.md, Idempotency and names: "Every Create* accepts CreatorRequestId" (the
        same CreatorRequestId again answers the first request's OperationId instead of a twin) and
        "Names collide with NamespaceAlreadyExists ... (the error carries the existing id)".
        moto: "No NamespaceAlreadyExists ...; CreatorRequestId is not honoured".

        Private namespaces: moto refuses a second private namespace in the same VPC whatever
        its name (ConflictingDomainExists). AWS only conflicts on an overlapping domain, and
        reports it as a FAIL of the operation ("FAIL carries ErrorCode/ErrorMessage (e.g. ...,
        ConflictingDomainExists when the VPC already has an overlapping private zone)").

        docs/aws-facts.md, Asynchronous calls: "A new namespace's id is known only from
        GetOperation's
        Targets["NAMESPACE"]": the namespace exists (GetNamespace, ListNamespaces, CreateService)
        only once the operation has succeeded, and a FAIL leaves none. moto adds it at once;
        here it is kept aside until the operation is final. Another create of the same name
        while the first is in flight (other or no CreatorRequestId) is DuplicateRequest, as AWS
        answers it: "Another operation of type CreateHttpNamespace and id ... is in progress"
        (aws/aws-cdk #25554, two concurrent creates of one HTTP namespace); once the first has
        succeeded it is NamespaceAlreadyExists.
        """
        b = backend(call)
        body = dict(call.body)
        name = str(body.get("Name", ""))
        request_id = body.get("CreatorRequestId")
        request_key = (call.account, call.region, str(request_id))
        earlier = self._namespace_requests.get(request_key) if request_id else None
        if earlier is not None and self._tracker.peek(earlier) != "FAIL":
            # The same request again: its operation, not a twin. (Modelling choice: after a
            # FAIL the CreatorRequestId may be used again, so a retry can succeed.)
            return Reply.json_ok({"OperationId": earlier})
        for op_id, pending in self._being_created(b):
            if _same_name(pending.name, name):
                return Reply.error(
                    "DuplicateRequest",
                    f"Another operation of type {call.action} and id {op_id} is in progress",
                    status=409,
                    DuplicateOperationId=op_id,
                )
        for existing in b.namespaces.values():
            if _same_name(existing.name, name):
                return Reply.error(
                    "NamespaceAlreadyExists",
                    f"Namespace {existing.name} already exists ({existing.id})",
                    NamespaceId=existing.id,
                    CreatorRequestId=existing.creator_request_id,
                )
        vpc = body.get("Vpc")
        conflict: Namespace | None = None
        if call.action == "CreatePrivateDnsNamespace" and vpc:
            private = list(b.namespaces.values()) + [ns for _, ns in self._being_created(b)]
            conflict = next(
                (
                    ns
                    for ns in private
                    if ns.vpc == vpc and _same_domain_or_subdomain(ns.name, name)
                ),
                None,
            )
            # moto compares the VPC of every private namespace: give it one it cannot match.
            body["Vpc"] = f"{vpc}#emulator-{uuid.uuid4().hex}"
        reply = forward(body)
        if not reply.ok:
            return reply
        op = self._operation(call, reply)
        ns_id = op.targets["NAMESPACE"]
        namespace = b.namespaces.pop(ns_id)  # visible only once the operation succeeds
        zone = _hosted_zone(call, namespace)
        if vpc:
            namespace.vpc = vpc
            # AWS API reference, CreatePrivateDnsNamespace: "When you create a private DNS
            # namespace, Cloud Map automatically creates an Amazon Route 53 private hosted
            # zone", and Vpc is "The ID of the Amazon VPC that you want to associate the
            # namespace with": the zone is associated with that VPC (in the namespace's
            # region), so Route 53 GetHostedZone answers VPCs: [{VPCRegion, VPCId}]. moto
            # creates the zone with no VPC at all.
            if zone is not None and not any(v.get("vpc_id") == vpc for v in zone.vpcs):
                zone.add_vpc(str(vpc), call.region)
        failure: Failure | None
        if conflict is not None:
            failure = Failure(
                "ConflictingDomainExists",
                f"VPC {vpc} already has a private hosted zone that overlaps {name} "
                f"(namespace {conflict.name})",
            )
        else:
            failure = self._tracker.match_failure("CREATE_NAMESPACE", {name, ns_id})
        self._creating[op.id] = (b, namespace)

        def finish(succeeded: bool) -> None:
            self._creating.pop(op.id, None)
            if succeeded:  # a failed create leaves no namespace behind
                b.namespaces[ns_id] = namespace
            elif zone is not None:  # ... and no hosted zone (moto made one at once)
                zones = route53_backends[call.account][get_partition(call.region)].zones
                zones.pop(zone.resource_id, None)

        self._tracker.track(op.id, op.operation_type, ("namespace", ns_id), failure, finish)
        if request_id:
            self._namespace_requests[request_key] = op.id
        return reply

    def delete_namespace(self, call: Call, forward: Forward) -> Reply:
        """docs/aws-facts.md, Deletion order: "DeleteNamespace fails with ResourceInUse while
        services exist (also services that other tools or ECS created)". moto: "DeleteService/
        DeleteNamespace succeed while instances/services exist (no ResourceInUse)".

        DeleteNamespace is asynchronous (docs/aws-facts.md, Asynchronous calls): the namespace stays
        (GetNamespace, ListNamespaces) until the operation succeeds; moto removes it at once."""
        b = backend(call)
        ns_id = str(call.body.get("Id", ""))
        namespace = b.namespaces.get(ns_id)
        if namespace is None:
            return forward()
        services = [s.id for s in b.services.values() if s.namespace_id == ns_id]
        if services:
            return Reply.error(
                "ResourceInUse",
                f"Namespace {ns_id} still has services: {', '.join(services)}",
                status=409,
            )
        duplicate = self._duplicate("DELETE_NAMESPACE", ("namespace", ns_id))
        if duplicate is not None:
            return duplicate
        failure = self._tracker.match_failure("DELETE_NAMESPACE", {namespace.name, ns_id})
        listed = list(b.namespaces.items())
        reply = forward()
        if not reply.ok:
            return reply
        op = self._operation(call, reply)
        _restore(b.namespaces, listed)  # in its place, until the operation succeeds

        def finish(succeeded: bool) -> None:
            if succeeded:
                b.namespaces.pop(ns_id, None)

        self._tracker.track(op.id, op.operation_type, ("namespace", ns_id), failure, finish)
        return reply

    def update_namespace(self, call: Call, forward: Forward) -> Reply:
        """Update*Namespace are asynchronous (docs/aws-facts.md, Asynchronous calls). moto's
        UpdateHttpNamespace answers `operationId` (lower case), which botocore drops: the
        answer is rewritten to AWS's `OperationId`. The change shows when the operation
        succeeds (moto applies it at once)."""
        b = backend(call)
        ns_id = str(call.body.get("Id", ""))
        namespace = b.namespaces.get(ns_id)
        if namespace is None:
            return forward()
        duplicate = self._duplicate("UPDATE_NAMESPACE", ("namespace", ns_id))
        if duplicate is not None:
            return duplicate
        failure = self._tracker.match_failure("UPDATE_NAMESPACE", {namespace.name, ns_id})
        before = copy.deepcopy(namespace)
        reply = forward()
        if not reply.ok:
            return reply
        op = self._operation(call, reply)
        b.namespaces[ns_id] = before  # `namespace` now carries the change: shown at SUCCESS

        def finish(succeeded: bool) -> None:
            if succeeded and ns_id in b.namespaces:
                b.namespaces[ns_id] = namespace

        self._tracker.track(op.id, op.operation_type, ("namespace", ns_id), failure, finish)
        return reply.with_json({"OperationId": op.id})

    # -- services ----------------------------------------------------------------------------

    def create_service(self, call: Call, forward: Forward) -> Reply:
        """docs/aws-facts.md, Idempotency and names: "Every Create* accepts CreatorRequestId ... so
        a retry after a crash
        cannot create a twin" (the same CreatorRequestId answers the service it created) and
        "Names collide with ... ServiceAlreadyExists (the error carries the existing id)".
        Also: an unknown namespace is NamespaceNotFound, and the service Type is set as AWS
        does (HTTP in an HTTP namespace, DNS_HTTP in a DNS namespace); moto skips both."""
        b = backend(call)
        body = dict(call.body)
        request_id = body.get("CreatorRequestId")
        if request_id:
            for existing in b.services.values():
                if existing.creator_request_id == request_id:
                    return Reply.json_ok({"Service": _service_json(existing)})
        dns_config = body.get("DnsConfig") or {}
        ns_id = body.get("NamespaceId") or dns_config.get("NamespaceId")
        if not ns_id:
            return _invalid("NamespaceId is required")
        namespace = b.namespaces.get(str(ns_id))
        if namespace is None:
            return Reply.error("NamespaceNotFound", f"Namespace {ns_id} not found")
        name = str(body.get("Name", ""))
        for existing in b.services.values():
            if existing.namespace_id == ns_id and existing.name.lower() == name.lower():
                return Reply.error(
                    "ServiceAlreadyExists",
                    f"Service {name} already exists in namespace {ns_id} ({existing.id})",
                    ServiceId=existing.id,
                    ServiceArn=existing.arn,
                    CreatorRequestId=existing.creator_request_id,
                )
        body["NamespaceId"] = ns_id
        reply = forward(body)
        if not reply.ok:
            return reply
        service = b.services[str(reply.json()["Service"]["Id"])]
        if not service.service_type:
            service.service_type = "HTTP" if namespace.type == "HTTP" else "DNS_HTTP"
        return Reply.json_ok({"Service": _service_json(service)})

    def delete_service(self, call: Call, forward: Forward) -> Reply:
        """docs/aws-facts.md, Deletion order: "DeleteService fails with ResourceInUse while
        instances exist". Also ServiceNotFound for an unknown id (moto answers success)."""
        b = backend(call)
        service_id = str(call.body.get("Id", ""))
        service = b.services.get(service_id)
        if service is None:
            return Reply.error("ServiceNotFound", f"Service {service_id} not found")
        if service.instances:
            return Reply.error(
                "ResourceInUse",
                f"Service {service_id} still has {len(service.instances)} instance(s)",
                status=409,
            )
        return forward()

    def get_service(self, call: Call, forward: Forward) -> Reply:
        """GetService's ServiceInfo carries InstanceCount (AWS API reference); moto's omits it."""
        reply = forward()
        if not reply.ok:
            return reply
        data = reply.json()
        service: Service | None = backend(call).services.get(str(data["Service"]["Id"]))
        data["Service"]["InstanceCount"] = len(service.instances) if service else 0
        return reply.with_json(data)

    def update_service(self, call: Call, forward: Forward) -> Reply:
        """docs/aws-facts.md, UpdateService: "Can change only record TTLs of existing DnsRecords,
        HealthCheckConfig and Description", "Send the full DnsConfig.DnsRecords and
        HealthCheckConfig every time: what is omitted is removed", "Not allowed for services in
        HTTP namespaces". moto: "UpdateService without DnsConfig wipes DnsConfig".

        Here: no DnsConfig leaves DnsConfig (routing policy, record types, TTLs) as it is;
        DnsRecords change only the TTLs of the record types the service has (a different set
        of types is InvalidInput: types force a replacement); an omitted HealthCheckConfig is
        removed; HealthCheckCustomConfig never changes. The change (TTLs, health check,
        description) shows when the operation succeeds; moto applies it at once."""
        b = backend(call)
        service_id = str(call.body.get("Id", ""))
        service = b.services.get(service_id)
        if service is None:
            return forward()
        namespace = b.namespaces.get(service.namespace_id)
        if namespace is not None and namespace.type == "HTTP":
            return _invalid(
                f"UpdateService is not supported for service {service_id}: "
                f"it is in HTTP namespace {namespace.id}"
            )
        change: JSON = call.body.get("Service") or {}
        new_dns = copy.deepcopy(service.dns_config)
        if "DnsConfig" in change:
            existing = list((service.dns_config or {}).get("DnsRecords") or [])
            requested = list((change.get("DnsConfig") or {}).get("DnsRecords") or [])
            if sorted(r.get("Type") for r in existing) != sorted(r.get("Type") for r in requested):
                return _invalid(
                    "UpdateService can only change the TTL of existing DnsRecords: the service "
                    f"has record types {sorted(r.get('Type') for r in existing)}, the request "
                    f"{sorted(r.get('Type') for r in requested)}"
                )
            ttl = {r["Type"]: r.get("TTL") for r in requested}
            new_dns = copy.deepcopy(service.dns_config) or {}
            new_dns["DnsRecords"] = [{**r, "TTL": ttl[r["Type"]]} for r in existing]
        duplicate = self._duplicate("UPDATE_SERVICE", ("service", service_id))
        if duplicate is not None:
            return duplicate
        failure = self._tracker.match_failure("UPDATE_SERVICE", {service.name, service_id})
        before = copy.deepcopy(
            (service.description, service.dns_config, service.health_check_config)
        )
        reply = forward()
        if not reply.ok:
            return reply
        op = self._operation(call, reply)
        after = (service.description, new_dns, change.get("HealthCheckConfig"))
        service.description, service.dns_config, service.health_check_config = before

        def finish(succeeded: bool) -> None:
            if succeeded:
                service.description, service.dns_config, service.health_check_config = after  # type: ignore[assignment]

        self._tracker.track(op.id, op.operation_type, ("service", service_id), failure, finish)
        return reply

    def service_attributes(self, call: Call, forward: Forward) -> Reply:
        """Cloud Map API reference, Get/Update/DeleteServiceAttributes: ServiceId is "the ID or
        Amazon Resource Name (ARN) of the service" (moto knows ids only); a request of more than
        30 entries, a key over 255 or a value over 1,024 characters is InvalidInput (moto
        stores them). moto already answers ServiceNotFound and, past 30 on the service,
        ServiceAttributesLimitExceededException."""
        b = backend(call)
        body = dict(call.body)
        ref = str(body.get("ServiceId", ""))
        by_arn = next((s.id for s in b.services.values() if s.arn == ref), None)
        body["ServiceId"] = by_arn or ref
        attributes = body.get("Attributes")
        if call.action == "UpdateServiceAttributes":
            refused = _attributes_refused(dict(attributes or {}))
        elif call.action == "DeleteServiceAttributes":
            refused = _attributes_refused(dict.fromkeys(attributes or [], ""))
        else:
            refused = None
        return refused or forward(body)

    # -- instances ---------------------------------------------------------------------------

    def register_instance(self, call: Call, forward: Forward) -> Reply:
        """docs/aws-facts.md, Instances: "RegisterInstance is an upsert keyed on InstanceId". moto:
        "re-registering an InstanceId duplicates it". The new registration replaces the old
        one in place.

        (docs/aws-facts.md, Throttling and quotas): "1,000 instances per service (not adjustable)"
        answers ResourceLimitExceeded for a new InstanceId beyond it, and "30 custom attributes per
        instance" InvalidInput (AWS_* attributes are not custom). AWS API reference,
        RegisterInstance: with HealthCheckCustomConfig, AWS_INIT_HEALTH_STATUS (HEALTHY or
        UNHEALTHY) sets the initial custom health status, HEALTHY when absent; moto ignores it."""
        b = backend(call)
        service = b.services.get(str(call.body.get("ServiceId", "")))
        attributes: JSON = call.body.get("Attributes") or {}
        instance_id = str(call.body.get("InstanceId", ""))
        if service is not None:
            refused = _registration_refused(service, instance_id, attributes)
            if refused is not None:
                return refused
        reply = self._instance_operation(call, forward, "REGISTER_INSTANCE")
        if reply.ok and service is not None:
            _init_health(service, instance_id, attributes)
        return reply

    def seed_instances(
        self, account: str, region: str, service_id: str, instances: Mapping[str, JSON]
    ) -> None:
        """Register new instances (id -> attributes) in moto's state at once, for a test that
        needs a service with many: each as a RegisterInstance whose operation succeeded (the
        same refusals, the same initial health), without a call over HTTP for each."""
        b = servicediscovery_backends[account][region]
        service = b.services.get(service_id)
        if service is None:
            raise ValueError(f"no service {service_id} in {region}")
        for instance_id, attributes in instances.items():
            if any(i.instance_id == instance_id for i in service.instances):
                raise ValueError(f"instance {instance_id} is registered already")
            refused = _registration_refused(service, instance_id, attributes)
            if refused is not None:
                error = refused.json()
                raise ValueError(f"instance {instance_id}: {error['__type']}: {error['message']}")
            b.register_instance(service_id, instance_id, str(uuid.uuid4()), dict(attributes))
            _init_health(service, instance_id, attributes)

    def update_instance_custom_health_status(self, call: Call, forward: Forward) -> Reply:
        """AWS API reference, UpdateInstanceCustomHealthStatus: "You can use it to change the
        status only for custom health checks, which you define using HealthCheckCustomConfig
        when you create a service": CustomHealthNotFound otherwise (moto changes any service's
        instance), ServiceNotFound / InstanceNotFound for unknown ids."""
        b = backend(call)
        service_id = str(call.body.get("ServiceId", ""))
        service = b.services.get(service_id)
        if service is None:
            return Reply.error("ServiceNotFound", f"Service {service_id} not found")
        if service.health_check_custom_config is None:
            return Reply.error(
                "CustomHealthNotFound",
                f"Service {service_id} has no custom health check (HealthCheckCustomConfig)",
            )
        instance_id = str(call.body.get("InstanceId", ""))
        if not any(i.instance_id == instance_id for i in service.instances):
            return Reply.error("InstanceNotFound", f"Instance {instance_id} not found")
        return forward()

    def deregister_instance(self, call: Call, forward: Forward) -> Reply:
        return self._instance_operation(call, forward, "DEREGISTER_INSTANCE")

    def _instance_operation(self, call: Call, forward: Forward, op_type: str) -> Reply:
        b = backend(call)
        service_id = str(call.body.get("ServiceId", ""))
        instance_id = str(call.body.get("InstanceId", ""))
        service = b.services.get(service_id)
        if service is None:
            return forward()
        key = ("instance", service_id, instance_id)
        duplicate = self._duplicate(op_type, key)
        if duplicate is not None:
            return duplicate
        failure = self._tracker.match_failure(op_type, {service.name, service_id, instance_id})
        before = list(service.instances)
        revisions = dict(service.instances_revision)
        reply = forward()
        if not reply.ok:
            return reply
        op = self._operation(call, reply)
        op.targets.setdefault("SERVICE", service_id)  # AWS names the service of instance ops
        if failure is not None:
            service.instances = before
            service.instances_revision = revisions
        elif op_type == "REGISTER_INSTANCE" and any(i.instance_id == instance_id for i in before):
            new = service.instances[-1]
            service.instances = [new if i.instance_id == instance_id else i for i in before]
        self._tracker.track(op.id, op.operation_type, key, failure)
        return reply

    # -- operations --------------------------------------------------------------------------

    def get_operation(self, call: Call, forward: Forward) -> Reply:
        """docs/aws-facts.md, Asynchronous calls: "Poll GetOperation: SUBMITTED/PENDING are in
        flight, SUCCESS/FAIL are
        final. FAIL carries ErrorCode/ErrorMessage" and "A new namespace's id is known only
        from GetOperation's Targets["NAMESPACE"]"."""
        reply = forward()
        if not reply.ok:
            return reply
        data = reply.json()
        operation: JSON = data.get("Operation") or {}
        status, failure = self._tracker.poll(str(operation.get("Id", "")))
        operation["Status"] = status
        operation["OwnerAccount"] = call.account
        if failure is not None:
            operation["ErrorCode"] = failure.error_code
            operation["ErrorMessage"] = failure.message
        data["Operation"] = operation
        return reply.with_json(data)

    def list_operations(self, call: Call, forward: Forward) -> Reply:
        """docs/aws-facts.md, Reading: lists and ids: "List calls paginate (MaxResults up to 100,
        NextToken)"; moto ignores
        MaxResults, NextToken and Filters, and also forgets every operation whose namespace is
        gone (all service and instance operations), which breaks later GetOperation calls:
        this list is built from moto's operations without going through moto's ListOperations.
        AWS pages first and filters each page ("Cloud Map gets MaxResults operations and then
        filters them"), so a page can be empty and still carry a NextToken."""
        items: list[JSON] = []
        for op in backend(call).operations.values():
            items.append(
                {
                    "Id": op.id,
                    "Status": self._tracker.peek(op.id),
                    "Type": op.operation_type,
                    "UpdateDate": _seconds(op.updated),
                    "NAMESPACE": op.targets.get("NAMESPACE"),
                    "SERVICE": op.targets.get("SERVICE"),
                }
            )
        fields: dict[str, Callable[[JSON], str | None]] = {
            "NAMESPACE_ID": lambda i: i["NAMESPACE"],
            "SERVICE_ID": lambda i: i["SERVICE"],
            "STATUS": lambda i: i["Status"],
            "TYPE": lambda i: i["Type"],
        }
        return self._list(
            call,
            items,
            "Operations",
            fields,
            lambda i: {"Id": i["Id"], "Status": i["Status"]},
        )

    # -- lists -------------------------------------------------------------------------------

    def _list(
        self,
        call: Call,
        items: Sequence[Any],
        key: str,
        fields: Mapping[str, Callable[[Any], str | None]],
        render: Callable[[Any], JSON] = lambda i: i,
    ) -> Reply:
        max_results = call.body.get("MaxResults")
        try:
            window, token = page(
                items,
                call.body.get("NextToken"),
                int(max_results) if max_results else None,
                self.page_size,
                DEFAULT_MAX_RESULTS,
            )
            kept = _apply_filters(window, list(call.body.get("Filters") or []), fields)
        except ValueError as exc:
            return _invalid(str(exc))
        data: JSON = {key: [render(i) for i in kept]}
        if token:
            data["NextToken"] = token
        return Reply.json_ok(data)

    def list_namespaces(self, call: Call, forward: Forward) -> Reply:
        """docs/aws-facts.md, Reading: lists and ids: "List calls paginate (MaxResults up to 100,
        NextToken). ListServices/
        ListNamespaces accept Filters." moto: "ListNamespaces/ListServices/ListOperations ignore
        MaxResults, NextToken and Filters". Pages are cut first and filtered after, like AWS.

        docs/aws-facts.md, Shared namespaces: the list holds the caller's namespaces and those
        shared with it, each with its ResourceOwner (the RESOURCE_OWNER filter: SELF or
        OTHER_ACCOUNTS)."""
        items: list[JSON] = []
        owners: dict[str, set[str] | None] = {call.account: None}
        owners.update(self._ram.shared_with(call.account, call.region))
        for owner, shared in owners.items():
            reply = forward({}, account=owner)
            if not reply.ok:
                return reply
            b = servicediscovery_backends[owner][call.region]
            counts = Counter(s.namespace_id for s in b.services.values())
            for item in reply.json().get("Namespaces") or []:
                if shared is None or item["Id"] in shared:
                    item["ServiceCount"] = counts[item["Id"]]
                    item["ResourceOwner"] = owner
                    items.append(item)
        fields: dict[str, Callable[[JSON], str | None]] = {
            "RESOURCE_OWNER": lambda i: (
                "SELF" if i["ResourceOwner"] == call.account else "OTHER_ACCOUNTS"
            ),
            "TYPE": lambda i: i.get("Type"),
            "NAME": lambda i: i.get("Name"),
            "HTTP_NAME": lambda i: ((i.get("Properties") or {}).get("HttpProperties") or {}).get(
                "HttpName"
            ),
        }
        return self._list(call, items, "Namespaces", fields)

    def list_services(self, call: Call, forward: Forward) -> Reply:
        """As list_namespaces; the NAMESPACE_ID filter keeps the services of one namespace
        (moto returns every service of the region). Adds InstanceCount like AWS. Read from
        moto's state directly and rendered one page at a time: moto renders every service of
        the region for each page, which made the emulator's cost per page grow with N."""
        b = backend(call)

        def render(service: Service) -> JSON:
            item = _service_json(service)
            item["InstanceCount"] = len(service.instances)
            return item

        fields: dict[str, Callable[[Any], str | None]] = {
            "NAMESPACE_ID": lambda s: s.namespace_id,
        }
        return self._list(call, list(b.services.values()), "Services", fields, render)

    def list_instances(self, call: Call, forward: Forward) -> Reply:
        """Pages of at most min(page_size, MaxResults) instances (moto pages only on
        MaxResults)."""
        body = {k: v for k, v in call.body.items() if k not in ("NextToken", "MaxResults")}
        reply = forward(body)
        if not reply.ok:
            return reply
        data = reply.json()
        listed = self._list(call, list(data.get("Instances") or []), "Instances", {})
        if listed.ok:
            out = listed.json()
            out["ResourceOwner"] = call.account
            return listed.with_json(out)
        return listed
