"""SIGKILL of the operator at seeded random points while 50 resources (1 CloudMapNamespace, 49
ServiceDiscoveries; 20 in CI's short form) converge, and again while all are deleted.
Afterwards: every AWS resource once (no duplicates), nothing in AWS that no status names (no
orphans), and, after the delete, nothing left in AWS and no object held by its finalizer.

A kill point is a fraction of the phase's progress (resources Ready, or objects gone) drawn from
the round's seed, plus a short seeded jitter, so the kills land inside the phase on a fast or a
slow machine alike. Cloud Map operations are held in flight a seeded 1-3 s, so some kills hit
an operation the restarted operator must resume rather than resend."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any

import pytest
from e2e_support import DISCOVERIES, NAMESPACES, Kubectl, OperatorProcess, StartOperator, wait_for
from faults_support import (
    all_objects,
    cloudmap_namespace,
    discovery,
    duplicates,
    inventory,
    long_form,
    ready,
    record,
    rng,
    round_ids,
    service_keys,
    services_in,
    stuck_finalizers,
    summary,
    wait_aws_quiet,
)

from sd_operator.emulator import Emulator

pytestmark = pytest.mark.faults

SCENARIO = "sigkill"
# The long form runs the 50 resources (1 CloudMapNamespace + 49 ServiceDiscoveries);
# CI's short form 20, to stay within a few minutes on a shared 2-core machine.
SERVICES = 49 if long_form() else 19
KILLS_PER_PHASE = 3 if long_form() else 2
PAGE_SIZE = 10
CONVERGE_TIMEOUT = 300.0
DELETE_TIMEOUT = 400.0


def _has_id(obj: dict[str, Any]) -> bool:
    status = obj.get("status") or {}
    return bool(status.get("serviceId") or status.get("namespaceId"))


def _at_least(progress: Callable[[], float], point: float) -> Callable[[], tuple[float] | None]:
    def probe() -> tuple[float] | None:
        now = progress()
        return (now,) if now >= point else None

    return probe


def _kill_during(
    op: OperatorProcess,
    progress: Callable[[], float],
    r: random.Random,
    kills: int,
    total: int,
) -> list[float]:
    """Kill `op` at `kills` seeded progress points (sorted fractions of 0..0.9) and start it
    again after a seeded pause; returns the progress at each kill actually made. A kill waits
    for one resource of progress since the previous kill at least, so each one interrupts work
    of the restarted operator, not only its start-up."""
    points = sorted(r.uniform(0.0, 0.9) for _ in range(kills))
    made: list[float] = []
    for drawn in points:
        jitter = r.uniform(0.0, 1.0)
        pause = r.uniform(0.0, 1.5)
        point = max(drawn, made[-1] + 1.0 / total) if made else drawn
        (reached,) = wait_for(
            _at_least(progress, point), f"progress {point:.2f}", timeout=DELETE_TIMEOUT
        )
        if reached >= 1.0:
            break  # the phase finished before this point: no kill inside it
        time.sleep(jitter)
        at = progress()
        if at >= 1.0:
            break
        op.kill()
        made.append(round(at, 3))
        time.sleep(pause)
        op.start()
    return made


@pytest.mark.timeout(CONVERGE_TIMEOUT + DELETE_TIMEOUT + 120)
@pytest.mark.parametrize("round_id", round_ids(1))
def test_sigkill_while_converging_and_deleting(
    round_id: str,
    kubectl: Kubectl,
    namespace: str,
    start_operator: StartOperator,
    emulator: Emulator,
    sd: Any,
) -> None:
    r = rng(SCENARIO, round_id)
    # List pages of 10 (AWS allows up to 100): a namespace of 49 services spans 5 pages, so a
    # list scan still crosses pages, at a cost the shared 2-core machine can carry.
    emulator.page_size = PAGE_SIZE
    emulator.hold_operations(seconds=r.uniform(1.0, 3.0))
    aws_name = f"kill-{r.randrange(10**6):06d}.local"
    docs = [cloudmap_namespace("shared", aws_name)] + [
        discovery(f"svc-{i:02d}", "shared") for i in range(SERVICES)
    ]
    total = len(docs)
    op = start_operator()
    started = time.monotonic()
    kubectl.apply(docs, namespace)

    def converged() -> float:
        """Half a point for the AWS id in status, half for Ready: finer than Ready alone, which
        the services reach nearly together once their namespace is there."""
        objs = all_objects(kubectl, namespace)
        return sum(_has_id(o) / 2 + ready(o) / 2 for o in objs) / total

    converge_kills = _kill_during(op, converged, r, KILLS_PER_PHASE, total)
    wait_for(
        lambda: converged() >= 1.0,
        f"all {total} resources Ready",
        timeout=CONVERGE_TIMEOUT,
        describe=lambda: "\n".join(
            summary(o) for o in all_objects(kubectl, namespace) if not ready(o)
        ),
    )
    converge_seconds = time.monotonic() - started
    wait_aws_quiet(sd)

    objs = all_objects(kubectl, namespace)
    (cm,) = [o for o in objs if o["kind"] == "CloudMapNamespace"]
    namespaces, services = inventory(sd)
    assert [n["Id"] for n in namespaces] == [cm["status"]["namespaceId"]], namespaces
    assert not duplicates(services), f"twinned services: {duplicates(services)}"
    declared = {o["status"]["serviceId"] for o in objs if o["kind"] == "ServiceDiscovery"}
    assert len(declared) == SERVICES, "two ServiceDiscoveries share a serviceId"
    in_aws = {s["Id"] for s in services}
    assert in_aws == declared, (
        f"orphans (in AWS, in no status): {sorted(in_aws - declared)}; "
        f"missing: {sorted(declared - in_aws)}"
    )
    assert {s["Id"] for s in services_in(sd, cm["status"]["namespaceId"])} == declared
    calls = emulator.calls()

    # deletion: everything at once, as `kubectl delete -f dir/` does
    started = time.monotonic()
    kubectl.run("delete", DISCOVERIES + "," + NAMESPACES, "--all", "-n", namespace, "--wait=false")

    def deleted() -> float:
        return 1.0 - len(all_objects(kubectl, namespace)) / total

    delete_kills = _kill_during(op, deleted, r, KILLS_PER_PHASE, total)
    wait_for(
        lambda: deleted() >= 1.0,
        f"all {total} objects gone",
        timeout=DELETE_TIMEOUT,
        describe=lambda: "\n".join(summary(o) for o in all_objects(kubectl, namespace)),
    )
    delete_seconds = time.monotonic() - started
    assert not stuck_finalizers(kubectl, namespace)
    namespaces, services = inventory(sd)
    assert namespaces == [], f"left in AWS: {namespaces}"
    assert services == [], f"left in AWS: {service_keys(services)}"
    after = emulator.calls()
    record(
        SCENARIO,
        round_id,
        resources=total,
        converge_kills=converge_kills,
        delete_kills=delete_kills,
        converge_seconds=round(converge_seconds, 1),
        delete_seconds=round(delete_seconds, 1),
        create_service_calls=calls.get("servicediscovery:CreateService", 0),
        create_namespace_calls=calls.get("servicediscovery:CreatePrivateDnsNamespace", 0),
        delete_service_calls=after.get("servicediscovery:DeleteService", 0),
        delete_namespace_calls=after.get("servicediscovery:DeleteNamespace", 0),
        total_calls=sum(after.values()),
        duplicates=0,
        orphans=0,
        stuck_finalizers=0,
    )
