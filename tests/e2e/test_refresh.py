"""Refresh on demand and plan --from-cluster against the real API server.

`sd-operator refresh` sets sd-operator.io/reconcile-requested-at; the operator (its sweep an hour
away) observes AWS and corrects an out-of-band change within seconds, records the value and the
time in status.refresh, and honours each value once. `plan --from-cluster` plans the cluster's
resources as the operator does, with the --cluster-name of the operator's Deployment."""

from __future__ import annotations

import time
from typing import Any

from e2e_support import (
    DISCOVERIES,
    NO_SWEEP,
    Kubectl,
    StartOperator,
    kube_cli,
    ready_and_synced,
    stays,
)
from test_lifecycle import change_ttl_out_of_band, create_stack, ttl

from sd_devkit.emulator import Emulator
from sd_operator.model.spec import REFRESH_ANNOTATION


def test_refresh_reconciles_now_outside_the_sweep_once_per_value(
    kubectl: Kubectl, namespace: str, start_operator: StartOperator, sd: Any
) -> None:
    start_operator("op", *NO_SWEEP)
    _, svc = create_stack(kubectl, namespace)
    service = sd.get_service(Id=svc["status"]["serviceId"])["Service"]
    change_ttl_out_of_band(sd, service, 300)

    started = time.monotonic()
    done = kube_cli(kubectl, "refresh", "sd", "user-service", "-n", namespace, "--wait", "20")
    took = time.monotonic() - started

    assert done.returncode == 0, done.stderr
    assert "honoured at" in done.stdout, done.stdout
    assert took < 20, took
    assert ttl(sd.get_service(Id=service["Id"])["Service"]) == 10
    obj = kubectl.get(DISCOVERIES, "user-service", namespace)
    assert obj is not None
    value = obj["metadata"]["annotations"][REFRESH_ANNOTATION]
    assert obj["status"]["refresh"]["requestedAt"] == value
    assert obj["status"]["refresh"]["honouredAt"]
    assert obj["status"]["drift"][-1]["field"] == "service.dns.records[0].ttl"

    # The same value again is no new request: the drift made now stays until the sweep. The
    # correction's UpdateService operation is polled once more after "honoured"; a change made
    # before that poll is seen by it, so wait for the reconcile to finish first.
    kubectl.wait_for_object(
        DISCOVERIES,
        "user-service",
        namespace,
        lambda o: ready_and_synced(o) and not (o.get("status") or {}).get("operation"),
        "the refresh's reconcile finished (Ready, Synced, no operation in flight)",
    )
    change_ttl_out_of_band(sd, service, 300)
    kubectl.run(
        "annotate", DISCOVERIES, "user-service", "-n", namespace, "--overwrite",
        f"{REFRESH_ANNOTATION}={value}",
    )  # fmt: skip
    stays(
        lambda: ttl(sd.get_service(Id=service["Id"])["Service"]) == 300,
        "the TTL left as changed (no new refresh value, no sweep for an hour)",
        seconds=6,
    )


def test_plan_from_cluster_uses_the_operators_cluster_name(
    kubectl: Kubectl, namespace: str, start_operator: StartOperator, emulator: Emulator
) -> None:
    start_operator("op", *NO_SWEEP)
    create_stack(kubectl, namespace)
    aws = ["--aws-endpoint-url", emulator.endpoint_url, "--region", "us-east-1"]

    # No operator Deployment to read: planned as `default`, the resources are another
    # cluster's, and the plan says which flag to pass.
    laptop = kube_cli(kubectl, "plan", "--from-cluster", "-n", namespace, *aws)
    assert laptop.returncode == 1, laptop.stdout + laptop.stderr
    assert "OwnedElsewhere" in laptop.stdout
    assert "--cluster-name" in laptop.stderr
    given = kube_cli(
        kubectl, "plan", "--from-cluster", "-n", namespace, *aws, "--cluster-name", "e2e"
    )
    assert given.returncode == 0, given.stdout + given.stderr
    assert "in sync" in given.stdout

    # The operator's Deployment (as the Helm chart labels it) names its --cluster-name.
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "sd-operator", "labels": {"app.kubernetes.io/name": "sd-operator"}},
        "spec": {
            "selector": {"matchLabels": {"app": "sd-operator"}},
            "template": {
                "metadata": {"labels": {"app": "sd-operator"}},
                "spec": {
                    "containers": [
                        {"name": "operator", "image": "sd-operator:e2e",
                         "args": ["run", "--cluster-name=e2e"]}
                    ]
                },
            },
        },
    }  # fmt: skip
    kubectl.apply(deployment, namespace)
    try:
        read = kube_cli(kubectl, "plan", "--from-cluster", "-n", namespace, *aws, "-o", "json")
        assert read.returncode == 0, read.stdout + read.stderr
        assert f"using --cluster-name e2e of the operator ({namespace}/sd-operator)" in read.stderr
        assert '"clusterName": "e2e"' in read.stdout
    finally:
        kubectl.delete("deployment", "sd-operator", namespace)
