"""The heap settler: the operator's long-lived objects are frozen out of the cyclic collector's
scans after a quiet sweep, and again only when the resources have grown by a quarter."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from sd_operator.handlers.heap import HeapSettler


class Node:
    """A tracked object that can be part of a cycle and be watched through a weak reference."""

    other: Node | None = None


@pytest.fixture(autouse=True)
def unfrozen() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()


def test_a_quiet_sweep_freezes_and_a_quarter_more_resources_freezes_again() -> None:
    settle = HeapSettler()

    assert not settle(1000, 999)  # a change handler has work in flight: not yet
    assert gc.get_freeze_count() == 0
    assert settle(1000, 1000)
    frozen = gc.get_freeze_count()
    assert frozen > 0

    kept = [Node() for _ in range(500)]
    assert not settle(1000, 1000)
    assert not settle(1250, 1250)
    assert not settle(1300, 1299)
    # No freeze since (it would hold `kept`); frozen objects still die by refcount, such as
    # another thread's left over from an earlier test on this worker (479,617 of 479,619 once).
    assert gc.get_freeze_count() <= frozen

    assert settle(1251, 1251)
    assert gc.get_freeze_count() >= frozen + len(kept)


def test_cycles_are_collected_before_freezing_and_frozen_objects_still_die_by_refcount() -> None:
    cycle = Node()
    cycle.other = cycle
    in_cycle = weakref.ref(cycle)
    plain = Node()
    frozen_plain = weakref.ref(plain)
    del cycle

    HeapSettler()(0, 0)

    assert in_cycle() is None  # collected by the collection before the freeze
    assert frozen_plain() is not None
    del plain
    assert frozen_plain() is None  # frozen, and freed when its last reference went


def test_what_is_made_after_the_freeze_is_collected_as_usual() -> None:
    HeapSettler()(0, 0)
    cycle = Node()
    cycle.other = cycle
    later = weakref.ref(cycle)
    del cycle

    gc.collect()

    assert later() is None
