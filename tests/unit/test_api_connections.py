"""kopf's connection pool to the API server is bounded (handlers/runner.py).

kopf's own session opens a TLS connection per request in flight, without limit: a restart
over 1,000 resources opened about 900 at once, each with a 256 KiB TLS read buffer, half of the
operator's peak memory (bench/RESULTS.md, peak RSS). The login handler now hands kopf a
session of ours with a bounded pool; watches hold a connection each, so the bound counts them.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import kopf
import pytest

from sd_operator.handlers.runner import (
    API_REQUEST_CONNECTIONS,
    CLUSTER_SCOPED_WATCHES,
    SCANNING_WATCHES,
    WATCHED_KINDS,
    api_connection_limit,
    build_registry,
)
from sd_operator.model.spec import ClusterIdentity
from sd_operator.settings import AwsSettings, OperatorSettings, Settings

KUBECONFIG = """\
apiVersion: v1
kind: Config
clusters:
- name: local
  cluster:
    server: https://127.0.0.1:6443
    insecure-skip-tls-verify: true
users:
- name: operator
  user:
    token: not-a-real-token
contexts:
- name: local
  context: {cluster: local, user: operator}
current-context: local
"""


def settings() -> Settings:
    return Settings(
        AwsSettings("us-east-1", "http://127.0.0.1:1"),
        ClusterIdentity("test"),
        operator=OperatorSettings(sweep_seconds=30.0),
    )


def login_handler(registry: kopf.OperatorRegistry) -> Any:
    # The test reads kopf's registry (not public API) to call the very handler kopf calls.
    (handler,) = [
        h for h in registry._activities.get_all_handlers() if h.activity.value == "authentication"
    ]
    return handler.fn


def log_in(registry: kopf.OperatorRegistry) -> tuple[Any, int | None, dict[str, str]]:
    """What the login handler returns; for a session, its pool's limit and its headers."""

    async def go() -> tuple[Any, int | None, dict[str, str]]:
        context = await login_handler(registry)(
            logger=logging.getLogger("test"), settings=kopf.OperatorSettings()
        )
        if not isinstance(context, kopf.AiohttpSession):
            return context, None, {}
        session = context.aiohttp_session
        assert session.connector is not None
        limit, headers = session.connector.limit, dict(session.headers)
        await session.close()
        return context, limit, headers

    return asyncio.run(go())


@pytest.fixture
def kubeconfig(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "kubeconfig"
    path.write_text(KUBECONFIG)
    # The kubernetes client reads $KUBECONFIG once, at import: point its default there.
    from kubernetes.config import kube_config  # type: ignore[import-untyped]

    monkeypatch.setattr(kube_config, "KUBE_CONFIG_DEFAULT_LOCATION", str(path))
    return path


@pytest.mark.parametrize(
    ("namespaces", "peering", "watches"),
    [
        (["team-a"], False, WATCHED_KINDS),
        (["team-a", "team-b", "team-c"], False, 3 * WATCHED_KINDS),
        (["team-a", "team-b"], True, 2 * (WATCHED_KINDS + 1)),
        ([], False, WATCHED_KINDS + SCANNING_WATCHES),
        ([], True, WATCHED_KINDS + 1 + SCANNING_WATCHES),
    ],
)
def test_the_bound_is_the_requests_share_on_top_of_one_per_watch(
    namespaces: list[str], peering: bool, watches: int
) -> None:
    bound = API_REQUEST_CONNECTIONS + watches + CLUSTER_SCOPED_WATCHES
    assert api_connection_limit(namespaces, peering=peering) == bound


@pytest.mark.parametrize("namespaces", [["team-*"], ["team-a", "!team-b"]])
def test_namespace_globs_keep_kopfs_unbounded_pool(namespaces: list[str]) -> None:
    # kopf watches every namespace a glob matches, a number not known at start-up: any bound
    # could sit below the watches and starve them.
    assert api_connection_limit(namespaces, peering=False) is None


def test_watched_kinds_is_what_the_registry_watches() -> None:
    registry = build_registry(settings())
    selectors = set()
    for part in (registry._indexing, registry._watching, registry._changing):
        selectors |= {(s.group, s.version, s.any_name) for s in part.get_all_selectors()}
    assert len(selectors) == WATCHED_KINDS + CLUSTER_SCOPED_WATCHES, selectors


def test_login_hands_kopf_a_bounded_session(kubeconfig: Path) -> None:
    context, limit, headers = log_in(build_registry(settings(), api_connections=37))
    assert isinstance(context, kopf.AiohttpSession)
    assert limit == 37
    assert context.server == "https://127.0.0.1:6443"
    assert headers["Authorization"] == "Bearer not-a-real-token"


def test_without_a_bound_login_keeps_kopfs_own_session(kubeconfig: Path) -> None:
    context, _, _ = log_in(build_registry(settings()))
    assert isinstance(context, kopf.ConnectionInfo)
    assert context.token == "not-a-real-token"
