"""The changes a plan asks for (one dataclass per AWS change) and the plan itself.

Types only: the plan (reconcile/plan.py, ecs_plan.py) makes them, reconcile/execute.py carries
them out through the adapters (aws/), the CLI renders them; none of those has to import another
to share them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import ClassVar

from sd_operator.model.observed import ObservedRegistry
from sd_operator.model.spec import (
    DnsConfig,
    DnsRecord,
    HealthCheck,
    NamespaceType,
    Route53HealthCheck,
    ServiceConnect,
)

# How long a resource Blocked by something outside its spec waits before it looks again.
CONFLICT_RETRY_SECONDS = 60.0


@dataclass(frozen=True)
class Change:
    """One field that differs; `field` is the YAML path under `spec`."""

    field: str
    desired: object
    observed: object


@dataclass(frozen=True)
class Refusal:
    """A change AWS cannot make in place: Terminal until the spec changes."""

    reason: str
    field: str
    message: str


@dataclass(frozen=True)
class Blocked:
    """Something outside the spec stands in the way; retried later without touching AWS.
    `blockers` names what stands in the way, one entry each, where the plan knows them."""

    reason: str
    message: str
    retry_after: float = CONFLICT_RETRY_SECONDS
    blockers: tuple[str, ...] = ()


class Action:
    """Base of every AWS change. `asynchronous` ones return a Cloud Map OperationId."""

    asynchronous: ClassVar[bool] = False

    def summary(self) -> str:
        raise NotImplementedError


@dataclass(frozen=True)
class CreateNamespace(Action):
    asynchronous: ClassVar[bool] = True
    name: str
    type: NamespaceType
    vpc: str | None
    description: str | None
    tags: Mapping[str, str]

    def summary(self) -> str:
        return f"create {self.type} namespace {self.name}"


@dataclass(frozen=True)
class UpdateNamespace(Action):
    asynchronous: ClassVar[bool] = True
    id: str
    name: str
    type: NamespaceType
    description: str | None

    def summary(self) -> str:
        return f"update namespace {self.name} ({self.id}) in place"


@dataclass(frozen=True)
class DeleteNamespace(Action):
    asynchronous: ClassVar[bool] = True
    id: str
    name: str

    def summary(self) -> str:
        return f"delete namespace {self.name} ({self.id})"


@dataclass(frozen=True)
class TagResource(Action):
    arn: str
    tags: Mapping[str, str]

    def summary(self) -> str:
        keys = ", ".join(sorted(self.tags))
        return f"tag {self.arn} with {keys}"


@dataclass(frozen=True)
class UntagResource(Action):
    arn: str
    keys: tuple[str, ...]

    def summary(self) -> str:
        return f"remove tags {', '.join(self.keys)} from {self.arn}"


@dataclass(frozen=True)
class CreateService(Action):
    """`namespace_id` is None only in a CLI plan whose namespace is created earlier in the run."""

    namespace_id: str | None
    namespace_name: str
    name: str
    description: str | None
    dns: DnsConfig | None
    health_check: HealthCheck | None
    tags: Mapping[str, str]

    def summary(self) -> str:
        return f"create service {self.name} in namespace {self.namespace_name}"


@dataclass(frozen=True)
class UpdateService(Action):
    """Carries the full records and health check: what UpdateService omits, AWS removes."""

    asynchronous: ClassVar[bool] = True
    id: str
    name: str
    description: str | None
    records: tuple[DnsRecord, ...]
    route53: Route53HealthCheck | None

    def summary(self) -> str:
        return f"update service {self.name} ({self.id}) in place"


@dataclass(frozen=True)
class UpdateServiceAttributes(Action):
    """Sets these attributes of the service; the others it holds stay as they are."""

    id: str
    name: str
    attributes: Mapping[str, str]

    def summary(self) -> str:
        keys = ", ".join(sorted(self.attributes))
        return f"set attributes {keys} of service {self.name} ({self.id})"


@dataclass(frozen=True)
class DeleteServiceAttributes(Action):
    id: str
    name: str
    keys: tuple[str, ...]

    def summary(self) -> str:
        return f"delete attributes {', '.join(self.keys)} of service {self.name} ({self.id})"


@dataclass(frozen=True)
class DeleteService(Action):
    id: str
    name: str

    def summary(self) -> str:
        return f"delete service {self.name} ({self.id})"


@dataclass(frozen=True)
class Plan:
    actions: tuple[Action, ...] = ()
    changes: tuple[Change, ...] = ()
    refusal: Refusal | None = None
    blocked: Blocked | None = None
    advisories: tuple[str, ...] = ()

    @property
    def in_sync(self) -> bool:
        return not self.actions and self.refusal is None and self.blocked is None

    def then(self, other: Plan) -> Plan:
        """Sequence two plans; a refusal or a block stops whatever would come after it."""
        if self.refusal is not None or self.blocked is not None:
            return Plan(
                changes=self.changes + other.changes,
                refusal=self.refusal,
                blocked=self.blocked,
                advisories=self.advisories + other.advisories,
                actions=self.actions,
            )
        return Plan(
            actions=self.actions + other.actions,
            changes=self.changes + other.changes,
            refusal=other.refusal,
            blocked=other.blocked,
            advisories=self.advisories + other.advisories,
        )


@dataclass(frozen=True)
class UpdateEcsService(Action):
    """One UpdateService call carrying only what differs; never desiredCount.

    `set_registries` / `set_service_connect` say which of the two fields is sent. `registries`
    is sent whole (empty removes them); `service_connect` None disables Service Connect.

    The rest is never sent: what the plan shows as consequences, the task counts
    DescribeServices reported, whether the endpoints other services reach through Service
    Connect change, and which services of the namespace use Service Connect (None: not read).
    """

    cluster: str
    service: str
    set_registries: bool = False
    registries: tuple[ObservedRegistry, ...] = ()
    set_service_connect: bool = False
    service_connect: ServiceConnect | None = None
    tasks_running: int | None = field(default=None, compare=False)
    tasks_desired: int | None = field(default=None, compare=False)
    endpoints_change: bool = field(default=False, compare=False)
    clients: tuple[str, ...] | None = field(default=None, compare=False)
    # The spec generation it carries, remembered with the deployment it starts.
    generation: int | None = field(default=None, compare=False)

    def summary(self) -> str:
        parts = []
        if self.set_service_connect:
            parts.append("service connect" if self.service_connect else "disable service connect")
        if self.set_registries:
            parts.append("registries" if self.registries else "remove registries")
        return (
            f"update ECS service {self.cluster}/{self.service}: {', '.join(parts)} "
            "(starts a new deployment)"
        )
