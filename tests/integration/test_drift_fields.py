"""spec.driftFields against the AWS emulator: an ignored field changed out of band is left
alone (and not shown as drift) while another field of the same Cloud Map service is corrected;
a Report field is recorded, not corrected, and still follows a change of the spec."""

from __future__ import annotations

from typing import Any

import builders
from builders import namespace, namespace_spec
from fake_time import FakeTime
from sd_operator.model import conditions as cond
from sd_operator.model.spec import Resource
from sd_operator.reconcile.reconciler import Reconciler
from sd_operator.reconcile.result import Outcome, merge_status

TTL = "spec.service.dns.records[0].ttl"
NS = namespace_spec()


def discovery(ttl: int = 10, generation: int = 1, **overrides: Any) -> Resource:
    return builders.discovery(
        ttl, generation=generation, description="user accounts API", **overrides
    )


def created(reconciler: Reconciler, res: Resource) -> dict[str, Any]:
    ns = namespace()
    FakeTime().converge(reconciler, ns, None, timeout=30)
    progress = FakeTime().converge(reconciler, res, NS, timeout=30)
    assert progress.last is not None
    assert progress.last.outcome is Outcome.IN_SYNC
    return {
        **progress.status,
        "observedGeneration": res.identity.generation,
        "conditions": [{"type": cond.SYNCED, "status": "True"}],
    }


def settle(reconciler: Reconciler, res: Resource, status: dict[str, Any]) -> dict[str, Any]:
    """Steps as the operator makes them, status carried over (still Synced for this
    generation), until the step no longer waits on a Cloud Map operation."""
    for _ in range(20):
        result = reconciler.step(res, status, namespace=NS)
        status = merge_status(status, result)
        if result.outcome is not Outcome.WAITING:
            return status
    raise AssertionError("did not settle")


def console_edit(sd: Any, service_id: str, ttl: int, description: str) -> None:
    sd.update_service(
        Id=service_id,
        Service={
            "Description": description,
            "DnsConfig": {"DnsRecords": [{"Type": "A", "TTL": ttl}]},
        },
    )


def aws(sd: Any, service_id: str) -> tuple[int, str]:
    service = sd.get_service(Id=service_id)["Service"]
    return service["DnsConfig"]["DnsRecords"][0]["TTL"], service["Description"]


def test_ignored_ttl_is_left_alone_while_the_description_is_corrected(
    reconciler: Reconciler, sd: Any
) -> None:
    res = discovery(drift_ignore=(TTL,))
    status = created(reconciler, res)
    console_edit(sd, status["serviceId"], ttl=300, description="edited in the console")

    result = reconciler.step(res, status, namespace=NS)

    assert [(c.field, c.desired) for c in result.drift] == [
        ("service.description", "user accounts API")
    ]
    assert result.performed == (f"update service user-service ({status['serviceId']}) in place",)
    final = FakeTime().converge(reconciler, res, NS, timeout=30)
    assert final.last is not None
    assert final.last.outcome is Outcome.IN_SYNC
    assert aws(sd, status["serviceId"]) == (300, "user accounts API")
    # Never shown as drift: the next sweep finds nothing.
    again = reconciler.step(res, merge_status(status, result), namespace=NS, from_view=True)
    assert again.outcome is Outcome.IN_SYNC
    assert again.drift == ()


def test_ignored_field_is_not_changed_by_a_spec_change_either(
    reconciler: Reconciler, sd: Any
) -> None:
    status = created(reconciler, discovery(ttl=10, drift_ignore=(TTL,)))
    changed = discovery(ttl=30, generation=2, drift_ignore=(TTL,))
    progress = FakeTime().converge(reconciler, changed, NS, timeout=30)
    assert progress.performed == []
    assert aws(sd, status["serviceId"]) == (10, "user accounts API")


def test_report_field_is_recorded_not_corrected_and_others_are_corrected(
    reconciler: Reconciler, sd: Any
) -> None:
    res = discovery(drift_report=("spec.service.dns.records[*].ttl",))
    status = created(reconciler, res)
    console_edit(sd, status["serviceId"], ttl=300, description="edited in the console")

    result = reconciler.step(res, status, namespace=NS)
    merged = merge_status(status, result)

    actions = {e["field"]: e["action"] for e in merged["drift"]}
    assert actions == {"service.description": "Corrected", "service.dns.records[0].ttl": "Reported"}
    merged = settle(reconciler, res, merged)
    assert aws(sd, status["serviceId"]) == (300, "user accounts API")

    # Later sweeps keep reporting it (once in status.drift), and correct nothing.
    swept = reconciler.step(res, merged, namespace=NS, from_view=True)
    assert swept.outcome is Outcome.DRIFT_REPORTED
    assert swept.performed == ()
    assert len(merge_status(merged, swept)["drift"]) == len(merged["drift"])

    # A change of the spec itself is carried out.
    changed = discovery(ttl=30, generation=2, drift_report=("spec.service.dns.records[*].ttl",))
    FakeTime().converge(reconciler, changed, NS, timeout=30)
    assert aws(sd, status["serviceId"]) == (30, "user accounts API")
