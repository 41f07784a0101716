"""Scale benchmark: N policy URLs x C captures each, crawled from a local SYNTHETIC archive.

The archive is built at bench time: a CDX + raw-replay server on loopback (pywb's dialect) whose
pages are the REAL privacy-policy HTML of the bundled sample (samples/ota-sample.warc.gz),
served under N distinct synthetic URLs (``https://site<i>.example/privacy``), each with C
captures over ten years and a new version every 5 captures (a policy-specific line added, so
every policy has texts of its own). Numbers are therefore for real page sizes and real
normalisation/diff/classification work, not for the Internet Archive's latency or limits.

Two named configurations, side by side:
- ``sqlite-1proc``: the default, one ``policytrail run`` process into SQLite (the baseline);
- ``postgres-Nworkers``: ``policytrail enqueue`` + N ``policytrail worker`` processes sharing a
  real redis-server, into a real PostgreSQL (both started by the bench, as in the tests).

Figures: wall time, captures per second, peak RSS per process (``wait4``), database size, and
the medians of 3 timings of the queries behind ``report`` (the summaries of every policy, and
the whole HTML report) and ``changes`` (every change), with ratios to the baseline.

    .venv/bin/python -m bench.bench_scale                     # 10,000 URLs x 20 captures
    POLICYTRAIL_BENCH_URLS=500 .venv/bin/python -m bench.bench_scale    # a quick run
Environment: POLICYTRAIL_BENCH_URLS (10000), POLICYTRAIL_BENCH_CAPTURES (20),
POLICYTRAIL_BENCH_WORKERS (2), POLICYTRAIL_BENCH_CONFIGS (both: sqlite-1proc,postgres).
"""

from __future__ import annotations

import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from warcio.archiveiterator import ArchiveIterator

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from storage import open_store  # noqa: E402

SAMPLE = ROOT / "samples" / "ota-sample.warc.gz"
VERSION_EVERY = 5


def sample_pages() -> list[bytes]:
    """The distinct real HTML pages of the sample that carry a policy text."""
    from diffing.normalize import normalize

    pages: dict[str, bytes] = {}
    with SAMPLE.open("rb") as fh:
        for rec in ArchiveIterator(fh):
            if rec.rec_type != "response":
                continue
            body = rec.content_stream().read()
            doc = normalize(body, url=rec.rec_headers.get_header("WARC-Target-URI"))
            if doc.verdict == "ok":
                pages.setdefault(doc.text_hash, body)
    return list(pages.values())


class SyntheticArchive:
    """CDX (pywb JSON lines) and raw replay for ``n`` URLs x ``c`` captures, on loopback."""

    def __init__(self, n: int, c: int, pages: list[bytes]) -> None:
        self.n, self.c, self.pages = n, c, pages
        arch = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                if parts.path == "/web/cdx":
                    q = parse_qs(parts.query)
                    body = arch.cdx(q["url"][0], (q.get("from") or [""])[0])
                    self._send(200, "text/plain", body, {})
                    return
                if parts.path.startswith("/web/") and "id_/" in parts.path:
                    ts, url = parts.path[len("/web/") :].split("id_/", 1)
                    page = arch.page(unquote(url), ts)
                    if page is None:
                        self._send(404, "text/plain", b"not archived", {})
                        return
                    headers = {"Memento-Datetime": "Mon, 01 Jan 2018 00:00:00 GMT"}
                    self._send(200, "text/html; charset=utf-8", page, headers)
                    return
                self._send(404, "text/plain", b"no such endpoint", {})

            def _send(self, status: int, ctype: str, body: bytes, extra: dict[str, str]) -> None:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                for k, v in extra.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}/web"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def urls(self) -> list[str]:
        return [f"https://site{i}.example/privacy" for i in range(self.n)]

    def timestamps(self) -> list[str]:
        return [f"{2015 + j // 2}{1 + 6 * (j % 2):02d}01000000" for j in range(self.c)]

    def _index(self, url: str) -> int | None:
        host = urlsplit(url).hostname or ""
        if not host.startswith("site") or not host.endswith(".example"):
            return None
        digits = host[4 : -len(".example")]
        return int(digits) if digits.isdigit() and int(digits) < self.n else None

    def body(self, i: int, version: int) -> bytes:
        page = self.pages[(i + version) % len(self.pages)]
        line = f"<p>Synthetic policy {i}, version {version}: write to privacy@site{i}.example.</p>"
        return page.replace(b"</body>", line.encode() + b"</body>", 1)

    def page(self, url: str, ts: str) -> bytes | None:
        i = self._index(url)
        stamps = self.timestamps()
        if i is None or ts not in stamps:
            return None
        return self.body(i, stamps.index(ts) // VERSION_EVERY)

    def cdx(self, url: str, from_ts: str) -> bytes:
        i = self._index(url)
        if i is None:
            return b""
        lines = []
        for j, ts in enumerate(self.timestamps()):
            if from_ts and ts < from_ts.ljust(14, "0"):
                continue
            v = j // VERSION_EVERY
            digest = hashlib.sha1(f"{i}/{v}".encode()).hexdigest().upper()[:32]
            row = {
                "urlkey": f"example,site{i})/privacy",
                "timestamp": ts,
                "url": url,
                "mime": "text/html",
                "status": "200",
                "digest": digest,
                "length": "1000",
            }
            lines.append(json.dumps(row))
        return ("\n".join(lines) + "\n").encode()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass
class Result:
    name: str
    wall: float = 0.0
    rss_mb: list[float] = field(default_factory=list)
    db_mb: float = 0.0
    summaries_s: float = 0.0
    report_s: float = 0.0
    changes_s: float = 0.0
    captures: int = 0
    versions: int = 0
    changes: int = 0


def spawn(args: list[str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as fh:  # the child keeps its own descriptor
        return subprocess.Popen(
            [sys.executable, "-m", "crawler.cli", *args], cwd=ROOT, stdout=fh, stderr=fh
        )


def reap(proc: subprocess.Popen[bytes], log: Path) -> float:
    """Wait for ``proc``; its peak RSS in MB (Linux reports ru_maxrss in KiB)."""
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    text = log.read_text(errors="replace")
    if proc.returncode != 0:
        raise SystemExit(f"{proc.args!r} failed ({proc.returncode}): {text[-2000:]}")
    for line in text.splitlines():
        if line.startswith(("run ", "worker run ")) or " ERROR: " in line:
            print(f"  {line[:300]}")
    return usage.ru_maxrss / 1024


def timed(fn: Any, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def measure_queries(db: str, result: Result, work: Path) -> None:
    from crawler.reporting import write_report

    store = open_store(db, create=False)
    try:
        counts = store.counts()
        result.captures, result.versions = counts["captures"], counts["versions"]
        result.changes = counts["changes"]
        result.summaries_s = timed(store.summaries)
        result.changes_s = timed(lambda: store.changes(None))
        result.report_s = timed(lambda: write_report(store, work / "report"), repeat=1)
        if store.engine.dialect.name == "postgresql":
            from sqlalchemy import text

            with store.engine.connect() as c:
                size = c.execute(text("SELECT pg_database_size(current_database())")).scalar()
            result.db_mb = int(size or 0) / 2**20
    finally:
        store.close()


RATES = ["--cdx-rate", "1000000", "--replay-rate", "100000"]


def run_sqlite(archive: SyntheticArchive, urls_file: Path, work: Path) -> Result:
    result = Result("sqlite-1proc")
    db_file = work / "sqlite" / "policytrail.db"
    db_file.parent.mkdir()
    db = f"sqlite:///{db_file}"
    t0 = time.perf_counter()
    log = work / "sqlite" / "run.log"
    proc = spawn(
        ["run", "--urls", str(urls_file), "--archive", archive.base, "--db", db, *RATES], log
    )
    result.rss_mb = [reap(proc, log)]
    result.wall = time.perf_counter() - t0
    measure_queries(db, result, work / "sqlite")
    result.db_mb = sum(p.stat().st_size for p in db_file.parent.glob("policytrail.db*")) / 2**20
    return result


def run_cluster(archive: SyntheticArchive, urls_file: Path, work: Path, workers: int) -> Result:
    from tests.services import Postgres, Redis

    result = Result(f"postgres-{workers}workers")
    pg = Postgres(Path("/tmp") / f"policytrail-bench-pg-{os.getpid()}")
    redis = Redis(Path("/tmp") / f"policytrail-bench-redis-{os.getpid()}")
    try:
        db, redis_url = pg.start(), redis.start()
        t0 = time.perf_counter()
        (work / "pg").mkdir()
        log = work / "pg" / "enqueue.log"
        enq = ["enqueue", "--redis", redis_url, "--urls", str(urls_file)]
        reap(spawn([*enq, "--archive", archive.base, "--db", db], log), log)
        worker = ["worker", "--redis", redis_url, "--archive", archive.base, "--db", db]
        logs = [work / "pg" / f"worker{k}.log" for k in range(workers)]
        procs = [spawn([*worker, "--idle-timeout", "5", *RATES], lg) for lg in logs]
        result.rss_mb = [reap(p, lg) for p, lg in zip(procs, logs, strict=True)]
        result.wall = time.perf_counter() - t0
        measure_queries(db, result, work / "pg")
    finally:
        redis.stop()
        pg.stop()
    return result


def main() -> int:
    n = int(os.environ.get("POLICYTRAIL_BENCH_URLS", "10000"))
    c = int(os.environ.get("POLICYTRAIL_BENCH_CAPTURES", "20"))
    workers = int(os.environ.get("POLICYTRAIL_BENCH_WORKERS", "2"))
    configs = os.environ.get("POLICYTRAIL_BENCH_CONFIGS", "sqlite-1proc,postgres").split(",")
    pages = sample_pages()
    archive = SyntheticArchive(n, c, pages)
    print(
        f"SYNTHETIC archive: {n} URLs x {c} captures = {n * c} captures, "
        f"{-(-c // VERSION_EVERY)} versions per URL, real HTML from {len(pages)} sample pages"
    )
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="policytrail-bench-scale-") as tmp:
        work = Path(tmp)
        urls_file = work / "urls.txt"
        urls_file.write_text("\n".join(archive.urls()) + "\n")
        try:
            if "sqlite-1proc" in configs:
                results.append(run_sqlite(archive, urls_file, work))
            if "postgres" in configs:
                results.append(run_cluster(archive, urls_file, work, workers))
        finally:
            archive.stop()
    base = results[0]
    head = (
        f"{'configuration':<20} {'wall s':>8} {'capt/s':>8} {'peak RSS MB':>16} "
        f"{'DB MB':>8} {'summaries s':>12} {'report s':>9} {'changes s':>10}"
    )
    print(head)
    for r in results:
        rss = "/".join(f"{x:.0f}" for x in r.rss_mb)
        print(
            f"{r.name:<20} {r.wall:>8.1f} {r.captures / r.wall:>8.1f} {rss:>16} "
            f"{r.db_mb:>8.1f} {r.summaries_s:>12.3f} {r.report_s:>9.2f} {r.changes_s:>10.3f}"
        )
        print(f"{'':<20} captures {r.captures}, versions {r.versions}, changes {r.changes}")
    for r in results[1:]:
        print(
            f"ratio {r.name} / {base.name}: wall {r.wall / base.wall:.2f}, "
            f"DB size {r.db_mb / base.db_mb:.2f}, "
            f"summaries {r.summaries_s / base.summaries_s:.2f}, "
            f"report {r.report_s / base.report_s:.2f}, changes {r.changes_s / base.changes_s:.2f}"
        )
    per_url = {r.name: (r.wall / n, r.db_mb / n) for r in results}
    for name, (sec, mb) in per_url.items():
        print(
            f"projection to 1,000,000 URLs ({name}, linear): {sec * 1e6 / 3600:.1f} h, "
            f"{mb * 1e6 / 1024:.1f} GB"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
