"""When lastObservedTime alone is worth a status write: the heartbeat.

Status is written when something in it changes; lastObservedTime alone is a heartbeat, written
at most every HEARTBEAT_INTERVALS sweep intervals and, with more resources, at most
HEARTBEAT_WRITES_PER_SWEEP in one sweep: each write costs the operator about 5 ms of CPU (the
PATCH and kopf's processing of the watch event it causes), so at N = 1,000 heartbeats every 5
intervals alone cost a second per sweep (docs/drift.md).
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable
from datetime import UTC, datetime

from sd_operator.model.status import DiscoveryStatus
from sd_operator.model.timestamps import parse_time

HEARTBEAT_INTERVALS = 5
HEARTBEAT_WRITES_PER_SWEEP = 50

Clock = Callable[[], datetime]


def wall_clock() -> datetime:
    return datetime.now(UTC)


class Heartbeat:
    """The heartbeat window, sized by the sweep for the resources it finds, and whether a
    resource's heartbeat is due. `clock`: now, in UTC."""

    def __init__(self, sweep_seconds: float, clock: Clock = wall_clock) -> None:
        self._sweep_seconds = sweep_seconds
        self._clock = clock
        self.seconds = 0.0
        self.size(0)

    def size(self, resources: int) -> None:
        """The heartbeat window for `resources`: HEARTBEAT_INTERVALS sweeps, or as many as
        keep the heartbeats of one sweep within HEARTBEAT_WRITES_PER_SWEEP."""
        sweeps = max(HEARTBEAT_INTERVALS, math.ceil(resources / HEARTBEAT_WRITES_PER_SWEEP))
        self.seconds = sweeps * self._sweep_seconds

    def due(self, previous: DiscoveryStatus, uid: str) -> bool:
        """Once per heartbeat window, at a point of the window set by the resource's uid: a
        restarted operator writes every status at once, and a fixed age would keep all those
        heartbeats due in the same sweep (356 of 1,000 in one sweep, docs/drift.md). Never
        within one interval of the last write, so sweeps run back to back write nothing."""
        try:
            last = parse_time(str(previous.last_observed_time))
        except ValueError:
            return True
        now = self._clock()
        if (now - last).total_seconds() < self._sweep_seconds:
            return False
        phase = zlib.crc32(uid.encode()) / 2**32
        window = self.seconds

        def slot(at: datetime) -> int:
            return math.floor(at.timestamp() / window + phase)

        return slot(now) > slot(last)
