"""The parse cache: each resource parsed once per generation."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from sd_operator.model.parse import SpecError, parse_resource
from sd_operator.model.spec import Resource


class ParsedResources:
    """Each resource parsed once per generation. Every status write comes back as a watch
    event to the index handlers, and the sweep steps every resource each interval: validating
    against the CRD schema costs about 1 ms a time, and the spec (so the `Resource`) changes
    only with metadata.generation."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._parsed: dict[str, tuple[int, Resource | None]] = {}

    def get(self, body: Mapping[str, Any]) -> Resource | None:
        """None: the spec is invalid (its change handler reports why)."""
        meta = body.get("metadata") or {}
        uid, generation = str(meta.get("uid") or ""), int(meta.get("generation") or 0)
        with self._lock:
            cached = self._parsed.get(uid) if uid else None
        if cached is not None and cached[0] == generation:
            return cached[1]
        try:
            res: Resource | None = parse_resource(body)
        except SpecError:
            res = None
        if uid:
            with self._lock:
                self._parsed[uid] = (generation, res)
        return res

    def forget(self, uid: str) -> None:
        with self._lock:
            self._parsed.pop(uid, None)
