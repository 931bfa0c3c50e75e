"""Which account the hybrid export acts in, and whose instances it counts there: the role of the
grants selecting the resource's Kubernetes namespace, as its step's (docs/tenancy.md, "Many AWS
accounts"), and in that account only the instances it registered (CreatedByAccount)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from builders import ALLOW_ALL, CLUSTER
from sd_operator.handlers.export_driver import ExportDriver
from sd_operator.handlers.indexes import LiveIndexes
from sd_operator.handlers.locks import Locks
from sd_operator.handlers.parsed import ParsedResources
from sd_operator.handlers.tenancy import Tenancy
from sd_operator.hybrid.export import CLUSTER_ATTRIBUTE, OWNER_ATTRIBUTE
from sd_operator.hybrid.exporter import ExportAccount, Exporter, ExportResult
from sd_operator.model import reasons
from sd_operator.model.grants import Grant, Role, Selection
from sd_operator.model.observed import ObservedInstance
from sd_operator.model.parse import parse_resource
from sd_operator.model.spec import GROUP, VERSION, Identity
from sd_operator.reconcile.ownership import owner_tags
from sd_operator.reconcile.result import Outcome, StepResult

REGION = "us-east-1"
ME, OTHER = "111111111111", "333333333333"
ROLE_A = Role(f"arn:aws:iam::{ME}:role/sd-team-a")
ROLE_B = Role("arn:aws:iam::222222222222:role/sd-team-b")
OWNER = Identity("ServiceDiscovery", "team-a", "pay", uid="uid-pay")


@dataclass
class Instances:
    """The Cloud Map calls the exporter makes, over a list of instances."""

    instances: list[ObservedInstance]
    health_reads: list[str] = field(default_factory=list)
    deregistered: list[str] = field(default_factory=list)

    def list_instances(self, service_id: str) -> list[ObservedInstance]:
        return list(self.instances)

    def instances_health(self, service_id: str) -> dict[str, str]:
        self.health_reads.append(service_id)
        return {i.id: "HEALTHY" for i in self.instances}

    def deregister_instance(self, service_id: str, instance_id: str) -> None:
        """Gone at once (no operation to follow)."""
        self.deregistered.append(instance_id)


def _export_nothing(exporter: Exporter) -> ExportResult:
    """OWNER's export of service srv-1 ("pay") with no endpoint wanted any more."""
    return exporter.sync(
        OWNER,
        None,
        region=REGION,
        service_id="srv-1",
        service_name="pay",
        custom_health=True,
        slices=(),
    )


def _account(cm: Any, account: str = ME) -> ExportAccount:
    return ExportAccount(
        lambda _region: cm, lambda _region, _id: owner_tags(OWNER, CLUSTER), lambda _r: account
    )


def test_instances_another_account_registered_are_neither_counted_nor_health_read() -> None:
    """In a namespace shared through AWS RAM another account may register an instance carrying
    our attributes: it is not ours, whatever they say."""
    attributes = {OWNER_ATTRIBUTE: OWNER.key, CLUSTER_ATTRIBUTE: CLUSTER.name}
    theirs = ObservedInstance("i-1", attributes, created_by_account=OTHER)
    cm = Instances([theirs])
    exporter = Exporter(CLUSTER, lambda _role: _account(cm))

    result = _export_nothing(exporter)

    assert result.summary.registered == 0
    assert (cm.health_reads, cm.deregistered) == ([], [])
    # The same instance registered by our own account is ours: read, and (no endpoint wanted
    # any more) deregistered.
    mine = Instances([replace(theirs, created_by_account=ME)])
    _export_nothing(Exporter(CLUSTER, lambda _role: _account(mine)))
    assert (mine.health_reads, mine.deregistered) == (["srv-1"], ["i-1"])


def _grant(name: str, role: Role | None) -> Grant:
    return replace(ALLOW_ALL, name=name, namespaces=Selection(names=("team-a",)), role=role)


def _driver(*grants: Grant) -> tuple[ExportDriver, list[Role | None]]:
    """The driver as Units.build makes it, and the roles its exporter was asked to act as."""
    live = LiveIndexes(grants={g.name: [g] for g in grants}, namespace_labels={})
    tenancy = Tenancy(live, REGION)
    asked: list[Role | None] = []

    def accounts(role: Role | None) -> ExportAccount:
        asked.append(role)
        return _account(Instances([]), role.account if role else ME)

    driver = ExportDriver(
        Exporter(CLUSTER, accounts), ParsedResources(), Locks().lock, True, role=tenancy.role
    )
    return driver, asked


def _export(driver: ExportDriver) -> StepResult | None:
    res = parse_resource(
        {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "ServiceDiscovery",
            "metadata": {"name": "pay", "namespace": "team-a", "uid": "uid-pay"},
            "spec": {
                "cloudMapNamespace": {"name": "apps"},
                "service": {"name": "pay"},
                "endpoints": {"fromService": {"name": "pay"}},
            },
        }
    )
    return driver.export(res, {"serviceId": "srv-1"}, None, None, None)


def test_the_export_acts_through_the_role_of_the_grants_selecting_its_namespace() -> None:
    driver, asked = _driver(_grant("team-a", ROLE_A))
    assert _export(driver) is not None
    assert asked == [ROLE_A]


def test_grants_naming_different_roles_refuse_the_export_before_any_account_is_used() -> None:
    driver, asked = _driver(_grant("team-a", ROLE_A), _grant("team-a-too", ROLE_B))

    refused = _export(driver)

    assert refused is not None
    assert (refused.outcome, refused.reason) == (Outcome.BLOCKED, reasons.NOT_GRANTED)
    assert "name different AWS roles" in refused.message
    assert asked == []
