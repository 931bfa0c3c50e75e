"""One coordinated drift sweep per interval: read each account once, then step every resource.

Per-resource kopf timers each read a shared account view up to 0.9 intervals old, started only
after their previous run ended and queued behind kopf's worker threads: at 1,000 resources only
827 were stepped per 30 s interval, and every step PATCHed status. Here one thread, every
`--sweep-seconds` (jittered by +-10% so replicas or operators on one account do not align):

1. reads each account in use (the operator's own, and each DiscoveryGrant role's:
   `AccountView.refresh`: ListNamespaces, ListServices per namespace, tag:GetResources,
   DescribeServices per 10 ECS services), in the budget's background class so user-initiated
   changes go first; an account whose read fails is left out of this sweep, the others go on;
2. steps every resource from that view, in a small thread pool: a resource in sync costs no AWS
   call; one that looks different is read again by id before anything is written;
3. writes status only where something in it changed. lastObservedTime alone is a heartbeat,
   at most every HEARTBEAT_INTERVALS intervals and at most HEARTBEAT_WRITES_PER_SWEEP per sweep
   (docs/drift.md): a sweep over resources in sync costs the API server only those.

The resources come from kopf's watch stream (`seen`, an on.event handler): one body per
resource, the latest, so memory is bounded by the number of resources. A step that leaves work
in flight (a Cloud Map operation, a transient error) is stepped again, fresh, when its delay is
up, not a whole interval later.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol, cast

import kopf

from sd_operator import logs, metrics
from sd_operator.aws.budget import GiveUp, background
from sd_operator.aws.errors import AssumeRoleFailed, AwsError
from sd_operator.handlers.retry import retry_delay
from sd_operator.handlers.units import Units
from sd_operator.model.grants import Role
from sd_operator.model.spec import (
    GROUP,
    KIND_NAMESPACE,
    PLURAL_DISCOVERY,
    PLURAL_NAMESPACE,
    VERSION,
    NamespaceSpec,
)
from sd_operator.model.status import DiscoveryStatus, is_heartbeat, status_from_wire
from sd_operator.model.timestamps import utc_now
from sd_operator.reconcile.reader import view_as_read
from sd_operator.reconcile.result import Outcome, StepResult

log = logs.get(__name__)

JITTER = 0.1
SWEEP_WORKERS = 8
_FOLLOW_UP = (Outcome.WAITING, Outcome.ERROR, Outcome.BLOCKED)


class ApiWriter(Protocol):
    """Where the sweep's status patches and Events go (the API server, in the operator)."""

    def patch_status(
        self, body: Mapping[str, Any], status: Mapping[str, Any]
    ) -> Mapping[str, Any] | None: ...

    def post_event(
        self, body: Mapping[str, Any], type_: str, reason: str, message: str
    ) -> None: ...


class KubernetesWriter:
    """Merge-patches the status subresource and creates core/v1 Events, with the kubernetes
    client kopf logged in with (the sweep runs outside kopf's handlers, so kopf's patch and
    event queue are not there)."""

    def __init__(self, component: str = "sd-operator") -> None:
        self._component = component
        self._local = threading.local()

    def _apis(self) -> tuple[Any, Any]:
        if not hasattr(self._local, "apis"):
            from sd_operator.kube import client

            loaded = client.apis()
            self._local.apis = (loaded.custom, loaded.core)
        apis: tuple[Any, Any] = self._local.apis
        return apis

    def patch_status(
        self, body: Mapping[str, Any], status: Mapping[str, Any]
    ) -> Mapping[str, Any] | None:
        meta = body["metadata"]
        plural = PLURAL_NAMESPACE if body.get("kind") == KIND_NAMESPACE else PLURAL_DISCOVERY
        custom, _ = self._apis()
        answer: Mapping[str, Any] = custom.patch_namespaced_custom_object_status(
            GROUP,
            VERSION,
            meta["namespace"],
            plural,
            meta["name"],
            {"status": dict(status)},
            _content_type="application/merge-patch+json",
        )
        return answer

    def post_event(self, body: Mapping[str, Any], type_: str, reason: str, message: str) -> None:
        meta = body["metadata"]
        now = utc_now()
        _, core = self._apis()
        core.create_namespaced_event(
            meta["namespace"],
            {
                "metadata": {"generateName": f"{meta['name']}.", "namespace": meta["namespace"]},
                "involvedObject": {
                    "apiVersion": body.get("apiVersion", f"{GROUP}/{VERSION}"),
                    "kind": body.get("kind", ""),
                    "name": meta["name"],
                    "namespace": meta["namespace"],
                    "uid": meta.get("uid"),
                },
                "type": type_,
                "reason": reason,
                "message": message[:1024],
                "source": {"component": self._component},
                "reportingComponent": self._component,
                "firstTimestamp": now,
                "lastTimestamp": now,
                "count": 1,
            },
        )


@dataclass(frozen=True)
class SweepReport:
    resources: int
    stepped: int
    written: int
    seconds: float


def _body(raw: Mapping[str, Any]) -> kopf.Body:
    return kopf.Body(cast("kopf.RawBody", dict(raw)))


def _resource_version(body: Mapping[str, Any]) -> int:
    try:
        return int(body.get("metadata", {}).get("resourceVersion") or 0)
    except ValueError:
        return 0


class Sweeper:
    """Owns the sweep thread; `units.steps` does the step and the status rules of each resource."""

    def __init__(
        self,
        units: Units,
        writer: ApiWriter,
        *,
        interval: float,
        workers: int = SWEEP_WORKERS,
        active: Callable[[], bool] = lambda: True,
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.monotonic,
        on_swept: Callable[[SweepReport], object] = lambda _: None,
    ) -> None:
        self._units = units
        self._writer = writer
        self._interval = interval
        # One pool for the operator's life: its threads keep their kubernetes clients and TLS
        # connections (KubernetesWriter's are per thread); a pool per sweep built new ones each
        # interval.
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="sweep")
        self._active = active
        self._rng = rng or random.Random()
        self._clock = clock
        self._on_swept = on_swept
        self._lock = threading.Lock()
        self._bodies: dict[str, dict[str, Any]] = {}
        self._follow_ups: dict[str, tuple[float, int]] = {}  # uid -> (due, retries)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- what exists ---------------------------------------------------------------------------

    def forget(self, uid: str) -> None:
        """A resource is gone (its delete handler finished)."""
        with self._lock:
            self._bodies.pop(uid, None)
            self._follow_ups.pop(uid, None)

    def seen(self, event_type: str | None, body: Mapping[str, Any]) -> None:
        """Every watch event of both kinds: keep the newest body of each resource."""
        uid = str(body.get("metadata", {}).get("uid") or "")
        if not uid:
            return
        if event_type == "DELETED":
            self.forget(uid)
            return
        with self._lock:
            known = self._bodies.get(uid)
            if known is None or _resource_version(body) >= _resource_version(known):
                self._bodies[uid] = dict(body)

    def _namespaces(
        self, bodies: list[dict[str, Any]]
    ) -> dict[tuple[str, str], list[NamespaceSpec]]:
        found: dict[tuple[str, str], list[NamespaceSpec]] = {}
        for body in bodies:
            if body.get("kind") != KIND_NAMESPACE:
                continue
            res = self._units.parsed.get(body)
            if res is not None and isinstance(res.spec, NamespaceSpec):
                key = (res.identity.namespace, res.identity.name)
                found.setdefault(key, []).append(res.spec)
        return found

    def _roles(self, bodies: list[dict[str, Any]]) -> dict[str, Role | None]:
        """The role each resource acts through, by uid (not those its grants refuse)."""
        found: dict[str, Role | None] = {}
        for body in bodies:
            res = self._units.parsed.get(body)
            role = None if res is None else self._units.tenancy.role(res)
            if res is not None and not isinstance(role, StepResult):
                found[res.identity.uid] = role
        return found

    def _regions(
        self,
        roles: Mapping[str, Role | None],
        namespaces: Mapping[tuple[str, str], list[NamespaceSpec]],
    ) -> dict[Role | None, set[str]]:
        """The regions to read in each account: the default region of every account in use
        (the operator's own always), and each CloudMapNamespace's region in its account."""
        default = self._units.reconciler.default_region
        regions: dict[Role | None, set[str]] = {None: {default}}
        for role in roles.values():
            regions.setdefault(role, {default})
        for (namespace, _), specs in namespaces.items():
            acting = self._units.tenancy.role_in(namespace)
            if not isinstance(acting, StepResult):
                regions.setdefault(acting, {default}).update(s.region for s in specs if s.region)
        return regions

    def _read_accounts(self, regions: Mapping[Role | None, set[str]]) -> set[Role | None]:
        """Read each account's regions once, the accounts side by side (a throttled account's
        slow read holds up no other's); the accounts whose read failed, which this sweep does
        not step. A role that cannot be assumed is not among them: its resources' steps answer
        AssumeRoleFailed without asking STS (clients.AssumeRoleBackoff), the status they
        should show."""

        def read(role: Role | None, wanted: set[str]) -> bool:
            view = self._units.accounts(role).view
            with background(until=self._stop):
                for region in sorted(wanted):
                    if self._stop.is_set():
                        break
                    try:
                        view.refresh(region)
                    except AwsError as exc:
                        log.warning(
                            "account not read", role=str(role), region=region, error=str(exc)
                        )
                        return isinstance(exc, AssumeRoleFailed)
            return True

        accounts = sorted(regions.items(), key=lambda item: str(item[0] or ""))
        read_ok = self._pool.map(lambda item: read(*item), accounts)
        return {role for (role, _), ok in zip(accounts, read_ok, strict=True) if not ok}

    # -- the sweep -----------------------------------------------------------------------------

    def sweep(self) -> SweepReport:
        """One sweep: read the account, step every resource, write what changed."""
        started = self._clock()
        with self._lock:
            bodies = list(self._bodies.values())
        namespaces = self._namespaces(bodies)
        roles = self._roles(bodies)
        with metrics.SWEEP_READ_SECONDS.time():
            unread = self._read_accounts(self._regions(roles, namespaces))
        stepped = written = 0
        kinds: dict[str, int] = {}

        def one(body: dict[str, Any]) -> tuple[bool, bool, str]:
            uid = str(body.get("metadata", {}).get("uid") or "")
            if self._stop.is_set() or (uid in roles and roles[uid] in unread):
                # The operator is stopping (SIGTERM): the steps not begun yet wait for the next
                # start, instead of holding the exit for as long as a whole sweep takes. An
                # account that could not be read waits for the next interval too, as a whole
                # sweep of one account did: its steps would each read it again.
                return False, False, str(body.get("kind", ""))
            with background(until=self._stop), view_as_read():
                return self._step(body, namespaces, from_view=True)

        self._units.heartbeat.size(len(bodies))
        for did_step, did_write, kind in self._pool.map(one, bodies):
            stepped += did_step
            written += did_write
            if did_step:
                kinds[kind] = kinds.get(kind, 0) + 1
        seconds = self._clock() - started
        metrics.SWEEP_SECONDS.observe(seconds)
        for kind, count in kinds.items():
            metrics.SWEEP_RESOURCES.labels(kind).set(count)
        log.info("swept", resources=len(bodies), stepped=stepped, written=written, seconds=seconds)
        report = SweepReport(len(bodies), stepped, written, seconds)
        self._on_swept(report)
        return report

    def follow_up(self) -> int:
        """Step, fresh, every resource whose follow-up is due; returns how many."""
        now = self._clock()
        with self._lock:
            due = [uid for uid, (at, _) in self._follow_ups.items() if at <= now]
            bodies = [self._bodies[uid] for uid in due if uid in self._bodies]
            all_bodies = list(self._bodies.values())
        if not bodies:
            return 0
        namespaces = self._namespaces(all_bodies)
        stepped = 0
        with background(until=self._stop):
            for body in bodies:
                if self._stop.is_set():
                    break
                self._step(body, namespaces, from_view=False)
                stepped += 1
        return stepped

    def _step(
        self,
        body: dict[str, Any],
        namespaces: Mapping[tuple[str, str], list[NamespaceSpec]],
        *,
        from_view: bool,
    ) -> tuple[bool, bool, str]:
        meta = body.get("metadata", {})
        uid = str(meta.get("uid") or "")
        kind = str(body.get("kind", ""))
        status = status_from_wire(body.get("status"), DiscoveryStatus)
        if meta.get("deletionTimestamp") or status.observed_generation != meta.get("generation"):
            # Deletion, and a generation its change handler has not finished (with kopf's
            # retries, and the create request id it recorded), are the handler's; the sweep
            # looks after what they have finished.
            return False, False, kind
        res = self._units.parsed.get(body)
        if res is None:
            return False, False, kind
        patch = kopf.Patch()
        result = self._units.steps.step_and_write(
            _body(body),
            patch,
            res,
            namespaces,
            from_view=from_view,
            slices=self._units.live.slices,
            claimants=self._units.live.claimants,
            post=self._writer.post_event,
            wait=False,
        )
        if result is None:  # a change handler is stepping it right now
            return False, False, kind
        self._schedule(uid, result)
        changed = patch.get("status")
        if not changed:
            return True, False, kind
        heartbeat = is_heartbeat(changed)
        answer = self._writer.patch_status(body, changed)
        metrics.STATUS_WRITES.labels(kind, "heartbeat" if heartbeat else "changed").inc()
        if answer is not None:
            self.seen("MODIFIED", answer)
        return True, True, kind

    def _schedule(self, uid: str, result: StepResult) -> None:
        with self._lock:
            if result.outcome not in _FOLLOW_UP:
                self._follow_ups.pop(uid, None)
                return
            retries = self._follow_ups.get(uid, (0.0, 0))[1]
            delay = retry_delay(result, retries)
            self._follow_ups[uid] = (self._clock() + delay, retries + 1)

    # -- the thread ----------------------------------------------------------------------------

    def _next_interval(self) -> float:
        return self._interval * self._rng.uniform(1 - JITTER, 1 + JITTER)

    def run(self) -> None:
        next_sweep = self._clock() + self._next_interval()
        while not self._stop.wait(max(0.0, min(1.0, next_sweep - self._clock()))):
            if not self._active():
                continue
            try:
                self.follow_up()
                if self._clock() >= next_sweep:
                    started = self._clock()
                    self.sweep()
                    next_sweep = started + self._next_interval()
            except GiveUp:  # stopping: its reads gave up waiting for the AWS budget
                break
            except Exception:  # one failed sweep must not end drift correction
                log.exception("sweep failed; trying again next interval")
                next_sweep = self._clock() + self._next_interval()

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run, name="drift-sweep", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        self._pool.shutdown(wait=False)
