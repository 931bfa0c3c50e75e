"""Keep CPython's cyclic garbage collector off the operator's long-lived heap (docs/drift.md,
"CPU per sweep").

At 1,000 resources the operator holds about 220,000 objects the collector tracks: imported
modules, botocore's service models, kopf's and the sweep's copies of every body. CPython runs a
full collection when the objects promoted to its oldest generation since the last full one reach
a quarter of that generation. A sweep promotes that many, so nearly every sweep ended in a full
collection: 0.15-0.19 s of CPU that scanned every long-lived object and freed about a thousand.

`gc.freeze()` moves every tracked object into a permanent generation that collections do not
scan; reference counting still frees a frozen object when the last reference to it goes. So
after a sweep has loaded what the operator keeps (the first sweep, and again whenever the
resources have grown by a quarter since), collect once and freeze. The cost: a frozen object
that later becomes part of an unreachable cycle is never freed. The collection just before each
freeze frees the cycles that exist then, and what can be frozen is bounded by the heap at those
points; everything made after the last freeze is collected as usual.
"""

from __future__ import annotations

import gc

from sd_operator import logs

log = logs.get(__name__)

# The same quarter CPython's own full-collection rule uses.
GROWTH = 1.25


class HeapSettler:
    """Called with the resource count after each sweep; freezes when that count is new."""

    def __init__(self) -> None:
        self._settled_at: int | None = None

    def __call__(self, resources: int) -> bool:
        if self._settled_at is not None and resources <= self._settled_at * GROWTH:
            return False
        freed = gc.collect()
        gc.freeze()
        self._settled_at = resources
        log.info("heap settled", resources=resources, freed=freed, frozen=gc.get_freeze_count())
        return True
