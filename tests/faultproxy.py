"""A fault-injecting HTTP proxy on 127.0.0.1 in front of the lab's registry.

Every request is passed to the registry as it is (its Host header kept, so that upload
Locations point back at the proxy) unless a fault matches it: by method, a path pattern and
the client's User-Agent (BuildKit and containerd, the docker CLI, or buildx-go's reads:
``Python-urllib``). A fault answers 500, answers 400 "blob unknown" (what the registry says
to a manifest PUT whose layer another push has not finished), resets the connection (RST),
or stalls (holds the request, then drops it).
Used by tests/integration/test_faults.py and scripts/chaos.
"""

from __future__ import annotations

import http.client
import http.server
import re
import socket
import struct
import threading
import time
from typing import Any, Literal

import attrs

Kind = Literal["500", "400", "reset", "stall", "stored-reset"]
ANSWERS = {
    "500": (500, b'{"errors":[{"code":"UNKNOWN","message":"injected fault"}]}'),
    "400": (400, b'{"errors":[{"code":"MANIFEST_BLOB_UNKNOWN","message":"blob unknown to registry"}]}'),
}


@attrs.define
class Fault:
    kind: Kind
    method: str = ".*"  # a pattern for the HTTP method
    path: str = ".*"  # a pattern searched in the request path
    agent: str = ""  # a User-Agent part ("" = any client)
    times: int | None = None  # how many requests it hits (None: all of them)
    hits: int = 0

    def matches(self, method: str, path: str, agent: str) -> bool:
        if self.times is not None and self.hits >= self.times:
            return False
        return bool(re.fullmatch(self.method, method) and re.search(self.path, path) and self.agent in agent)


class FaultProxy:
    def __init__(self, upstream: tuple[str, int] = ("127.0.0.1", 5000), stall: float = 60.0) -> None:
        self.upstream = upstream
        self.stall = stall
        self.faults: list[Fault] = []
        self.log: list[tuple[str, str, str, str]] = []  # (method, path, agent, what happened)
        self._lock = threading.Lock()
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *_: Any) -> None:
                pass

            def handle_one_request(self) -> None:
                try:
                    if self.rfile.peek(1)[:1] == b"\x16":  # a TLS hello: answer in plain HTTP, as a
                        self.wfile.write(b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n")
                        self.close_connection = True  # registry does, so clients fall back to http
                        return
                    super().handle_one_request()
                except (ConnectionError, TimeoutError, OSError):
                    self.close_connection = True

            def _any(self) -> None:
                proxy.handle(self)

            do_GET = do_HEAD = do_PUT = do_POST = do_PATCH = do_DELETE = _any

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.host = f"localhost:{self._server.server_address[1]}"  # engines speak plain http to it

    def __enter__(self) -> FaultProxy:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *_: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def add(self, kind: Kind, **match: Any) -> Fault:
        fault = Fault(kind, **match)
        with self._lock:
            self.faults.append(fault)
        return fault

    def handle(self, h: http.server.BaseHTTPRequestHandler) -> None:
        agent = h.headers.get("User-Agent", "")
        body = _read_body(h)
        with self._lock:
            fault = next((f for f in self.faults if f.matches(h.command, h.path, agent)), None)
            if fault:
                fault.hits += 1
            self.log.append((h.command, h.path, agent, fault.kind if fault else "passed"))
        if fault and fault.kind == "reset":
            h.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            h.connection.close()
            h.close_connection = True
            return
        if fault and fault.kind == "stored-reset":  # the registry stored it; the answer is lost
            self._forward(h, body, answer=False)
            h.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            h.connection.close()
            h.close_connection = True
            return
        if fault and fault.kind == "stall":
            time.sleep(self.stall)
            h.close_connection = True
            return
        if fault:
            status, data = ANSWERS[fault.kind]
            h.send_response(status)
            h.send_header("Content-Type", "application/json")
            h.send_header("Content-Length", str(len(data)))
            h.end_headers()
            h.wfile.write(data)
            return
        self._forward(h, body)

    def _forward(self, h: http.server.BaseHTTPRequestHandler, body: bytes | None, answer: bool = True) -> None:
        conn = http.client.HTTPConnection(*self.upstream, timeout=120)
        conn.putrequest(h.command, h.path, skip_host=True, skip_accept_encoding=True)
        for k, v in h.headers.items():  # every header, repeated ones too (docker sends one Accept each)
            if k.lower() not in ("transfer-encoding", "connection", "content-length"):
                conn.putheader(k, v)
        if body is not None:
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        resp = conn.getresponse()
        data = resp.read()
        if not answer:
            conn.close()
            return
        h.send_response(resp.status, resp.reason)
        for k, v in resp.getheaders():
            if k.lower() not in ("transfer-encoding", "connection", "content-length"):
                h.send_header(k, v)
        length = resp.getheader("Content-Length") if h.command == "HEAD" else None  # HEAD: the GET's length
        h.send_header("Content-Length", length or str(len(data)))
        h.end_headers()
        if h.command != "HEAD":
            h.wfile.write(data)
        conn.close()


def _read_body(h: http.server.BaseHTTPRequestHandler) -> bytes | None:
    if h.headers.get("Transfer-Encoding", "").lower() == "chunked":
        out = bytearray()
        while True:
            size = int(h.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                h.rfile.readline()
                return bytes(out)
            out += h.rfile.read(size)
            h.rfile.readline()
    length = h.headers.get("Content-Length")
    return h.rfile.read(int(length)) if length else (b"" if h.command in ("PUT", "POST", "PATCH") else None)
