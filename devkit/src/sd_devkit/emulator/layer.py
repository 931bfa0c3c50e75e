"""The WSGI fidelity layer in front of moto's server app.

Per request: count the call, apply injected faults (latency, errors), then run the Cloud Map or
ECS hook for the API (or hand the request to moto unchanged). JSON and query protocol calls are
named from the request; Route 53 (REST-XML) calls from their method and path
("route53:GetHostedZone"), so they are counted and can be faulted too. Requests under
`/_emulator/` are the control API, so a test in another process can configure faults and read
counts:

    GET    /_emulator/health                      -> {"status": "ok", "accountId": ...}
    GET    /_emulator/calls                       -> {"calls": {"ecs:DescribeServices": 5, ...}}
    DELETE /_emulator/calls                       reset the counts
    GET    /_emulator/faults                      -> {"faults": [rule, ...]}
    POST   /_emulator/faults     {"api": "servicediscovery:CreateService", "error": ...,
                                  "rate": 1.0, "count": null, "latency": 0.0, "status": null}
    DELETE /_emulator/faults                      remove every fault rule
    GET    /_emulator/operations                  -> {"hold": {...}, "fail": [...]}
    POST   /_emulator/operations {"hold": {"seconds": 1.0, "polls": 2},
                                  "fail": {"match": "CREATE_NAMESPACE", "error_code": ...,
                                           "message": ..., "count": null}}
    DELETE /_emulator/operations                  no hold, no fail rules
    GET    /_emulator/deployments?cluster=C&service=S[&region=R] -> {"deployments": 2}
    POST   /_emulator/deployments {"hold": {"seconds": 1.0, "polls": 2},
                                   "fail": {"cluster": "C", "service": "S", "reason": ...,
                                            "count": null}}
                                  ECS deployments stay IN_PROGRESS for the hold; those of a
                                  service a fail rule names fail and roll back
    DELETE /_emulator/deployments                 no hold, no deployment fail rules
    POST   /_emulator/instances  {"serviceId": "srv-...", "region": "us-east-1",
                                  "instances": {"i-1": {"AWS_INSTANCE_IPV4": ...}, ...}}
                                  register new instances at once (a test near a quota)
    POST   /_emulator/reset                       moto state of this emulator + layer state
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qs

from . import calllog
from ._wsgi import (
    JSON,
    Call,
    Forward,
    Handler,
    Reply,
    StartResponse,
    WSGIApp,
    WSGIEnviron,
    call_app,
    parse_call,
    read_body,
)
from .cloudmap import CloudMapLayer
from .deployments import DeploymentFailRule, DeploymentTracker
from .ecs import EcsLayer
from .faults import FaultRule, Faults
from .operations import FailRule, Hold, OperationTracker
from .tagging import TaggingLayer

log = logging.getLogger(__name__)
CONTROL_PREFIX = "/_emulator/"


class FidelityLayer:
    """WSGI app wrapping moto's DomainDispatcherApplication for one emulator (one account)."""

    def __init__(
        self,
        app: WSGIApp,
        account_id: str,
        *,
        page_size: int,
        seed: int,
        reset_backend: Callable[[], None],
    ) -> None:
        self._app = app
        self.account_id = account_id
        self.faults = Faults(seed)
        self.operations = OperationTracker()
        self.cloudmap = CloudMapLayer(self.operations, page_size)
        self.ecs = EcsLayer(page_size)
        self.tagging = TaggingLayer(page_size)
        self._reset_backend = reset_backend
        self._lock = threading.RLock()  # one moto call (and its corrections) at a time
        self._handlers: dict[str, Handler] = {}
        layers: tuple[tuple[str, CloudMapLayer | EcsLayer | TaggingLayer], ...] = (
            ("servicediscovery", self.cloudmap),
            ("ecs", self.ecs),
            ("tagging", self.tagging),
        )
        for service, layer in layers:
            for action, handler in layer.handlers().items():
                self._handlers[f"{service}:{action}"] = handler

    # -- configuration (also reached over HTTP) ------------------------------------------------

    def reset(self) -> None:
        with self._lock:
            self._reset_backend()
            self.faults.reset()
            self.operations.reset()
            self.cloudmap.reset()
            self.ecs.reset()

    def deployments(self, cluster: str, service: str, region: str) -> int:
        with self._lock:
            return self.ecs.deployments(self.account_id, region, cluster, service)

    def seed_instances(self, region: str, service_id: str, instances: dict[str, JSON]) -> None:
        with self._lock:
            self.cloudmap.seed_instances(self.account_id, region, service_id, instances)

    # -- WSGI --------------------------------------------------------------------------------

    def __call__(self, environ: WSGIEnviron, start_response: StartResponse) -> Iterable[bytes]:
        path = str(environ.get("PATH_INFO", ""))
        if path.startswith(CONTROL_PREFIX):
            return self._control(environ, path[len(CONTROL_PREFIX) :]).send(start_response)
        raw = read_body(environ)
        # Every emulator is its own AWS account, so emulators in one process do not share state.
        environ.setdefault("HTTP_X_MOTO_ACCOUNT_ID", self.account_id)
        account = os.environ.get("MOTO_ACCOUNT_ID") or str(environ["HTTP_X_MOTO_ACCOUNT_ID"])
        call = parse_call(environ, raw, account)
        if call is None:
            with self._lock:
                return call_app(self._app, environ, raw).send(start_response)
        self.faults.record(call.api)
        if calllog.wanted(str(environ.get("HTTP_USER_AGENT", ""))):
            with self._lock:
                calllog.record(call)
        decision = self.faults.decide(call.api)
        if decision.latency:
            time.sleep(decision.latency)
        if decision.error is not None:
            rule = decision.error
            code = str(rule.error)
            if call.protocol in ("query", "rest-xml"):
                reply = Reply.query_error(code, rule.message, rule.http_status)
            else:
                reply = Reply.error(code, rule.message, rule.http_status)
            return reply.send(start_response)
        forward = self._forwarder(environ, raw, call)
        with self._lock:
            handler = self._handlers.get(call.api)
            try:
                # Effects of operations that became final since the last call (a namespace
                # whose create succeeded appears, ...), then the call, then the effects of
                # operations that are final as soon as they are submitted (no hold).
                self.operations.settle()
                reply = handler(call, forward) if handler else forward()
                self.operations.settle()
            except Exception as exc:  # a bug in the layer: answer like AWS would, and log it
                log.exception("emulator layer failed on %s", call.api)
                reply = Reply.error("InternalFailure", f"emulator layer error: {exc}", 500)
        return reply.send(start_response)

    def _forwarder(self, environ: WSGIEnviron, raw: bytes, call: Call) -> Forward:
        def forward(body: JSON | None = None, action: str | None = None) -> Reply:
            env = dict(environ)
            if action is not None:
                env["HTTP_X_AMZ_TARGET"] = f"{call.target_prefix}.{action}"
            data = raw if body is None else json.dumps(body).encode()
            return call_app(self._app, env, data)

        return forward

    # -- control API ---------------------------------------------------------------------------

    def _control(self, environ: WSGIEnviron, route: str) -> Reply:
        method = str(environ.get("REQUEST_METHOD", "GET")).upper()
        try:
            raw = read_body(environ)
            body: Any = json.loads(raw) if raw.strip() else {}
            if not isinstance(body, dict):
                raise ValueError("the body must be a JSON object")
            return self._route(method, route.strip("/"), body, environ)
        except (ValueError, TypeError, KeyError) as exc:
            return Reply(400, (), b"").with_json({"error": str(exc)})

    def _route(self, method: str, route: str, body: JSON, environ: WSGIEnviron) -> Reply:  # noqa: PLR0911, PLR0912 -- the emulator's route table, a branch per route
        ok = Reply.json_ok
        if route == "health" and method == "GET":
            return ok({"status": "ok", "accountId": self.account_id})
        if route == "calls":
            if method == "GET":
                return ok({"calls": self.faults.calls()})
            if method == "DELETE":
                self.faults.reset_calls()
                return ok({})
        if route == "faults":
            if method == "GET":
                return ok({"faults": self.faults.rules()})
            if method == "POST":
                self.faults.add(fault_rule(body))
                return ok({"faults": self.faults.rules()})
            if method == "DELETE":
                self.faults.clear()
                return ok({})
        if route == "operations":
            if method == "GET":
                return ok(self.operations.config())
            if method == "POST":
                configure_operations(self.operations, body)
                return ok(self.operations.config())
            if method == "DELETE":
                self.operations.clear_rules()
                return ok({})
        if route == "deployments" and method == "POST":
            configure_deployments(self.ecs.rollouts, body)
            return ok(self.ecs.rollouts.config())
        if route == "deployments" and method == "DELETE":
            self.ecs.rollouts.clear_rules()
            return ok({})
        if route == "deployments" and method == "GET":
            query = {k: v[0] for k, v in parse_qs(str(environ.get("QUERY_STRING", ""))).items()}
            count = self.deployments(
                query["cluster"], query["service"], query.get("region", "us-east-1")
            )
            return ok({"deployments": count})
        if route == "instances" and method == "POST":
            _only(body, {"serviceId", "region", "instances"}, "instances")
            instances = body["instances"]
            if not isinstance(instances, dict):
                raise ValueError("instances must map instance ids to their attributes")
            region = str(body.get("region") or "us-east-1")
            self.seed_instances(region, str(body["serviceId"]), instances)
            return ok({})
        if route == "reset" and method == "POST":
            self.reset()
            return ok({})
        return Reply(404, (), b"").with_json({"error": f"no control route {method} /{route}"})


_FAULT_KEYS = {"api", "error", "rate", "count", "latency", "status"}
_HOLD_KEYS = {"seconds", "polls"}
_FAIL_KEYS = {"match", "error_code", "message", "count"}
_DEPLOYMENT_FAIL_KEYS = {"cluster", "service", "reason", "count"}


def _only(body: JSON, allowed: set[str], what: str) -> JSON:
    unknown = set(body) - allowed
    if unknown:
        raise ValueError(f"unknown {what} field(s): {sorted(unknown)}")
    return body


def fault_rule(body: JSON) -> FaultRule:
    return FaultRule(**_only(body, _FAULT_KEYS, "fault"))


def configure_deployments(tracker: DeploymentTracker, body: JSON) -> None:
    _only(body, {"hold", "fail"}, "deployments")
    if "hold" in body:
        tracker.set_hold(Hold(**_only(body["hold"] or {}, _HOLD_KEYS, "hold")))
    if body.get("fail"):
        rule = _only(body["fail"], _DEPLOYMENT_FAIL_KEYS, "deployment fail")
        tracker.add_fail_rule(DeploymentFailRule(**rule))


def configure_operations(tracker: OperationTracker, body: JSON) -> None:
    _only(body, {"hold", "fail"}, "operations")
    if "hold" in body:
        tracker.set_hold(Hold(**_only(body["hold"] or {}, _HOLD_KEYS, "hold")))
    if body.get("fail"):
        tracker.add_fail_rule(FailRule(**_only(body["fail"], _FAIL_KEYS, "fail")))
