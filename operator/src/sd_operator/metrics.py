"""Prometheus metrics: one name per concept, labelled by resource kind.

The operator serves them, and its readiness, from one HTTP server (`serve`): /metrics for
Prometheus, /readyz for the kubelet. Every series here is listed in docs/metrics.md; the chart's
dashboard and alerts use only these (a test checks each query against this registry).
"""

from __future__ import annotations

import platform
import threading
from collections import Counter as Tally
from collections.abc import Callable, Iterable, Mapping, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from prometheus_client import REGISTRY, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector

from sd_operator.model.conditions import Written, typed

RECONCILES = Counter(
    "sd_operator_reconciles_total", "Reconcile steps by kind and outcome", ["kind", "outcome"]
)
AWS_CHANGES = Counter("sd_operator_aws_changes_total", "Changes made in AWS", ["kind"])
DRIFT = Counter(
    "sd_operator_drift_detected_total", "Fields found changed outside the operator", ["kind"]
)
ECS_DEPLOYMENTS_UNDONE = Counter(
    "sd_operator_ecs_deployments_undone_total",
    "ECS deployments started by the operator that ECS failed or rolled back",
    ["reason"],
)
STEP_SECONDS = Histogram(
    "sd_operator_reconcile_seconds", "Duration of one reconcile step", ["kind"]
)
BUILD_INFO = Gauge(
    "sd_operator_build_info",
    "Always 1: the operator's version and the Python and kopf it runs on",
    ["version", "python", "kopf"],
)
LEADER = Gauge(
    "sd_operator_leader",
    "1 while this replica acts (standalone, or the highest-priority peer); 0 while it stands by",
)


def package_version(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "unknown"


BUILD_INFO.labels(
    package_version("sd-operator"), platform.python_version(), package_version("kopf")
).set(1)


# AWS calls, per attempt (botocore retries count once each); api is "service:Action", account
# the 12-digit account the call landed in (a DiscoveryGrant's role's, or the operator's own).
AWS_CALLS = Counter(
    "sd_operator_aws_calls_total",
    "AWS API requests by API and outcome (ok, throttled, error)",
    ["account", "api", "outcome"],
)
AWS_CALL_SECONDS = Histogram(
    "sd_operator_aws_call_seconds",
    "Latency of one AWS API request (after its budget token was granted)",
    ["account", "api"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
AWS_BUDGET_WAIT = Histogram(
    "sd_operator_aws_budget_wait_seconds",
    "Time an AWS request waited for a token of its API budget",
    ["account", "api"],
    buckets=(0.01, 0.05, 0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0),
)
AWS_BUDGET_RATE = Gauge(
    "sd_operator_aws_budget_rate",
    "Current allowed request rate of an API budget (requests/s, after throttling cuts)",
    ["account", "api"],
)

# The drift sweep: one per interval over every resource.
SWEEP_SECONDS = Histogram(
    "sd_operator_sweep_seconds",
    "Duration of one drift sweep (account read plus every resource's step)",
    buckets=(0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0),
)
SWEEP_READ_SECONDS = Histogram(
    "sd_operator_sweep_read_seconds",
    "Duration of the account read that starts a drift sweep",
    buckets=(0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0),
)
SWEEP_RESOURCES = Gauge(
    "sd_operator_sweep_resources", "Resources stepped by the last drift sweep", ["kind"]
)
STATUS_WRITES = Counter(
    "sd_operator_status_writes_total",
    "Status patches the drift sweep sent to the API server, by why (change or heartbeat)",
    ["kind", "reason"],
)


class ResourceConditions(Collector):
    """sd_operator_resources{kind, condition, status}: how many resources this replica
    reconciles have each condition in each status, from the conditions it last wrote."""

    def __init__(self) -> None:
        self._by_uid: dict[str, tuple[str, tuple[tuple[str, str], ...]]] = {}
        self._lock = threading.Lock()

    def record(self, uid: str, kind: str, conditions: Iterable[Written]) -> None:
        pairs = tuple(sorted((c.type, c.status) for c in map(typed, conditions)))
        with self._lock:
            self._by_uid[uid] = (kind, pairs)

    def forget(self, uid: str) -> None:
        with self._lock:
            self._by_uid.pop(uid, None)

    def collect(self) -> Iterable[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "sd_operator_resources",
            "Resources by kind and condition status, as last written by this replica",
            labels=["kind", "condition", "status"],
        )
        with self._lock:
            counts = Tally(
                (kind, cond_type, status)
                for kind, pairs in self._by_uid.values()
                for cond_type, status in pairs
            )
        for (kind, cond_type, status), count in sorted(counts.items()):
            family.add_metric([kind, cond_type, status], count)
        yield family

    def describe(self) -> Iterable[GaugeMetricFamily]:
        # Without describe(), registering calls collect() once to learn the names.
        yield GaugeMetricFamily("sd_operator_resources", "", labels=["kind", "condition", "status"])


RESOURCES = ResourceConditions()
REGISTRY.register(RESOURCES)


def serve(
    host: str, port: int, ready: Callable[[], tuple[bool, str]]
) -> tuple[ThreadingHTTPServer, int]:
    """Serve /metrics and /readyz on host:port (0: any free port) in a daemon thread; returns
    the server and the bound port. `ready()` answers (ready?, why) for /readyz."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                self._reply(200, generate_latest(REGISTRY), CONTENT_TYPE_LATEST)
            elif path == "/readyz":
                ok, why = ready()
                self._reply(200 if ok else 503, f"{why}\n".encode(), "text/plain")
            else:
                self._reply(404, b"not found: /metrics or /readyz\n", "text/plain")

        def _reply(self, code: int, body: bytes, content_type: str) -> None:
            self.send_response(code)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            return None  # one line per scrape or probe is noise

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="metrics-http", daemon=True).start()
    return server, int(server.server_address[1])


def metric_names(registry: Any = REGISTRY) -> set[str]:
    """Every sample name `registry` can expose, with the suffixes each metric type adds
    (counter _total, histogram _bucket/_count/_sum, ...): what a PromQL query can select."""
    suffixes: Mapping[str, Sequence[str]] = {
        "counter": ("_total", "_created"),
        "histogram": ("_bucket", "_count", "_sum", "_created"),
        "summary": ("", "_count", "_sum", "_created"),
        "info": ("_info",),
        "gaugehistogram": ("_bucket", "_gcount", "_gsum"),
    }
    names: set[str] = set()
    for family in registry.collect():
        for suffix in suffixes.get(family.type, ("",)):
            names.add(family.name + suffix)
    return names
