"""Which AWS actions the operator itself called, for the IAM policy check (docs/iam.md).

Set SD_OPERATOR_EMULATOR_CALL_LOG to a file path and every emulator in the process appends
each "service:Action" the operator's clients call (their User-Agent carries "sd-operator";
a test's own clients' does not) the first time it sees it. Appends of one short line are
atomic, so emulators in several processes may share the file.
"""

from __future__ import annotations

import os
import threading

ENV = "SD_OPERATOR_EMULATOR_CALL_LOG"
OPERATOR_AGENT = "sd-operator"

_seen: set[str] = set()
_lock = threading.Lock()


def is_operator(user_agent: str) -> bool:
    return OPERATOR_AGENT in user_agent.split()


def record(api: str, user_agent: str) -> None:
    path = os.environ.get(ENV)
    if not path or not is_operator(user_agent):
        return
    with _lock:
        if api in _seen:
            return
        _seen.add(api)
    with open(path, "a", encoding="utf-8") as log:
        log.write(api + "\n")
