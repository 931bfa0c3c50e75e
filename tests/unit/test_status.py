"""Conditions derived from a step's outcome, merged over time, and the drift history."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sd_operator.model import conditions as cond
from sd_operator.model.actions import Change, Plan
from sd_operator.model.conditions import Condition, find, is_true, merge
from sd_operator.model.status import StatusPatch
from sd_operator.reconcile.result import DRIFT_HISTORY, Outcome, StepResult, merge_status
from sd_operator.reconcile.status import STALLING_BLOCKS, Derived, derive, derive_teardown

T0 = "2024-05-01T10:00:00Z"
T1 = "2024-05-01T10:05:00Z"
TTL_DRIFT = Change("service.dns.records[0].ttl", 60, 300)


def by_type(conditions: list[Condition]) -> dict[str, Condition]:
    return {c.type: c for c in conditions}


def derived(
    outcome: Outcome,
    previous: dict[str, Any] | None = None,
    *,
    generation: int = 1,
    deleting: bool = False,
    **fields: Any,
) -> Derived:
    rules = derive_teardown if deleting else derive
    return rules(StepResult(outcome, **fields), previous or {}, generation)


def step(
    outcome: Outcome, previous: dict[str, Any] | None = None, **fields: Any
) -> dict[str, Condition]:
    return by_type(derived(outcome, previous, **fields).conditions)


def as_status(conditions: dict[str, Condition], now: str = T0) -> dict[str, Any]:
    return {"conditions": merge(None, list(conditions.values()), 1, now)}


def written(result: Derived, generation: int = 1, previous: dict[str, Any] | None = None) -> Any:
    """The status the handler writes from `result` over `previous`."""
    status = {**(previous or {}), "conditions": merge(None, result.conditions, generation, T0)}
    if result.observed_generation is not None:
        status["observedGeneration"] = result.observed_generation
    return status


# merge -----------------------------------------------------------------------------------------


def test_first_merge_stamps_every_condition_with_now() -> None:
    merged = merge(None, [Condition(cond.READY, True, "Available")], 3, T0)

    assert merged == [
        {
            "type": "Ready",
            "status": "True",
            "reason": "Available",
            "message": "",
            "lastTransitionTime": T0,
            "observedGeneration": 3,
        }
    ]


def test_unchanged_status_keeps_its_last_transition_time() -> None:
    before = merge(None, [Condition(cond.SYNCED, True, "InSync")], 1, T0)

    after = merge(before, [Condition(cond.SYNCED, True, "InSync", "new message")], 2, T1)

    assert after[0]["lastTransitionTime"] == T0
    assert after[0]["message"] == "new message"
    assert after[0]["observedGeneration"] == 2


def test_reason_change_without_a_flip_keeps_the_transition_time() -> None:
    before = merge(None, [Condition(cond.SYNCED, False, "OperationPending")], 1, T0)

    after = merge(before, [Condition(cond.SYNCED, False, "ThrottlingException")], 1, T1)

    assert after[0]["lastTransitionTime"] == T0
    assert after[0]["reason"] == "ThrottlingException"


def test_status_flip_moves_the_last_transition_time() -> None:
    before = merge(None, [Condition(cond.SYNCED, False, "OperationPending")], 1, T0)

    after = merge(before, [Condition(cond.SYNCED, True, "InSync")], 1, T1)

    assert after[0]["status"] == "True"
    assert after[0]["lastTransitionTime"] == T1


def test_previous_condition_without_a_time_gets_now() -> None:
    before = [{"type": "Ready", "status": "True", "reason": "Available"}]

    after = merge(before, [Condition(cond.READY, True, "Available")], 1, T1)

    assert after[0]["lastTransitionTime"] == T1


def test_merged_conditions_come_in_a_fixed_order() -> None:
    current = [
        Condition(cond.ADVISORY, False, "None"),
        Condition(cond.TERMINAL, False, "None"),
        Condition(cond.READY, True, "Available"),
        Condition(cond.DRIFTED, False, "NoDrift"),
        Condition(cond.STALLED, False, "None"),
        Condition(cond.SYNCED, True, "InSync"),
        Condition(cond.RECONCILING, False, "None"),
    ]

    merged = merge(None, current, 1, T0)

    assert [c["type"] for c in merged] == [
        "Ready",
        "Synced",
        "Reconciling",
        "Stalled",
        "Drifted",
        "Terminal",
        "Advisory",
    ]


@given(before=st.booleans(), after=st.booleans())
def test_transition_time_moves_iff_status_flips(before: bool, after: bool) -> None:
    first = merge(None, [Condition(cond.READY, before, "r")], 1, T0)

    second = merge(first, [Condition(cond.READY, after, "r")], 1, T1)

    assert second[0]["lastTransitionTime"] == (T1 if before != after else T0)


def test_find_and_is_true_read_conditions_by_type() -> None:
    conditions = merge(
        None, [Condition(cond.READY, True, "a"), Condition(cond.SYNCED, False, "b")], 1, T0
    )

    assert find(conditions, "Synced") is conditions[1]
    assert find(None, "Ready") is None
    assert is_true(conditions, "Ready")
    assert not is_true(conditions, "Synced")
    assert not is_true(conditions, "Terminal")


# derive ----------------------------------------------------------------------------------------


def test_in_sync_is_ready_for_this_generation() -> None:
    result = derived(Outcome.IN_SYNC, generation=4)
    got = by_type(result.conditions)

    assert got[cond.READY] == Condition(cond.READY, True, "InSync", "AWS matches generation 4")
    assert got[cond.SYNCED] == Condition(cond.SYNCED, True, "InSync", "AWS matches the spec")
    assert got[cond.RECONCILING] == Condition(cond.RECONCILING, False, "None", "")
    assert got[cond.STALLED] == Condition(cond.STALLED, False, "None", "")
    assert got[cond.TERMINAL] == Condition(cond.TERMINAL, False, "None", "")
    assert got[cond.DRIFTED] == Condition(cond.DRIFTED, False, "NoDrift", "")
    assert got[cond.ADVISORY] == Condition(cond.ADVISORY, False, "None", "")
    assert result.observed_generation == 4


@pytest.mark.parametrize("outcome", list(Outcome))
def test_derive_gives_every_condition_once(outcome: Outcome) -> None:
    conditions = derived(outcome, reason="R").conditions

    assert sorted(c.type for c in conditions) == sorted(cond.ORDER)


def test_refused_update_is_stalled_not_ready() -> None:
    """Issue 7: a refused update read Ready=True, Terminal=True (kstatus: Current)."""
    result = derived(
        Outcome.REFUSED, generation=2, reason="ImmutableField", message="type cannot change"
    )
    got = by_type(result.conditions)

    assert got[cond.TERMINAL] == Condition(
        cond.TERMINAL, True, "ImmutableField", "type cannot change"
    )
    assert got[cond.STALLED] == Condition(
        cond.STALLED, True, "ImmutableField", "type cannot change"
    )
    assert got[cond.READY] == Condition(cond.READY, False, "ImmutableField", "type cannot change")
    assert got[cond.SYNCED] == Condition(cond.SYNCED, False, "ImmutableField", "type cannot change")
    assert not got[cond.RECONCILING].status
    # finished with: a stale observedGeneration would read "in progress", never "failed"
    assert result.observed_generation == 2


def test_failed_operation_is_terminal_and_stalled() -> None:
    got = step(Outcome.FAILED, reason="CANNOT_CREATE_HOSTED_ZONE", message="failed")

    assert got[cond.TERMINAL].status
    assert got[cond.TERMINAL].reason == "CANNOT_CREATE_HOSTED_ZONE"
    assert got[cond.STALLED].status
    assert not got[cond.READY].status


@pytest.mark.parametrize("outcome", [Outcome.WAITING, Outcome.ERROR, Outcome.BLOCKED])
def test_work_in_flight_is_reconciling_and_keeps_the_observed_generation(
    outcome: Outcome,
) -> None:
    result = derived(outcome, generation=2, reason="OperationPending", message="m")
    got = by_type(result.conditions)

    assert got[cond.RECONCILING] == Condition(cond.RECONCILING, True, "OperationPending", "m")
    assert not got[cond.STALLED].status
    assert not got[cond.TERMINAL].status
    assert not got[cond.SYNCED].status
    assert got[cond.READY] == Condition(cond.READY, False, "OperationPending", "m")
    assert result.observed_generation is None


def test_pending_generation_is_not_observed_until_it_is_in_aws() -> None:
    """Issue 7: a spec change still pending (generation 2, Synced=False) read as Current:
    observedGeneration was set to 2 and Ready stayed True after the first step."""
    done = written(derived(Outcome.IN_SYNC, generation=1), 1)

    pending = derived(Outcome.WAITING, done, generation=2, reason="OperationPending")
    status = written(pending, 2, done)

    assert status["observedGeneration"] == 1
    assert is_true(status["conditions"], cond.RECONCILING)
    assert not is_true(status["conditions"], cond.READY)

    finished = written(derived(Outcome.IN_SYNC, status, generation=2), 2, status)
    assert finished["observedGeneration"] == 2
    assert is_true(finished["conditions"], cond.READY)
    assert not is_true(finished["conditions"], cond.RECONCILING)


@pytest.mark.parametrize("reason", sorted(STALLING_BLOCKS))
def test_blocked_by_someone_else_is_stalled(reason: str) -> None:
    """Issue 7: a resource someone else owns (OwnedElsewhere) was InProgress for ever; it
    cannot progress until a person acts, so it is Stalled (kstatus: Failed)."""
    result = derived(Outcome.BLOCKED, generation=3, reason=reason, message="theirs")
    got = by_type(result.conditions)

    assert got[cond.STALLED] == Condition(cond.STALLED, True, reason, "theirs")
    assert got[cond.READY] == Condition(cond.READY, False, reason, "theirs")
    assert not got[cond.RECONCILING].status
    assert not got[cond.TERMINAL].status
    assert result.observed_generation == 3


@pytest.mark.parametrize(
    "reason", ["NamespaceNotFound", "NamespaceNotOwned", "EcsServiceNotFound", "ServiceInUse"]
)
def test_blocked_on_something_on_its_way_is_reconciling(reason: str) -> None:
    got = step(Outcome.BLOCKED, reason=reason, message="waiting")

    assert got[cond.RECONCILING].status
    assert not got[cond.STALLED].status


def test_resource_not_created_yet_is_not_ready() -> None:
    got = step(Outcome.WAITING)

    assert got[cond.READY] == Condition(cond.READY, False, "Waiting", "not in AWS yet")


def test_retried_error_keeps_a_finished_generations_verdict() -> None:
    """A throttled sweep tells nothing new about AWS: health must not flap."""
    done = written(derived(Outcome.IN_SYNC, generation=2), 2)

    result = derived(
        Outcome.ERROR, done, generation=2, reason="ThrottlingException", message="slow down"
    )
    got = by_type(result.conditions)

    assert got[cond.READY] == Condition(cond.READY, True, "InSync", "AWS matches generation 2")
    assert not got[cond.RECONCILING].status
    assert not got[cond.STALLED].status
    assert got[cond.SYNCED] == Condition(cond.SYNCED, False, "ThrottlingException", "slow down")
    assert result.observed_generation == 2


def test_retried_error_keeps_a_stalled_verdict() -> None:
    refused = written(derived(Outcome.REFUSED, generation=2, reason="ImmutableField"), 2)

    got = step(Outcome.ERROR, refused, generation=2, reason="ThrottlingException")

    assert got[cond.STALLED] == Condition(cond.STALLED, True, "ImmutableField", "")
    assert got[cond.TERMINAL].status
    assert not got[cond.READY].status


@pytest.mark.parametrize(
    ("previous_generation", "reconciling"), [(1, False), (2, True)], ids=["older", "in-flight"]
)
def test_retried_error_before_a_verdict_is_in_flight(
    previous_generation: int, reconciling: bool
) -> None:
    before = written(
        derived(
            Outcome.WAITING if reconciling else Outcome.IN_SYNC, generation=previous_generation
        ),
        previous_generation,
    )
    before["observedGeneration"] = previous_generation

    result = derived(Outcome.ERROR, before, generation=2, reason="ThrottlingException")

    assert is_true(written(result, 2)["conditions"], cond.RECONCILING)
    assert result.observed_generation is None


def test_retried_error_while_correcting_drift_is_in_flight() -> None:
    done = written(derived(Outcome.IN_SYNC, generation=1), 1)

    got = step(Outcome.ERROR, done, reason="ThrottlingException", drift=(TTL_DRIFT,))

    assert got[cond.RECONCILING].status
    assert not got[cond.READY].status


def test_status_written_before_these_conditions_existed_is_not_kept() -> None:
    old = {
        "observedGeneration": 1,
        "conditions": [{"type": "Ready", "status": "True", "reason": "Available"}],
    }

    got = step(Outcome.ERROR, old, reason="ThrottlingException")

    assert got[cond.RECONCILING].status


def test_deleting_is_not_ready() -> None:
    got = step(Outcome.WAITING, deleting=True, reason="OperationPending", message="deleting")

    assert got[cond.READY] == Condition(cond.READY, False, "Deleting", "deleting")
    assert got[cond.RECONCILING].status


@given(
    outcome=st.sampled_from(list(Outcome)),
    reason=st.sampled_from(["OwnedElsewhere", "AlreadyExists", "NamespaceNotFound", "X", ""]),
    before=st.sampled_from(list(Outcome)),
    same_generation=st.booleans(),
    deleting=st.booleans(),
)
def test_exactly_one_phase_is_reported(
    outcome: Outcome, reason: str, before: Outcome, same_generation: bool, deleting: bool
) -> None:
    """Ready, Reconciling and Stalled are exclusive: kstatus takes the first true one it meets."""
    previous = written(derived(before, reason="AlreadyExists"), 1 if same_generation else 0)
    previous["observedGeneration"] = 1 if same_generation else 0

    result = derived(outcome, previous, reason=reason, deleting=deleting)
    got = by_type(result.conditions)

    phases = [got[t].status for t in (cond.READY, cond.RECONCILING, cond.STALLED)]
    assert phases.count(True) == 1, got
    assert (result.observed_generation is None) == got[cond.RECONCILING].status


def test_synced_reason_falls_back_to_the_outcome() -> None:
    assert step(Outcome.WAITING)[cond.SYNCED].reason == "Waiting"


def test_correcting_drift_is_drifted_true_then_corrected_once_in_sync() -> None:
    waiting = step(Outcome.WAITING, drift=(TTL_DRIFT,), reason="OperationPending")

    assert waiting[cond.DRIFTED].status
    assert waiting[cond.DRIFTED].reason == "Correcting"
    assert "service.dns.records[0].ttl" in waiting[cond.DRIFTED].message

    done = step(Outcome.IN_SYNC, as_status(waiting))

    assert not done[cond.DRIFTED].status
    assert done[cond.DRIFTED].reason == "Corrected"
    assert "service.dns.records[0].ttl" in done[cond.DRIFTED].message
    assert "changed outside" not in done[cond.DRIFTED].message


def test_drift_stays_correcting_while_the_operation_is_pending() -> None:
    waiting = step(Outcome.WAITING, drift=(TTL_DRIFT,))

    still = step(Outcome.WAITING, as_status(waiting))

    assert still[cond.DRIFTED] == waiting[cond.DRIFTED]


def test_drift_corrected_in_one_step_is_reported_as_corrected() -> None:
    got = step(Outcome.IN_SYNC, drift=(TTL_DRIFT,))

    assert got[cond.DRIFTED] == Condition(
        cond.DRIFTED, False, "Corrected", "corrected: service.dns.records[0].ttl"
    )
    assert got[cond.SYNCED].status


def test_corrected_stays_corrected_on_later_in_sync_steps() -> None:
    corrected = step(Outcome.IN_SYNC, drift=(TTL_DRIFT,))

    later = step(Outcome.IN_SYNC, as_status(corrected))

    assert later[cond.DRIFTED] == corrected[cond.DRIFTED]


def test_reported_drift_is_drifted_and_not_synced() -> None:
    """driftPolicy: Report leaves AWS different from the spec until a person acts: Stalled."""
    got = step(
        Outcome.DRIFT_REPORTED,
        drift=(TTL_DRIFT,),
        reason="DriftReported",
        message="service.dns.records[0].ttl: desired 60, observed 300",
    )

    assert got[cond.DRIFTED].status
    assert got[cond.DRIFTED].reason == "DriftReported"
    assert "not corrected" in got[cond.DRIFTED].message
    assert "service.dns.records[0].ttl" in got[cond.DRIFTED].message
    assert not got[cond.SYNCED].status
    assert got[cond.SYNCED].reason == "DriftReported"
    assert not got[cond.TERMINAL].status
    assert got[cond.STALLED].status
    assert "driftPolicy: Correct" in got[cond.STALLED].message
    assert not got[cond.READY].status


def test_reported_drift_fixed_by_hand_clears_drifted() -> None:
    reported = step(Outcome.DRIFT_REPORTED, drift=(TTL_DRIFT,), reason="DriftReported")

    fixed = step(Outcome.IN_SYNC, as_status(reported))

    assert fixed[cond.DRIFTED] == Condition(cond.DRIFTED, False, "NoDrift", "")


def test_advisories_raise_the_advisory_condition() -> None:
    advisories = ("service.dns.records[0].ttl is 300s", "service.dns.records[1].ttl is 400s")

    got = step(Outcome.IN_SYNC, plan=Plan(advisories=advisories))

    assert got[cond.ADVISORY] == Condition(
        cond.ADVISORY, True, "TtlAboveMax", "; ".join(advisories)
    )
    assert got[cond.READY].status
    assert got[cond.SYNCED].status


# merge_status ----------------------------------------------------------------------------------


def entry(n: int) -> dict[str, Any]:
    return {
        "field": f"tags.k{n}",
        "desired": "a",
        "observed": "b",
        "detectedAt": T0,
        "action": "Corrected",
    }


def test_step_ids_and_operation_are_folded_into_the_status() -> None:
    previous = {"namespaceId": "ns-1", "operation": {"id": "op-1"}, "conditions": []}
    result = StepResult(Outcome.IN_SYNC, status=StatusPatch(operation=None, service_id="srv-1"))

    merged = merge_status(previous, result)

    assert merged == {
        "namespaceId": "ns-1",
        "operation": None,
        "serviceId": "srv-1",
        "conditions": [],
    }


def test_corrected_drift_is_recorded_with_its_values() -> None:
    result = StepResult(
        Outcome.WAITING, status=StatusPatch(last_observed_time=T1), drift=(TTL_DRIFT,)
    )

    merged = merge_status({}, result)

    assert merged["drift"] == [
        {
            "field": "service.dns.records[0].ttl",
            "desired": 60,
            "observed": 300,
            "detectedAt": T1,
            "action": "Corrected",
        }
    ]


def test_reported_drift_is_recorded_as_reported() -> None:
    result = StepResult(
        Outcome.DRIFT_REPORTED, status=StatusPatch(last_observed_time=T1), drift=(TTL_DRIFT,)
    )

    assert merge_status({}, result)["drift"][0]["action"] == "Reported"


def test_drift_values_that_are_not_json_are_stored_as_text() -> None:
    class Odd:
        def __str__(self) -> str:
            return "odd"

    result = StepResult(Outcome.WAITING, drift=(Change("f", Odd(), None),))

    recorded = merge_status({}, result)["drift"][0]

    assert recorded["desired"] == "odd"
    assert recorded["observed"] is None


def test_no_drift_leaves_the_history_alone() -> None:
    previous = {"drift": [entry(1)]}

    assert merge_status(previous, StepResult(Outcome.IN_SYNC))["drift"] == [entry(1)]


def test_drift_history_keeps_the_newest_ten() -> None:
    previous = {"drift": [entry(n) for n in range(9)]}
    drift = (Change("tags.x", "1", "2"), Change("tags.y", "1", "2"), Change("tags.z", "1", "2"))

    history = merge_status(previous, StepResult(Outcome.WAITING, drift=drift))["drift"]

    assert DRIFT_HISTORY == 10
    assert len(history) == 10
    assert history[:7] == [entry(n) for n in range(2, 9)]
    assert [e["field"] for e in history[7:]] == ["tags.x", "tags.y", "tags.z"]


@given(before=st.integers(min_value=0, max_value=30), new=st.integers(min_value=1, max_value=30))
def test_drift_history_never_exceeds_its_cap(before: int, new: int) -> None:
    previous = {"drift": [entry(n) for n in range(before)]}
    drift = tuple(Change(f"tags.n{i}", "a", "b") for i in range(new))

    history = merge_status(previous, StepResult(Outcome.WAITING, drift=drift))["drift"]

    assert len(history) == min(before + new, DRIFT_HISTORY)
    assert history[-1]["field"] == f"tags.n{new - 1}"


def test_drift_still_reported_on_the_next_sweep_is_not_recorded_again() -> None:
    """With driftPolicy: Report the drift persists, and every sweep reports it again: one entry per
    sweep would push the real history out of the ten kept entries within ten sweeps."""
    first = merge_status(
        {},
        StepResult(
            Outcome.DRIFT_REPORTED, status=StatusPatch(last_observed_time=T0), drift=(TTL_DRIFT,)
        ),
    )

    again = merge_status(
        first,
        StepResult(
            Outcome.DRIFT_REPORTED, status=StatusPatch(last_observed_time=T1), drift=(TTL_DRIFT,)
        ),
    )

    assert again["drift"] == first["drift"]
