"""The status of each kind, typed: fields named in Python, the camelCase keys only in
`sd_operator.model.wire`'s mapping, derived from the fields both ways (`status_from_wire`,
`status_to_wire`). The CRDs' status schemas are the wire shape (tests/unit/test_status_types.py
checks the two agree, and round-trips every recorded status in tests/fixtures/status/).

A step changes a status by a `StatusPatch`, a JSON merge patch in typed form: a field left
`UNSET` is not changed, None removes it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any, Final, Literal, TypeVar

from sd_operator.model.wire import camel, decode, encode, nullable

__all__ = [
    "UNSET",
    "DiscoveryStatus",
    "Drift",
    "EcsDeployment",
    "Export",
    "ImportStatus",
    "NamespaceStatus",
    "Operation",
    "Refresh",
    "ServiceConnectResource",
    "Status",
    "StatusCondition",
    "StatusPatch",
    "applied",
    "given",
    "is_heartbeat",
    "patch_to_wire",
    "status_changes",
    "status_from_wire",
    "status_to_wire",
]

TRUE: Final = "True"
FALSE: Final = "False"


@dataclass(frozen=True)
class StatusCondition:
    """One condition as written (metav1.Condition); `model.conditions` derives them."""

    type: str
    status: str
    reason: str | None = None
    message: str | None = None
    last_transition_time: str | None = None
    observed_generation: int | None = None

    @property
    def is_true(self) -> bool:
        return self.status == TRUE


@dataclass(frozen=True)
class Operation:
    """The Cloud Map operation a step submitted and the next one polls."""

    id: str
    type: str | None = None
    submitted_at: str | None = None


@dataclass(frozen=True)
class Drift:
    """One entry of the drift history."""

    field: str
    desired: object = nullable()
    observed: object = nullable()
    detected_at: str | None = None
    action: str | None = None


@dataclass(frozen=True)
class Refresh:
    """The last refresh annotation honoured."""

    requested_at: str | None = None
    honoured_at: str | None = None


@dataclass(frozen=True)
class EcsDeployment:
    """The ECS deployment the operator's last UpdateService started, and its fate as last seen:
    the only memory, across restarts, of a rollout ECS undid (reconcile/deployments.py).
    `generation`: the spec generation it carried; `refresh`: the refresh annotation's value when
    its failure was recorded (a new value resumes corrections)."""

    id: str
    generation: int | None = None
    rollout_state: str | None = None
    reason: str | None = None
    rolled_back_to: str | None = None
    refresh: str | None = None


@dataclass(frozen=True)
class Export:
    """What the hybrid export (spec.endpoints) last did."""

    service: str | None = nullable()
    registered: int | None = None
    unhealthy: int | None = None
    pending: int | None = None
    conflicts: tuple[str, ...] = ()
    last_failure: str | None = None


@dataclass(frozen=True)
class ServiceConnectResource:
    """A Cloud Map service ECS created for Service Connect (deployments[].serviceConnectResources):
    API-only, so its name and ARN are what other tools need."""

    discovery_name: str
    discovery_arn: str | None = None


@dataclass(frozen=True)
class NamespaceStatus:
    """status of a CloudMapNamespace."""

    observed_generation: int | None = None
    conditions: tuple[StatusCondition, ...] = ()
    namespace_id: str | None = None
    namespace_arn: str | None = None
    operation: Operation | None = None
    drift: tuple[Drift, ...] = ()
    creator_request_id: str | None = None
    last_observed_time: str | None = None
    refresh: Refresh | None = None
    account: str | None = None

    def condition(self, type_: str) -> StatusCondition | None:
        return next((c for c in self.conditions if c.type == type_), None)

    def is_true(self, type_: str) -> bool:
        found = self.condition(type_)
        return found is not None and found.is_true


@dataclass(frozen=True)
class DiscoveryStatus(NamespaceStatus):
    """status of a ServiceDiscovery: a namespace's, and what it made in the namespace."""

    service_id: str | None = None
    service_arn: str | None = None
    ecs_service_arn: str | None = None
    service_connect_resources: tuple[ServiceConnectResource, ...] = ()
    endpoints: Export | None = None
    ecs_deployment: EcsDeployment | None = None


@dataclass(frozen=True)
class Dropped:
    """Addresses an import left out, by why (hybrid.imports.address_refusal)."""

    reason: str
    count: int


@dataclass(frozen=True)
class ImportStatus:
    """status of a CloudMapImport."""

    observed_generation: int | None = None
    conditions: tuple[StatusCondition, ...] = ()
    endpoints: int | None = None
    skipped: int | None = None
    dropped: tuple[Dropped, ...] | None = None
    api_only: bool | None = None
    last_refresh_time: str | None = None


Status = NamespaceStatus | DiscoveryStatus | ImportStatus
S = TypeVar("S", bound=NamespaceStatus | ImportStatus)
R = TypeVar("R", bound=NamespaceStatus)


def status_from_wire(document: Mapping[str, Any] | None, cls: type[S]) -> S:
    """A status as stored (None: none yet). A caller that does not know which of the AWS kinds
    it reads asks for DiscoveryStatus, the wider of the two."""
    return decode(cls, document or {})


def status_to_wire(status: Status) -> dict[str, Any]:
    document: dict[str, Any] = encode(status)
    return document


# Changes to a status ---------------------------------------------------------------------------


class _Unset(Enum):
    UNSET = "unset"


UNSET: Final = _Unset.UNSET
Unset = Literal[_Unset.UNSET]
T = TypeVar("T")


def given(value: T | Unset | None) -> T | None:
    """A patch field's value, None if the patch leaves it as it is."""
    return None if value is UNSET else value


@dataclass
class StatusPatch:
    """What a step changes in a CloudMapNamespace's or ServiceDiscovery's status, filled in as
    the step goes: UNSET fields are left as they are, None ones removed."""

    namespace_id: str | Unset | None = UNSET
    namespace_arn: str | Unset | None = UNSET
    service_id: str | Unset | None = UNSET
    service_arn: str | Unset | None = UNSET
    ecs_service_arn: str | Unset | None = UNSET
    service_connect_resources: tuple[ServiceConnectResource, ...] | Unset | None = UNSET
    operation: Operation | Unset | None = UNSET
    creator_request_id: str | Unset | None = UNSET
    last_observed_time: str | Unset | None = UNSET
    drift: tuple[Drift, ...] | Unset = UNSET
    endpoints: Export | Unset | None = UNSET
    refresh: Refresh | Unset | None = UNSET
    account: str | Unset | None = UNSET
    ecs_deployment: EcsDeployment | Unset | None = UNSET

    def update(self, other: StatusPatch) -> None:
        """Take every field `other` sets."""
        for f in dataclasses.fields(other):
            value = getattr(other, f.name)
            if value is not UNSET:
                setattr(self, f.name, value)

    def merged_with(self, other: StatusPatch) -> StatusPatch:
        """A new patch: this one with every field `other` sets taken from `other`."""
        combined = dataclasses.replace(self)
        combined.update(other)
        return combined


def applied(status: R, patch: StatusPatch) -> R:
    """`status` with `patch` applied."""
    defaults = {f.name: f.default for f in dataclasses.fields(status)}
    changes: dict[str, Any] = {}
    for f in dataclasses.fields(patch):
        value = getattr(patch, f.name)
        if value is not UNSET:
            changes[f.name] = defaults[f.name] if value is None else value
    return dataclasses.replace(status, **changes)


def patch_to_wire(patch: StatusPatch) -> dict[str, Any]:
    """The merge patch: set fields as documents, removed ones as null."""
    return {
        camel(f.name): encode(value)
        for f in dataclasses.fields(patch)
        if (value := getattr(patch, f.name)) is not UNSET
    }


def status_changes(before: S, after: S) -> dict[str, Any]:
    """The merge patch that turns `before` into `after`: changed fields as documents, removed
    ones as null."""
    old, new = status_to_wire(before), status_to_wire(after)
    keys = [*new, *(k for k in old if k not in new)]
    return {k: new.get(k) for k in keys if old.get(k) != new.get(k)}


def is_heartbeat(changes: Mapping[str, Any]) -> bool:
    """A status patch that only moves lastObservedTime: it tells nothing new."""
    return changes.keys() == _HEARTBEAT


_HEARTBEAT = frozenset(patch_to_wire(StatusPatch(last_observed_time=None)))
