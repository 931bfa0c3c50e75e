"""Shared by the fault suite (tests/e2e/test_faults_*.py, pytest marker `faults`).

Rounds: CI runs the short form (SD_FAULT_ROUNDS unset: each scenario a round or two); the
long form sets SD_FAULT_ROUNDS (`hack/test.sh faults 20`). Round r of a scenario draws its
random choices from `random.Random(f"{scenario}-{r}")`, so a failing round is re-run alone with
`-k "<scenario> and round-<r>"`. docs/RELIABILITY.md records what each scenario measured.
"""

from __future__ import annotations

import contextlib
import os
import random
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from e2e_support import (
    API_VERSION,
    DISCOVERIES,
    JSON,
    NAMESPACES,
    OPERATOR_BIN,
    ROOT,
    Kubectl,
    wait_for,
)

from sd_devkit.emulator.clients import DUMMY_ACCESS_KEY, DUMMY_SECRET_KEY

ROUNDS_ENV = "SD_FAULT_ROUNDS"
VPC = "vpc-0a1b2c3d4e5f60718"
FINALIZER = "sd-operator.io/finalizer"


def rounds(short: int) -> int:
    """How many rounds a scenario runs: `short` in CI, SD_FAULT_ROUNDS when set."""
    raw = os.environ.get(ROUNDS_ENV, "").strip()
    if not raw:
        return short
    value = int(raw)
    if value < 1:
        raise ValueError(f"{ROUNDS_ENV} must be >= 1, got {raw!r}")
    return value


def round_ids(short: int) -> list[str]:
    return [f"round-{r}" for r in range(rounds(short))]


def rng(scenario: str, round_id: str) -> random.Random:
    return random.Random(f"{scenario}-{round_id}")


def long_form() -> bool:
    return bool(os.environ.get(ROUNDS_ENV, "").strip())


# manifests -----------------------------------------------------------------------------------


def cloudmap_namespace(name: str, aws_name: str, namespace: str | None = None, **spec: Any) -> JSON:
    meta: JSON = {"name": name}
    if namespace:
        meta["namespace"] = namespace
    return {
        "apiVersion": API_VERSION,
        "kind": "CloudMapNamespace",
        "metadata": meta,
        "spec": {"name": aws_name, "type": "DnsPrivate", "vpc": VPC, **spec},
    }


def discovery(name: str, namespace_ref: str, namespace: str | None = None, **spec: Any) -> JSON:
    meta: JSON = {"name": name}
    if namespace:
        meta["namespace"] = namespace
    return {
        "apiVersion": API_VERSION,
        "kind": "ServiceDiscovery",
        "metadata": meta,
        "spec": {
            "namespaceRef": {"name": namespace_ref},
            "service": {
                "dns": {"records": [{"type": "A", "ttl": 10}]},
                "healthCheck": {"custom": {}},
            },
            **spec,
        },
    }


# AWS as the test sees it ---------------------------------------------------------------------


def all_namespaces(sd: Any) -> list[JSON]:
    pages = sd.get_paginator("list_namespaces").paginate()
    return [ns for page in pages for ns in page["Namespaces"]]


def all_services(sd: Any) -> list[JSON]:
    """Every service in the account. The emulator's list pages are offsets (AWS-FACTS: a list
    scan is not proof), but nothing changes while a test takes its inventory."""
    pages = sd.get_paginator("list_services").paginate()
    return [s for page in pages for s in page["Services"]]


def inventory(sd: Any) -> tuple[list[JSON], list[JSON]]:
    return all_namespaces(sd), all_services(sd)


def duplicates(items: Sequence[Mapping[str, Any]], key: str = "Name") -> dict[str, int]:
    names: dict[str, int] = {}
    for item in items:
        names[str(item[key])] = names.get(str(item[key]), 0) + 1
    return {name: n for name, n in names.items() if n > 1}


def service_keys(services: Sequence[Mapping[str, Any]]) -> list[tuple[str, str]]:
    return sorted((str(s["Name"]), str(s["Id"])) for s in services)


def wait_aws_quiet(sd: Any, *, seconds: float = 1.0) -> None:
    """Let in-flight writes land: two inventories `seconds` apart must agree."""

    def same() -> bool:
        first = inventory(sd)
        time.sleep(seconds)
        return inventory(sd) == first

    wait_for(same, "AWS inventory to settle", timeout=30)


# Kubernetes ----------------------------------------------------------------------------------


def objects(kubectl: Kubectl, kind: str, namespace: str) -> list[JSON]:
    return kubectl.objects(kind, namespace)


def all_objects(kubectl: Kubectl, namespace: str) -> list[JSON]:
    return objects(kubectl, NAMESPACES, namespace) + objects(kubectl, DISCOVERIES, namespace)


def stuck_finalizers(kubectl: Kubectl, namespace: str) -> list[str]:
    return [
        f"{o['kind']}/{o['metadata']['name']}"
        for o in all_objects(kubectl, namespace)
        if o["metadata"].get("deletionTimestamp")
        and FINALIZER in o["metadata"].get("finalizers", [])
    ]


def summary(obj: Mapping[str, Any]) -> str:
    conds = {
        c.get("type"): f"{c.get('status')}/{c.get('reason')}"
        for c in (obj.get("status") or {}).get("conditions") or []
    }
    return f"{obj['kind']}/{obj['metadata']['name']}: {conds}"


# the CLI as its own process ------------------------------------------------------------------


def cli_env(aws_rate_scale: float = 1.0) -> dict[str, str]:
    """The CLI's environment: AWS's own budget unless `aws_rate_scale` says otherwise."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "SD_OPERATOR_AWS"))}
    env.update(
        AWS_ACCESS_KEY_ID=DUMMY_ACCESS_KEY,
        AWS_SECRET_ACCESS_KEY=DUMMY_SECRET_KEY,
        AWS_EC2_METADATA_DISABLED="true",
        SD_OPERATOR_AWS_RATE_SCALE=str(aws_rate_scale),
    )
    return env


def cli_process(
    endpoint_url: str, *args: str, aws_rate_scale: float = 1.0
) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            str(OPERATOR_BIN),
            *args,
            "--aws-endpoint-url",
            endpoint_url,
            "--region",
            "us-east-1",
            "--log-level",
            "WARNING",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=cli_env(aws_rate_scale),
        cwd=ROOT,
    )


def cli(
    endpoint_url: str, *args: str, timeout: float = 120, aws_rate_scale: float = 1.0
) -> tuple[int, str]:
    proc = cli_process(endpoint_url, *args, aws_rate_scale=aws_rate_scale)
    out, _ = proc.communicate(timeout=timeout)
    return proc.returncode, out


def write_manifests(path: Path, docs: Sequence[Mapping[str, Any]]) -> Path:
    import yaml

    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump_all([dict(d) for d in docs], sort_keys=False))
    return path


CONTROL_PLANE = ROOT / "hack" / "control-plane.sh"


def control_plane(command: str, state_dir: Path, timeout: float = 300) -> str:
    """hack/control-plane.sh `command` on the control plane kept in `state_dir`."""
    env = {**os.environ, "CONTROL_PLANE_DIR": str(state_dir), "CONTROL_PLANE_PORT": "auto"}
    proc = subprocess.run(
        [str(CONTROL_PLANE), command],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        cwd=ROOT,
        env=env,
    )
    assert proc.returncode == 0, (
        f"hack/control-plane.sh {command} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    )
    return proc.stdout + proc.stderr


def record(scenario: str, round_id: str, **figures: Any) -> None:
    """Append one round's figures to $SD_FAULT_REPORT (JSON lines), when set: the numbers in
    docs/RELIABILITY.md come from these files. Always printed too (pytest -s shows them)."""
    import json

    line = json.dumps({"scenario": scenario, "round": round_id, **figures}, sort_keys=True)
    print(line)
    report = os.environ.get("SD_FAULT_REPORT")
    if report:
        with open(report, "a", encoding="utf-8") as out:
            out.write(line + "\n")


@contextlib.contextmanager
def extra_namespace(kubectl: Kubectl, name: str) -> Iterator[str]:
    """A second Kubernetes namespace for a test that runs two operators side by side; dropped
    as the conftest drops its own."""
    kubectl.create_namespace(name)
    try:
        yield name
    finally:
        kubectl.drop_namespace(name)


def fault_rules(endpoint_url: str) -> list[JSON]:
    """The emulator's fault rules with how often each fired (GET /_emulator/faults)."""
    import json
    import urllib.request

    with urllib.request.urlopen(f"{endpoint_url}/_emulator/faults", timeout=10) as response:
        rules: list[JSON] = json.loads(response.read())["faults"]
    return rules


def ready(obj: Mapping[str, Any]) -> bool:
    """Ready=True for the object's current generation."""
    status = obj.get("status") or {}
    conditions = {c.get("type"): c.get("status") for c in status.get("conditions") or []}
    return conditions.get("Ready") == "True" and status.get("observedGeneration") == obj[
        "metadata"
    ].get("generation")


def all_ready(kubectl: Kubectl, namespace: str, count: int) -> bool:
    """`count` objects of ours in `namespace`, every one ready."""
    objs = all_objects(kubectl, namespace)
    return len(objs) == count and all(ready(o) for o in objs)
