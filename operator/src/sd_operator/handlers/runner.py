"""`sd-operator run`: kopf inside our own CLI, with an explicit registry and settings."""

from __future__ import annotations

import getpass
import logging
import os
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import aiohttp
import kopf

from sd_operator import kube, logs, metrics
from sd_operator.aws.adapters import Adapters
from sd_operator.handlers import imports
from sd_operator.handlers.health import Health, PeeringWatch, is_literal
from sd_operator.handlers.heap import HeapSettler
from sd_operator.handlers.resources import register
from sd_operator.handlers.sweep import KubernetesWriter, Sweeper
from sd_operator.handlers.units import Units
from sd_operator.model.spec import PAUSED_ANNOTATION, REFRESH_ANNOTATION
from sd_operator.reconcile.reconciler import Reconciler
from sd_operator.settings import Settings

ANNOTATION_PREFIX = "sd-operator.io"
PRIORITY_CEILING = 10**13  # above any epoch-milliseconds for the next two centuries
FINALIZER = "sd-operator.io/finalizer"
# Annotations of kopf's prefix that handlers watch (handlers/resources.py).
_WATCHED_ANNOTATIONS = (REFRESH_ANNOTATION, PAUSED_ANNOTATION)
EXECUTOR_THREADS = 32
# kopf's own HTTP session opens a TLS connection for every request in flight, without limit. A
# restart over 1,000 resources PATCHes them all at once: about 900 connections, each holding
# asyncio's 256 KiB TLS read buffer, 224 of the operator's 448 MiB peak (bench/RESULTS.md,
# peak RSS).
# The login handler gives kopf a session with a bounded pool instead; a request over the bound
# waits for a free connection. A watch holds its connection while it streams, so the bound is
# API_REQUEST_CONNECTIONS on top of one per watch: a bound below the watches would starve them.
API_REQUEST_CONNECTIONS = 32
# What kopf watches in each namespace for this registry (CloudMapNamespace, ServiceDiscovery,
# CloudMapImport, EndpointSlice), plus its peering resource when peering, and cluster-wide its
# scanning of CRDs and namespaces.
WATCHED_KINDS = 4
SCANNING_WATCHES = 2
# Cluster-scoped, watched once cluster-wide whatever the namespaces: DiscoveryGrants and the
# namespaces' labels their selectors read (handlers/tenancy.py).
CLUSTER_SCOPED_WATCHES = 2

log = logs.get(__name__)


def api_connection_limit(namespaces: Sequence[str], *, peering: bool) -> int | None:
    """The bound of kopf's connection pool for these namespaces, or None for kopf's unbounded
    pool: with namespace globs kopf watches every namespace that matches, which is not known
    here, so no bound is safe."""
    if not all(map(is_literal, namespaces)):
        return None
    per_scope = WATCHED_KINDS + int(peering)
    watches = per_scope * len(namespaces) if namespaces else per_scope + SCANNING_WATCHES
    return API_REQUEST_CONNECTIONS + watches + CLUSTER_SCOPED_WATCHES


def bounded_session(info: kopf.ConnectionInfo, limit: int) -> kopf.AiohttpSession:
    """kopf's own session for `info` (its TLS context and headers), with at most `limit`
    connections."""
    session = aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=limit, ssl=info.as_ssl_context()),
        headers=info.as_http_headers(),
        proxy=info.proxy_url,
        trust_env=info.trust_env,
    )
    return kopf.AiohttpSession(
        server=info.server,
        default_namespace=info.default_namespace,
        priority=info.priority,
        expiration=info.expiration,
        aiohttp_session=session,
    )


def build_registry(
    settings: Settings,
    health: Health | None = None,
    leading: Callable[[], bool] = lambda: True,
    api_connections: int | None = None,
) -> kopf.OperatorRegistry:
    """`api_connections`: the bound of kopf's connection pool (api_connection_limit); None
    keeps kopf's own unbounded session. settings.operator gives the sweep interval, kopf's
    peering lifetime (how long the other replicas count this one as alive after its last
    keep-alive) and hybrid export and import."""
    registry = kopf.OperatorRegistry()
    sweeper = _register_resources(registry, settings, leading)
    peering_lifetime = settings.operator.peering.lifetime
    _register_login(registry, health, api_connections)

    @kopf.on.startup(registry=registry)
    def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
        # Our status schema is structural: kopf's own bookkeeping goes to annotations.
        settings.persistence.progress_storage = Progress(prefix=ANNOTATION_PREFIX)
        settings.persistence.diffbase_storage = DiffBase(
            prefix=ANNOTATION_PREFIX, key="last-handled-configuration"
        )
        settings.persistence.finalizer = FINALIZER
        settings.posting.level = logging.INFO
        settings.peering.lifetime = peering_lifetime
        # boto3 is synchronous: handlers run in threads. At 1,000 resources a cold start or a
        # spec change to many at once is bound by the AWS budget (CreateService 5/s), not by
        # threads; enough threads that waiting on the budget does not hold up a resource whose
        # calls have tokens (the drift sweep has its own pool).
        settings.execution.max_workers = EXECUTOR_THREADS
        sweeper.start()
        if health is not None and health.literal_namespaces:
            # Only named namespaces: nothing to discover, so no cluster-wide list/watch of
            # namespaces or CRDs (the chart grants neither in this mode).
            settings.scanning.disabled = True

    @kopf.on.cleanup(registry=registry)
    def stop_sweep(**_: Any) -> None:
        sweeper.stop()

    return registry


def _register_resources(
    registry: kopf.OperatorRegistry, settings: Settings, leading: Callable[[], bool]
) -> Sweeper:
    """The units, the drift sweep (started by the startup handler) and the handlers of every
    kind we own."""
    sweep_seconds = settings.operator.sweep_seconds
    hybrid = settings.operator.hybrid
    # The account view lives a little under one interval: each sweep reads it once, and change
    # handlers between sweeps find ids in it.
    adapters = Adapters(settings.aws.region, settings.aws.endpoint_url)
    reconciler = Reconciler(adapters, settings.cluster, view_ttl=sweep_seconds * 0.9)
    units = Units.build(reconciler, adapters, sweep_seconds, export=hybrid.export_enabled)
    settle = HeapSettler()
    sweeper = Sweeper(
        units,
        KubernetesWriter(),
        interval=sweep_seconds,
        active=leading,
        on_swept=lambda report: settle(report.resources, report.stepped),
    )

    def forget(uid: str) -> None:
        units.forget(uid)
        sweeper.forget(uid)

    register(registry, units, forget, sweeper.seen)
    if hybrid.import_enabled:
        imports.register(registry, adapters, units.locks, sweep_seconds, forget, hybrid.limits)
    return sweeper


def _register_login(
    registry: kopf.OperatorRegistry, health: Health | None, api_connections: int | None
) -> None:
    @kopf.on.login(registry=registry)
    async def login(**kwargs: Any) -> kopf.ConnectionInfo | kopf.AiohttpSession | None:
        # An explicit registry has no default login handler: use the kubernetes client's
        # (in-cluster service account, or KUBECONFIG). Async: the session must be made in
        # kopf's event loop.
        info = kopf.login_via_client(**kwargs)
        if health is not None:
            health.logged_in.set()
        if info is None or api_connections is None:
            return info
        return bounded_session(info, api_connections)


def _keep_watched(source: Any, essence: kopf.BodyEssence) -> kopf.BodyEssence:
    annotations = (source.get("metadata") or {}).get("annotations") or {}
    for key in _WATCHED_ANNOTATIONS:
        value = annotations.get(key)
        if value is not None:
            meta = essence.setdefault("metadata", {})
            meta.setdefault("annotations", {})[key] = value
    return essence


class DiffBase(kopf.AnnotationsDiffBaseStorage):
    """kopf leaves every annotation of its own prefix (sd-operator.io/) out of what it compares,
    so a change of the refresh or the pause annotation would never reach the handler watching
    it: keep them."""

    def build(self, *, body: kopf.Body, extra_fields: Any = None) -> kopf.BodyEssence:
        return _keep_watched(body, super().build(body=body, extra_fields=extra_fields))


class Progress(kopf.AnnotationsProgressStorage):
    """The same for the progress storage, which strips its prefix from both sides again."""

    def clear(self, *, essence: kopf.BodyEssence) -> kopf.BodyEssence:
        return _keep_watched(essence, super().clear(essence=essence))


def peering_priority(explicit: int | None, now: float | None = None) -> int:
    """Replicas of one Deployment share their flags, and kopf pauses every replica when two
    share a priority; deriving it from the start time (earlier is higher) keeps the running
    replica active and makes a newer one its standby."""
    if explicit is not None:
        return explicit
    started_ms = int((time.time() if now is None else now) * 1000)
    return PRIORITY_CEILING - started_ms


def own_identity() -> str:
    """The peer id kopf records in the peering object: pod (or host), user, start time, pid."""
    host = os.environ.get("POD_ID") or socket.gethostname()
    return f"{getpass.getuser()}@{host}/{time.strftime('%Y%m%d%H%M%S')}/{os.getpid()}"


def with_cluster_id(settings: Settings) -> Settings:
    """The settings with the cluster's id: as given, else the kube-system namespace's UID
    (kube.KubeError when it cannot be read: the operator must not start without one)."""
    if settings.cluster.id is not None:
        return settings
    cluster = replace(settings.cluster, id=kube.cluster_id(kube.connect()))
    return replace(settings, cluster=cluster)


def run_operator(settings: Settings) -> int:
    try:
        settings = with_cluster_id(settings)
    except kube.KubeError as exc:
        log.error(
            "no cluster id",
            error=str(exc),
            hint="grant get on the kube-system namespace (the Helm chart does), or pass "
            "--cluster-id (env SD_OPERATOR_CLUSTER_ID): docs/ownership.md",
        )
        return 1
    run = settings.operator
    namespaces = run.namespaces
    identity = own_identity()
    priority = peering_priority(run.peering.priority)
    health = Health(namespaces)
    watch: PeeringWatch | None = None
    if run.peering.name:
        watch = PeeringWatch(health, run.peering.name, namespaces, identity, priority)
        watch.start()
    else:
        metrics.LEADER.set(1)

    def leading() -> bool:
        return watch is None or watch.leading

    if run.metrics.port is not None:
        _, port = metrics.serve(run.metrics.bind_address, run.metrics.port, health.check)
        log.info("serving metrics", url=f"http://{run.metrics.bind_address}:{port}/metrics")
    health.start()
    registry = build_registry(
        settings,
        health,
        leading,
        api_connections=api_connection_limit(namespaces, peering=bool(run.peering.name)),
    )
    log.info(
        "starting",
        region=settings.aws.region,
        endpoint=settings.aws.endpoint_url,
        cluster=settings.cluster.name,
        cluster_id=settings.cluster.id,
        namespaces=list(namespaces) or "all",
        peering=run.peering.name or "standalone",
    )
    kopf.run(
        registry=registry,
        clusterwide=not namespaces,
        namespaces=namespaces,
        standalone=not run.peering.name,
        peering_name=run.peering.name,
        priority=priority,
        identity=identity,  # type: ignore[arg-type]  # kopf's Identity is a NewType of str
        liveness_endpoint=run.liveness,
        ready_flag=health.started,
    )
    return 0
