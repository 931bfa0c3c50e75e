"""spec.service.attributes against the AWS emulator: attributes are created and corrected, each
reported or left per spec.driftFields; an attribute someone else set is left alone; a key
removed from the spec is deleted; the sweep reads attributes only of services that have some,
each once every ATTRIBUTE_SWEEPS sweeps."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from test_drift_fields import created

import builders
from builders import REGION, namespace_spec
from fake_time import FakeTime
from sd_devkit.emulator import Emulator
from sd_operator.model.spec import Resource, ServiceDiscoverySpec
from sd_operator.reconcile.reader import ATTRIBUTE_SWEEPS
from sd_operator.reconcile.reconciler import Reconciler
from sd_operator.reconcile.result import Outcome, merge_status

NS = namespace_spec()
GET = "servicediscovery:GetServiceAttributes"
UPDATE = "servicediscovery:UpdateServiceAttributes"


def discovery(attributes: dict[str, str], generation: int = 1, **overrides: Any) -> Resource:
    res = builders.discovery(generation=generation, **overrides)
    assert isinstance(res.spec, ServiceDiscoverySpec)
    assert res.spec.service is not None
    service = replace(res.spec.service, attributes=attributes)
    return replace(res, spec=replace(res.spec, service=service))


def settled(reconciler: Reconciler, res: Resource) -> None:
    progress = FakeTime().converge(reconciler, res, NS, timeout=30)
    assert progress.last is not None
    assert progress.last.outcome is Outcome.IN_SYNC


def held(sd: Any, service_id: str) -> dict[str, str]:
    return dict(sd.get_service_attributes(ServiceId=service_id)["ServiceAttributes"]["Attributes"])


def test_attributes_are_created_and_a_foreign_one_is_left_alone(
    reconciler: Reconciler, sd: Any
) -> None:
    res = discovery({"stage": "prod", "owner": "payments"})
    status = created(reconciler, res)
    service_id = status["serviceId"]
    assert held(sd, service_id) == {"stage": "prod", "owner": "payments"}

    sd.update_service_attributes(ServiceId=service_id, Attributes={"apigw-route": "/users"})
    again = reconciler.step(res, status, namespace=NS)

    assert again.outcome is Outcome.IN_SYNC
    assert again.performed == ()
    assert held(sd, service_id)["apigw-route"] == "/users"


def test_attribute_changed_out_of_band_is_corrected_as_drift(
    reconciler: Reconciler, sd: Any
) -> None:
    res = discovery({"stage": "prod"})
    status = created(reconciler, res)
    sd.update_service_attributes(ServiceId=status["serviceId"], Attributes={"stage": "dev"})

    result = reconciler.step(res, status, namespace=NS)

    assert [(c.field, c.desired, c.observed) for c in result.drift] == [
        ("service.attributes.stage", "prod", "dev")
    ]
    assert held(sd, status["serviceId"]) == {"stage": "prod"}
    entries = merge_status(status, result)["drift"]
    assert [(e["field"], e["action"]) for e in entries] == [
        ("service.attributes.stage", "Corrected")
    ]


def test_report_attribute_is_recorded_while_another_is_corrected(
    reconciler: Reconciler, sd: Any
) -> None:
    report = ("spec.service.attributes.stage",)
    res = discovery({"stage": "prod", "owner": "payments"}, drift_report=report)
    status = created(reconciler, res)
    edits = {"stage": "dev", "owner": "someone"}
    sd.update_service_attributes(ServiceId=status["serviceId"], Attributes=edits)

    result = reconciler.step(res, status, namespace=NS)

    entries = {e["field"]: e["action"] for e in merge_status(status, result)["drift"]}
    assert entries == {
        "service.attributes.stage": "Reported",
        "service.attributes.owner": "Corrected",
    }
    assert held(sd, status["serviceId"]) == {"stage": "dev", "owner": "payments"}


def test_removing_a_declared_key_deletes_it_and_nothing_else(
    reconciler: Reconciler, sd: Any
) -> None:
    status = created(reconciler, discovery({"stage": "prod", "owner": "payments"}))
    service_id = status["serviceId"]
    sd.update_service_attributes(ServiceId=service_id, Attributes={"apigw-route": "/users"})

    settled(reconciler, discovery({"stage": "prod"}, generation=2))
    assert held(sd, service_id) == {"stage": "prod", "apigw-route": "/users"}

    settled(reconciler, discovery({}, generation=3))
    assert held(sd, service_id) == {"apigw-route": "/users"}
    tags = sd.list_tags_for_resource(ResourceARN=status["serviceArn"])["Tags"]
    assert "sd-operator.io/attributes" not in {t["Key"] for t in tags}


def _sweep(reconciler: Reconciler, swept: list[tuple[Resource, dict[str, Any]]]) -> None:
    """One drift sweep: the account read again, then a step of each resource from that view."""
    reconciler.view.refresh(REGION)
    for i, (res, status) in enumerate(swept):
        result = reconciler.step(res, status, namespace=NS, from_view=True)
        swept[i] = (res, merge_status(status, result))


def test_sweep_reads_attributes_once_per_turn_and_corrects_within_it(
    reconciler: Reconciler, sd: Any, emulator: Emulator
) -> None:
    plain = builders.discovery(name="plain-service", uid="u-plain")
    res = discovery({"stage": "prod"})
    swept = [(plain, created(reconciler, plain)), (res, created(reconciler, res))]
    service_id = swept[1][1]["serviceId"]
    emulator.reset_calls()

    for _ in range(ATTRIBUTE_SWEEPS):
        _sweep(reconciler, swept)
    # One read in ATTRIBUTE_SWEEPS sweeps, of the service that declares attributes only.
    assert emulator.calls().get(GET, 0) == 1

    sd.update_service_attributes(ServiceId=service_id, Attributes={"stage": "dev"})
    emulator.reset_calls()
    for _ in range(ATTRIBUTE_SWEEPS):
        _sweep(reconciler, swept)
    assert held(sd, service_id) == {"stage": "prod"}
    assert emulator.calls().get(UPDATE, 0) == 1
