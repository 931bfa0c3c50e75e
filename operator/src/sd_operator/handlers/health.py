"""Readiness and leader state of a running operator, for /readyz and sd_operator_leader.

Ready means: kopf has logged in to the API server, its startup handlers ran (kopf then starts
the watches), and the service account may list each of our kinds where the operator watches
them, the list each watch starts with. A missing RBAC verb keeps the pod unready instead of
silently idle.
"""

from __future__ import annotations

import datetime
import threading
from collections.abc import Sequence
from typing import Any

from sd_operator import logs, metrics
from sd_operator.model.spec import (
    GROUP,
    PLURAL_DISCOVERY,
    PLURAL_IMPORT,
    PLURAL_NAMESPACE,
    VERSION,
)
from sd_operator.model.timestamps import parse_time

log = logs.get(__name__)

# What makes a --namespace value a pattern to kopf (negation, globs, a comma-separated list),
# and fnmatch's character class: kopf then watches every namespace that matches.
GLOB_CHARS = frozenset("!*?,[")
RECHECK_SECONDS = 5.0
PEERING_POLL_SECONDS = 10.0


def is_literal(namespace: str) -> bool:
    return not GLOB_CHARS & set(namespace)


class Health:
    def __init__(self, namespaces: Sequence[str]) -> None:
        self.namespaces = tuple(namespaces)
        # Only literal names: each can be listed; with globs (or none) the lists are cluster-wide.
        self.literal_namespaces = bool(namespaces) and all(map(is_literal, namespaces))
        self.logged_in = threading.Event()
        self.started = threading.Event()  # kopf raises it once the startup handlers ran
        self._ready = threading.Event()
        self._why = "starting: not logged in to the API server yet"
        self._lock = threading.Lock()

    def check(self) -> tuple[bool, str]:
        with self._lock:
            return self._ready.is_set(), self._why

    def _set(self, ready: bool, why: str) -> None:
        with self._lock:
            if ready:
                self._ready.set()
            self._why = why

    def start(self) -> None:
        threading.Thread(target=self._wait_ready, name="readiness", daemon=True).start()

    def _wait_ready(self) -> None:
        self.logged_in.wait()
        self._set(False, "starting: logged in, startup handlers running")
        self.started.wait()
        while True:
            problem = self._access_problem()
            if problem is None:
                self._set(True, "ready: logged in, watches running")
                log.info("ready", namespaces=list(self.namespaces) or "all")
                return
            self._set(False, f"not ready: {problem}")
            log.warning("not ready", problem=problem)
            threading.Event().wait(RECHECK_SECONDS)

    def _access_problem(self) -> str | None:
        """None when every list the watches need is allowed, else what failed."""
        from sd_operator.kube.client import ApiException, apis

        api = apis().custom
        scopes: Sequence[str | None] = self.namespaces if self.literal_namespaces else (None,)
        for plural in (PLURAL_NAMESPACE, PLURAL_DISCOVERY, PLURAL_IMPORT):
            for namespace in scopes:
                where = f"namespace {namespace}" if namespace else "all namespaces"
                try:
                    if namespace is None:
                        api.list_cluster_custom_object(GROUP, VERSION, plural, limit=1)
                    else:
                        api.list_namespaced_custom_object(
                            GROUP, VERSION, namespace, plural, limit=1
                        )
                except ApiException as exc:
                    return f"cannot list {plural} in {where}: {exc.status} {exc.reason}"
                except Exception as exc:  # connection errors: report, retry
                    return f"cannot list {plural} in {where}: {exc}"
        return None


def is_leader(peers: dict[str, Any], identity: str, priority: int, now: datetime.datetime) -> bool:
    """kopf's rule: a replica pauses while a live peer has a higher or the same priority."""
    for peer_id, peer in peers.items():
        if peer_id == identity or not isinstance(peer, dict):
            continue
        lastseen = peer.get("lastseen")
        if lastseen:
            seen = parse_time(str(lastseen))
            lifetime = datetime.timedelta(seconds=int(peer.get("lifetime", 60)))
            if seen + lifetime <= now:
                continue  # dead: kopf ignores it (and cleans it up)
        if int(peer.get("priority", 0)) >= priority:
            return False
    return True


class PeeringWatch(threading.Thread):
    """Polls the peering object kopf coordinates through and sets sd_operator_leader."""

    def __init__(
        self,
        health: Health,
        name: str,
        namespaces: Sequence[str],
        identity: str,
        priority: int,
    ) -> None:
        super().__init__(name="peering-watch", daemon=True)
        self.health = health
        self.peering = name
        # kopf keeps one KopfPeering per namespace it serves; the first is representative.
        self.namespace = namespaces[0] if health.literal_namespaces else None
        self.identity = identity
        self.priority = priority
        self.leading = False  # the drift sweep runs only while this replica acts
        metrics.LEADER.set(0)

    def run(self) -> None:
        from sd_operator.kube.client import ApiException, apis

        self.health.logged_in.wait()
        api = apis().custom
        while True:
            try:
                if self.namespace is None:
                    obj = api.get_cluster_custom_object(
                        "kopf.dev", "v1", "clusterkopfpeerings", self.peering
                    )
                else:
                    obj = api.get_namespaced_custom_object(
                        "kopf.dev", "v1", self.namespace, "kopfpeerings", self.peering
                    )
                peers = dict(obj.get("status") or {})
                now = datetime.datetime.now(datetime.UTC)
                present = self.identity in peers
                leading = present and is_leader(peers, self.identity, self.priority, now)
                self.leading = leading
                metrics.LEADER.set(1 if leading else 0)
            except ApiException as exc:
                log.warning("cannot read the peering object", name=self.peering, status=exc.status)
            except Exception as exc:
                log.warning("cannot read the peering object", name=self.peering, error=str(exc))
            threading.Event().wait(PEERING_POLL_SECONDS)
