"""A DnsPrivate namespace's vpc against the emulator: it forces a replacement (docs/aws-facts.md,
Replacement: "Fields
that force replacement": Namespace name, type, vpc), and Cloud Map does not return it, so the
reconciler reads it from the namespace's hosted zone (Route 53 GetHostedZone)."""

from __future__ import annotations

from typing import Any

import pytest

import builders
from builders import REGION, VPC, discovery
from fake_time import FakeTime
from sd_devkit.emulator import Emulator
from sd_operator.aws.errors import NotFound
from sd_operator.model import conditions as cond
from sd_operator.model.reasons import REASON_IMMUTABLE
from sd_operator.model.spec import AdoptionPolicy, Identity, NamespaceSpec, NamespaceType, Resource
from sd_operator.reconcile.ownership import OWNER_TAG
from sd_operator.reconcile.reconciler import Reconciler
from sd_operator.reconcile.result import Outcome
from support import ASSOCIATING, mutating_calls

OTHER_VPC = "vpc-0ffeeffeeffeeffee"


def namespace(vpc: str = VPC, **overrides: Any) -> Resource:
    return builders.namespace(vpc=vpc, description=overrides.pop("description", "app"), **overrides)


def apply(reconciler: Reconciler, res: Resource, ns: NamespaceSpec | None = None) -> Any:
    return FakeTime().converge(reconciler, res, ns, timeout=30)


def steady(progress: Any) -> dict[str, Any]:
    return {
        **progress.status,
        "observedGeneration": 1,
        "conditions": [{"type": cond.SYNCED, "status": "True"}],
    }


def test_a_private_namespace_is_in_sync_in_its_vpc(
    emulator: Emulator, reconciler: Reconciler
) -> None:
    progress = apply(reconciler, namespace())
    assert progress.last.outcome is Outcome.IN_SYNC

    seen = reconciler.plan(namespace())

    assert seen.namespace is not None
    assert seen.namespace.vpcs == frozenset({VPC})
    assert seen.plan.in_sync


def test_another_vpc_is_refused_and_nothing_changes_in_aws(
    emulator: Emulator, reconciler: Reconciler, sd: Any
) -> None:
    created = apply(reconciler, namespace())
    ns_id = created.status["namespaceId"]
    emulator.reset_calls()

    plan = reconciler.plan(namespace(OTHER_VPC)).plan
    moved = apply(reconciler, namespace(OTHER_VPC, description="moved"))

    assert plan.refusal is not None
    assert (plan.refusal.reason, plan.refusal.field) == (REASON_IMMUTABLE, "vpc")
    assert plan.actions == ()
    assert moved.last.outcome is Outcome.REFUSED
    assert moved.last.reason == REASON_IMMUTABLE
    assert moved.last.message.startswith("spec.vpc: namespace myapp.local")
    assert f"VPC {VPC}, not {OTHER_VPC}" in moved.last.message
    assert mutating_calls(emulator.calls(), ASSOCIATING) == {}
    held = sd.get_namespace(Id=ns_id)["Namespace"]
    assert held["Description"] == "app"
    assert [n["Id"] for n in sd.list_namespaces(MaxResults=10)["Namespaces"]] == [ns_id]


def test_the_drift_sweeps_account_view_also_sees_the_vpc(
    emulator: Emulator, reconciler: Reconciler
) -> None:
    progress = apply(reconciler, namespace())
    emulator.reset_calls()

    viewed = reconciler.plan(namespace(OTHER_VPC), reader=reconciler.view_reader)
    swept = reconciler.step(namespace(OTHER_VPC), steady(progress), from_view=True)

    assert viewed.plan.refusal is not None
    assert viewed.plan.refusal.field == "vpc"
    assert swept.outcome is Outcome.REFUSED
    assert mutating_calls(emulator.calls(), ASSOCIATING) == {}


def test_adopting_an_unowned_namespace_in_another_vpc_is_refused_and_not_tagged(
    emulator: Emulator, reconciler: Reconciler, sd: Any
) -> None:
    op = sd.create_private_dns_namespace(Name="myapp.local", Vpc=OTHER_VPC)
    ns_id = sd.get_operation(OperationId=op["OperationId"])["Operation"]["Targets"]["NAMESPACE"]
    arn = sd.get_namespace(Id=ns_id)["Namespace"]["Arn"]
    emulator.reset_calls()

    adopted = apply(reconciler, namespace(adoption_policy=AdoptionPolicy.ADOPT))

    assert adopted.last.outcome is Outcome.REFUSED
    assert adopted.last.reason == REASON_IMMUTABLE
    assert f"myapp.local ({ns_id}) is in VPC {OTHER_VPC}, not {VPC}" in adopted.last.message
    assert "exists in another VPC" in adopted.last.message
    assert sd.list_tags_for_resource(ResourceARN=arn)["Tags"] == []
    assert mutating_calls(emulator.calls(), ASSOCIATING) == {}


def test_adopting_an_unowned_namespace_in_the_declared_vpc_tags_it(
    reconciler: Reconciler, sd: Any
) -> None:
    op = sd.create_private_dns_namespace(Name="myapp.local", Vpc=VPC)
    ns_id = sd.get_operation(OperationId=op["OperationId"])["Operation"]["Targets"]["NAMESPACE"]
    arn = sd.get_namespace(Id=ns_id)["Namespace"]["Arn"]

    adopted = apply(reconciler, namespace(adoption_policy=AdoptionPolicy.ADOPT))

    assert adopted.last.outcome is Outcome.IN_SYNC
    tags = {t["Key"]: t["Value"] for t in sd.list_tags_for_resource(ResourceARN=arn)["Tags"]}
    assert tags[OWNER_TAG] == "CloudMapNamespace/payments/myapp"


def test_the_vpc_is_read_once_per_namespace_observation_and_never_for_service_discovery(
    emulator: Emulator, reconciler: Reconciler
) -> None:
    ns = namespace()
    apply(reconciler, ns)
    apply(reconciler, discovery(), ns.spec)  # type: ignore[arg-type]
    emulator.reset_calls()

    reconciler.plan(discovery(), namespace=ns.spec)  # type: ignore[arg-type]
    assert emulator.calls().get("route53:GetHostedZone", 0) == 0

    reconciler.plan(ns)
    reconciler.plan(ns, reader=reconciler.view_reader)
    assert emulator.calls()["route53:GetHostedZone"] == 2


def test_http_namespaces_read_no_hosted_zone(emulator: Emulator, reconciler: Reconciler) -> None:
    http = Resource(
        Identity("CloudMapNamespace", "payments", "web", uid="u-http"),
        NamespaceSpec(name="web", type=NamespaceType.HTTP),
    )
    assert apply(reconciler, http).last.outcome is Outcome.IN_SYNC
    emulator.reset_calls()

    seen = reconciler.plan(http)

    assert seen.plan.in_sync
    assert seen.namespace is not None
    assert seen.namespace.vpcs is None
    assert "route53:GetHostedZone" not in emulator.calls()


def test_an_unknown_hosted_zone_is_not_found(reconciler: Reconciler) -> None:
    with pytest.raises(NotFound) as exc:
        reconciler.adapters.route53(REGION).hosted_zone_vpcs("Z0000000NOSUCHZONE")

    assert exc.value.code == "NoSuchHostedZone"
    assert exc.value.api == "GetHostedZone"
