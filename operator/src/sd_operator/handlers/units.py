"""The handler layer's units, built once: the kopf registrations and the sweep each use the ones
they need."""

from __future__ import annotations

from dataclasses import dataclass

from sd_operator import metrics
from sd_operator.aws.adapters import Adapters
from sd_operator.handlers.claims import Conflicts
from sd_operator.handlers.export_driver import ExportDriver
from sd_operator.handlers.heartbeat import Clock, Heartbeat, wall_clock
from sd_operator.handlers.indexes import LiveIndexes
from sd_operator.handlers.locks import Locks
from sd_operator.handlers.parsed import ParsedResources
from sd_operator.handlers.status_writer import StatusWriter
from sd_operator.handlers.steps import Steps
from sd_operator.handlers.tenancy import Tenancy
from sd_operator.hybrid.exporter import ExportAccount, Exporter
from sd_operator.model.grants import Role
from sd_operator.reconcile.accounts import Accounts
from sd_operator.reconcile.reconciler import Reconciler


@dataclass(frozen=True)
class Units:
    """What the handlers and the sweep share, each unit with one job."""

    accounts: Accounts
    tenancy: Tenancy
    parsed: ParsedResources
    locks: Locks
    heartbeat: Heartbeat
    exports: ExportDriver
    steps: Steps
    live: LiveIndexes

    @property
    def reconciler(self) -> Reconciler:
        """The operator's own credentials' Reconciler."""
        return self.accounts.own

    @classmethod
    def build(
        cls,
        reconciler: Reconciler,
        adapters: Adapters,
        sweep_seconds: float,
        clock: Clock = wall_clock,
        export: bool = True,
    ) -> Units:
        """`reconciler`: the operator's own credentials'; a DiscoveryGrant's role gets its
        own, made from it. `adapters`: the same credentials' adapters, whose Cloud Map one the
        hybrid exporter calls more of (instances) than the reconciler's offer; the export of a
        grant's resources acts through its role as their steps do. `clock`: now, in UTC.
        `export`: off (--no-export), spec.endpoints is refused (export_driver)."""
        accounts = Accounts(reconciler)
        parsed, locks = ParsedResources(), Locks()
        heartbeat = Heartbeat(sweep_seconds, clock)

        def exporting(role: Role | None) -> ExportAccount:
            acting, through = accounts(role), adapters.acting(role)
            return ExportAccount(
                through.cloudmap,
                lambda region, service_id: acting.view.service_tags(
                    region or acting.default_region, service_id
                ),
                through.account,
            )

        exporter = Exporter(reconciler.cluster, exporting)
        live = LiveIndexes()
        tenancy = Tenancy(live, reconciler.default_region)
        exports = ExportDriver(exporter, parsed, locks.lock, export, tenancy.allows, tenancy.role)
        status = StatusWriter(heartbeat, clock)
        conflicts = Conflicts(reconciler.default_region)
        steps = Steps(accounts, locks, conflicts, exports, status, tenancy)
        return cls(accounts, tenancy, parsed, locks, heartbeat, exports, steps, live)

    def forget(self, uid: str) -> None:
        """A resource is gone: drop what each unit keeps of it."""
        self.locks.forget(uid)
        self.parsed.forget(uid)
        self.exports.forget(uid)
        metrics.RESOURCES.forget(uid)
