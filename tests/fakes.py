"""In-memory AWS for the reconciler's state-machine tests: `FakeAdapters` implements
sd_operator.aws.api (the Protocols the reconciler depends on) over a few dicts, honouring the
contract the emulator (sd_devkit.emulator) keeps for what the reconciler calls:

- a namespace exists once its create operation has succeeded; an operation reports PENDING
  for `pending_polls` GetOperation polls, then SUCCESS (or the FAIL `fail_operations` names);
- the same CreatorRequestId answers the first request's operation (namespaces, unless it
  FAILed) or service, not a twin; a name taken is a Conflict carrying the existing id; a
  namespace create while one of the same name is in flight is DuplicateRequest;
- DeleteNamespace is ResourceInUse while services exist, DeleteService while instances do;
- updates show once their operation succeeds.

Errors are injected per call as data, as crossplane-runtime's ExternalClientFns tests do:
`errors["cloudmap.create_service"]` is an exception raised on every call, or a function of the
call's arguments that returns one (or None to let the call through). `calls` lists every call.
What is made outside the operator (another team, the console) goes in with `add_namespace`,
`add_service` and `put_ecs_service`, at once, as the console shows it once it is done.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from sd_operator.aws.errors import Conflict, NotFound, Retryable
from sd_operator.aws.tagging import NAMESPACE_TYPE, SERVICE_TYPE
from sd_operator.model.actions import (
    CreateNamespace,
    CreateService,
    UpdateEcsService,
    UpdateNamespace,
    UpdateService,
)
from sd_operator.model.grants import Role
from sd_operator.model.observed import (
    EcsUpdated,
    NamedPort,
    ObservedEcsService,
    ObservedNamespace,
    ObservedOperation,
    ObservedService,
    OperationStatus,
)
from sd_operator.model.spec import DnsConfig, NamespaceType, ServiceConnect

ACCOUNT = "123456789012"
# The calls that read: every other call the fakes log changes AWS.
READS = frozenset(
    {
        "cloudmap.tags",
        "cloudmap.find_namespace",
        "cloudmap.get_namespace",
        "cloudmap.list_namespaces",
        "cloudmap.owned_namespace",
        "cloudmap.list_services",
        "cloudmap.get_service",
        "cloudmap.service_attributes",
        "cloudmap.get_operation",
        "ecs.describe",
        "ecs.services_in_namespace",
        "tagging.resources",
        "route53.hosted_zone_vpcs",
    }
)
Fault = Exception | Callable[..., Exception | None]


@dataclass
class _Operation:
    id: str
    type: str
    target: str
    polls_left: int
    failure: tuple[str, str] | None
    apply: Callable[[], object]
    status: OperationStatus = OperationStatus.PENDING


@dataclass
class FakeAws:
    """What every region shares: faults, the call log, and how operations end."""

    errors: dict[str, Fault] = field(default_factory=dict)
    calls: list[tuple[str, tuple[Any, ...]]] = field(default_factory=list)
    pending_polls: int = 0
    fail_operations: dict[str, tuple[str, str]] = field(default_factory=dict)
    ids: Iterator[int] = field(default_factory=itertools.count)

    def call(self, name: str, *args: Any) -> None:
        self.calls.append((name, args))
        fault = self.errors.get(name)
        error = fault(*args) if callable(fault) and not isinstance(fault, Exception) else fault
        if error is not None:
            raise error

    def new_id(self, prefix: str) -> str:
        return f"{prefix}-{next(self.ids):04d}"

    def names(self) -> list[str]:
        return [name for name, _ in self.calls]

    def writes(self) -> list[str]:
        """The calls that change AWS, in order."""
        return [n for n in self.names() if n not in READS]


class FakeCloudMap:
    def __init__(self, aws: FakeAws, region: str) -> None:
        self._aws = aws
        self._region = region
        self.namespaces: dict[str, ObservedNamespace] = {}
        self.services: dict[str, ObservedService] = {}
        self.instances: dict[str, set[str]] = {}  # service id -> instance ids
        self.operations: dict[str, _Operation] = {}
        self.zones: dict[str, frozenset[str]] = {}
        self._tags: dict[str, dict[str, str]] = {}
        self.attributes: dict[str, dict[str, str]] = {}  # service id -> its service attributes
        self._requests: dict[str, str] = {}  # CreatorRequestId -> OperationId or service id
        self._creating: dict[str, ObservedNamespace] = {}  # OperationId -> its namespace

    def _arn(self, kind: str, resource_id: str) -> str:
        return f"arn:aws:servicediscovery:{self._region}:{ACCOUNT}:{kind}/{resource_id}"

    # What someone else made ----------------------------------------------------------------

    def add_namespace(
        self,
        name: str,
        type_: NamespaceType = NamespaceType.HTTP,
        *,
        tags: Mapping[str, str] | None = None,
        vpc: str | None = None,
    ) -> ObservedNamespace:
        ns_id = self._aws.new_id("ns")
        zone = self._aws.new_id("Z") if type_ is not NamespaceType.HTTP else None
        if zone is not None:
            self.zones[zone] = frozenset({vpc} if vpc else ())
        made = ObservedNamespace(ns_id, self._arn("namespace", ns_id), name, type_, None, {}, zone)
        self.namespaces[ns_id] = made
        self._tags[made.arn] = dict(tags or {})
        return made

    def add_service(
        self,
        namespace_id: str,
        name: str,
        *,
        dns: DnsConfig | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> ObservedService:
        service_id = self._aws.new_id("srv")
        ns_type = self.namespaces[namespace_id].type
        made = ObservedService(
            service_id,
            self._arn("service", service_id),
            name,
            namespace_id,
            dns=dns,
            type="HTTP" if ns_type is NamespaceType.HTTP else "DNS_HTTP",
        )
        self.services[service_id] = made
        self._tags[made.arn] = dict(tags or {})
        return made

    def change_service(self, service_id: str, **changes: Any) -> None:
        """An out-of-band change (the console)."""
        self.services[service_id] = replace(self.services[service_id], **changes)

    def tags_of(self, arn: str) -> dict[str, str]:
        return dict(self._tags[arn])

    # Reads ---------------------------------------------------------------------------------

    def tags(self, arn: str) -> dict[str, str]:
        self._aws.call("cloudmap.tags", arn)
        if arn not in self._tags:
            raise NotFound("ListTagsForResource", "ResourceNotFoundException", arn)
        return dict(self._tags[arn])

    def _namespace(self, found: ObservedNamespace, with_tags: bool) -> ObservedNamespace:
        return replace(found, tags=dict(self._tags[found.arn]) if with_tags else {})

    def _service(self, found: ObservedService, with_tags: bool) -> ObservedService:
        return replace(
            found,
            tags=dict(self._tags[found.arn]) if with_tags else {},
            instance_count=len(self.instances.get(found.id, ())),
        )

    def find_namespace(self, name: str, *, with_tags: bool = True) -> ObservedNamespace | None:
        self._aws.call("cloudmap.find_namespace", name)
        found = next((n for n in self.namespaces.values() if n.name == name), None)
        return self._namespace(found, with_tags) if found else None

    def get_namespace(
        self, namespace_id: str, *, with_tags: bool = True
    ) -> ObservedNamespace | None:
        self._aws.call("cloudmap.get_namespace", namespace_id)
        found = self.namespaces.get(namespace_id)
        return self._namespace(found, with_tags) if found else None

    def list_namespaces(self) -> list[ObservedNamespace]:
        self._aws.call("cloudmap.list_namespaces")
        return [self._namespace(n, False) for n in self.namespaces.values()]

    def owned_namespace(self, owner: Mapping[str, str]) -> ObservedNamespace | None:
        self._aws.call("cloudmap.owned_namespace", dict(owner))
        return next(
            (
                self._namespace(n, True)
                for n in self.namespaces.values()
                if all(self._tags[n.arn].get(k) == v for k, v in owner.items())
            ),
            None,
        )

    def list_services(self, namespace_id: str, *, settled: bool = False) -> list[ObservedService]:
        # No pages here, so every list is settled.
        self._aws.call("cloudmap.list_services", namespace_id)
        return [
            self._service(s, False)
            for s in self.services.values()
            if s.namespace_id == namespace_id
        ]

    def get_service(self, service_id: str) -> ObservedService | None:
        self._aws.call("cloudmap.get_service", service_id)
        found = self.services.get(service_id)
        return self._service(found, True) if found else None

    def get_operation(self, operation_id: str) -> ObservedOperation:
        self._aws.call("cloudmap.get_operation", operation_id)
        op = self.operations.get(operation_id)
        if op is None:
            raise NotFound("GetOperation", "OperationNotFound", operation_id)
        if not op.status.done:
            if op.polls_left > 0:
                op.polls_left -= 1
            elif op.failure is not None:
                op.status = OperationStatus.FAIL
            else:
                op.status = OperationStatus.SUCCESS
                op.apply()
        failed = op.failure if op.status is OperationStatus.FAIL else None
        code, message = failed or (None, None)
        target = "SERVICE" if op.type.endswith("SERVICE") else "NAMESPACE"
        return ObservedOperation(op.id, op.type, op.status, code, message, {target: op.target})

    # Writes --------------------------------------------------------------------------------

    def _submit(self, type_: str, target: str, apply: Callable[[], object]) -> str:
        op = _Operation(
            self._aws.new_id("op"),
            type_,
            target,
            self._aws.pending_polls,
            self._aws.fail_operations.get(type_),
            apply,
        )
        self.operations[op.id] = op
        return op.id

    def create_namespace(self, action: CreateNamespace, creator_request_id: str) -> str:
        self._aws.call("cloudmap.create_namespace", action, creator_request_id)
        earlier = self.operations.get(self._requests.get(creator_request_id, ""))
        if earlier is not None and earlier.status is not OperationStatus.FAIL:
            return earlier.id
        for op_id, pending in self._creating.items():
            if pending.name == action.name and not self.operations[op_id].status.done:
                raise Retryable("CreateNamespace", "DuplicateRequest", op_id)
        taken = next((n for n in self.namespaces.values() if n.name == action.name), None)
        if taken is not None:
            raise Conflict("CreateNamespace", "NamespaceAlreadyExists", taken.id, taken.id)
        ns_id = self._aws.new_id("ns")
        zone = self._aws.new_id("Z") if action.type is not NamespaceType.HTTP else None
        made = ObservedNamespace(
            ns_id,
            self._arn("namespace", ns_id),
            action.name,
            action.type,
            action.description,
            {},
            zone,
        )

        def exists() -> None:
            self.namespaces[ns_id] = made
            self._tags[made.arn] = dict(action.tags)
            if zone is not None:
                self.zones[zone] = frozenset({action.vpc} if action.vpc else ())

        op_id = self._submit("CREATE_NAMESPACE", ns_id, exists)
        self._creating[op_id] = made
        self._requests[creator_request_id] = op_id
        return op_id

    def update_namespace(self, action: UpdateNamespace) -> str:
        self._aws.call("cloudmap.update_namespace", action)

        def changed() -> None:
            found = self.namespaces[action.id]
            self.namespaces[action.id] = replace(found, description=action.description)

        return self._submit("UPDATE_NAMESPACE", action.id, changed)

    def delete_namespace(self, namespace_id: str) -> str:
        self._aws.call("cloudmap.delete_namespace", namespace_id)
        if namespace_id not in self.namespaces:
            raise NotFound("DeleteNamespace", "NamespaceNotFound", namespace_id)
        held = [s.id for s in self.services.values() if s.namespace_id == namespace_id]
        if held:
            raise Retryable("DeleteNamespace", "ResourceInUse", ", ".join(held))
        return self._submit(
            "DELETE_NAMESPACE", namespace_id, lambda: self.namespaces.pop(namespace_id, None)
        )

    def create_service(
        self, action: CreateService, namespace_id: str, creator_request_id: str
    ) -> ObservedService:
        self._aws.call("cloudmap.create_service", action, namespace_id, creator_request_id)
        earlier = self.services.get(self._requests.get(creator_request_id, ""))
        if earlier is not None:
            return self._service(earlier, True)
        if namespace_id not in self.namespaces:
            raise NotFound("CreateService", "NamespaceNotFound", namespace_id)
        for s in self.services.values():
            if s.namespace_id == namespace_id and s.name.lower() == action.name.lower():
                raise Conflict("CreateService", "ServiceAlreadyExists", s.id, s.id)
        made = replace(
            self.add_service(namespace_id, action.name, dns=action.dns, tags=action.tags),
            description=action.description,
            health_check=action.health_check,
        )
        self.services[made.id] = made
        self._requests[creator_request_id] = made.id
        return self._service(made, True)

    def update_service(self, action: UpdateService) -> str:
        self._aws.call("cloudmap.update_service", action)

        def changed() -> None:
            found = self.services[action.id]
            dns = found.dns and replace(found.dns, records=action.records or found.dns.records)
            self.services[action.id] = replace(found, description=action.description, dns=dns)

        return self._submit("UPDATE_SERVICE", action.id, changed)

    def delete_service(self, service_id: str) -> None:
        self._aws.call("cloudmap.delete_service", service_id)
        if service_id not in self.services:
            raise NotFound("DeleteService", "ServiceNotFound", service_id)
        if self.instances.get(service_id):
            raise Retryable("DeleteService", "ResourceInUse", service_id)
        del self.services[service_id]

    def service_attributes(self, service_id: str) -> dict[str, str]:
        self._aws.call("cloudmap.service_attributes", service_id)
        if service_id not in self.services:
            raise NotFound("GetServiceAttributes", "ServiceNotFound", service_id)
        return dict(self.attributes.get(service_id, {}))

    def update_service_attributes(self, service_id: str, attributes: Mapping[str, str]) -> None:
        self._aws.call("cloudmap.update_service_attributes", service_id, dict(attributes))
        self.attributes.setdefault(service_id, {}).update(attributes)

    def delete_service_attributes(self, service_id: str, keys: tuple[str, ...]) -> None:
        self._aws.call("cloudmap.delete_service_attributes", service_id, keys)
        for key in keys:
            self.attributes.get(service_id, {}).pop(key, None)

    def tag(self, arn: str, tags: Mapping[str, str]) -> None:
        self._aws.call("cloudmap.tag", arn, dict(tags))
        self._tags[arn].update(tags)

    def untag(self, arn: str, keys: tuple[str, ...]) -> None:
        self._aws.call("cloudmap.untag", arn, keys)
        for key in keys:
            self._tags[arn].pop(key, None)


class FakeEcs:
    def __init__(self, aws: FakeAws, region: str, cloudmap: FakeCloudMap) -> None:
        self._aws = aws
        self._region = region
        self._cloudmap = cloudmap
        self.services: dict[tuple[str, str], ObservedEcsService] = {}
        self.deployments: dict[str, int] = {}  # ARN -> deployments started (create counts)

    def put_ecs_service(
        self, cluster: str, name: str, *, tags: Mapping[str, str] | None = None, **fields: Any
    ) -> ObservedEcsService:
        """An existing ECS service (awsvpc, one named port `http` on app:8080 unless told)."""
        arn = f"arn:aws:ecs:{self._region}:{ACCOUNT}:service/{cluster}/{name}"
        defaults: dict[str, Any] = {
            "network_mode": "awsvpc",
            "port_mappings": {"http": NamedPort("app", 8080, "http")},
        }
        made = ObservedEcsService(
            arn=arn,
            cluster=f"arn:aws:ecs:{self._region}:{ACCOUNT}:cluster/{cluster}",
            name=name,
            status="ACTIVE",
            deployment_controller="ECS",
            task_definition=f"arn:aws:ecs:{self._region}:{ACCOUNT}:task-definition/{name}:1",
            tags=dict(tags or {}),
            **{**defaults, **fields},
        )
        self.services[(cluster, name)] = made
        self.deployments[arn] = 1
        return made

    def _by_arn(self, arn: str) -> tuple[str, str]:
        return next(key for key, s in self.services.items() if s.arn == arn)

    def describe(
        self, cluster: str, services: Sequence[str]
    ) -> dict[str, ObservedEcsService | None]:
        self._aws.call("ecs.describe", cluster, tuple(services))
        return {name: self.services.get((cluster, name)) for name in services}

    def services_in_namespace(self, namespace: str) -> tuple[str, ...]:
        self._aws.call("ecs.services_in_namespace", namespace)
        found = next(
            (n for n in self._cloudmap.namespaces.values() if namespace in (n.name, n.arn, n.id)),
            None,
        )
        if found is None:
            raise NotFound("ListServicesByNamespace", "NamespaceNotFoundException", namespace)
        aliases = {found.name, found.arn, found.id}
        return tuple(
            s.arn
            for s in self.services.values()
            if s.service_connect is not None and s.service_connect.namespace in aliases
        )

    def update(self, action: UpdateEcsService) -> EcsUpdated:
        self._aws.call("ecs.update", action)
        key = (action.cluster, action.service)
        if key not in self.services:
            raise NotFound("UpdateService", "ServiceNotFoundException", action.service)
        found = self.services[key]
        changes: dict[str, Any] = {}
        if action.set_registries:
            changes["registries"] = action.registries
        if action.set_service_connect:
            sc: ServiceConnect | None = action.service_connect
            changes["service_connect"] = sc if sc is not None and sc.enabled else None
        self.services[key] = replace(found, **changes)
        self.deployments[found.arn] += 1
        return EcsUpdated(found.arn, None)

    def tag(self, arn: str, tags: Mapping[str, str]) -> None:
        self._aws.call("ecs.tag", arn, dict(tags))
        key = self._by_arn(arn)
        found = self.services[key]
        self.services[key] = replace(found, tags={**found.tags, **tags})

    def untag(self, arn: str, keys: Sequence[str]) -> None:
        self._aws.call("ecs.untag", arn, tuple(keys))
        key = self._by_arn(arn)
        found = self.services[key]
        self.services[key] = replace(
            found, tags={k: v for k, v in found.tags.items() if k not in keys}
        )


class FakeTagging:
    def __init__(self, aws: FakeAws, cloudmap: FakeCloudMap) -> None:
        self._aws = aws
        self._cloudmap = cloudmap

    def resources(
        self, resource_types: Iterable[str], tags: Mapping[str, str]
    ) -> dict[str, dict[str, str]]:
        types = set(resource_types)
        self._aws.call("tagging.resources", tuple(sorted(types)), dict(tags))
        arns = [n.arn for n in self._cloudmap.namespaces.values() if NAMESPACE_TYPE in types]
        arns += [s.arn for s in self._cloudmap.services.values() if SERVICE_TYPE in types]
        found = {arn: self._cloudmap.tags_of(arn) for arn in arns}
        return {arn: t for arn, t in found.items() if all(t.get(k) == v for k, v in tags.items())}


class FakeRoute53:
    def __init__(self, aws: FakeAws, cloudmap: FakeCloudMap) -> None:
        self._aws = aws
        self._cloudmap = cloudmap

    def hosted_zone_vpcs(self, hosted_zone_id: str) -> frozenset[str]:
        self._aws.call("route53.hosted_zone_vpcs", hosted_zone_id)
        if hosted_zone_id not in self._cloudmap.zones:
            raise NotFound("GetHostedZone", "NoSuchHostedZone", hosted_zone_id)
        return self._cloudmap.zones[hosted_zone_id]


@dataclass
class _Region:
    cloudmap: FakeCloudMap
    ecs: FakeEcs
    tagging: FakeTagging
    route53: FakeRoute53


class FakeAdapters:
    """sd_operator.aws.api.AwsAdapters in memory: one FakeCloudMap, FakeEcs, FakeTagging and
    FakeRoute53 per region, made on first use; `aws` holds faults and the call log."""

    def __init__(
        self, default_region: str, aws: FakeAws | None = None, account: str = ACCOUNT
    ) -> None:
        self.default_region = default_region
        self.aws = aws or FakeAws()
        self._account = account
        self._regions: dict[str, _Region] = {}

    def _region(self, region: str | None) -> _Region:
        name = region or self.default_region
        if name not in self._regions:
            cm = FakeCloudMap(self.aws, name)
            ecs = FakeEcs(self.aws, name, cm)
            self._regions[name] = _Region(
                cm, ecs, FakeTagging(self.aws, cm), FakeRoute53(self.aws, cm)
            )
        return self._regions[name]

    def cloudmap(self, region: str | None) -> FakeCloudMap:
        return self._region(region).cloudmap

    def ecs(self, region: str | None) -> FakeEcs:
        return self._region(region).ecs

    def tagging(self, region: str | None) -> FakeTagging:
        return self._region(region).tagging

    def account(self, region: str | None) -> str:
        return self._account

    def as_role(self, role: Role) -> FakeAdapters:
        """Another account: its own regions, AWS state, faults and call log."""
        return FakeAdapters(self.default_region, account=role.account)

    def route53(self, region: str | None) -> FakeRoute53:
        return self._region(region).route53
