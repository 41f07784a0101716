"""A fault-injecting reverse proxy for tests and benchmarks, in front of a real archive (pywb).

``FaultProxy(upstream)`` listens on 127.0.0.1 (port 0) and forwards each GET to the same path on
the upstream archive, except where a rule matches the request path (a regular expression,
searched). A rule applies a fault a given number of times (``times=None``: every time), then the
request passes through again, so a rule can model both a transient and a persistent fault.

Faults (``Fault.kind``):
- ``429``: a live HTTP 429 without Retry-After (and without Memento-Datetime), as archive.org sends;
- ``503``: a live HTTP 503;
- ``reset``: the connection is reset (RST) as soon as the request is read;
- ``hang``: no answer until ``hang_seconds`` pass (longer than the crawler's download timeout);
- ``truncate``: the upstream answer with a Content-Length larger than the body sent, then close;
- ``corrupt-gzip``: the upstream headers plus ``Content-Encoding: gzip`` over bytes that are not
  a gzip stream;
- ``huge``: the upstream page padded to ``HUGE_BYTES`` (20 MB) with a comment;
- ``huge-stream``: the same, streamed without Content-Length (the size is not known up front);
- ``wrong-charset``: the upstream answer with its Content-Type charset replaced by ``charset``.

``latency`` delays every answer (the benchmark's 250 ms); ``rate_limit`` answers a live 429 to a
replay request that finds the token bucket empty (``rate_limit`` tokens a second, room for
``burst``), as an archive enforcing its published limit would. ``log`` records every request
(monotonic time, path, what was answered).
"""

from __future__ import annotations

import http.client
import re
import socket
import struct
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

HUGE_BYTES = 20_000_000
KINDS = (
    "429",
    "503",
    "reset",
    "hang",
    "truncate",
    "corrupt-gzip",
    "huge",
    "huge-stream",
    "wrong-charset",
)
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "date", "server"}


@dataclass
class Fault:
    pattern: str  # a regular expression searched in the request path
    kind: str
    times: int | None = None  # None: every matching request
    charset: str = "iso-8859-1"  # for wrong-charset
    hits: int = 0

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown fault {self.kind!r} (one of {', '.join(KINDS)})")
        self.regex = re.compile(self.pattern)


@dataclass(frozen=True)
class Logged:
    at: float  # time.monotonic()
    path: str
    answer: str  # "200", "503", "reset", "hang", ...

    @property
    def is_replay(self) -> bool:
        return "id_/" in self.path

    @property
    def is_cdx(self) -> bool:
        return "/cdx" in self.path.split("?", 1)[0]


@dataclass
class _Bucket:
    """A token bucket: ``rate`` tokens a second, at most ``burst`` saved up."""

    rate: float
    burst: float
    tokens: float = -1.0
    at: float = 0.0

    def admit(self, now: float) -> bool:
        if self.tokens < 0:
            self.tokens, self.at = self.burst, now
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens < 1.0:
            return False
        self.tokens -= 1.0
        return True


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    proxy: FaultProxy


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"  # keep-alive, as the crawler's connection pool expects

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        proxy = self.server.proxy
        arrived = time.monotonic()
        fault = proxy.take(self.path)
        kind = fault.kind if fault else ""
        if proxy.rate_limit and "id_/" in self.path and not proxy.bucket_admit(arrived):
            kind = "429"
            with proxy.lock:
                proxy.rate_limited += 1
        if proxy.latency:
            time.sleep(proxy.latency)  # injected network latency, in this server thread only
        if kind == "reset":
            proxy.record(arrived, self.path, "reset")
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True
            self.connection.close()
            return
        if kind == "hang":
            proxy.record(arrived, self.path, "hang")
            proxy.stopping.wait(proxy.hang_seconds)
            self.close_connection = True
            return
        if kind in ("429", "503"):
            proxy.record(arrived, self.path, kind)
            text = b"Too Many Requests" if kind == "429" else b"Service Unavailable"
            self._send(int(kind), [("Content-Type", "text/plain")], text)
            return
        try:
            status, headers, body = proxy.fetch_upstream(self.path)
        except OSError as exc:
            proxy.record(arrived, self.path, "upstream-error")
            self._send(502, [("Content-Type", "text/plain")], str(exc).encode())
            return
        proxy.record(arrived, self.path, kind or str(status))
        if kind == "truncate":
            self.send_response(status)
            for k, v in headers:
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body) + 4096))
            self.end_headers()
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        if kind == "corrupt-gzip":
            headers = [(k, v) for k, v in headers if k.lower() != "content-encoding"]
            headers.append(("Content-Encoding", "gzip"))
            # the gzip magic number and a deflate method byte, then bytes no inflater accepts
            body = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03" + b"\xff\xfe\xfd\xfc" * 64
        elif kind == "huge":
            body = body + b"<!--" + b" " * max(0, HUGE_BYTES - len(body) - 7) + b"-->"
        elif kind == "huge-stream":
            self._stream_huge(status, headers, body)
            return
        elif kind == "wrong-charset":
            ctype = next((v for k, v in headers if k.lower() == "content-type"), "text/html")
            mime = ctype.split(";", 1)[0].strip()
            headers = [(k, v) for k, v in headers if k.lower() != "content-type"]
            headers.append(("Content-Type", f"{mime}; charset={fault.charset if fault else ''}"))
        self._send(status, headers, body)

    def _stream_huge(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        """Send a 20 MB body with no Content-Length: the size shows only while it arrives."""
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        chunk = b" " * 65536
        try:
            self.wfile.write(body + b"<!--")
            sent = len(body)
            while sent < HUGE_BYTES:
                self.wfile.write(chunk)
                sent += len(chunk)
            self.wfile.write(b"-->")
        except OSError:
            pass  # the client gave up on the body, as it should

    def _send(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        try:
            self.send_response(status)
            for k, v in headers:
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except OSError:
            self.close_connection = True


class FaultProxy:
    """``with FaultProxy("http://127.0.0.1:PORT/web") as base: ...`` (``base`` replaces the
    upstream archive URL: same path, the proxy's port)."""

    def __init__(
        self,
        upstream: str,
        *,
        latency: float = 0.0,
        rate_limit: float = 0.0,
        burst: float = 2.0,
        hang_seconds: float = 30.0,
    ) -> None:
        parts = urlsplit(upstream)
        if parts.hostname is None or parts.port is None:
            raise ValueError(f"upstream must be http://host:port[/path], got {upstream!r}")
        self.upstream_host = parts.hostname
        self.upstream_port = parts.port
        self.path = parts.path.rstrip("/")
        self.latency = latency
        self.rate_limit = rate_limit
        self.hang_seconds = hang_seconds
        self.faults: list[Fault] = []
        self.log: list[Logged] = []
        self.rate_limited = 0
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.burst = burst
        self._bucket = _Bucket(rate_limit, burst)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ configuration

    def add(
        self, pattern: str, kind: str, times: int | None = None, charset: str = "iso-8859-1"
    ) -> Fault:
        fault = Fault(pattern, kind, times, charset)
        with self.lock:
            self.faults.append(fault)
        return fault

    def clear(self) -> None:
        with self.lock:
            self.faults.clear()
            self.log.clear()
            self.rate_limited = 0
            self._bucket = _Bucket(self.rate_limit, self.burst)

    # ------------------------------------------------------------------ serving

    @property
    def base(self) -> str:
        assert self._server is not None, "start() the proxy first"
        return f"http://127.0.0.1:{self._server.server_address[1]}{self.path}"

    def start(self) -> str:
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.proxy = self
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self.base

    def stop(self) -> None:
        self.stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> str:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ used by the handler

    def take(self, path: str) -> Fault | None:
        """The first rule matching ``path`` that still applies; counts the hit."""
        with self.lock:
            for f in self.faults:
                if f.regex.search(path) and (f.times is None or f.hits < f.times):
                    f.hits += 1
                    return f
        return None

    def bucket_admit(self, now: float) -> bool:
        with self.lock:
            return self._bucket.admit(now)

    def record(self, at: float, path: str, answer: str) -> None:
        with self.lock:
            self.log.append(Logged(at, path, answer))

    def fetch_upstream(self, path: str) -> tuple[int, list[tuple[str, str]], bytes]:
        conn = http.client.HTTPConnection(self.upstream_host, self.upstream_port, timeout=60)
        try:
            conn.request("GET", path, headers={"Accept-Encoding": "identity"})
            resp = conn.getresponse()
            body = resp.read()
            headers = [(k, v) for k, v in resp.getheaders() if k.lower() not in HOP_BY_HOP]
            return resp.status, headers, body
        finally:
            conn.close()

    # ------------------------------------------------------------------ reading the log

    def requests(self, pattern: str) -> list[Logged]:
        """The requests whose path matches ``pattern``, in arrival order, with their answers."""
        rx = re.compile(pattern)
        with self.lock:
            return sorted((e for e in self.log if rx.search(e.path)), key=lambda e: e.at)
