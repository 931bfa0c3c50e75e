"""Cloud Map operation lifecycle: SUBMITTED -> PENDING -> SUCCESS | FAIL.

docs/aws-facts.md, Asynchronous calls: "Poll GetOperation: SUBMITTED/PENDING are in flight,
SUCCESS/FAIL are final. FAIL carries ErrorCode/ErrorMessage (e.g. CANNOT_CREATE_HOSTED_ZONE,
ConflictingDomainExists ...)". moto answers SUCCESS at once ("Cloud Map GetOperation is SUCCESS
immediately (no PENDING, no FAIL)"); this tracker keeps each operation in flight for the
configured hold and decides, when the operation is submitted, whether it will fail.

An operation may carry an effect (`on_final`): the change AWS makes visible only when the
operation completes (a created namespace appears, a deleted one disappears, new TTLs show).
`settle()` runs the effect of every operation that has become final since the last call; the
fidelity layer calls it before each API call, so an effect is visible from the moment the
operation is final (what ListOperations shows), at the latest when GetOperation says SUCCESS.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Generic, Protocol, TypeVar

IN_FLIGHT = ("SUBMITTED", "PENDING")

# Called once when the operation becomes final: True for SUCCESS, False for FAIL.
Effect = Callable[[bool], None]


@dataclass(frozen=True)
class Hold:
    """Operations stay in flight until `seconds` have passed since submission AND
    GetOperation has answered `polls` times in flight (each None means no such condition)."""

    seconds: float | None = None
    polls: int | None = None

    def __post_init__(self) -> None:
        if self.seconds is not None and self.seconds < 0:
            raise ValueError("seconds must be >= 0")
        if self.polls is not None and self.polls < 0:
            raise ValueError("polls must be >= 0")


@dataclass
class FailRule:
    """Makes operations end in FAIL. `match` is an operation type (CREATE_NAMESPACE, ...),
    or the name or id of the namespace, service or instance the operation targets."""

    match: str
    error_code: str = "CANNOT_CREATE_HOSTED_ZONE"
    message: str = "The operation failed (injected by the sd-operator emulator)"
    count: int | None = None
    fired: int = 0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Failure:
    error_code: str
    message: str


@dataclass
class Tracked:
    op_id: str
    op_type: str
    key: tuple[str, ...]
    hold: Hold
    failure: Failure | None
    submitted: float = field(default_factory=time.monotonic)
    polls: int = 0  # GetOperation answers given while in flight
    on_final: Effect | None = None

    def done(self, now: float) -> bool:
        time_ok = self.hold.seconds is None or now - self.submitted >= self.hold.seconds
        polls_ok = self.hold.polls is None or self.polls >= self.hold.polls
        return time_ok and polls_ok

    @property
    def final_status(self) -> str:
        return "FAIL" if self.failure else "SUCCESS"


class Rule(Protocol):
    def to_json(self) -> dict[str, Any]: ...


R = TypeVar("R", bound=Rule)


class HeldRules(Generic[R]):
    """The hold and the fail rules a test sets over the control API (Cloud Map operations here,
    ECS deployments in deployments.py), guarded by `_lock` with the state they govern."""

    def __init__(self) -> None:
        self._hold = Hold()
        self._fail_rules: list[R] = []
        self._lock = threading.Lock()

    def set_hold(self, hold: Hold) -> None:
        with self._lock:
            self._hold = hold

    def add_fail_rule(self, rule: R) -> None:
        with self._lock:
            self._fail_rules.append(rule)

    def config(self) -> dict[str, Any]:
        with self._lock:
            return {
                "hold": asdict(self._hold),
                "fail": [rule.to_json() for rule in self._fail_rules],
            }

    def clear_rules(self) -> None:
        with self._lock:
            self._hold = Hold()
            self._fail_rules.clear()


class OperationTracker(HeldRules[FailRule]):
    def __init__(self) -> None:
        super().__init__()
        self._ops: dict[str, Tracked] = {}
        self._unsettled: dict[str, Tracked] = {}  # final effect not yet applied

    def reset(self) -> None:
        self.clear_rules()
        with self._lock:
            self._ops.clear()
            self._unsettled.clear()

    def match_failure(self, op_type: str, names: set[str]) -> Failure | None:
        """The failure the first live matching rule prescribes (consuming one of its count)."""
        candidates = {op_type} | {name for name in names if name}
        with self._lock:
            for rule in self._fail_rules:
                if rule.count is not None and rule.fired >= rule.count:
                    continue
                if rule.match in candidates:
                    rule.fired += 1
                    return Failure(rule.error_code, rule.message)
        return None

    def track(
        self,
        op_id: str,
        op_type: str,
        key: tuple[str, ...],
        failure: Failure | None,
        on_final: Effect | None = None,
    ) -> None:
        """Start the lifecycle of an operation moto has just created, with the hold now set.
        `on_final` runs (from `settle`) once the operation is final."""
        with self._lock:
            tracked = Tracked(op_id, op_type, key, self._hold, failure, on_final=on_final)
            self._ops[op_id] = tracked
            if on_final is not None:
                self._unsettled[op_id] = tracked

    def settle(self) -> None:
        """Run, in submission order, the effect of every operation that became final since
        the last call. The caller holds whatever lock guards the state the effects change."""
        now = time.monotonic()
        with self._lock:
            due = [t for t in self._unsettled.values() if t.done(now)]
            for tracked in due:
                del self._unsettled[tracked.op_id]
        for tracked in due:
            if tracked.on_final is not None:
                tracked.on_final(tracked.failure is None)

    def poll(self, op_id: str) -> tuple[str, Failure | None]:
        """Status for GetOperation; an in-flight answer counts as one poll."""
        with self._lock:
            tracked = self._ops.get(op_id)
            if tracked is None:
                return "SUCCESS", None
            if tracked.done(time.monotonic()):
                return tracked.final_status, tracked.failure
            tracked.polls += 1
            return ("SUBMITTED" if tracked.polls == 1 else "PENDING"), None

    def peek(self, op_id: str) -> str:
        """Status for ListOperations and in-flight checks (does not count as a poll)."""
        with self._lock:
            tracked = self._ops.get(op_id)
            if tracked is None:
                return "SUCCESS"
            if tracked.done(time.monotonic()):
                return tracked.final_status
            return "SUBMITTED" if tracked.polls == 0 else "PENDING"

    def in_flight(self, op_type: str, key: tuple[str, ...]) -> str | None:
        """Id of an operation of that type on that target that is still SUBMITTED/PENDING."""
        with self._lock:
            candidates = [
                t.op_id for t in self._ops.values() if t.op_type == op_type and t.key == key
            ]
        for op_id in candidates:
            if self.peek(op_id) in IN_FLIGHT:
                return op_id
        return None
