"""Plain WSGI plumbing for the fidelity layer: parse a request, call moto, build replies.

Nothing here knows about Cloud Map or ECS; it only turns an AWS JSON, query or REST-XML protocol
request into a `Call` and a WSGI response into a `Reply` that a hook can read and rewrite.
"""

from __future__ import annotations

import base64
import io
import json
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any, Protocol, TypeVar
from urllib.parse import parse_qs, unquote
from xml.etree import ElementTree
from xml.sax.saxutils import escape

import botocore.session

JSON = dict[str, Any]
WSGIEnviron = dict[str, Any]
StartResponse = Callable[..., Any]
WSGIApp = Callable[[WSGIEnviron, StartResponse], Iterable[bytes]]

JSON_CONTENT_TYPE = "application/x-amz-json-1.1"

# X-Amz-Target prefixes of the JSON protocol services the layer understands.
TARGET_PREFIXES = {
    "Route53AutoNaming_v20170314": "servicediscovery",
    "AmazonEC2ContainerServiceV20141113": "ecs",
    "ResourceGroupsTaggingAPI_20170126": "tagging",
}
# REST protocol services the layer names calls of (SigV4 signing name -> botocore service): the
# action comes from matching the method and path against botocore's model of the service.
REST_SERVICES = {"route53": "route53", "ram": "ram"}
_SCOPE = re.compile(r"Credential=([^/,\s]+)/\d{8}/([^/]+)/([^/]+)/")
DEFAULT_REGION = "us-east-1"

_STATUS_TEXT = {
    200: "OK",
    400: "Bad Request",
    403: "Forbidden",
    404: "Not Found",
    409: "Conflict",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


@dataclass(frozen=True)
class Call:
    """One AWS API request as the layer sees it."""

    service: str  # "servicediscovery", "ecs", or the SigV4 scope service of anything else
    action: str  # "CreateService"
    region: str
    account: str
    protocol: str  # "json", "query", "rest-xml" or "rest-json"
    target_prefix: str  # the X-Amz-Target prefix ("" for the query and REST protocols)
    # query: the form; REST: the request document (XML or JSON), the query string and the
    # path parameters ({"Id": ...}) together
    body: JSON = field(default_factory=dict)
    access_key: str = ""  # of the SigV4 credentials that signed the request

    @property
    def api(self) -> str:
        return f"{self.service}:{self.action}"


@dataclass(frozen=True)
class Reply:
    """A complete HTTP response (moto's, rewritten, or made by the layer)."""

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def json(self) -> JSON:
        data = json.loads(self.body or b"{}")
        if not isinstance(data, dict):
            raise ValueError("reply body is not a JSON object")
        return data

    def with_json(self, data: JSON) -> Reply:
        """The same reply with a new JSON body (Content-Length fixed)."""
        body = json.dumps(data, default=str).encode()
        headers = tuple(
            (k, v) for k, v in self.headers if k.lower() not in ("content-length", "content-type")
        )
        headers += (("Content-Type", JSON_CONTENT_TYPE), ("Content-Length", str(len(body))))
        return Reply(self.status, headers, body)

    @classmethod
    def json_ok(cls, data: JSON) -> Reply:
        return cls(200, (), b"").with_json(data)

    @classmethod
    def error(cls, code: str, message: str, status: int = 400, **extra: Any) -> Reply:
        """An AWS JSON-protocol error: botocore reads the code from `__type` and
        x-amzn-ErrorType, and copies modeled members (NamespaceId, ...) into the response."""
        data: JSON = {"__type": code, "message": message, "Message": message, **extra}
        body = json.dumps(data).encode()
        headers = (
            ("Content-Type", JSON_CONTENT_TYPE),
            ("x-amzn-ErrorType", code),
            ("Content-Length", str(len(body))),
        )
        return cls(status, headers, body)

    @classmethod
    def query_error(cls, code: str, message: str, status: int = 400) -> Reply:
        """An AWS query-protocol or REST-XML error (both read <ErrorResponse><Error><Code>), for
        faults injected into non-JSON services."""
        body = (
            f"<ErrorResponse><Error><Type>Sender</Type><Code>{escape(code)}</Code>"
            f"<Message>{escape(message)}</Message></Error>"
            "<RequestId>emulator</RequestId></ErrorResponse>"
        ).encode()
        headers = (("Content-Type", "text/xml"), ("Content-Length", str(len(body))))
        return cls(status, headers, body)

    def send(self, start_response: StartResponse) -> list[bytes]:
        text = _STATUS_TEXT.get(self.status, "Unknown")
        start_response(f"{self.status} {text}", list(self.headers))
        return [self.body]


class Forward(Protocol):
    """Hands a call to moto: with the original body, a rewritten one, as another action, or
    in another account (what an account reads of a namespace shared with it)."""

    def __call__(
        self, body: JSON | None = None, action: str | None = None, account: str | None = None
    ) -> Reply: ...


Handler = Callable[[Call, Forward], Reply]


def read_body(environ: WSGIEnviron) -> bytes:
    stream = environ.get("wsgi.input")
    if stream is None:
        return b""
    length = environ.get("CONTENT_LENGTH") or ""
    if length.isdigit():
        data = stream.read(int(length))
    elif environ.get("wsgi.input_terminated"):
        data = stream.read()
    else:
        data = b""
    return bytes(data)


def scope_of(environ: WSGIEnviron) -> tuple[str, str, str]:
    """(access key id, region, service) from the SigV4 Authorization header."""
    match = _SCOPE.search(environ.get("HTTP_AUTHORIZATION", ""))
    if match is None:
        return "", DEFAULT_REGION, ""
    return match.group(1), match.group(2), match.group(3)


def parse_call(environ: WSGIEnviron, raw: bytes, account: str) -> Call | None:
    """The API call in a request, or None for anything that is not an AWS JSON/query call."""
    access_key, region, scope_service = scope_of(environ)
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    if target and "." in target:
        prefix, action = target.split(".", 1)
        service = TARGET_PREFIXES.get(prefix) or scope_service or prefix.lower()
        body = _json_object(raw)
        return Call(service, action, region, account, "json", prefix, body, access_key)
    content_type = environ.get("CONTENT_TYPE", "")
    if content_type.startswith("application/x-www-form-urlencoded") and scope_service:
        form = parse_qs(raw.decode("utf-8", "replace"))
        actions = form.get("Action")
        if actions:
            params = {key: values[0] for key, values in form.items() if key != "Action"}
            return Call(scope_service, actions[0], region, account, "query", "", params, access_key)
    if scope_service in REST_SERVICES:
        method = str(environ.get("REQUEST_METHOD", "GET")).upper()
        path = unquote(str(environ.get("PATH_INFO", "")))
        model = REST_SERVICES[scope_service]
        matched = rest_action(model, method, path)
        if matched is not None:
            action, params = matched
            protocol = _protocol(model)
            query = parse_qs(str(environ.get("QUERY_STRING", "")))
            document = _json_object(raw) if protocol == "rest-json" else _xml_object(raw)
            params = {**document, **{k: v[0] for k, v in query.items()}, **params}
            return Call(scope_service, action, region, account, protocol, "", params, access_key)
    return None


def _json_object(raw: bytes) -> JSON:
    try:
        body = json.loads(raw or b"{}")
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _xml_object(raw: bytes) -> JSON:
    """A REST-XML request document as nested dicts by local tag name ({"VPC": {"VPCId": ...}});
    of repeated elements the last one stays (the hooks read no lists)."""
    if not raw.strip().startswith(b"<"):
        return {}
    try:
        root = ElementTree.fromstring(raw)
    except ElementTree.ParseError:
        return {}
    document = _xml_element(root)
    return document if isinstance(document, dict) else {}


def _xml_element(element: ElementTree.Element) -> JSON | str:
    children = list(element)
    if not children:
        return element.text or ""
    return {child.tag.rsplit("}", 1)[-1]: _xml_element(child) for child in children}


@cache
def _protocol(service: str) -> str:
    return str(botocore.session.get_session().get_service_model(service).protocol)


@cache
def _rest_routes(service: str) -> list[tuple[str, re.Pattern[str], str]]:
    """(method, path pattern, action) of every operation of a REST service, most literal first
    (so /hostedzone/{Id}/rrset wins over a shorter template of the same method)."""
    model = botocore.session.get_session().get_service_model(service)
    routes: list[tuple[int, str, re.Pattern[str], str]] = []
    for name in model.operation_names:
        http = model.operation_model(name).http
        template = str(http["requestUri"]).split("?", 1)[0]
        pattern = ""
        for literal, label in re.findall(r"([^{]*)(?:\{([^}]*)\})?", template):
            pattern += re.escape(literal)
            if label:
                key = label.rstrip("+")
                pattern += f"(?P<{key}>.+)" if label.endswith("+") else f"(?P<{key}>[^/]+)"
        literal_chars = len(re.sub(r"\{[^}]*\}", "", template))
        routes.append(
            (literal_chars, str(http["method"]).upper(), re.compile(pattern + "/?$"), name)
        )
    routes.sort(key=lambda r: -r[0])
    return [(method, pattern, name) for _, method, pattern, name in routes]


def rest_action(service: str, method: str, path: str) -> tuple[str, JSON] | None:
    """The operation a REST request calls, and its path parameters (None: no operation)."""
    for route_method, pattern, name in _rest_routes(service):
        if route_method == method:
            found = pattern.match(path)
            if found is not None:
                return name, dict(found.groupdict())
    return None


def call_app(app: WSGIApp, environ: WSGIEnviron, body: bytes) -> Reply:
    """Run a WSGI app to completion on a copy of environ with the given body."""
    env = dict(environ)
    env["wsgi.input"] = io.BytesIO(body)
    env["CONTENT_LENGTH"] = str(len(body))
    captured: dict[str, Any] = {}
    chunks: list[bytes] = []

    def start_response(
        status: str, headers: list[tuple[str, str]], exc_info: Any = None
    ) -> Callable[[bytes], None]:
        captured["status"] = int(status.split(" ", 1)[0])
        captured["headers"] = tuple(headers)
        return chunks.append

    iterable = app(env, start_response)
    try:
        chunks.extend(iterable)
    finally:
        close = getattr(iterable, "close", None)
        if close is not None:
            close()
    return Reply(captured.get("status", 500), captured.get("headers", ()), b"".join(chunks))


T = TypeVar("T")
_TOKEN_PREFIX = "sd-emulator:"


def encode_token(offset: int) -> str:
    return base64.urlsafe_b64encode(f"{_TOKEN_PREFIX}{offset}".encode()).decode()


def decode_token(token: str | None) -> int:
    """Offset in a NextToken made by `encode_token`; ValueError for anything else."""
    if not token:
        return 0
    try:
        text = base64.urlsafe_b64decode(token.encode()).decode()
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError(f"invalid NextToken {token!r}") from exc
    if not text.startswith(_TOKEN_PREFIX) or not text[len(_TOKEN_PREFIX) :].isdigit():
        raise ValueError(f"invalid NextToken {token!r}")
    return int(text[len(_TOKEN_PREFIX) :])


def page(
    items: Sequence[T],
    next_token: str | None,
    max_results: int | None,
    page_size: int,
    default_max: int,
) -> tuple[list[T], str | None]:
    """One page of `items`: at most min(page_size, MaxResults or the API's default) items
    from the NextToken's offset, and the token of the next page (None on the last one)."""
    limit = max_results or default_max
    if page_size > 0:
        limit = min(limit, page_size)
    limit = max(1, limit)
    start = decode_token(next_token)
    end = start + limit
    return list(items[start:end]), (encode_token(end) if end < len(items) else None)
