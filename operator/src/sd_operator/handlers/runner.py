"""`sd-operator run`: kopf inside our own CLI, with an explicit registry and settings."""

from __future__ import annotations

import argparse
import logging
import time
from typing import Any

import kopf
from prometheus_client import start_http_server

from sd_operator import logs
from sd_operator.handlers.resources import Handlers, register
from sd_operator.reconcile.reconciler import Reconciler
from sd_operator.settings import Settings

ANNOTATION_PREFIX = "sd-operator.io"
PRIORITY_CEILING = 10**13  # above any epoch-milliseconds for the next two centuries
FINALIZER = "sd-operator.io/finalizer"

log = logs.get(__name__)


def build_registry(settings: Settings, resync_seconds: float) -> kopf.OperatorRegistry:
    registry = kopf.OperatorRegistry()
    # A snapshot lives a little under one interval, so each sweep of all resources lists and
    # describes once, and a console change is seen within two intervals at most.
    reconciler = Reconciler(
        settings.region,
        settings.endpoint_url,
        settings.cluster_name,
        snapshot_ttl=resync_seconds * 0.9,
    )
    register(registry, Handlers(reconciler, resync_seconds))

    @kopf.on.login(registry=registry)
    def login(**kwargs: Any) -> kopf.ConnectionInfo | None:
        # An explicit registry has no default login handler: use the kubernetes client's
        # (in-cluster service account, or KUBECONFIG).
        return kopf.login_via_client(**kwargs)

    @kopf.on.startup(registry=registry)
    def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
        # Our status schema is structural: kopf's own bookkeeping goes to annotations.
        settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(
            prefix=ANNOTATION_PREFIX
        )
        settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
            prefix=ANNOTATION_PREFIX, key="last-handled-configuration"
        )
        settings.persistence.finalizer = FINALIZER
        settings.posting.level = logging.INFO
        # boto3 is synchronous: handlers run in threads; keep a few so one slow region or a
        # throttled account does not stall every other resource.
        settings.execution.max_workers = 8

    return registry


def peering_priority(explicit: int | None, now: float | None = None) -> int:
    """Replicas of one Deployment share their flags, and kopf pauses every replica when two
    share a priority; deriving it from the start time (earlier is higher) keeps the running
    replica active and makes a newer one its standby."""
    if explicit is not None:
        return explicit
    started_ms = int((time.time() if now is None else now) * 1000)
    return PRIORITY_CEILING - started_ms


def run_operator(settings: Settings, args: argparse.Namespace) -> int:
    if args.metrics_port:
        start_http_server(args.metrics_port)
    registry = build_registry(settings, args.resync_seconds)
    namespaces = tuple(args.namespace)
    log.info(
        "starting",
        region=settings.region,
        endpoint=settings.endpoint_url,
        cluster=settings.cluster_name,
        namespaces=list(namespaces) or "all",
        peering=args.peering or "standalone",
    )
    kopf.run(
        registry=registry,
        clusterwide=not namespaces,
        namespaces=namespaces,
        standalone=not args.peering,
        peering_name=args.peering,
        priority=peering_priority(args.priority),
        liveness_endpoint=args.liveness,
    )
    return 0
