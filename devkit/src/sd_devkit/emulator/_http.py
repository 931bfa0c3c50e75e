"""A threaded HTTP/1.1 server for the fidelity layer's WSGI app, with keep-alive connections.

werkzeug's development server (what moto's own server uses) answers every request with
`Connection: close`, so botocore opened a new connection for each call and a benchmark measured
connection set-up rather than the operator. Every reply of the layer is complete in memory
(`Reply`), so this server sends it with a Content-Length and keeps the connection open, as AWS
endpoints do. Hand-written on the standard library (about what a WSGI server's keep-alive part
needs) rather than adding a server dependency to the emulator extra.
"""

from __future__ import annotations

import io
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from ._wsgi import WSGIApp


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # A reply goes out as two writes, the headers and then the body. With Nagle's algorithm
    # the body waited for the client to acknowledge the headers, which a client delays (40 ms
    # on Linux): every call took about 50 ms (1,000 RegisterInstance calls, 50 s) instead of
    # a few. TCP_NODELAY sends the body at once.
    disable_nagle_algorithm = True
    app: WSGIApp
    server_port: int

    def log_message(self, format: str, *args: Any) -> None:
        return None

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        path, _, query = self.path.partition("?")
        address: Any = self.server.server_address
        host, port = address[0], address[1]
        environ: dict[str, Any] = {
            "REQUEST_METHOD": self.command,
            "SCRIPT_NAME": "",
            "PATH_INFO": path,
            "QUERY_STRING": query,
            "RAW_URI": self.path,
            "REQUEST_URI": self.path,
            "CONTENT_TYPE": self.headers.get("Content-Type", ""),
            "CONTENT_LENGTH": str(len(body)),
            "SERVER_NAME": str(host),
            "SERVER_PORT": str(port),
            "SERVER_PROTOCOL": self.request_version,
            "REMOTE_ADDR": self.client_address[0],
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(body),
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
        }
        for key, value in self.headers.items():
            name = key.upper().replace("-", "_")
            if name not in ("CONTENT_TYPE", "CONTENT_LENGTH"):
                environ[f"HTTP_{name}"] = value
        captured: dict[str, Any] = {}

        def start_response(
            status: str, headers: list[tuple[str, str]], exc_info: Any = None
        ) -> Any:
            captured["status"], captured["headers"] = status, headers
            return lambda _: None

        chunks = self.app(environ, start_response)
        try:
            payload = b"".join(chunks)
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()
        code, _, reason = str(captured.get("status", "500 Internal Server Error")).partition(" ")
        self.send_response(int(code), reason)
        for key, value in captured.get("headers", []):
            if key.lower() not in ("content-length", "connection", "transfer-encoding"):
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = _serve


class KeepAliveServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, host: str, port: int, app: WSGIApp) -> None:
        handler = type("Handler", (_Handler,), {"app": staticmethod(app)})
        super().__init__((host, port), handler)

    @property
    def port(self) -> int:
        return int(self.server_address[1])
