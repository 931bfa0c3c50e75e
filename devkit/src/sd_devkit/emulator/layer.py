"""The WSGI fidelity layer in front of moto's server app.

Per request: count the call, apply rate-based throttling and injected faults (latency, errors),
then run the Cloud Map, ECS, STS or RAM hook for the API (or hand the request to moto
unchanged). JSON and query protocol calls are named from the request; REST calls (Route 53, RAM)
from their method and path ("route53:GetHostedZone"), so they are counted and can be faulted
too. Requests under `/_emulator/` are the control API, so a test in another process can configure
faults and read counts:

    GET    /_emulator/health                      -> {"status": "ok", "accountId": ...}
    GET    /_emulator/calls                       -> {"calls": {"ecs:DescribeServices": 5, ...}}
    DELETE /_emulator/calls                       reset the counts
    GET    /_emulator/faults                      -> {"faults": [rule, ...]}
    POST   /_emulator/faults     {"api": "servicediscovery:CreateService", "error": ...,
                                  "rate": 1.0, "count": null, "latency": 0.0, "status": null,
                                  "account": null}  (account: only calls acting in it)
    GET    /_emulator/throttle                    -> {"limits": {...}, "accounts": [...]}
    POST   /_emulator/throttle   {"rates": {"servicediscovery:ListNamespaces": [1.0, 5]},
                                  "documented": true, "accounts": null, "scale": 1.0}
                                  token buckets per API, account and Region (throttle.py)
    DELETE /_emulator/throttle                    no rate-based throttling
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
    POST   /_emulator/roles      {"accountId": "111111111111", "roleName": "tenant",
                                  "trustPolicy": {...}, "maxSessionDuration": 3600}
                                  -> {"roleArn": ...}: a role AssumeRole can enter (sts.py)
    POST   /_emulator/expire-sessions {"roleArn": null}  end the sessions of a role (all) now
                                  -> {"expired": 2}
    POST   /_emulator/reset                       moto state of this emulator + layer state
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
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
    scope_of,
)
from .cloudmap import CloudMapLayer
from .deployments import DeploymentFailRule, DeploymentTracker
from .ecs import EcsLayer
from .faults import FaultRule, Faults
from .operations import FailRule, Hold, OperationTracker
from .ram import RamLayer
from .route53 import Route53Layer
from .sharing import Sharing
from .sts import DEFAULT_DURATION, StsLayer, create_role, expired_reply
from .tagging import TaggingLayer
from .throttle import Limit, RateLimits, error_code

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
        reset_backend: Callable[[str], None],
    ) -> None:
        self._app = app
        self.account_id = account_id
        self.faults = Faults(seed)
        self.throttle = RateLimits()
        self.operations = OperationTracker()
        self.ram = RamLayer()
        self.sharing = Sharing(self.ram)
        self.cloudmap = CloudMapLayer(self.operations, page_size, self.ram)
        self.ecs = EcsLayer(page_size, self.ram, self.sharing)
        self.tagging = TaggingLayer(page_size)
        self.sts = StsLayer()
        self.route53 = Route53Layer(lambda: sorted(self.accounts))
        # Every account a request acted in or a role was seeded in: what reset() forgets.
        self.accounts = {account_id}
        self._reset_backend = reset_backend
        self._lock = threading.RLock()  # one moto call (and its corrections) at a time
        self._handlers: dict[str, Handler] = {}
        layers: tuple[
            tuple[
                str, CloudMapLayer | EcsLayer | TaggingLayer | StsLayer | RamLayer | Route53Layer
            ],
            ...,
        ] = (
            ("servicediscovery", self.cloudmap),
            ("ecs", self.ecs),
            ("tagging", self.tagging),
            ("sts", self.sts),
            ("ram", self.ram),
            ("route53", self.route53),
        )
        for service, layer in layers:
            for action, handler in layer.handlers().items():
                self._handlers[f"{service}:{action}"] = handler

    # -- configuration (also reached over HTTP) ------------------------------------------------

    def reset(self) -> None:
        with self._lock:
            for account in self.accounts:
                self._reset_backend(account)
            self.accounts = {self.account_id}
            self.sts.reset()
            self.ram.reset()
            self.sharing.reset()
            self.route53.reset()
            self.faults.reset()
            self.throttle.clear()
            self.operations.reset()
            self.cloudmap.reset()
            self.ecs.reset()

    def deployments(self, cluster: str, service: str, region: str) -> int:
        with self._lock:
            return self.ecs.deployments(self.account_id, region, cluster, service)

    def seed_instances(self, region: str, service_id: str, instances: dict[str, JSON]) -> None:
        with self._lock:
            self.cloudmap.seed_instances(self.account_id, region, service_id, instances)

    def create_role(
        self, account_id: str, name: str, trust_policy: JSON, max_session_duration: int
    ) -> str:
        with self._lock:
            self.accounts.add(account_id)
            return create_role(account_id, name, trust_policy, max_session_duration)

    # -- WSGI --------------------------------------------------------------------------------

    def __call__(self, environ: WSGIEnviron, start_response: StartResponse) -> Iterable[bytes]:
        path = str(environ.get("PATH_INFO", ""))
        if path.startswith(CONTROL_PREFIX):
            return self._control(environ, path[len(CONTROL_PREFIX) :]).send(start_response)
        raw = read_body(environ)
        session = self.sts.session(scope_of(environ)[0])
        if session is not None:
            # Credentials from AssumeRole act in the role's account (sts.py).
            environ["HTTP_X_MOTO_ACCOUNT_ID"] = session.caller.account
        else:
            # Every emulator is its own AWS account, so emulators in one process do not share
            # state.
            environ.setdefault("HTTP_X_MOTO_ACCOUNT_ID", self.account_id)
        account = os.environ.get("MOTO_ACCOUNT_ID") or str(environ["HTTP_X_MOTO_ACCOUNT_ID"])
        call = parse_call(environ, raw, account)
        if call is None:
            with self._lock:
                return call_app(self._app, environ, raw).send(start_response)
        self.accounts.add(account)
        self.faults.record(call.api)
        if session is not None and session.expired(datetime.now(UTC)):
            return expired_reply(call).send(start_response)
        # A request cut short (its client killed mid-send) never reaches AWS's authorization:
        # a body shorter than its Content-Length, or, cut within the headers, a JSON-protocol
        # call with no body at all (every one carries at least "{}").
        length = str(environ.get("CONTENT_LENGTH") or "")
        whole = (not length.isdigit() or len(raw) == int(length)) and (
            bool(raw) or call.protocol != "json"
        )
        if whole and calllog.wanted(str(environ.get("HTTP_USER_AGENT", ""))):
            with self._lock:
                calllog.record(call)
        if not self.throttle.take(account, call.region, call.api):
            return _error(call, error_code(call.api), "Rate exceeded", 400).send(start_response)
        decision = self.faults.decide(call.api, account)
        if decision.latency:
            time.sleep(decision.latency)
        if decision.error is not None:
            rule = decision.error
            return _error(call, str(rule.error), rule.message, rule.http_status).send(
                start_response
            )
        with self._lock:
            try:
                # Effects of operations that became final since the last call (a namespace
                # whose create succeeded appears, ...), then the call, then the effects of
                # operations that are final as soon as they are submitted (no hold).
                self.operations.settle()
                reply = self._dispatch(environ, raw, call)
                self.operations.settle()
            except Exception as exc:  # a bug in the layer: answer like AWS would, and log it
                log.exception("emulator layer failed on %s", call.api)
                reply = Reply.error("InternalFailure", f"emulator layer error: {exc}", 500)
        return reply.send(start_response)

    def _dispatch(self, environ: WSGIEnviron, raw: bytes, call: Call) -> Reply:
        """The call's hook (or moto); a Cloud Map call on a namespace shared with the caller
        runs in the owner's account (sharing.py)."""
        if call.service != "servicediscovery":
            handler = self._handlers.get(call.api)
            forward = self._forwarder(environ, raw, call)
            return handler(call, forward) if handler else forward()
        routed = self.sharing.route(call)
        if isinstance(routed, Reply):
            return routed
        body = raw if routed.body is call.body else json.dumps(routed.body).encode()
        forward = self._forwarder(environ, body, routed)
        handler = self._handlers.get(routed.api)
        reply = handler(routed, forward) if handler else forward()
        return self.sharing.annotate(call, routed, reply)

    def _forwarder(self, environ: WSGIEnviron, raw: bytes, call: Call) -> Forward:
        def forward(
            body: JSON | None = None, action: str | None = None, account: str | None = None
        ) -> Reply:
            env = dict(environ)
            env["HTTP_X_MOTO_ACCOUNT_ID"] = account or call.account
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
        if route == "throttle":
            if method == "GET":
                return ok(self.throttle.config())
            if method == "POST":
                configure_throttle(self.throttle, body)
                return ok(self.throttle.config())
            if method == "DELETE":
                self.throttle.clear()
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
        if route == "roles" and method == "POST":
            _only(body, _ROLE_KEYS, "roles")
            arn = self.create_role(
                str(body["accountId"]),
                str(body["roleName"]),
                dict(body["trustPolicy"]),
                int(body.get("maxSessionDuration") or DEFAULT_DURATION),
            )
            return ok({"roleArn": arn})
        if route == "expire-sessions" and method == "POST":
            _only(body, {"roleArn"}, "expire-sessions")
            return ok({"expired": self.sts.expire(body.get("roleArn"))})
        if route == "reset" and method == "POST":
            self.reset()
            return ok({})
        return Reply(404, (), b"").with_json({"error": f"no control route {method} /{route}"})


_FAULT_KEYS = {"api", "error", "rate", "count", "latency", "status", "account"}


def _error(call: Call, code: str, message: str, status: int) -> Reply:
    """An error in the call's protocol."""
    if call.protocol in ("query", "rest-xml"):
        return Reply.query_error(code, message, status)
    return Reply.error(code, message, status)


_THROTTLE_KEYS = {"rates", "documented", "accounts", "scale"}
_ROLE_KEYS = {"accountId", "roleName", "trustPolicy", "maxSessionDuration"}
_HOLD_KEYS = {"seconds", "polls"}
_FAIL_KEYS = {"match", "error_code", "message", "count"}
_DEPLOYMENT_FAIL_KEYS = {"cluster", "service", "reason", "count", "forget"}


def _only(body: JSON, allowed: set[str], what: str) -> JSON:
    unknown = set(body) - allowed
    if unknown:
        raise ValueError(f"unknown {what} field(s): {sorted(unknown)}")
    return body


def fault_rule(body: JSON) -> FaultRule:
    return FaultRule(**_only(body, _FAULT_KEYS, "fault"))


def configure_throttle(limits: RateLimits, body: JSON) -> None:
    _only(body, _THROTTLE_KEYS, "throttle")
    rates = body.get("rates") or {}
    if not isinstance(rates, dict):
        raise ValueError('rates must map APIs to [per_second, burst], e.g. {"ecs:*": [5, 10]}')
    accounts = body.get("accounts")
    limits.configure(
        {str(api): Limit(float(rate[0]), float(rate[1])) for api, rate in rates.items()},
        documented=bool(body.get("documented", True)),
        accounts=frozenset(str(a) for a in accounts) if accounts is not None else None,
        scale=float(body.get("scale") or 1.0),
    )


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
