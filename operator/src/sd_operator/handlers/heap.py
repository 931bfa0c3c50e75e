"""Keep CPython's cyclic garbage collector off the operator's long-lived heap (docs/drift.md,
"CPU per sweep").

At 1,000 resources the operator holds about 220,000 objects the collector tracks: imported
modules, botocore's service models, kopf's and the sweep's copies of every body. CPython runs a
full collection when the objects promoted to its oldest generation since the last full one reach
a quarter of that generation. A sweep promotes that many, so nearly every sweep ended in a full
collection: 0.15-0.19 s of CPU that scanned every long-lived object and freed about a thousand.

`gc.freeze()` moves every tracked object into a permanent generation that collections do not
scan; reference counting still frees a frozen object when the last reference to it goes. So
after a quiet sweep (one that stepped every resource it holds: no change handler had work in
flight) that holds a quarter more resources than the last freeze, or is the first, collect once
and freeze. The cost: a frozen object that later becomes part of an unreachable cycle is never
freed. The collection just before each freeze frees the cycles that exist then, and a quiet
operator holds few objects that are about to become such cycles: freezing during a cold start,
with kopf's 1,000 handler tasks in flight, left its peak RSS about 15 MiB higher. Everything made
after the last freeze is collected as usual. While some resource's change handler never
finishes (it keeps failing), no sweep is quiet and the collector runs as CPython's default.
"""

from __future__ import annotations

import gc

from sd_operator import logs

log = logs.get(__name__)

# The same quarter CPython's own full-collection rule uses.
GROWTH = 1.25


class HeapSettler:
    """Called after each sweep with how many resources it held and stepped."""

    def __init__(self) -> None:
        self._settled_at: int | None = None

    def __call__(self, resources: int, stepped: int) -> bool:
        if stepped < resources:
            return False
        if self._settled_at is not None and resources <= self._settled_at * GROWTH:
            return False
        freed = gc.collect()
        gc.freeze()
        self._settled_at = resources
        log.info("heap settled", resources=resources, freed=freed, frozen=gc.get_freeze_count())
        return True
