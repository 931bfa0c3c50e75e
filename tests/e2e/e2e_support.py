"""Helpers for the e2e tests: kubectl, polling waits, the operator as its own process.

Nothing here imports the operator's reconcile code: the operator runs as `sd-operator run` in a
separate process and is observed only through the Kubernetes API, its log and the AWS emulator.

Reads (get, list, events) go through the kubernetes client, one kept-alive connection per test
process: a kubectl process per poll cost ~0.2 s of CPU on the shared 2-core machine, a read
here ~20 ms. What a test says about kubectl itself (apply, its CRD validation messages, the
printer columns) still runs kubectl.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import signal
import subprocess
import time
import urllib.parse
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import yaml

from sd_devkit.emulator.clients import DUMMY_ACCESS_KEY, DUMMY_SECRET_KEY

ROOT = Path(__file__).resolve().parents[2]
CRD_DIR = ROOT / "crds"
EXAMPLES = ROOT / "examples"
FIXTURES = ROOT / "tests" / "fixtures"
OPERATOR_BIN = ROOT / ".venv" / "bin" / "sd-operator"
# An operator that sweeps only at start: what a test sees happened on a change or a request.
NO_SWEEP = ("--sweep-seconds", "3600")

GROUP = "sd-operator.io"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"
FINALIZER = "sd-operator.io/finalizer"
NAMESPACES = "cloudmapnamespaces.sd-operator.io"
DISCOVERIES = "servicediscoveries.sd-operator.io"
IMPORTS = "cloudmapimports.sd-operator.io"
GRANTS = "discoverygrants.sd-operator.io"
# The test namespaces the e2e allow-all grant selects (apply_allow_all_grant): every test but
# the tenancy test's, which makes its own namespaces and grants.
GRANTED_LABEL = "e2e.sd-operator.io/granted"
PEERINGS = "kopfpeerings.kopf.dev"

TIMEOUT = 60.0
INTERVAL = 0.5
# Polls of the API server: a GET on a kept-alive connection is cheap.
API_INTERVAL = 0.2
SWEEP_SECONDS = 1

T = TypeVar("T")
JSON = dict[str, Any]


class WaitTimeout(AssertionError):
    pass


def wait_for(
    probe: Callable[[], T | None],
    what: str,
    *,
    timeout: float = TIMEOUT,
    interval: float = INTERVAL,
    describe: Callable[[], str] | None = None,
) -> T:
    """Call `probe` every `interval` seconds until it returns something truthy; return that.
    On timeout: fail with `what` and, when given, `describe()` (the last state seen)."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() >= deadline:
            detail = f"\nlast state:\n{describe()}" if describe else ""
            raise WaitTimeout(f"timed out after {timeout:.0f}s waiting for {what}{detail}")
        time.sleep(interval)


def stays(
    probe: Callable[[], bool], what: str, *, seconds: float, interval: float = INTERVAL
) -> None:
    """Assert that `probe` holds on every poll for `seconds` seconds."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert probe(), f"expected {what} for {seconds:.0f}s, but it stopped holding"
        time.sleep(interval)


def holds_until(
    probe: Callable[[], bool],
    what: str,
    until: Callable[[], bool],
    proof: str,
    *,
    timeout: float = TIMEOUT,
    interval: float = API_INTERVAL,
) -> None:
    """Assert that `probe` holds on every poll until `until()` does: the event (`proof`) that
    shows the time that passed was time in which the claim could have failed."""
    deadline = time.monotonic() + timeout
    while True:
        assert probe(), f"expected {what} until {proof}, but it stopped holding"
        if until():
            assert probe(), f"expected {what} until {proof}, but it stopped holding"
            return
        if time.monotonic() >= deadline:
            raise WaitTimeout(f"timed out after {timeout:.0f}s waiting for {proof} ({what})")
        time.sleep(interval)


def holds_over_sweeps(
    op: OperatorProcess,
    probe: Callable[[], bool],
    what: str,
    *,
    sweeps: int,
    timeout: float = TIMEOUT,
) -> None:
    """Assert that `probe` holds on every poll while the operator runs `sweeps` whole drift
    sweeps, all of them begun after this call: "nothing happened over N sweeps" is proven by
    the operator's N sweep records, not by a number of seconds. The first record after this
    call may be of a sweep begun before it, so one more is awaited."""
    first = op.sweeps()

    def swept() -> bool:
        assert op.running, f"operator {op.name} exited ({op.proc and op.proc.returncode})"
        return op.sweeps() - first > sweeps

    holds_until(probe, what, swept, f"{sweeps} sweeps of operator {op.name}", timeout=timeout)


def kubectl_binary() -> str:
    if Path("/usr/bin/kubectl").exists():
        return "/usr/bin/kubectl"
    found = shutil.which("kubectl")
    if found:
        return found
    out = subprocess.run(
        [str(ROOT / "hack" / "tools.sh"), "kubectl"],
        check=True,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    return out.stdout.strip().splitlines()[-1]


# kubectl -------------------------------------------------------------------------------------


class Kubectl:
    def __init__(self, binary: str, kubeconfig: str) -> None:
        self.binary = binary
        self.kubeconfig = kubeconfig
        self._client: Any = None
        # kubectl's names of a resource (plural, singular, kind, short names, with and without
        # the group) -> its collection path (with {namespace} where namespaced)
        self._paths: dict[str, str] = {}

    def run(
        self,
        *args: str,
        stdin: str | None = None,
        check: bool = True,
        timeout: float = TIMEOUT,
    ) -> subprocess.CompletedProcess[str]:
        cmd = [self.binary, "--kubeconfig", self.kubeconfig, *args]
        proc = subprocess.run(
            cmd, input=stdin, capture_output=True, text=True, timeout=timeout, check=False
        )
        if check and proc.returncode != 0:
            raise AssertionError(
                f"kubectl {' '.join(args)} failed ({proc.returncode}):\n"
                f"stdout: {proc.stdout}\nstderr: {proc.stderr}"
            )
        return proc

    def apply(
        self,
        manifest: str | Mapping[str, Any] | Sequence[Mapping[str, Any]],
        namespace: str | None = None,
        *,
        server_side: bool = True,
        dry_run: bool = False,
        check: bool = True,
    ) -> subprocess.CompletedProcess[str]:
        """Apply YAML text or object(s) from stdin (server-side by default)."""
        text = manifest if isinstance(manifest, str) else dump_docs(manifest)
        args = ["apply", "-f", "-"]
        if server_side:
            args += ["--server-side", "--field-manager", "e2e-tests"]
        if dry_run:
            args.append("--dry-run=server")
        if namespace:
            args += ["-n", namespace]
        return self.run(*args, stdin=text, check=check)

    # reads through the API -----------------------------------------------------------------

    @property
    def client(self) -> Any:
        if self._client is None:
            from kubernetes import config  # type: ignore[import-untyped]

            self._client = config.new_client_from_config(config_file=self.kubeconfig)
        return self._client

    def request(
        self,
        method: str,
        path: str,
        *,
        query: Sequence[tuple[str, str]] = (),
        body: Any = None,
        content_type: str = "application/json",
    ) -> JSON | None:
        """One API request; the answer's JSON, or None when the object does not exist (404)."""
        from kubernetes.client.exceptions import ApiException  # type: ignore[import-untyped]

        try:
            answer = self.client.call_api(
                path,
                method,
                query_params=list(query),
                header_params={"Content-Type": content_type, "Accept": "application/json"},
                body=body,
                auth_settings=["BearerToken"],
                _preload_content=False,
                _return_http_data_only=True,
                _request_timeout=TIMEOUT,
            )
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise AssertionError(f"{method} {path}: {exc.status} {exc.reason}\n{exc.body}") from exc
        data: JSON = json.loads(answer.data)
        return data

    def _discover(self) -> None:
        groups = [("", "/api/v1")]
        listed = self.request("GET", "/apis") or {}
        for group in listed.get("groups", []):
            groups.append((group["name"], f"/apis/{group['preferredVersion']['groupVersion']}"))
        for group, prefix in groups:
            for res in (self.request("GET", prefix) or {}).get("resources", []):
                if "/" in res["name"]:
                    continue  # a subresource
                where = "/namespaces/{namespace}" if res["namespaced"] else ""
                path = f"{prefix}{where}/{res['name']}"
                names = {res["name"], res.get("singularName") or "", res["kind"].lower()}
                names |= set(res.get("shortNames") or [])
                for name in filter(None, names):
                    self._paths.setdefault(name, path)  # the core group first, as kubectl
                    if group:
                        self._paths.setdefault(f"{name}.{group}", path)

    def path(self, kind: str, namespace: str | None = None, name: str | None = None) -> str:
        """The API path of `kind` (any name kubectl accepts), in `namespace`, of `name`."""
        key = kind.lower()
        if key not in self._paths:
            self._discover()  # once, and again for a resource defined since (a new CRD)
        assert key in self._paths, f"the API server serves no resource called {kind!r}"
        path = self._paths[key]
        if "{namespace}" in path:
            assert namespace, f"{kind} is namespaced: which namespace?"
            path = path.replace("{namespace}", urllib.parse.quote(namespace))
        return f"{path}/{urllib.parse.quote(name)}" if name else path

    def get(self, kind: str, name: str, namespace: str | None = None) -> JSON | None:
        """The object as JSON, or None when it does not exist."""
        return self.request("GET", self.path(kind, namespace, name))

    def objects(self, kind: str, namespace: str, **selectors: str) -> list[JSON]:
        """The objects of `kind` in `namespace` (fieldSelector=..., labelSelector=...)."""
        query = [(key, value) for key, value in selectors.items()]
        found = self.request("GET", self.path(kind, namespace), query=query) or {}
        items: list[JSON] = found.get("items", [])
        return items

    def merge_patch(
        self, kind: str, name: str, namespace: str | None, patch: Mapping[str, Any]
    ) -> JSON | None:
        return self.request(
            "PATCH",
            self.path(kind, namespace, name),
            body=dict(patch),
            content_type="application/merge-patch+json",
        )

    def delete(
        self, kind: str, name: str, namespace: str | None = None, *, wait: bool = False
    ) -> None:
        """Ask for the deletion (absent already is fine); with `wait`, until it is gone."""
        self.request("DELETE", self.path(kind, namespace, name))
        if wait:
            assert namespace, "wait for a namespaced object"
            self.wait_gone(kind, name, namespace)

    def events(self, namespace: str, name: str | None = None) -> list[JSON]:
        """core/v1 Events in `namespace` (about the object `name` when given), oldest first."""
        selectors = {"fieldSelector": f"involvedObject.name={name}"} if name else {}
        items = self.objects("events", namespace, **selectors)
        return sorted(items, key=lambda e: e.get("lastTimestamp") or e.get("eventTime") or "")

    def create_namespace(self, name: str, labels: Mapping[str, str] | None = None) -> None:
        """Labelled for the e2e allow-all grant unless `labels` says otherwise."""
        meta = {"name": name, "labels": {GRANTED_LABEL: "true"} if labels is None else labels}
        self.request("POST", "/api/v1/namespaces", body={"metadata": meta})

    def drop_namespace(self, namespace: str) -> None:
        """Delete our objects (finalizers removed: no operator runs any more), then the
        namespace; no namespace controller runs in the local control plane, so finalize it
        ourselves."""
        for kind in (DISCOVERIES, IMPORTS, NAMESPACES, PEERINGS):
            for obj in self.objects(kind, namespace):
                name = obj["metadata"]["name"]
                self.merge_patch(kind, name, namespace, {"metadata": {"finalizers": None}})
                self.delete(kind, name, namespace)
        self.delete("namespace", namespace)
        obj = self.get("namespace", namespace)
        if obj is not None:
            obj["spec"]["finalizers"] = []
            self.request("PUT", f"/api/v1/namespaces/{namespace}/finalize", body=obj)
            wait_for(
                lambda: self.get("namespace", namespace) is None,
                f"namespace {namespace} to go",
                timeout=30,
                interval=API_INTERVAL,
            )

    def wait_for_object(
        self,
        kind: str,
        name: str,
        namespace: str,
        predicate: Callable[[JSON], bool],
        what: str,
        *,
        timeout: float = TIMEOUT,
        interval: float = API_INTERVAL,
    ) -> JSON:
        """Poll the object until `predicate(obj)` holds; return the object."""
        last: dict[str, JSON | None] = {"obj": None}

        def probe() -> JSON | None:
            obj = self.get(kind, name, namespace)
            last["obj"] = obj
            return obj if obj is not None and predicate(obj) else None

        return wait_for(
            probe,
            f"{kind} {namespace}/{name}: {what}",
            timeout=timeout,
            interval=interval,
            describe=lambda: _describe(last["obj"]),
        )

    def wait_gone(self, kind: str, name: str, namespace: str, *, timeout: float = TIMEOUT) -> None:
        last: dict[str, JSON | None] = {"obj": None}

        def probe() -> bool:
            last["obj"] = self.get(kind, name, namespace)
            return last["obj"] is None

        wait_for(
            probe,
            f"{kind} {namespace}/{name} to be deleted",
            timeout=timeout,
            interval=API_INTERVAL,
            describe=lambda: _describe(last["obj"]),
        )


def apply_crds(kubectl: Kubectl) -> list[str]:
    """crds/*.yaml applied server-side and Established; their names."""
    kubectl.run("apply", "--server-side", "--force-conflicts", "-f", str(CRD_DIR))
    names = sorted(
        doc["metadata"]["name"]
        for path in sorted(CRD_DIR.glob("*.yaml"))
        for doc in load_docs(path)
        if doc.get("kind") == "CustomResourceDefinition"
    )
    assert {NAMESPACES, DISCOVERIES, PEERINGS} <= set(names), names
    kubectl.run(
        "wait",
        "--for=condition=Established",
        "--timeout=60s",
        *(f"crd/{n}" for n in names),
        timeout=90,
    )
    return names


def apply_allow_all_grant(kubectl: Kubectl) -> None:
    """examples/grants/allow-all.yaml, for the namespaces create_namespace labels: the tests
    that are not about grants run as an install with `grants.mode: allowAll` does."""
    [grant] = load_docs(EXAMPLES / "grants" / "allow-all.yaml")
    grant["metadata"]["name"] = "e2e-allow-all"
    grant["spec"]["namespaces"] = {"selector": {"matchLabels": {GRANTED_LABEL: "true"}}}
    kubectl.apply(grant)


def _describe(obj: JSON | None) -> str:
    if obj is None:
        return "(object not found)"
    shown = {
        "metadata": {
            k: obj.get("metadata", {}).get(k)
            for k in ("generation", "finalizers", "deletionTimestamp", "annotations")
        },
        "spec": obj.get("spec"),
        "status": obj.get("status"),
    }
    return json.dumps(shown, indent=2, sort_keys=True)


# YAML ----------------------------------------------------------------------------------------


def load_docs(path: Path) -> list[JSON]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def dump_docs(docs: Mapping[str, Any] | Sequence[Mapping[str, Any]]) -> str:
    items = [docs] if isinstance(docs, Mapping) else list(docs)
    return yaml.safe_dump_all([dict(d) for d in items], sort_keys=False)


def expected_api_error(path: Path) -> str:
    for line in path.read_text().splitlines():
        if line.startswith("# expect-api:"):
            return line.split(":", 1)[1].strip()
    raise AssertionError(f"{path} has no '# expect-api:' line")


def in_namespace(docs: Iterable[Mapping[str, Any]], namespace: str) -> list[JSON]:
    """Deep copies of `docs` with metadata.namespace set to `namespace`."""
    out = []
    for doc in docs:
        moved = copy.deepcopy(dict(doc))
        moved.setdefault("metadata", {})["namespace"] = namespace
        out.append(moved)
    return out


def example(name: str, namespace: str, *, keep_ecs: bool = False, **spec_changes: Any) -> JSON:
    """examples/myapp/<name>.yaml moved into `namespace`, with top-level spec fields changed.
    Without `keep_ecs`, spec.ecs is dropped: these tests are about Cloud Map, and the ECS
    service an `ecs` section names would have to exist in the emulator first."""
    (doc,) = load_docs(EXAMPLES / "myapp" / f"{name}.yaml")
    (moved,) = in_namespace([doc], namespace)
    if not keep_ecs:
        moved["spec"].pop("ecs", None)
    moved["spec"].update(spec_changes)
    return moved


# status --------------------------------------------------------------------------------------


def condition(obj: Mapping[str, Any] | None, type_: str) -> JSON | None:
    if not obj:
        return None
    for c in (obj.get("status") or {}).get("conditions") or []:
        if c.get("type") == type_:
            return dict(c)
    return None


def is_condition(obj: Mapping[str, Any] | None, type_: str, status: str = "True") -> bool:
    found = condition(obj, type_)
    return found is not None and found.get("status") == status


def ready_and_synced(obj: Mapping[str, Any]) -> bool:
    """Ready=True, Synced=True, both for the current generation."""
    generation = obj["metadata"].get("generation")
    status = obj.get("status") or {}
    return (
        is_condition(obj, "Ready")
        and is_condition(obj, "Synced")
        and status.get("observedGeneration") == generation
    )


# the operator process ------------------------------------------------------------------------


class OperatorProcess:
    """`sd-operator run` in its own process group, stdout+stderr to a log file."""

    def __init__(
        self,
        name: str,
        namespace: str,
        endpoint_url: str,
        kubeconfig: str,
        log_dir: Path,
        extra_args: Sequence[str] = (),
    ) -> None:
        self.name = name
        self.namespace = namespace
        self.args = [
            str(OPERATOR_BIN),
            "run",
            "--namespace",
            namespace,
            "--region",
            "us-east-1",
            "--aws-endpoint-url",
            endpoint_url,
            "--sweep-seconds",
            str(SWEEP_SECONDS),
            "--cluster-name",
            "e2e",
            "--log-format",
            "json",
            *extra_args,
        ]
        self.kubeconfig = kubeconfig
        self.log_path = log_dir / f"operator-{name}.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(
            KUBECONFIG=self.kubeconfig,
            AWS_ACCESS_KEY_ID=DUMMY_ACCESS_KEY,
            AWS_SECRET_ACCESS_KEY=DUMMY_SECRET_KEY,
            AWS_EC2_METADATA_DISABLED="true",
            PYTHONUNBUFFERED="1",
            # The emulator is no shared account: let the tests go faster than AWS's budget.
            SD_OPERATOR_AWS_RATE_SCALE="10",
        )
        return env

    def start(self) -> OperatorProcess:
        assert not self.running, f"operator {self.name} is already running"
        self.starts += 1
        with self.log_path.open("ab") as log:
            log.write(f"=== start #{self.starts}: {' '.join(self.args)}\n".encode())
            log.flush()
            self.proc = subprocess.Popen(
                self.args,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.env(),
                cwd=ROOT,
                start_new_session=True,
            )
        return self

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def kill(self) -> None:
        """SIGKILL: no cleanup, no farewell to the peering object, status left as it was."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)
        self._note(f"=== killed (SIGKILL), exit {self.proc.returncode}")

    def stop(self, grace: float = 15.0) -> None:
        """SIGTERM, then SIGKILL after `grace` seconds."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                self.proc.send_signal(signal.SIGKILL)
                self.proc.wait(timeout=30)
        self._note(f"=== stopped, exit {self.proc.returncode}")

    def _note(self, line: str) -> None:
        with self.log_path.open("ab") as log:
            log.write(f"{line}\n".encode())

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def log_records(self) -> list[JSON]:
        """The JSON log lines (lines that are not JSON, e.g. tracebacks, are skipped)."""
        records = []
        for line in self.log_text().splitlines():
            if line.startswith("{"):
                try:
                    records.append(json.loads(line))
                except json.JSONDecodeError:
                    continue
        return records

    def logged(self, text: str) -> bool:
        return any(text in str(r.get("event", "")) for r in self.log_records())

    def reconciled(self, name: str) -> list[JSON]:
        """The operator's own 'reconciled' log records about the object `name`."""
        return [
            r
            for r in self.log_records()
            if r.get("event") == "reconciled" and r.get("name") == name
        ]

    def sweeps(self) -> int:
        """How many whole drift sweeps the operator has logged: `swept` records of sweeps that
        stepped every resource they knew (a resource whose change handler was busy is not)."""
        return sum(
            1
            for r in self.log_records()
            if r.get("event") == "swept" and r.get("stepped") == r.get("resources")
        )

    def wait_logged(self, text: str, *, timeout: float = TIMEOUT) -> None:
        def probe() -> bool:
            assert self.running or self.logged(text), (
                f"operator {self.name} exited ({self.proc and self.proc.returncode}) "
                f"before logging {text!r}"
            )
            return self.logged(text)

        wait_for(probe, f"operator {self.name} to log {text!r}", timeout=timeout)

    def tail(self, lines: int = 200, width: int = 1500) -> str:
        """The last `lines` log lines, JSON records condensed (kopf's settings dump dropped)."""
        return "\n".join(_condense(line)[:width] for line in self.log_text().splitlines()[-lines:])


_NOISE = ("settings", "timestamp", "level", "logger", "event", "k8s_skip", "k8s_ref")


def _condense(line: str) -> str:
    if not line.startswith("{"):
        return line
    try:
        record = json.loads(line)
    except json.JSONDecodeError:
        return line
    ref = record.get("k8s_ref") or {}
    about = f" [{ref.get('kind')} {ref.get('name')}]" if ref else ""
    extra = {k: v for k, v in record.items() if k not in _NOISE}
    text = (
        f"{str(record.get('timestamp', ''))[11:23]} {record.get('level', '')[:4]:4} "
        f"{record.get('logger', '')}{about}: {record.get('event', '')}"
    )
    return f"{text} {json.dumps(extra)}" if extra else text


StartOperator = Callable[..., OperatorProcess]


def kube_cli(kubectl: Kubectl, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """The sd-operator CLI against the test's control plane and the emulator."""
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": DUMMY_ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": DUMMY_SECRET_KEY,
        # As for the operator (e2e_support): the emulator is no shared account, and at AWS's
        # budget (ListNamespaces 0.5/s) the three plans took 20 s.
        "SD_OPERATOR_AWS_RATE_SCALE": "10",
    }
    env.pop("SD_OPERATOR_CLUSTER_NAME", None)
    return subprocess.run(
        [str(OPERATOR_BIN), *args, "--kubeconfig", kubectl.kubeconfig],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
