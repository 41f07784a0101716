"""Pacing from a fixed schedule: a busy reactor does not slow the archive requests below the limit,
and nothing ever exceeds it.

The schedule (``crawler.pacing.next_due``) is tested as a plain function; then real crawls against
a loopback server, with a reactor that an extension blocks 30 ms out of every 40, compare the
paced downloader with Scrapy's own slot delay in the same run."""

from __future__ import annotations

import hashlib
import inspect
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from scrapy import Request, Spider
from scrapy.core.downloader import Downloader, Slot
from scrapy.http import Response
from scrapy.settings import Settings

from crawler.addon import PolicytrailAddon
from crawler.pacing import is_paced, next_due, wait_before_send

ROOT = Path(__file__).resolve().parents[1]

# ------------------------------------------------------------------------------ the schedule


def simulate(interval: float, arrivals: list[float], lateness: list[float]) -> list[float]:
    """Send times of requests queued at ``arrivals``, each timer firing ``lateness[i]`` late.

    A plain model of PacedDownloader: one request goes when it is queued and due; the timer for
    the next one is set for its due time and fires late by the next lateness."""
    sent: list[float] = []
    last_due = 0.0
    now = 0.0
    for arrived, late in zip(arrivals, lateness, strict=True):
        now = max(now, arrived)
        wait = wait_before_send(last_due, interval, now)
        if wait > 0:
            now += wait + late
        last_due = next_due(last_due, interval, now)
        sent.append(now)
    return sent


def max_in_window(times: list[float], width: float) -> int:
    """The most events in any half-open window [t, t + width)."""
    times = sorted(times)
    j = 0
    best = 0
    for i, t in enumerate(times):
        while times[j] <= t - width:
            j += 1
        best = max(best, i - j + 1)
    return best


def test_late_timers_do_not_accumulate_lag() -> None:
    interval = 0.125
    n = 400
    # every timer fires 7 ms late (the lag measured on a loaded machine) plus up to 40 ms more
    lateness = [0.007 + 0.04 * ((i * 7919) % 13) / 13 for i in range(n)]
    sent = simulate(interval, [0.0] * n, lateness)
    # each send is at most its own lateness behind the schedule: the lag does not add up
    start = sent[0]
    for i, t in enumerate(sent):
        due = start + i * interval
        assert due <= t <= due + lateness[i] + 1e-9
    rate = (n - 1) / (sent[-1] - sent[0])
    assert 0.99 * 8 <= rate <= 8.0 + 1e-9
    # Scrapy's own pacing (the next one `interval` after the previous actual send) falls behind
    assert (sent[0] + sum(interval + late for late in lateness[1:])) - sent[-1] > 2.0


def test_an_idle_gap_restarts_the_schedule_without_a_burst() -> None:
    interval = 0.1
    # five requests, then nothing for 3 s, then twenty queued at once
    arrivals = [0.0] * 5 + [3.4] * 20
    sent = simulate(interval, arrivals, [0.0] * 25)
    assert sent[5] == pytest.approx(3.4)  # the first after the gap goes at once...
    gaps = [b - a for a, b in pairwise(sent[5:])]
    assert min(gaps) == pytest.approx(interval)  # ...and the rest one interval apart: no catch-up
    assert max_in_window(sent, interval - 1e-9) == 1  # (float rounding of the sums)


def test_a_very_late_send_starts_a_new_schedule() -> None:
    # a stall of more than half an interval does not entitle the queue to a burst
    assert next_due(10.0, 0.1, 10.1 + 0.049) == pytest.approx(10.1)  # a little late: kept
    assert next_due(10.0, 0.1, 10.1 + 0.05) == pytest.approx(10.15)  # a stall: restarts
    assert next_due(0.0, 0.125, 5000.0) == 5000.0  # a new slot: lastseen is 0


def test_never_more_than_one_extra_request_in_an_interval() -> None:
    interval = 0.125
    n = 800
    # adversarial lateness: alternately none and just under half an interval, with stalls
    lateness = [(0.0624 if i % 2 else 0.0) + (0.3 if i % 97 == 0 else 0.0) for i in range(n)]
    arrivals = [0.0 if i < 400 else 60.0 + (i % 5) * 0.01 for i in range(n)]
    sent = simulate(interval, arrivals, lateness)
    assert max_in_window(sent, interval) <= 2
    assert max_in_window(sent, 1.0) <= 8 + 1


def test_a_pause_from_pause_slot_is_honoured() -> None:
    interval = 0.125
    last_due = 100.0
    # ArchiveBackoffMiddleware.pause_slot: lastseen = max(lastseen, now + seconds)
    now = 100.05
    paused = max(last_due, now + 60.0)
    assert wait_before_send(paused, interval, now) == pytest.approx(60.0 + interval)
    # the timer fires on time or late: the schedule goes on from the end of the pause
    assert next_due(paused, interval, paused + interval) == pytest.approx(paused + interval)
    assert next_due(paused, interval, paused + interval + 0.02) == pytest.approx(paused + interval)


# ---------------------------------------------------------------- installation by the add-on


def addon_settings(**values: Any) -> Settings:
    settings = Settings({"DOWNLOADER_MIDDLEWARES": {}, "ITEM_PIPELINES": {}, **values})
    PolicytrailAddon().update_settings(settings)
    return settings


def test_the_addon_installs_the_paced_downloader() -> None:
    assert addon_settings()["DOWNLOADER"] == "crawler.pacing.PacedDownloader"
    plain = addon_settings(POLICYTRAIL_PACING="delay")["DOWNLOADER"]
    assert plain == "scrapy.core.downloader.Downloader"


def test_only_the_archive_slots_with_a_delay_are_paced() -> None:
    slots = {
        "cdx": Slot(1, 2.5, 0),
        "replay": Slot(4, 0.125, 0),
        "example.org": Slot(8, 1.0, 0),
        "jittery": Slot(1, 1.0, 0.5),
    }
    assert is_paced(slots, slots["cdx"]) and is_paced(slots, slots["replay"])
    assert not is_paced(slots, slots["example.org"])  # any other slot: Scrapy's own delay
    assert not is_paced(slots, slots["jittery"], ("jittery",))  # jitter: not a fixed schedule
    assert not is_paced(slots, Slot(4, 0.125, 0))  # a slot gone from the downloader
    # a distributed worker's slots have no delay: the limiter in Redis paces them
    worker = {"replay": Slot(8, 0, 0)}
    assert not is_paced(worker, worker["replay"])


# What PacedDownloader._process_queue stands in for, and the private names it uses. If a new
# Scrapy changes any of it, re-read scrapy/core/downloader/__init__.py, check that the override
# still does what it did, and update these.
PINNED = {
    "_process_queue": "5f1fac56964ae9714b9336a5f55279bcb7ad6c4a2ddc42d5ed0d58c1eed250a8",
    "_latercall": "9960e722df7c1a255915051e975d189f72f12c4a740ec6d418a667caf819cdd6",
    "_wait_for_download": "17ec03b7748b0fd5a89ebd0a5600e07ace8c4ad468b3537eb9abec4a0f05c423",
}


def source_hash(name: str) -> str:
    src = textwrap.dedent(inspect.getsource(getattr(Downloader, name)))
    return hashlib.sha256(src.encode()).hexdigest()


def test_the_scrapy_code_the_override_replaces_is_unchanged() -> None:
    changed = [name for name, digest in PINNED.items() if source_hash(name) != digest]
    assert not changed, f"Scrapy's Downloader changed ({changed}): re-check crawler/pacing.py"
    for caller in ("_enqueue_request", "_download", "_latercall"):
        src = inspect.getsource(getattr(Downloader, caller))
        assert "self._process_queue(slot)" in src, f"{caller} no longer calls _process_queue"


# ------------------------------------------------------------------- a real crawl, lagging

RATE = 8.0
FETCHES = 33  # 4 s at 8/s
BLOCK, EVERY = 0.030, 0.040  # the reactor is blocked 30 ms out of every 40


class Archive(ThreadingHTTPServer):
    daemon_threads = True
    log: list[tuple[float, str]]
    lock: threading.Lock


class Handler(BaseHTTPRequestHandler):
    server: Archive

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        with self.server.lock:
            self.server.log.append((time.monotonic(), self.path))
        body = b"<html><body><p>policy</p></body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def archive() -> Iterator[Archive]:
    server = Archive(("127.0.0.1", 0), Handler)
    server.log = []
    server.lock = threading.Lock()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


class ReplaySpider(Spider):
    name = "replays"
    base = ""

    async def start(self) -> AsyncIterator[Any]:
        for i in range(FETCHES):
            yield Request(f"{self.base}/{i}", meta={"download_slot": "replay"}, dont_filter=True)

    def parse(self, response: Response) -> None:
        return None


class Lag:
    """An extension that blocks the reactor BLOCK seconds out of every EVERY: a busy crawl."""

    def __init__(self) -> None:
        from twisted.internet.task import LoopingCall

        self.loop = LoopingCall(time.sleep, BLOCK)  # blocking on purpose: this is the load
        self.loop.start(EVERY, now=False)

    @classmethod
    def from_crawler(cls, crawler: Any) -> Lag:
        return cls()


def crawl_main(base: str, pacing: str) -> None:
    """The child process: the policytrail add-on's slots and pacing, a lagging reactor."""
    from scrapy.crawler import CrawlerProcess

    settings = Settings(
        {
            "ADDONS": {"crawler.addon.PolicytrailAddon": 0},
            "POLICYTRAIL_REPLAY_PER_SECOND": RATE,
            "POLICYTRAIL_PACING": pacing,
            "EXTENSIONS": {"tests.test_pacing.Lag": 0},
            "LOG_LEVEL": "WARNING",
            "TELNETCONSOLE_ENABLED": False,
        }
    )
    process = CrawlerProcess(settings)
    ReplaySpider.base = base
    process.crawl(ReplaySpider)
    process.start()


def start_crawl(archive: Archive, prefix: str, pacing: str) -> subprocess.Popen[bytes]:
    base = f"http://127.0.0.1:{archive.server_address[1]}/{prefix}"
    code = f"from tests.test_pacing import crawl_main; crawl_main({base!r}, {pacing!r})"
    return subprocess.Popen(
        [sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )


def test_a_lagging_reactor_still_gets_the_configured_rate(archive: Archive) -> None:
    # both pacings in the same run, side by side (the blocking is a sleep: it costs no CPU)
    procs = {p: start_crawl(archive, p, p) for p in ("schedule", "delay")}
    for pacing, proc in procs.items():
        out, _ = proc.communicate(timeout=60)
        assert proc.returncode == 0, f"{pacing}: {out.decode()[-2000:]}"
    at = {p: sorted(t for t, path in archive.log if path.startswith(f"/{p}/")) for p in procs}
    assert {p: len(v) for p, v in at.items()} == {"schedule": FETCHES, "delay": FETCHES}
    rate = {p: (len(v) - 1) / (v[-1] - v[0]) for p, v in at.items()}
    # Never above the limit: the schedule makes the k-th send no earlier than k intervals after
    # the first one was due. Measured at the server, the first request's own arrival (a new
    # connection, a 30 ms block) can be late, which shortens the measured span by up to about
    # one interval (CI measured 8.15/s over 32 intervals: 74 ms short); hence one interval of
    # allowance, and the strict check is per second window below.
    n = FETCHES - 1  # intervals between the first and the last arrival
    assert rate["schedule"] <= RATE * n / (n - 1), rate
    assert max_in_window(at["schedule"], 1.0) <= RATE + 1
    # Lag does not add up: side by side in the same run, Scrapy's own delay loses each timer's
    # lateness (11 ms per send on average here, ~11% of the rate) while the schedule recovers it.
    # On a quiet machine the schedule reaches 99-100% and the delay ~89%; a heavily loaded one
    # (CI under a 2-worker benchmark) measured 94.5% against 87%. The 95%-of-limit target itself
    # is a benchmark figure (bench/bench_crawl.py), not a timed assertion: here the schedule must
    # beat the delay clearly and stay near the limit.
    assert rate["schedule"] >= 1.04 * rate["delay"], rate
    assert rate["schedule"] >= 0.90 * RATE, rate
