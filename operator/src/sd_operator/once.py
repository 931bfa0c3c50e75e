"""A cache that computes each key once, even when many threads ask for it at the same moment.

functools.cache does not hold other callers back while it computes: when the operator starts
over 100 existing resources, kopf's 32 executor threads all miss together and each builds its
own copy, then all but one are thrown away. For boto3 clients (a service model each) and the
CRD schemas (fastjsonschema and CEL compilation) that raised the operator's peak RSS from about
150 MiB to over 400 MiB (bench/RESULTS.md, peak RSS). Here a miss holds the function's lock, so
the others wait and then get the one copy.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from functools import cache, wraps
from typing import TypeVar

K = TypeVar("K", bound=Hashable)
R = TypeVar("R")


def once_per_key(fn: Callable[[K], R]) -> Callable[[K], R]:
    """`functools.cache` of a one-argument function, computing each key once across threads."""
    cached = cache(fn)
    # Re-entrant: a factory may itself ask for another key of the same cache.
    lock = threading.RLock()

    @wraps(fn)
    def get(key: K) -> R:
        with lock:
            return cached(key)

    return get
