"""A local stand-in for web.archive.org that replays real recorded archive.org responses.

The recordings are the EDGI ``wayback`` project's VCR cassettes and CDX files (BSD-3-Clause, in
``../shared/data/ia-recorded``). ``IAServer`` serves them on 127.0.0.1 (port 0) at the Internet
Archive's paths, for a crawl with ``--archive http://127.0.0.1:PORT --dialect ia``:

- ``/cdx/search/cdx?url=U[&resumeKey=K]``: the recorded CDX answer whose query had the same
  ``url`` (compared without scheme, ``www.``, port 80 and trailing slash) and the same
  ``resumeKey`` (absent on the first page), bytes and headers as recorded (gzip included).
  The other parameters (``fl``, ``limit``, ``from``/``to``, ``resolveRevisits``) are not compared:
  the recordings were made with the EDGI client's parameters, not ours.
- ``/web/<ts><mode>/<url>``: the recorded replay answer for exactly that path.

What the recordings do not hold is stitched, and every stitched answer says so in ``log``:
- ``stitched-cdx``: the CDX of a URL the cassettes only hold mementos of (captured redirects,
  loops, the archived 429 page...): one row per recorded memento of that URL (the first answer
  with Memento-Datetime), with IA's fields: SURT key, timestamp, URL, MIME (``unk`` for a 3xx,
  as IA writes), status, base32 SHA-1 of the payload (what IA's digest is; an empty 3xx gets
  IA's well-known ``3I42H3S6...``) and the recorded length.
- ``cdx-file``: a CDX file from ``cdx-files/`` served as the answer for a URL (``cdx_files``).
- ``stitched-404``: a replay the recordings lack is answered with the recorded no-memento 404
  (``test_get_memento_raises_no_memento_error.yaml``: IA's answer for a capture it lacks).
- ``stitched-cdx-empty``: a CDX query for a URL with nothing recorded gets IA's empty answer.
- Location and Link headers that name ``web.archive.org`` (absolute or scheme-relative) are
  rewritten to this server's address: what the Internet Archive would write if it were here.
- ``stitched-429``: a live 429 (no Retry-After, no Memento-Datetime, as IA sends), for the
  requests matching ``live_429`` rules: the recordings' own rate-limit cassettes hold only the
  200s that EDGI's client-side limiter spaced out, never a live 429.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import yaml

from storage.keys import urlkey

_REPLAY = re.compile(r"^/web/(?P<ts>\d{1,14})(?P<mode>[a-z]{2}_)?/(?P<url>.+)$")
_DROP = {"transfer-encoding", "content-length", "connection", "date", "server"}
NO_MEMENTO = "test_get_memento_raises_no_memento_error.yaml"


@dataclass(frozen=True)
class Recorded:
    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes
    source: str  # cassette file name

    def header(self, name: str) -> str:
        name = name.lower()
        return next((v for k, v in self.headers if k.lower() == name), "")

    @property
    def payload(self) -> bytes:
        if "gzip" in self.header("content-encoding").lower():
            return gzip.decompress(self.body)
        return self.body


def norm_url(url: str) -> str:
    """The CDX's idea of the same URL: no scheme, no ``www.``, no port 80, no trailing slash."""
    u = url.strip().lower()
    u = re.sub(r"^[a-z]+://", "", u)
    u = re.sub(r"^www\d?\.", "", u)
    u = u.replace(":80/", "/")
    return u.rstrip("/")


def _recorded(interaction: dict[str, object], source: str) -> Recorded:
    resp = interaction["response"]
    assert isinstance(resp, dict)
    body = resp["body"].get("string") or b""
    if isinstance(body, str):
        body = body.encode("utf-8")
    headers = tuple(
        (k, v) for k, values in resp["headers"].items() for v in values if k.lower() not in _DROP
    )
    return Recorded(int(resp["status"]["code"]), headers, body, source)


@dataclass
class _Rule:
    regex: re.Pattern[str]
    left: int


@dataclass
class Logged:
    path: str
    status: int
    source: str  # a cassette, a cdx-file, or stitched-*


@dataclass
class Recordings:
    cdx: dict[tuple[str, str], Recorded] = field(default_factory=dict)  # (url, resumeKey)
    replays: dict[str, Recorded] = field(default_factory=dict)  # /web/... path
    mementos: dict[str, list[tuple[str, str, Recorded]]] = field(default_factory=dict)
    no_memento: Recorded | None = None

    @classmethod
    def load(cls, root: Path) -> Recordings:
        rec = cls()
        for path in sorted((root / "cassettes").glob("*.yaml")):
            data = yaml.safe_load(path.read_text())
            seen_urls: set[str] = set()
            for it in data["interactions"]:
                uri = urlsplit(it["request"]["uri"])
                r = _recorded(it, path.name)
                if uri.path == "/cdx/search/cdx":
                    q = parse_qs(uri.query)
                    key = (norm_url(q["url"][0]), q.get("resumeKey", [""])[0])
                    rec.cdx.setdefault(key, r)
                    continue
                target = uri.path + (f"?{uri.query}" if uri.query else "")
                rec.replays.setdefault(target, r)
                m = _REPLAY.match(target)
                if m and m.group("mode") == "id_" and r.header("memento-datetime"):
                    url = m.group("url")
                    if norm_url(url) not in seen_urls:  # the memento the test asked for
                        seen_urls.add(norm_url(url))
                        rows = rec.mementos.setdefault(norm_url(url), [])
                        if all(ts != m.group("ts") for ts, _, _ in rows):
                            rows.append((m.group("ts"), url, r))
            if path.name == NO_MEMENTO:
                rec.no_memento = _recorded(data["interactions"][0], path.name)
        return rec

    def stitched_cdx(self, url: str) -> bytes | None:
        rows = self.mementos.get(norm_url(url))
        if not rows:
            return None
        lines = []
        for ts, original, r in sorted(rows, key=lambda row: row[0]):
            mime = r.header("content-type").split(";", 1)[0].strip() or "unk"
            if 300 <= r.status < 400:
                mime = "unk"
            digest = base64.b32encode(hashlib.sha1(r.payload).digest()).decode()
            lines.append(
                f"{urlkey(original)} {ts} {original} {mime} {r.status} {digest} {len(r.body)}"
            )
        return ("\n".join(lines) + "\n").encode()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    ia: IAServer


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        ia = self.server.ia
        status, headers, body, source = ia.answer(self.path)
        ia.record(Logged(self.path, status, source))
        host = f"127.0.0.1:{self.server.server_address[1]}"
        self.send_response(status)
        for k, v in headers:
            if k.lower() in ("location", "link", "content-location"):
                v = v.replace("https://web.archive.org", f"http://{host}")
                v = v.replace("//web.archive.org", f"//{host}")
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class IAServer:
    """``with IAServer(root) as base: ...``: ``base`` is ``http://127.0.0.1:PORT``."""

    def __init__(
        self,
        root: Path,
        *,
        cdx_files: dict[str, str] | None = None,
        live_429: list[tuple[str, int]] | None = None,
    ) -> None:
        self.root = root
        self.rec = Recordings.load(root)
        self.cdx_files = {norm_url(u): name for u, name in (cdx_files or {}).items()}
        self.live_429 = [_Rule(re.compile(p), n) for p, n in (live_429 or [])]
        self.log: list[Logged] = []
        self.lock = threading.Lock()
        self._server: _Server | None = None

    def start(self) -> str:
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.ia = self
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> str:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def record(self, entry: Logged) -> None:
        with self.lock:
            self.log.append(entry)

    def requests(self, source_prefix: str = "", path_pattern: str = "") -> list[Logged]:
        rx = re.compile(path_pattern)
        with self.lock:
            return [e for e in self.log if e.source.startswith(source_prefix) and rx.search(e.path)]

    def answer(self, target: str) -> tuple[int, list[tuple[str, str]], bytes, str]:
        with self.lock:
            for rule in self.live_429:
                if rule.left > 0 and rule.regex.search(target):
                    rule.left -= 1
                    return 429, [("Content-Type", "text/plain")], b"Too Many", "stitched-429"
        parts = urlsplit(target)
        if parts.path == "/cdx/search/cdx":
            q = parse_qs(parts.query)
            url = q.get("url", [""])[0]
            resume = q.get("resumeKey", [""])[0]
            text = [("Content-Type", "text/plain;charset=UTF-8")]
            name = self.cdx_files.get(norm_url(url))
            if name is not None and not resume:
                return 200, text, (self.root / "cdx-files" / name).read_bytes(), f"cdx-file:{name}"
            r = self.rec.cdx.get((norm_url(url), resume))
            if r is not None:
                return r.status, list(r.headers), r.body, r.source
            stitched = self.rec.stitched_cdx(url) if not resume else None
            if stitched is not None:
                return 200, text, stitched, "stitched-cdx"
            return 200, text, b"", "stitched-cdx-empty"
        r = self.rec.replays.get(target)
        if r is not None:
            return r.status, list(r.headers), r.body, r.source
        miss = self.rec.no_memento
        assert miss is not None, f"{NO_MEMENTO} is missing from the recordings"
        return miss.status, list(miss.headers), miss.body, "stitched-404"
