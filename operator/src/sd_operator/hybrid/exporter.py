"""Carries out the export of one ServiceDiscovery's endpoints: what the Cloud Map service holds
is read once (ListInstances, on the first sync and on every sweep) and then kept up to date
from our own calls, so an EndpointSlice change costs exactly the calls it needs.

Instance registrations are asynchronous operations like the rest: each one's OperationId is
kept until GetOperation says it is final, and no instance is sent again while its operation is
in flight (AWS answers DuplicateRequest). A restart loses nothing: RegisterInstance is an
upsert and the first sync reads the service again.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum

from sd_operator.aws.cloudmap import CloudMap
from sd_operator.aws.errors import NotFound
from sd_operator.hybrid.export import (
    DesiredInstance,
    ExportPlan,
    Refused,
    SliceView,
    desired_instances,
    endpoints_of,
    owned,
    plan_export,
    registration_attributes,
)
from sd_operator.model import reasons
from sd_operator.model.grants import Role
from sd_operator.model.observed import ObservedInstance, OperationStatus
from sd_operator.model.redact import redact_arns
from sd_operator.model.spec import ClusterIdentity, EndpointsSpec, Identity
from sd_operator.model.status import Export
from sd_operator.reconcile.ownership import Ownership, ownership

# (region, service id) -> the Cloud Map service's tags, None when there is no such service.
ServiceTags = Callable[[str | None, str], Mapping[str, str] | None]


@dataclass(frozen=True)
class ExportAccount:
    """The AWS account an export acts in (the operator's own, or a grant's role's): its Cloud
    Map adapter per region, its services' tags, and its account id per region (None: not
    known). In a namespace shared through AWS RAM, instances another account registered are
    not ours whatever their attributes say: only the id tells."""

    cloudmap: Callable[[str | None], CloudMap]
    service_tags: ServiceTags
    account: Callable[[str | None], str] | None = None

    def id_in(self, region: str | None) -> str | None:
        return self.account(region) if self.account is not None else None


class ExportOutcome(StrEnum):
    IN_SYNC = reasons.IN_SYNC
    PENDING = reasons.PENDING
    REFUSED = reasons.REFUSED


@dataclass(frozen=True)
class ExportResult:
    outcome: ExportOutcome
    summary: Export = field(default_factory=Export)
    performed: tuple[str, ...] = ()
    message: str = ""
    reason: str = ""
    calls: int = 0


@dataclass
class _Pending:
    operation_id: str
    want: DesiredInstance | None  # None: a deregistration


@dataclass
class _State:
    service_id: str
    known: dict[str, ObservedInstance] = field(default_factory=dict)
    pending: dict[str, _Pending] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)


class Exporter:
    """One per operator; state per ServiceDiscovery uid. Callers serialise calls for one
    resource (the handlers' per-object lock)."""

    def __init__(
        self, cluster: ClusterIdentity, accounts: Callable[[Role | None], ExportAccount]
    ) -> None:
        """`accounts`: the account a role acts in (None: the operator's own credentials),
        chosen as the reconciler's is, so a resource's instances go where its service is."""
        self.cluster = cluster
        self._accounts = accounts
        self._states: dict[str, _State] = {}
        self._guard = threading.Lock()

    def forget(self, uid: str) -> None:
        with self._guard:
            self._states.pop(uid, None)

    def _state(
        self,
        owner: Identity,
        service_id: str,
        cm: CloudMap,
        refresh: bool,
        custom_health: bool,
        account: str | None,
    ) -> _State:
        with self._guard:
            state = self._states.get(owner.uid)
        if state is None or state.service_id != service_id or refresh:
            pending = state.pending if state and state.service_id == service_id else {}
            state = _State(service_id, pending=pending)
            state.known = {i.id: i for i in cm.list_instances(service_id)}
            if custom_health and any(
                owned(i, owner, self.cluster, account) for i in state.known.values()
            ):
                health = cm.instances_health(service_id)
                for iid, inst in state.known.items():
                    if iid in health:
                        state.known[iid] = replace(inst, healthy=health[iid] != "UNHEALTHY")
            with self._guard:
                self._states[owner.uid] = state
        return state

    def sync(
        self,
        owner: Identity,
        spec: EndpointsSpec | None,
        *,
        region: str | None,
        service_id: str,
        service_name: str,
        custom_health: bool,
        slices: Iterable[SliceView],
        refresh: bool = False,
        role: Role | None = None,
    ) -> ExportResult:
        """Make the service's instances owned by `owner` equal to the Service's endpoints
        (none when `spec` is None: a removed spec.endpoints, or a deletion). Nothing is
        registered into a service that is not this resource's: `service_id` comes from its
        status, which is not proof of ownership. `role`: the one the resource acts through
        (None: the operator's own credentials)."""
        where = self._accounts(role)
        refused = self._not_ours(where, owner, region, service_id)
        if refused is not None:
            return refused
        cm = where.cloudmap(region)
        account = where.id_in(region)
        state = self._state(owner, service_id, cm, refresh, custom_health, account)
        calls = self._poll(cm, state)
        desired: dict[str, DesiredInstance] = {}
        if spec is not None:
            found = endpoints_of(slices, spec.service, spec.port)
            if isinstance(found, Refused):
                return self._refused(found, calls)
            wanted = desired_instances(
                found,
                owner=owner,
                cluster=self.cluster,
                service=spec.service,
                custom_health=custom_health,
                extra_attributes=spec.attributes,
            )
            if isinstance(wanted, Refused):
                return self._refused(wanted, calls)
            desired = wanted
        settled = [i for iid, i in state.known.items() if iid not in state.pending]
        plan = plan_export(
            {k: v for k, v in desired.items() if k not in state.pending},
            settled,
            owner=owner,
            cluster=self.cluster,
            custom_health=custom_health,
            account=account,
        )
        _carry_out(plan, cm, service_id, state, custom_health)
        calls += plan.calls
        performed = _describe(plan.register, plan.deregister, plan.set_health, service_name)
        calls += self._poll(cm, state)
        return self._result(owner, spec, state, plan, performed, calls, account)

    def _result(
        self,
        owner: Identity,
        spec: EndpointsSpec | None,
        state: _State,
        plan: ExportPlan,
        performed: tuple[str, ...],
        calls: int,
        account: str | None,
    ) -> ExportResult:
        """The export's status and message, once its plan was carried out."""
        ours = [i for i in state.known.values() if owned(i, owner, self.cluster, account)]
        failures, state.failures = state.failures, []
        summary = Export(
            service=spec.service if spec else None,
            registered=len(ours),
            unhealthy=sum(1 for i in ours if i.healthy is False),
            pending=len(state.pending),
            conflicts=tuple(plan.conflicts),
            last_failure=failures[-1] if failures else None,
        )
        outcome = ExportOutcome.PENDING if state.pending else ExportOutcome.IN_SYNC
        message = f"{len(state.pending)} instance operation(s) in flight" if state.pending else ""
        if plan.conflicts:
            message = (
                f"instance id(s) {', '.join(plan.conflicts)} are registered by another writer "
                "and left alone"
            )
        return ExportResult(outcome, summary, performed, message, calls=calls)

    def _poll(self, cm: CloudMap, state: _State) -> int:
        """GetOperation for every registration in flight; a final one updates what we know."""
        calls = 0
        for iid, pending in list(state.pending.items()):
            calls += 1
            try:
                op = cm.get_operation(pending.operation_id)
            except NotFound:
                del state.pending[iid]  # forgotten by AWS: the next read tells
                continue
            if not op.status.done:
                continue
            del state.pending[iid]
            if op.status is OperationStatus.FAIL:
                # status.export.lastFailure is read by the tenant: AWS's text masked (redaction.md)
                failed = f"{op.type} {iid}: {op.error_code}: {op.error_message}"
                state.failures.append(redact_arns(failed))
            elif pending.want is None:
                state.known.pop(iid, None)
            else:
                state.known[iid] = ObservedInstance(
                    iid, dict(pending.want.attributes), pending.want.healthy
                )
        return calls

    def _not_ours(
        self, where: ExportAccount, owner: Identity, region: str | None, service_id: str
    ) -> ExportResult | None:
        tags = where.service_tags(region, service_id)
        if tags is None:
            return ExportResult(
                ExportOutcome.REFUSED,
                message=f"Cloud Map service {service_id} (status.serviceId) does not exist: "
                "no instance is registered",
                reason=reasons.SERVICE_NOT_FOUND,
            )
        if ownership(tags, owner, self.cluster) is Ownership.OURS:
            return None
        return ExportResult(
            ExportOutcome.REFUSED,
            # Who does own it is not said: status.serviceId may name any service of the account.
            message=f"Cloud Map service {service_id} (status.serviceId) does not carry this "
            "resource's owner tags: no instance is registered",
            reason=reasons.REASON_OWNED_ELSEWHERE,
        )

    @staticmethod
    def _refused(refused: Refused, calls: int) -> ExportResult:
        return ExportResult(
            ExportOutcome.REFUSED,
            message=f"spec.{refused.field}: {refused.message}",
            reason=reasons.ENDPOINTS_REFUSED,
            calls=calls,
        )


def _describe(
    register: tuple[DesiredInstance, ...],
    deregister: tuple[str, ...],
    set_health: tuple[tuple[str, bool], ...],
    service: str,
) -> tuple[str, ...]:
    lines = []
    if register:
        lines.append(f"registered {len(register)} instance(s) in Cloud Map service {service}")
    if deregister:
        lines.append(f"deregistered {len(deregister)} instance(s) from Cloud Map service {service}")
    if set_health:
        lines.append(
            f"changed the custom health status of {len(set_health)} instance(s) of {service}"
        )
    return tuple(lines)


def _carry_out(
    plan: ExportPlan, cm: CloudMap, service_id: str, state: _State, custom_health: bool
) -> None:
    """Send the plan's calls; what AWS answers with an operation waits in `state.pending`."""
    for want in plan.register:
        attributes = registration_attributes(want, custom_health)
        op = cm.register_instance(service_id, want.id, attributes)
        state.pending[want.id] = _Pending(op, want)
    for iid in plan.deregister:
        gone = cm.deregister_instance(service_id, iid)
        if gone is None:
            state.known.pop(iid, None)
        else:
            state.pending[iid] = _Pending(gone, None)
    for iid, healthy in plan.set_health:
        cm.set_instance_health(service_id, iid, healthy)
        state.known[iid] = replace(state.known[iid], healthy=healthy)
