"""Crawl benchmark: requests per version, polite fetch rate under latency, memory per URL count.

Each figure is the median of ``--repeat`` (3) crawls by the real CLI in a subprocess, printed
side by side with its named baseline and the ratio:

1. Archive requests per distinct version stored, against the minimum (one CDX page per URL plus
   one fetch per distinct digest of each policy, counted independently from the archive's CDX)
   and against a naive crawler (one fetch per CDX row). Goal <= 1.02x the minimum. Measured on
   the bundled sample served by real pywb (52 captures), then on the synthetic 1,000-URL archive
   below (where two of every three captures share a digest), and for an incremental re-run.
2. Achieved capture-fetch rate against the configured limit (8/s, the default), with 250 ms of
   latency injected in front of pywb by tests/faultproxy.py, which also enforces the limit as a
   token bucket (8/s, burst 2) and answers a live 429 when it is exceeded. Goal >= 95%, never
   above the limit, no 429. Side by side: policytrail's pacing from a fixed schedule
   (crawler/pacing.py) and the old pacing, Scrapy's plain slot delay (``POLICYTRAIL_PACING=delay``),
   the two crawls of each repeat run one after the other in the same run. "steady" is the rate
   from the 9th fetch on: before that the first CDX pages trickle fetches into an empty queue,
   which no pacing can help.
3. Peak RSS of the crawl process (``wait4`` ru_maxrss) for 10 vs 1,000 URLs. Goal: flat. The
   1,000-URL archive is SYNTHETIC: a local pywb-dialect server lists, for each URL
   ``https://policyN.example/privacy``, three captures of two real sample pages
   (opentermsarchive.org's policy of 2025-06-05 twice, then of 2025-12-02, bodies from
   samples/ota-sample.warc.gz: two digests, one text, as a markup-only change is) and replays them
   with Memento-Datetime. So each URL costs at least one CDX page and two fetches for one version.

    .venv/bin/python bench/bench_crawl.py [--repeat 3] [--part 1|2|3]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from warcio.archiveiterator import ArchiveIterator

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from crawler.localarchive import SAMPLE_URLS, SAMPLE_WARC, LocalArchive  # noqa: E402
from diffing.normalize import normalize  # noqa: E402
from storage import open_store  # noqa: E402
from storage.keys import urlkey  # noqa: E402
from tests.faultproxy import FaultProxy  # noqa: E402

CONFIGURED_RATE = 8.0  # capture fetches per second: the default, the Internet Archive's practice
LATENCY = 0.25
FAST = ["--cdx-rate", "60000", "--replay-rate", "1000"]


@dataclass
class Run:
    code: int
    seconds: float
    max_rss_mb: float
    out: str


def crawl(urls: Path, archive: str, db: str, *extra: str, pacing: str = "") -> Run:
    """One ``policytrail crawl`` in a child process; its own peak RSS from wait4."""
    env = {**os.environ, "POLICYTRAIL_PACING": pacing} if pacing else None
    with tempfile.TemporaryFile() as log:
        start = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-m", "crawler.cli", "crawl", str(urls), "--archive", archive,
             "--db", db, *extra],
            cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env=env,
        )  # fmt: skip
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        seconds = time.perf_counter() - start
        log.seek(0)
        out = log.read().decode("utf-8", "replace")
    return Run(proc.returncode, seconds, usage.ru_maxrss / 1024, out)


def median(values: list[float]) -> float:
    return statistics.median(values)


# ------------------------------------------------------------------------------------------------
# the minimum, counted from the archive's own CDX


def minimum_requests(archive: str, urls: list[str]) -> tuple[int, int]:
    """(CDX pages, distinct digests per policy) for a pywb archive: what any crawler must ask."""
    digests: set[tuple[str, str]] = set()
    for url in urls:
        with urllib.request.urlopen(f"{archive}/cdx?url={url}&output=json", timeout=60) as r:
            for line in r.read().decode().splitlines():
                if line.strip():
                    digests.add((urlkey(url), json.loads(line)["digest"]))
    return len(urls), len(digests)


def cdx_rows(archive: str, urls: list[str]) -> int:
    n = 0
    for url in urls:
        with urllib.request.urlopen(f"{archive}/cdx?url={url}&output=json", timeout=60) as r:
            n += sum(1 for line in r.read().decode().splitlines() if line.strip())
    return n


def versions_in(db: str) -> int:
    store = open_store(db)
    try:
        return store.counts()["versions"]
    finally:
        store.close()


# ------------------------------------------------------------------------------------------------
# the synthetic 1,000-URL archive (pywb dialect)


def sample_bodies() -> tuple[bytes, bytes]:
    wanted = {"2025-06-05T12:30:15Z": b"", "2025-12-02T00:30:19Z": b""}
    with SAMPLE_WARC.open("rb") as fh:
        for rec in ArchiveIterator(fh):
            if rec.rec_type != "response":
                continue
            uri = rec.rec_headers.get_header("WARC-Target-URI")
            when = rec.rec_headers.get_header("WARC-Date")
            if uri == "https://opentermsarchive.org/en/privacy-policy" and when in wanted:
                wanted[when] = rec.content_stream().read()
    a, b = wanted.values()
    ta = normalize(a, url="https://x.example/privacy", content_type="text/html").text
    tb = normalize(b, url="https://x.example/privacy", content_type="text/html").text
    assert a != b and ta == tb, "two digests of one text: a markup-only change"
    return a, b


class Synthetic(ThreadingHTTPServer):
    daemon_threads = True
    bodies: dict[str, bytes]
    requests: int
    lock: threading.Lock

    ROWS = (("20220120143357", "A"), ("20220601000000", "A"), ("20221122123254", "B"))


class SyntheticHandler(BaseHTTPRequestHandler):
    server: Synthetic
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        with self.server.lock:
            self.server.requests += 1
        parts = urlsplit(self.path)
        if parts.path == "/web/cdx":
            url = parse_qs(parts.query)["url"][0]
            rows = [
                {"urlkey": urlkey(url), "timestamp": ts, "url": url, "mime": "text/html",
                 "status": "200", "digest": f"SYNTH{d}", "length": "1000"}
                for ts, d in Synthetic.ROWS
            ]  # fmt: skip
            self._send(200, "\n".join(json.dumps(r) for r in rows).encode(), "text/x-ndjson")
            return
        m = re.match(r"^/web/(\d{14})id_/", parts.path)
        digest = dict(Synthetic.ROWS).get(m.group(1), "") if m else ""
        if not digest:
            self._send(404, b"not archived", "text/plain")
            return
        self._send(200, self.server.bodies[digest], "text/html; charset=utf-8", memento=True)

    def _send(self, status: int, body: bytes, ctype: str, memento: bool = False) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        if memento:
            self.send_header("Memento-Datetime", "Thu, 20 Jan 2022 14:33:57 GMT")
        self.end_headers()
        self.wfile.write(body)


def start_synthetic() -> Synthetic:
    a, b = sample_bodies()
    server = Synthetic(("127.0.0.1", 0), SyntheticHandler)
    server.bodies = {"A": a, "B": b}
    server.requests = 0
    server.lock = threading.Lock()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


# ------------------------------------------------------------------------------------------------


def repeat(n: int, fn: Callable[[int], dict[str, float]]) -> dict[str, float]:
    runs = [fn(i) for i in range(n)]
    return {k: median([r[k] for r in runs]) for k in runs[0]}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--part", type=int, choices=(1, 2, 3), help="run only this part")
    args = ap.parse_args()
    sample_urls = [
        u.strip() for u in SAMPLE_URLS.read_text().splitlines() if u.strip() and u[0] != "#"
    ]
    work = Path(tempfile.mkdtemp(prefix="policytrail-bench-crawl-"))
    try:
        parts = {args.part} if args.part else {1, 2, 3}
        return run_all(args.repeat, sample_urls, work, parts)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run_all(n_repeat: int, sample_urls: list[str], work: Path, parts: set[int]) -> int:
    failed = False
    with LocalArchive([SAMPLE_WARC], root=work / "pywb") as pywb:
        if 1 in parts:
            failed |= requests_per_version(n_repeat, sample_urls, work, pywb)
        if 2 in parts:
            failed |= fetch_rate(n_repeat, work, pywb)
    if 3 in parts:
        failed |= peak_rss(n_repeat, work)
    print("\nmedians of", n_repeat, "runs; FAIL" if failed else "runs; all goals met")
    return 1 if failed else 0


def requests_per_version(n_repeat: int, sample_urls: list[str], work: Path, pywb: str) -> bool:
    failed = False
    # 1. requests per version on the real sample -----------------------------------------
    proxy = FaultProxy(pywb)
    base = proxy.start()
    n_cdx, n_digests = minimum_requests(pywb, sample_urls)
    n_rows = cdx_rows(pywb, sample_urls)

    def sample_once(i: int) -> dict[str, float]:
        db = f"sqlite:///{work / f'sample{i}.db'}"
        proxy.clear()
        r = crawl(SAMPLE_URLS, base, db, *FAST)
        assert r.code == 0, r.out[-2000:]
        first = len(proxy.log)
        proxy.clear()
        r2 = crawl(SAMPLE_URLS, base, db, *FAST)
        assert r2.code == 0, r2.out[-2000:]
        return {
            "requests": first,
            "versions": versions_in(db),
            "incremental": len(proxy.log),
        }

    s = repeat(n_repeat, sample_once)
    proxy.stop()
    minimum = n_cdx + n_digests
    naive = n_cdx + n_rows
    ratio = s["requests"] / minimum
    print("1. archive requests per distinct version stored (sample: real pywb, 52 captures)")
    print(f"   versions stored: {s['versions']:.0f}")
    print(f"   {'':24}{'requests':>10}{'per version':>13}{'vs minimum':>12}")
    for name, req in (("policytrail", s["requests"]), ("minimum", minimum), ("naive", naive)):
        print(f"   {name:24}{req:>10.0f}{req / s['versions']:>13.3f}{req / minimum:>11.3f}x")
    print(
        f"   incremental re-run: {s['incremental']:.0f} requests "
        f"(minimum {n_cdx}: one CDX request per URL), ratio {s['incremental'] / n_cdx:.3f}x"
    )
    failed |= ratio > 1.02 or s["incremental"] > n_cdx
    return failed


PACINGS = (("schedule", "fixed schedule (policytrail)"), ("delay", "Scrapy slot delay (old)"))


SETTLE = 8  # fetches of the first second


def max_in_window(times: list[float], width: float) -> int:
    """The most events in any window [t, t + width)."""
    j = best = 0
    for i, t in enumerate(times):
        while times[j] <= t - width:
            j += 1
        best = max(best, i - j + 1)
    return best


def fetch_rate(n_repeat: int, work: Path, pywb: str) -> bool:
    # 2. fetch rate under 250 ms latency ---------------------------------------------------
    proxy = FaultProxy(pywb, latency=LATENCY, rate_limit=CONFIGURED_RATE, burst=2)
    base = proxy.start()

    def rate_once(i: int, pacing: str) -> dict[str, float]:
        db = f"sqlite:///{work / f'rate-{pacing}{i}.db'}"
        proxy.clear()
        # replay rate: the default
        r = crawl(SAMPLE_URLS, base, db, "--cdx-rate", "60000", pacing=pacing)
        assert r.code == 0, r.out[-2000:]
        at = sorted(e.at for e in proxy.log if e.is_replay)
        return {
            "rate": (len(at) - 1) / (at[-1] - at[0]),
            # once the queue has filled: the first CDX pages trickle the first fetches in
            "steady": (len(at) - 1 - SETTLE) / (at[-1] - at[SETTLE]),
            "fetches": len(at),
            "429": proxy.rate_limited,
            "max1s": max_in_window(at, 1.0),
        }

    # each repeat crawls with both pacings, one after the other: the same machine load
    runs: dict[str, list[dict[str, float]]] = {p: [] for p, _ in PACINGS}
    for i in range(n_repeat):
        for pacing, _ in PACINGS:
            runs[pacing].append(rate_once(i, pacing))
    proxy.stop()
    rr = {p: {k: median([r[k] for r in v]) for k in v[0]} for p, v in runs.items()}
    print(f"\n2. capture fetch rate with {LATENCY * 1000:.0f} ms latency injected")
    print(f"   configured limit: {CONFIGURED_RATE:.2f}/s (the baseline)")
    print(
        f"   {'pacing':30}{'fetches/s':>10}{'of limit':>10}{'steady':>8}{'fetches':>9}"
        f"{'max in 1 s':>12}{'429s':>6}"
    )
    for pacing, label in PACINGS:
        v = rr[pacing]
        print(
            f"   {label:30}{v['rate']:>10.2f}{v['rate'] / CONFIGURED_RATE:>10.1%}"
            f"{v['steady'] / CONFIGURED_RATE:>8.1%}{v['fetches']:>9.0f}"
            f"{v['max1s']:>12.0f}{v['429']:>6.0f}"
        )
    new, old = rr["schedule"], rr["delay"]
    print(f"   ratio fixed schedule / slot delay: {new['rate'] / old['rate']:.3f}x")
    print(
        f"   (steady: from fetch {SETTLE + 1} on, once the first CDX pages have filled the queue)"
    )
    # "never above": the 429s of the proxy's token bucket (8/s, burst 2) are the referee; the
    # rate from the first to the last arrival may read up to ~1% high from arrival jitter
    share = new["rate"] / CONFIGURED_RATE
    return bool(share < 0.95 or share > 1.01 or new["429"] > 0)


def peak_rss(n_repeat: int, work: Path) -> bool:
    failed = False
    # 3. peak RSS, 10 vs 1,000 URLs (synthetic archive) ------------------------------------------
    synth = start_synthetic()
    sbase = f"http://127.0.0.1:{synth.server_address[1]}/web"
    rss: dict[int, dict[str, float]] = {}
    for n in (10, 1000):
        urls = work / f"urls{n}.txt"
        urls.write_text("".join(f"https://policy{i}.example/privacy\n" for i in range(n)))

        def rss_once(i: int, n: int = n, urls: Path = urls) -> dict[str, float]:
            db = f"sqlite:///{work / f'rss{n}-{i}.db'}"
            synth.requests = 0
            r = crawl(urls, sbase, db, *FAST)
            assert r.code == 0, r.out[-2000:]
            return {
                "rss": r.max_rss_mb,
                "seconds": r.seconds,
                "requests": synth.requests,
                "versions": versions_in(db),
            }

        rss[n] = repeat(n_repeat, rss_once)
    synth.shutdown()
    small, large = rss[10], rss[1000]
    print("\n3. peak RSS of the crawl process (SYNTHETIC archive: per URL 3 captures, 2 digests,")
    print("   1 version)")
    print(f"   {'URLs':>8}{'peak RSS MB':>14}{'seconds':>10}{'requests':>10}{'versions':>10}")
    for n, v in rss.items():
        print(
            f"   {n:>8}{v['rss']:>14.1f}{v['seconds']:>10.1f}{v['requests']:>10.0f}"
            f"{v['versions']:>10.0f}"
        )
    print(f"   ratio 1,000 vs 10 URLs: {large['rss'] / small['rss']:.3f}x")
    minimum_synth = 1000 * 3  # one CDX page and two distinct digests per URL
    print(
        f"   requests per version (1,000 URLs): {large['requests'] / large['versions']:.3f}, "
        f"minimum {minimum_synth / large['versions']:.3f}, naive (a fetch per row) "
        f"{4000 / large['versions']:.3f}; vs minimum {large['requests'] / minimum_synth:.3f}x"
    )
    failed |= large["requests"] / minimum_synth > 1.02
    return failed


if __name__ == "__main__":
    raise SystemExit(main())
