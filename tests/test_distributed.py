"""Distributed crawl: two ``policytrail worker`` processes share one real redis-server (queue,
duplicate filter, rate limit) and write to one real PostgreSQL. An archive front (a recording
proxy before pywb that answers 429 to anyone going faster than the limit, as the Internet Archive
does) sees each URL once, never more than the limit per second from the whole cluster, and the
stored history equals a single-process run; a worker killed with SIGKILL mid-crawl loses nothing."""

from __future__ import annotations

import http.client
import os
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.conftest import ROOT, SAMPLE_URLS, run_cli
from tests.stored import assert_same_history, run_rows, sqlite_baseline, stored_result

__all__ = ["sqlite_baseline"]

pytestmark = pytest.mark.e2e

REPLAY_RATE = 8  # per second, for the whole cluster (the Internet Archive's figure)
SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)  # Linux


def arrival_time(sock: socket.socket) -> float | None:
    """When a request's first bytes reached ``sock``, on the kernel's clock (the listening socket
    asks for receive timestamps, its connections inherit that): not when this process got round
    to reading them, which on a loaded machine can be a scheduling delay later. None if the
    kernel gives no timestamp."""
    try:
        _, ancillary, _, _ = sock.recvmsg(1, socket.CMSG_SPACE(16), socket.MSG_PEEK)
    except OSError:
        return None
    for level, kind, data in ancillary:
        if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(data) >= 16:
            sec, nsec = struct.unpack("qq", data[:16])
            return float(sec + nsec / 1e9)
    return None


class ArchiveFront:
    """A loopback HTTP proxy before pywb: records every request's arrival time (the kernel's
    receive timestamp), and answers 429 to a replay request when more than ``limit`` arrived in
    the second before it."""

    def __init__(self, upstream: str, limit: float) -> None:
        parts = urlsplit(upstream)
        self.up_host, self.up_port = parts.hostname or "127.0.0.1", parts.port or 80
        self.limit = limit
        self.lock = threading.Lock()
        self.log: list[tuple[float, str, str, int]] = []  # (time, kind, path, status)
        self.untimed = 0  # requests the kernel gave no receive timestamp for
        front = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def setup(self) -> None:
                self.arrived = arrival_time(self.request)  # before anything reads the request
                super().setup()

            def do_GET(self) -> None:
                now = self.arrived
                if now is None:
                    now = time.time()
                    with front.lock:
                        front.untimed += 1
                kind = "cdx" if "/cdx?" in self.path else "replay"
                with front.lock:
                    recent = sum(
                        1
                        for t, k, _, s in front.log
                        if k == "replay" and 0 <= now - t < 1.0 and s != 429
                    )
                    refuse = kind == "replay" and recent + 1 > front.limit + 1
                    front.log.append((now, kind, self.path, 429 if refuse else 0))
                if refuse:
                    self._answer(429, [("Content-Type", "text/plain")], b"slow down")
                    return
                conn = http.client.HTTPConnection(front.up_host, front.up_port, timeout=60)
                try:
                    conn.request(
                        "GET", self.path, headers={"User-Agent": self.headers["User-Agent"] or ""}
                    )
                    resp = conn.getresponse()
                    body = resp.read()
                    headers = [
                        (k, v.replace(f"{front.up_host}:{front.up_port}", front.netloc))
                        for k, v in resp.getheaders()
                        if k.lower() not in ("transfer-encoding", "connection", "content-length")
                    ]
                    self._answer(resp.status, headers, body)
                finally:
                    conn.close()

            def _answer(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
                self.send_response(status)
                for k, v in headers:
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Connection", "close")  # no keep-alive races in the count
                self.close_connection = True
                self.end_headers()
                self.wfile.write(body)

        class Server(ThreadingHTTPServer):
            def server_bind(self) -> None:
                self.socket.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
                super().server_bind()

        self.server = Server(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.netloc = f"127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://{self.netloc}{path}"

    def clear(self) -> None:
        with self.lock:
            self.log.clear()
            self.untimed = 0

    def max_per_second(self, kind: str) -> int:
        """The most ``kind`` requests that arrived within any one second."""
        times = sorted(t for t, k, _, _ in self.log if k == kind)
        best, j = 0, 0
        for i, t in enumerate(times):
            while times[j] <= t - 1.0:
                j += 1
            best = max(best, i - j + 1)
        return best

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def redis_server() -> Iterator[Any]:
    from tests.services import Redis, ServiceError

    server = Redis(Path("/tmp") / f"policytrail-redis-{os.getpid()}")
    try:
        server.start()
    except ServiceError as exc:
        server.stop()
        pytest.fail(f"cannot start the Redis test server: {exc}")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def front(pywb_archive: str) -> Iterator[ArchiveFront]:
    f = ArchiveFront(pywb_archive, REPLAY_RATE)
    try:
        yield f
    finally:
        f.stop()


@pytest.fixture
def cluster(redis_server: Any, postgres_server: Any, front: ArchiveFront) -> dict[str, str]:
    redis_server.flush()
    postgres_server.reset()
    front.clear()
    return {
        "redis": redis_server.url,
        "db": postgres_server.url,
        "archive": front.url("/web"),  # pywb's collection, through the front
    }


def enqueue(c: dict[str, str], *extra: str, urls: Path = SAMPLE_URLS) -> str:
    r = run_cli(
        "enqueue",
        "--redis",
        c["redis"],
        "--urls",
        str(urls),
        "--archive",
        c["archive"],
        "--db",
        c["db"],
        *extra,
    )
    assert r.code == 0, r.err
    return r.out


def start_worker(
    c: dict[str, str],
    replay_rate: float = REPLAY_RATE,
    *extra: str,
    env: dict[str, str] | None = None,
) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "crawler.cli",
            "worker",
            "--redis",
            c["redis"],
            "--archive",
            c["archive"],
            "--db",
            c["db"],
            "--cdx-rate",
            "600",
            "--replay-rate",
            str(replay_rate),
            "--backoff",
            "1",
            "--idle-timeout",
            "2",
            *extra,
        ],
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(worker: subprocess.Popen[str]) -> tuple[int, str, str]:
    out, err = worker.communicate(timeout=180)
    return worker.returncode, out, err


def test_two_workers_share_queue_filter_and_rate_limit(
    cluster: dict[str, str], front: ArchiveFront, sqlite_baseline: dict[str, Any]
) -> None:
    out = enqueue(cluster)
    assert "enqueued 9 URLs for a new job" in out
    workers = [start_worker(cluster), start_worker(cluster)]
    results = [finish(w) for w in workers]
    for code, out, err in results:
        assert code == 0, err[-2000:]
        assert "worker run" in out and " ok: " in out, out

    requested = Counter((kind, path) for _, kind, path, _ in front.log)
    assert requested and max(requested.values()) == 1, requested.most_common(3)  # each URL once
    assert sum(1 for kind, _ in requested if kind == "cdx") == 9
    assert not [x for x in front.log if x[3] == 429], (
        "the cluster went faster than the archive allows"
    )
    assert not front.untimed, "the kernel gave no receive timestamps (SO_TIMESTAMPNS)"
    assert front.max_per_second("replay") <= REPLAY_RATE + 1
    # both workers took part, and exactly one (the last out) rebuilt versions
    rows = [r for r in run_rows(cluster["db"]) if r.kind == "worker"]
    assert len(rows) == 2 and all(r.status == "ok" for r in rows)
    assert all(r.stats["cdx_requests"] + r.stats["fetched"] > 0 for r in rows)
    assert sorted(bool(r.stats["finalised"]) for r in rows) == [False, True]

    assert_same_history(stored_result(cluster["db"]), sqlite_baseline["result"])


def test_a_killed_worker_loses_nothing(
    cluster: dict[str, str], front: ArchiveFront, sqlite_baseline: dict[str, Any]
) -> None:
    enqueue(cluster)
    victim, other = start_worker(cluster), start_worker(cluster)
    deadline = time.monotonic() + 90
    while sum(1 for x in front.log if x[1] == "replay") < 8:
        assert victim.poll() is None and time.monotonic() < deadline, "crawl ended too soon"
        time.sleep(0.05)
    victim.send_signal(signal.SIGKILL)
    victim.communicate(timeout=30)
    code, _, err = finish(other)
    assert code == 0, err[-2000:]

    # the next job (enqueue + a worker) completes what the killed worker had taken
    out = enqueue(cluster)
    assert f"pid {victim.pid}" in out and "marked killed: process" in out
    assert "for a new job" in out
    code, _, err = finish(start_worker(cluster))
    assert code == 0, err[-2000:]
    got = stored_result(cluster["db"])
    assert not [c for c in got["_captures"] if c[2] == "failed"], "pending captures left"
    assert_same_history(got, sqlite_baseline["result"])
    statuses = sorted(r.status for r in run_rows(cluster["db"]))
    assert statuses == ["killed", "ok", "ok"]


def test_unfetchable_captures_in_a_cluster_and_retry_unfetchable(
    cluster: dict[str, str], front: ArchiveFront, tmp_path: Path
) -> None:
    """Workers, like a single-process crawl (tests/test_unfetchable.py), store captures over
    the download limit as unfetchable, never fetch them again, and fetch them once more for a
    job enqueued with ``--retry-unfetchable``; ``--snapshots none`` keeps texts only."""
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from storage import open_store
    from storage.models import Capture
    from storage.reportdata import capture_quality

    url = "https://hily.com/privacypolicy"  # six captures, five of them over 50 kB
    urls = tmp_path / "urls.txt"
    urls.write_text(url + "\n")
    small = {"POLICYTRAIL_DOWNLOAD_MAXSIZE": "50000"}

    def captures() -> tuple[dict[str, int], list[tuple[int | None, int | None]]]:
        store = open_store(cluster["db"])
        try:
            pid = store.find_policy(url) or 0
            with Session(store.engine) as s:
                rows = s.execute(
                    select(Capture.snapshot_id, Capture.text_id).where(
                        Capture.policy_id == pid, Capture.state == "fetched"
                    )
                ).all()
            return dict(capture_quality(store)[pid].states), [(r[0], r[1]) for r in rows]
        finally:
            store.close()

    def replays() -> list[str]:
        return [path for _, kind, path, _ in front.log if kind == "replay"]

    enqueue(cluster, urls=urls)
    code, out, err = finish(start_worker(cluster, REPLAY_RATE, "--snapshots", "none", env=small))
    assert code == 0, err[-2000:]
    assert "5 unfetchable: not fetched again" in out, out
    states, fetched = captures()
    assert states == {"unfetchable": 5, "fetched": 1}
    assert fetched and all(snap is None and text is not None for snap, text in fetched), fetched
    assert len(replays()) == 6

    front.clear()  # the next job, not asked to retry: nothing is fetched again
    assert "for a new job" in enqueue(cluster, urls=urls)
    code, out, err = finish(start_worker(cluster, env=small))
    assert code == 0, err[-2000:]
    assert replays() == [] and captures()[0] == {"unfetchable": 5, "fetched": 1}

    front.clear()  # a job that retries them, its workers with the default limit
    assert "for a new job" in enqueue(cluster, "--retry-unfetchable", urls=urls)
    code, out, err = finish(start_worker(cluster))
    assert code == 0, err[-2000:]
    assert len(replays()) == len(set(replays())) == 5, replays()  # each unfetchable once
    states, fetched = captures()
    assert states == {"fetched": 6}
    assert sum(snap is not None for snap, _ in fetched) == 5  # the retry kept their snapshots


def test_enqueue_without_redis_is_one_line(tmp_path: Path) -> None:
    r = run_cli(
        "enqueue",
        "--redis",
        "redis://127.0.0.1:9/0",
        "--urls",
        str(SAMPLE_URLS),
        "--db",
        f"sqlite:///{tmp_path / 'x.db'}",
    )
    assert r.code == 3, r.err
    lines = r.err.strip().splitlines()
    assert len(lines) == 1 and "Redis unreachable" in lines[0], r.err


def test_shared_limiter_spaces_reservations(redis_server: Any) -> None:
    """Reservations from two clients on one key are spaced one interval apart, on Redis' clock."""
    import asyncio

    from crawler.redislimit import SharedRateLimiter

    async def reserve_all() -> list[float]:
        a = SharedRateLimiter.from_url(redis_server.url, "t")
        b = SharedRateLimiter.from_url(redis_server.url, "t")
        try:
            waits = []
            for i in range(10):
                waits.append(await (a if i % 2 else b).reserve("t:rate:replay:x", 0.1))
            waits.append(await a.pause("t:rate:replay:x", 5.0))
            waits.append(await b.reserve("t:rate:replay:x", 0.1))
            return waits
        finally:
            await a.close()
            await b.close()

    redis_server.flush()
    waits = asyncio.run(reserve_all())
    for i in range(1, 10):  # each reservation one interval after the one before
        assert 0.07 <= waits[i] - waits[i - 1] <= 0.1 + 1e-6, waits
    assert waits[10] >= 5.0 - 0.05  # a 429 pushes everyone back
    assert waits[11] >= 5.0 - 0.05


def test_a_request_woken_too_late_takes_a_new_slot() -> None:
    """The lateness bound counts from when the reservation was asked for: a slow Redis answer or
    a late wake-up on a busy reactor both count; half an interval is the most allowed."""
    from crawler.redislimit import too_late

    interval = 0.125
    assert not too_late(asked=10.0, wait=0.5, now=10.5 + 0.06, interval=interval)
    assert too_late(asked=10.0, wait=0.5, now=10.5 + 0.07, interval=interval)  # woke late
    assert too_late(asked=10.0, wait=0.0, now=10.07, interval=interval)  # answered late


def test_a_heartbeat_after_leaving_does_not_bring_a_worker_back(redis_server: Any) -> None:
    """A worker's heartbeat thread runs until its process ends, after it left the cluster: a beat
    then must not make it a live member again, or the worker leaving after it would not be the
    last and nobody would rebuild the versions."""
    from crawler.distributed import Cluster

    redis_server.flush()
    cluster = Cluster(redis_server.url)
    try:
        cluster.beat("a")
        cluster.beat("b")
        assert cluster.leave("a") == 1
        cluster.beat("a")  # a's last beat, under way while it left
        assert cluster.live_workers() == 1
        assert cluster.leave("b") == 0  # b is the last
        cluster.beat("b")
        assert cluster.live_workers() == 0
    finally:
        cluster.close()


def _fetched(db: str) -> int:
    from sqlalchemy import create_engine, text

    engine = create_engine(db)
    try:
        with engine.connect() as conn:
            n = conn.execute(text("SELECT count(*) FROM capture WHERE state = 'fetched'"))
            return int(n.scalar() or 0)
    except Exception:  # no schema yet
        return 0
    finally:
        engine.dispose()


def _wait_fetched(db: str, proc: subprocess.Popen[str], n: int) -> int:
    deadline = time.monotonic() + 90
    while (got := _fetched(db)) < n:
        assert proc.poll() is None, f"the worker ended before the fault: {proc.communicate()}"
        assert time.monotonic() < deadline, f"fewer than {n} captures stored in 90 s"
        time.sleep(0.1)
    return got


def _own_server(server: Any) -> Any:
    """Start a server of this test alone (it is stopped mid-test); fail, naming why, if it can't."""
    from tests.services import ServiceError

    try:
        server.start()
    except ServiceError as exc:
        server.stop()
        pytest.fail(f"cannot start a {type(server).__name__} test server: {exc}")
    return server


def _error_lines(err: str) -> list[str]:
    """The lines a user sees as errors: the CLI's own and any log line at ERROR level."""
    return [
        ln for ln in err.splitlines() if ln.startswith("policytrail: error:") or " ERROR:" in ln
    ]


def test_a_worker_stops_cleanly_when_redis_goes_away(
    postgres_server: Any, front: ArchiveFront, tmp_path: Path
) -> None:
    from tests.services import Redis

    own = _own_server(Redis(Path("/tmp") / f"policytrail-redis-lost-{os.getpid()}"))
    postgres_server.reset()
    front.clear()
    c = {"redis": own.url, "db": postgres_server.url, "archive": front.url("/web")}
    try:
        enqueue(c)
        worker = start_worker(c, replay_rate=2)
        stored = _wait_fetched(c["db"], worker, 3)
        own.stop()
        code, _, err = finish(worker)
    finally:
        own.stop()
    assert code == 3, err[-2000:]
    assert "Traceback" not in err, err[-3000:]
    assert _error_lines(err)[-1].startswith("policytrail: error: Redis connection lost"), err
    (row,) = [r for r in run_rows(c["db"]) if r.kind == "worker"]
    assert row.status == "redis-unavailable" and row.finished_at is not None
    assert _fetched(c["db"]) >= stored, "captures stored before Redis went away were lost"


def test_a_worker_stops_when_the_database_goes_away(
    redis_server: Any, front: ArchiveFront, sqlite_baseline: dict[str, Any]
) -> None:
    from tests.services import Postgres

    pg = _own_server(Postgres(Path("/tmp") / f"policytrail-pg-lost-{os.getpid()}", durable=True))
    redis_server.flush()
    front.clear()
    c = {"redis": redis_server.url, "db": pg.url, "archive": front.url("/web")}
    try:
        enqueue(c)
        worker = start_worker(c, replay_rate=2)
        stored = _wait_fetched(c["db"], worker, 3)
        pg.halt()
        t0 = time.monotonic()
        code, _, err = finish(worker)
        assert code == 6, err[-2000:]
        assert time.monotonic() - t0 < 30, "the worker went on fetching without its database"
        assert "Traceback" not in err, err[-3000:]
        (line,) = _error_lines(err)
        assert line.startswith("policytrail: error: database failed mid-run"), line

        pg.restart()
        assert _fetched(c["db"]) >= stored, "captures stored before the failure were lost"
        out = enqueue(c)  # the next job: marks the dead worker, and a worker completes it
        assert f"pid {worker.pid}" in out and "marked killed" in out, out
        assert "for a new job" in out, out  # the dead job's leftovers do not block refetching
        code, _, err = finish(start_worker(c))
        assert code == 0, err[-2000:]
        got = stored_result(c["db"])
        assert not [cap for cap in got["_captures"] if cap[2] == "failed"], "pending captures left"
        assert_same_history(got, sqlite_baseline["result"])
    finally:
        pg.stop()
