"""Politeness under a live HTTP 429: pause the endpoint, reschedule once, never loop, stop cleanly.

A small archive on loopback speaks the pywb dialect and answers replays with 429 (no
Memento-Datetime, no Retry-After, as the Internet Archive does) for as long as it is told to."""

from __future__ import annotations

import json
import threading
import time
import zlib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from scrapy import Request
from scrapy.exceptions import (
    DownloadCancelledError,
    DownloadFailedError,
    DownloadTimeoutError,
    ResponseDataLossError,
)
from scrapy.http import Response
from scrapy.utils.test import get_crawler

from crawler.middlewares import RETRYABLE, ArchiveRetryMiddleware, failure_kind
from storage import open_store
from tests.conftest import Result, run_cli

PAGE = (
    b"<html><head><title>Privacy Policy</title></head><body><h1>Privacy Policy</h1>"
    + (b"<p>We collect your e-mail address to run the service and never sell it.</p>" * 40)
    + b"</body></html>"
)


class Archive(ThreadingHTTPServer):
    refuse: int = 0  # how many replay requests get a live 429
    log: list[tuple[float, str, int]]


class Handler(BaseHTTPRequestHandler):
    server: Archive

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        if self.path.startswith("/web/cdx"):
            rows = [
                {
                    "urlkey": "org,example)/privacy",
                    "timestamp": ts,
                    "url": "https://example.org/privacy",
                    "mime": "text/html",
                    "status": "200",
                    "digest": f"D{ts}",
                    "length": "100",
                }
                for ts in ("20200101000000", "20210101000000")
            ]
            body = "\n".join(json.dumps(r) for r in rows).encode()
            self._send(200, body, [])
            return
        if self.server.refuse > 0:
            self.server.refuse -= 1
            self._send(429, b"Too Many Requests", [])
            return
        self._send(200, PAGE, [("Memento-Datetime", "Wed, 01 Jan 2020 00:00:00 GMT")])

    def _send(self, status: int, body: bytes, headers: list[tuple[str, str]]) -> None:
        self.server.log.append((time.monotonic(), self.path, status))
        self.send_response(status)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def archive() -> Iterator[Archive]:
    server = Archive(("127.0.0.1", 0), Handler)
    server.log = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def crawl(archive: Archive, tmp_path: Path, replay_rate: str = "50") -> tuple[Result, str]:
    urls = tmp_path / "urls.txt"
    urls.write_text("https://example.org/privacy\n")
    db = f"sqlite:///{tmp_path / 'b.db'}"
    base = f"http://127.0.0.1:{archive.server_address[1]}/web"
    r = run_cli(
        "crawl",
        str(urls),
        "--archive",
        base,
        "--db",
        db,
        "--backoff",
        "1",
        "--cdx-rate",
        "600",
        "--replay-rate",
        replay_rate,
        "--log-level",
        "WARNING",
    )
    return r, db


def test_a_live_429_pauses_then_the_capture_is_fetched(archive: Archive, tmp_path: Path) -> None:
    archive.refuse = 1
    # 5/s: the next replay is due 200 ms after the refused one, so the 429 has surely been read
    # (and the endpoint paused) before it, even on a loaded machine; at 50/s the next one may
    # already be on its way when the 429 arrives, and no crawler can call it back
    r, db = crawl(archive, tmp_path, replay_rate="5")
    assert r.code == 0, r.err
    assert "429" in r.err and "pausing" in r.err
    replays = [(t, s) for t, p, s in archive.log if "id_/" in p]
    assert [s for _, s in replays].count(429) == 1 and len(replays) == 3
    first_429 = next(t for t, s in replays if s == 429)
    assert all(t - first_429 >= 0.95 for t, s in replays if t > first_429), "paused >= back-off"
    store = open_store(db)
    try:
        assert store.counts()["fetched"] == 2
    finally:
        store.close()


def test_persistent_429_stops_the_run_without_a_retry_loop(
    archive: Archive, tmp_path: Path
) -> None:
    archive.refuse = 10_000
    r, db = crawl(archive, tmp_path)
    assert r.code == 1
    assert "rate-limited" in r.out
    replays = [s for _, p, s in archive.log if "id_/" in p]
    assert 0 < len(replays) <= 5, f"{len(replays)} replay requests: the run must not loop"
    store = open_store(db)
    try:
        (run,) = store.runs()
        assert run.status == "rate-limited"
        # nothing was stored as fetched; the failed captures hold the cursor for the next run
        assert store.counts()["fetched"] == 0
    finally:
        store.close()


# ------------------------------------------------------------------ retries of other faults


def retry_middleware() -> ArchiveRetryMiddleware:
    crawler = get_crawler(
        settings_dict={"RETRY_TIMES": 2, "POLICYTRAIL_RETRY_BACKOFF_SECONDS": 0.5},
    )
    crawler.stats.open_spider()  # type: ignore[union-attr,call-arg]
    return ArchiveRetryMiddleware(crawler)


def test_a_live_503_is_retried_with_doubling_back_off_then_given_up() -> None:
    mw = retry_middleware()
    request = Request("http://archive.test/web/20200101000000id_/https://example.org/privacy")
    waits = []
    for _ in range(2):
        answer = mw.process_response(request, Response(request.url, status=503))
        assert isinstance(answer, Request)
        waits.append(answer.meta["policytrail_retry_at"] - time.monotonic())
        request = answer
    assert 0.4 < waits[0] <= 0.5 and 0.9 < waits[1] <= 1.0
    last = Response(request.url, status=503)
    assert mw.process_response(request, last) is last
    assert mw.crawler.stats.get_value("policytrail/retry/http-503") == 2


def test_an_archived_5xx_page_is_content_and_never_retried() -> None:
    mw = retry_middleware()
    request = Request("http://archive.test/web/20200101000000id_/https://example.org/privacy")
    archived = Response(
        request.url, status=503, headers={"Memento-Datetime": "Wed, 01 Jan 2020 00:00:00 GMT"}
    )
    assert mw.process_response(request, archived) is archived


def test_download_failures_have_names() -> None:
    names = {
        failure_kind(DownloadTimeoutError()): True,
        failure_kind(DownloadFailedError()): True,
        failure_kind(ResponseDataLossError()): True,
        failure_kind(DownloadCancelledError()): False,
        failure_kind(zlib.error()): False,
    }
    assert list(names) == [
        "timeout",
        "connection-lost",
        "truncated",
        "too-large",
        "corrupt-compression",
    ]
    assert {n for n, retry in names.items() if retry} <= RETRYABLE
    assert not {n for n, retry in names.items() if not retry} & RETRYABLE
