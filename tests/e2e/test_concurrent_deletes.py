"""The operator deleting many resources at once, against the emulator (list pages are offsets,
two services a page): deletes shift the ListServices pages the other deletes are reading, so
only a read by id may decide that a service is gone. Nothing may be left in AWS, and no
finalizer may be stranded (the CloudMapNamespace's waits for its services). Rounds:
SD_DELETE_ROUNDS (default 1; the issue's 20 by setting it)."""

from __future__ import annotations

import copy
import os
from typing import Any

import pytest
from e2e_support import (
    DISCOVERIES,
    JSON,
    NAMESPACES,
    Kubectl,
    StartOperator,
    example,
    ready_and_synced,
    wait_for,
)

from sd_devkit.emulator import Emulator

SERVICES = 20
SETTLE = 180.0
ROUNDS = int(os.environ.get("SD_DELETE_ROUNDS", "1"))


def aws_names(sd: Any) -> tuple[list[str], list[str]]:
    namespaces = [
        n["Name"] for p in sd.get_paginator("list_namespaces").paginate() for n in p["Namespaces"]
    ]
    services = [
        s["Name"] for p in sd.get_paginator("list_services").paginate() for s in p["Services"]
    ]
    return sorted(namespaces), sorted(services)


def discoveries(namespace: str) -> list[JSON]:
    template = example("user-service", namespace)
    out = []
    for i in range(SERVICES):
        doc = copy.deepcopy(template)
        doc["metadata"]["name"] = f"svc-{i:02d}"
        out.append(doc)
    return out


@pytest.mark.parametrize("round_", range(ROUNDS))
@pytest.mark.long
def test_deleting_twenty_discoveries_and_their_namespace_at_once(
    kubectl: Kubectl,
    namespace: str,
    start_operator: StartOperator,
    sd: Any,
    emulator: Emulator,
    round_: int,
) -> None:
    start_operator()
    kubectl.apply([example("namespace", namespace), *discoveries(namespace)], namespace)
    for i in range(SERVICES):
        kubectl.wait_for_object(
            DISCOVERIES, f"svc-{i:02d}", namespace, ready_and_synced, "Ready", timeout=SETTLE
        )
    namespaces, services = aws_names(sd)
    assert (len(namespaces), len(services)) == (1, SERVICES), (namespaces, services)

    kubectl.run("delete", DISCOVERIES, "--all", "-n", namespace, "--wait=false")
    kubectl.run("delete", NAMESPACES, "--all", "-n", namespace, "--wait=false")

    def left() -> list[str]:
        names = []
        for kind in (DISCOVERIES, NAMESPACES):
            names += [f"{kind}/{o['metadata']['name']}" for o in kubectl.objects(kind, namespace)]
        return names

    wait_for(lambda: not left(), "every object to be gone (finalizers released)", timeout=SETTLE)
    assert aws_names(sd) == ([], []), "objects gone, AWS resources left behind"
