"""What GitOps tools read from our status: the real kstatus library (hack/kstatus, built by
`hack/tools.sh kstatus`) and the shipped Argo CD health script run in Lua 5.1 (lupa).

docs/health.md's health table is EXPECTED below; tests/fixtures/status/ holds statuses recorded
from live resources by tests/e2e/test_health.py (SD_OPERATOR_RECORD_STATUS=1 rewrites them),
which the unit tests feed to the Lua script and the e2e tests to kstatus.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lupa import lua51

ROOT = Path(__file__).resolve().parents[1]
HEALTH_LUA = ROOT / "docs" / "argocd" / "health.lua"
RECORDED = ROOT / "tests" / "fixtures" / "status"

# situation -> (kstatus verdict, Argo CD health), as in docs/health.md's health table
EXPECTED = {
    "not-reached-yet": ("InProgress", "Progressing"),
    "ready": ("Current", "Healthy"),
    "creating": ("InProgress", "Progressing"),
    "pending-generation": ("InProgress", "Progressing"),
    "refused-update": ("Failed", "Degraded"),
    "refused-adoption": ("Failed", "Degraded"),
    "owned-elsewhere": ("Failed", "Degraded"),
    "drift-reported": ("Failed", "Degraded"),
    "observed-different": ("Failed", "Degraded"),
    "observed-missing": ("Failed", "Degraded"),
    # kstatus keeps the verdict the last step left (here Ready); Argo CD says Suspended.
    "paused": ("Current", "Suspended"),
}


@dataclass(frozen=True)
class Verdict:
    status: str
    message: str


def kstatus_binary() -> str:
    """$KSTATUS (hack/test.sh builds it before the e2e run), else built and cached now."""
    if os.environ.get("KSTATUS"):
        return os.environ["KSTATUS"]
    out = subprocess.run(
        [str(ROOT / "hack" / "tools.sh"), "kstatus"],
        check=True,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    return out.stdout.strip().splitlines()[-1]


def kstatus(binary: str, objects: Sequence[Mapping[str, Any]]) -> list[Verdict]:
    """kstatus's verdict for each object, in order."""
    listed = {"apiVersion": "v1", "kind": "List", "items": list(objects)}
    out = subprocess.run(
        [binary], input=json.dumps(listed), capture_output=True, text=True, timeout=30, check=True
    )
    lines = [json.loads(line) for line in out.stdout.splitlines()]
    assert len(lines) == len(objects), out.stdout
    return [Verdict(line["status"], line["message"]) for line in lines]


def _to_lua(runtime: Any, value: Any) -> Any:
    """JSON as Argo CD hands it to the script: objects and arrays as (1-based) tables."""
    if isinstance(value, Mapping):
        return runtime.table_from({k: _to_lua(runtime, v) for k, v in value.items()})
    if isinstance(value, list):
        return runtime.table_from([_to_lua(runtime, v) for v in value])
    return value


def argocd_health(obj: Mapping[str, Any]) -> Verdict:
    runtime = lua51.LuaRuntime()
    runtime.globals().obj = _to_lua(runtime, obj)
    result = runtime.execute(HEALTH_LUA.read_text())
    return Verdict(str(result["status"]), str(result["message"]))


def recorded() -> dict[str, Any]:
    """situation -> the recorded object."""
    return {p.stem: json.loads(p.read_text()) for p in sorted(RECORDED.glob("*.json"))}


def record(situation: str, obj: Mapping[str, Any]) -> None:
    kept = json.loads(json.dumps(obj))
    kept["metadata"].pop("managedFields", None)
    RECORDED.mkdir(parents=True, exist_ok=True)
    (RECORDED / f"{situation}.json").write_text(json.dumps(kept, indent=2, sort_keys=True) + "\n")
