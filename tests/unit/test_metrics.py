"""The operator's metric registry, and the chart's dashboard and alerts against it: every
series a query selects must be one the operator exposes."""

from __future__ import annotations

import datetime
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import generate_latest

import sd_operator.handlers.runner  # noqa: F401  (registers every metric the operator has)
from sd_operator import metrics
from sd_operator.handlers.health import is_leader

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "helm" / "sd-operator"
DASHBOARD = CHART / "dashboards" / "sd-operator.json"
RULES = CHART / "templates" / "prometheusrule.yaml"

# Series Prometheus itself adds to every target: not the operator's to expose.
PROMETHEUS_SERIES = frozenset({"up", "scrape_duration_seconds", "scrape_samples_scraped"})
KEYWORDS = frozenset({"by", "without", "on", "ignoring", "group_left", "group_right", "bool"})
KEYWORDS |= {"and", "or", "unless", "offset", "inf", "nan"}


def series_in(expr: str) -> set[str]:
    """Metric names a PromQL (or Grafana template) expression selects."""
    text = re.sub(r"\{\{.*?\}\}", "", expr)  # helm / legend templating
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', text)
    text = re.sub(r"label_values\(\s*([A-Za-z_:][\w:]*)[^)]*\)", r"\1", text)
    text = re.sub(r"\{[^}]*\}", "", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", "", text)  # ranges, $__rate_interval
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", text)
    text = re.sub(r"\$\w+", "", text)
    names = set()
    for match in re.finditer(r"(?<![\w.])([A-Za-z_:][\w:]*)(\s*\()?", text):
        name, call = match.group(1), match.group(2)
        if call or name.lower() in KEYWORDS:
            continue  # a function or aggregation, or a keyword
        names.add(name)
    return names


def dashboard_queries(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("expr", "definition") and isinstance(value, str):
                yield value
            elif key == "query" and isinstance(value, dict) and "query" in value:
                yield str(value["query"])
            else:
                yield from dashboard_queries(value)
    elif isinstance(node, list):
        for item in node:
            yield from dashboard_queries(item)


def rule_expressions() -> list[str]:
    return [
        line.split("expr:", 1)[1].strip()
        for line in RULES.read_text().splitlines()
        if line.strip().startswith("expr:")
    ]


def test_series_in_reads_promql() -> None:
    expr = (
        'histogram_quantile(0.95, sum by (le, kind) (rate(a_bucket{x=~"$ns",y="b{c}"}'
        "[$__rate_interval]))) / ignoring(kind) b_total or vector(0) and on (x) c"
    )
    assert series_in(expr) == {"a_bucket", "b_total", "c"}
    assert series_in("label_values(sd_operator_build_info, namespace)") == {
        "sd_operator_build_info"
    }


def test_dashboard_queries_use_only_series_the_operator_exposes() -> None:
    known = metrics.metric_names() | PROMETHEUS_SERIES
    queries = list(dashboard_queries(json.loads(DASHBOARD.read_text())))
    assert len(queries) >= 10, queries
    unknown = {q: sorted(series_in(q) - known) for q in queries if series_in(q) - known}
    assert not unknown, f"dashboard queries select series the operator does not expose: {unknown}"


def test_alerts_use_only_series_the_operator_exposes() -> None:
    known = metrics.metric_names() | PROMETHEUS_SERIES
    expressions = rule_expressions()
    assert len(expressions) >= 4
    unknown = {e: sorted(series_in(e) - known) for e in expressions if series_in(e) - known}
    assert not unknown, f"alerts select series the operator does not expose: {unknown}"


def test_registry_names_carry_type_suffixes() -> None:
    names = metrics.metric_names()
    assert {
        "sd_operator_reconciles_total",
        "sd_operator_reconcile_seconds_bucket",
        "sd_operator_resources",
        "sd_operator_build_info",
        "sd_operator_leader",
    } <= names
    assert "sd_operator_reconciles" not in names


def test_resource_conditions_count_by_kind_condition_and_status() -> None:
    tracker = metrics.ResourceConditions()
    ready = {"type": "Ready", "status": "True"}
    terminal = {"type": "Terminal", "status": "True"}
    tracker.record("u1", "CloudMapNamespace", [ready])
    tracker.record("u2", "CloudMapNamespace", [ready])
    tracker.record("u3", "ServiceDiscovery", [{"type": "Ready", "status": "False"}, terminal])
    tracker.record("u2", "CloudMapNamespace", [{"type": "Ready", "status": "False"}])
    tracker.forget("u1")
    (family,) = tracker.collect()
    samples = {tuple(s.labels.values()): s.value for s in family.samples}
    assert samples == {
        ("CloudMapNamespace", "Ready", "False"): 1,
        ("ServiceDiscovery", "Ready", "False"): 1,
        ("ServiceDiscovery", "Terminal", "True"): 1,
    }


def test_build_info_names_the_version() -> None:
    text = generate_latest().decode()
    assert re.search(r'sd_operator_build_info\{kopf="[^"]+",python="3\.[^"]+",version="', text)


NOW = datetime.datetime(2026, 1, 1, 12, 0, tzinfo=datetime.UTC)


def _peer(priority: int, seconds_ago: int = 1, lifetime: int = 60) -> dict[str, Any]:
    seen = (NOW - datetime.timedelta(seconds=seconds_ago)).isoformat()
    return {"priority": priority, "lifetime": lifetime, "lastseen": seen}


@pytest.mark.parametrize(
    ("others", "leader"),
    [
        ({}, True),
        ({"b": _peer(5)}, True),
        ({"b": _peer(20)}, False),
        ({"b": _peer(10)}, False),  # same priority: kopf pauses both
        ({"b": _peer(20, seconds_ago=120)}, True),  # dead peer
    ],
)
def test_leader_follows_kopf_priority_rule(others: dict[str, Any], leader: bool) -> None:
    peers = {"me": _peer(10), **others}
    assert is_leader(peers, "me", 10, NOW) is leader
