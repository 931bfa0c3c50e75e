"""A lock per resource."""

from __future__ import annotations

import threading


class Locks:
    """A lock per resource, so the drift sweep, a change handler and an EndpointSlice's export
    never step the same resource at once."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}

    def lock(self, uid: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(uid, threading.Lock())

    def forget(self, uid: str) -> None:
        with self._guard:
            self._locks.pop(uid, None)
