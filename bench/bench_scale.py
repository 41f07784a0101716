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

Each run's wall time is split into the crawl (until the last capture was stored: the bench
polls the database's capture count every ``POLL_SECONDS``) and the rebuild of versions after it;
per worker, the time from the end of the crawl to its exit, and (workers that report it) the
rebuild's own wall time and how many policies it rebuilt.

    .venv/bin/python -m bench.bench_scale                     # 10,000 URLs x 20 captures
    POLICYTRAIL_BENCH_URLS=500 .venv/bin/python -m bench.bench_scale    # a quick run
    POLICYTRAIL_BENCH_URLS=300 POLICYTRAIL_BENCH_CONFIGS=postgres \
        .venv/bin/python -m bench.bench_scale --against ../old   # another checkout, interleaved
Environment: POLICYTRAIL_BENCH_URLS (10000), POLICYTRAIL_BENCH_CAPTURES (20),
POLICYTRAIL_BENCH_WORKERS (2), POLICYTRAIL_BENCH_CONFIGS (both: sqlite-1proc,postgres).
``--against TREE``: each configuration runs first with that checkout's code (e.g. `git worktree
add ../old COMMIT`), then with this one's, on the same synthetic archive.
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
POLL_SECONDS = 0.5


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
    crawl: float = 0.0  # from the start until the last capture was stored
    ends: list[float] = field(default_factory=list)  # each process's exit, from the start
    cpu_after: list[float] = field(default_factory=list)  # each one's CPU s after the crawl
    workers: list[dict[str, Any]] = field(default_factory=list)  # their run rows' stats

    @property
    def rebuild(self) -> float:
        return self.wall - self.crawl


def cpu_seconds(pid: int) -> float:
    """A live process's CPU time so far (user + system), from /proc; 0 if it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat.rpartition(")")[2].split()  # from field 3 (state) on
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss_mb(pid: int) -> float:
    """A live process's peak RSS (VmHWM) in MB; 0 if it is gone. Unlike a child's ru_maxrss,
    which Linux carries over from the parent at fork (a bench process that has grown by an
    earlier run would be counted), VmHWM starts afresh at exec."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


class CaptureWatch:
    """Polls the database's capture count: when it last grew (the end of the crawl), and the
    CPU time the processes ``pids`` had used by then."""

    def __init__(self, db: str, t0: float) -> None:
        self.db, self.t0 = db, t0
        self.last_change = 0.0
        self.pids: list[int] = []
        self.cpu_at_change: list[float] = []
        self.hwm_mb: dict[int, float] = {}  # each process's peak RSS as last sampled
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        from sqlalchemy import create_engine, text

        engine = create_engine(self.db)
        seen = -1
        try:
            while not self.stop.wait(POLL_SECONDS):
                try:
                    with engine.connect() as conn:
                        n = int(conn.execute(text("SELECT count(*) FROM capture")).scalar() or 0)
                except Exception:  # no schema yet
                    continue
                cpu = [cpu_seconds(pid) for pid in self.pids]
                for pid in self.pids:
                    self.hwm_mb[pid] = max(self.hwm_mb.get(pid, 0.0), peak_rss_mb(pid))
                if n != seen:
                    seen, self.last_change = n, time.perf_counter() - self.t0
                    self.cpu_at_change = cpu
        finally:
            engine.dispose()

    def end(self) -> float:
        self.stop.set()
        self.thread.join()
        return self.last_change


def spawn(args: list[str], log: Path, tree: Path = ROOT) -> subprocess.Popen[bytes]:
    with log.open("wb") as fh:  # the child keeps its own descriptor
        return subprocess.Popen(
            [sys.executable, "-m", "crawler.cli", *args], cwd=tree, stdout=fh, stderr=fh
        )


def reap(proc: subprocess.Popen[bytes], log: Path) -> tuple[float, float]:
    """Wait for ``proc``; its peak RSS in MB (Linux reports ru_maxrss in KiB) and CPU s."""
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    text = log.read_text(errors="replace")
    if proc.returncode != 0:
        raise SystemExit(f"{proc.args!r} failed ({proc.returncode}): {text[-2000:]}")
    for line in text.splitlines():
        if line.startswith(("run ", "worker run ")) or " ERROR: " in line:
            print(f"  {line[:300]}")
    return usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime


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
        runs = sorted((r for r in store.runs(100) if r.kind == "worker"), key=lambda r: r.id)
        result.workers = [dict(r.stats or {}) for r in runs]
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


def reap_all(
    procs: list[subprocess.Popen[bytes]], logs: list[Path], t0: float, watch: CaptureWatch
) -> Result:
    """Wait for every process; their peak RSS, when each exited, the end of the crawl, and the
    CPU time each used after it."""
    result = Result("")
    ends: dict[int, float] = {}
    rss: dict[int, tuple[float, float]] = {}
    watch.pids = [p.pid for p in procs]
    errors: list[BaseException] = []

    def wait(k: int) -> None:
        try:
            rss[k] = reap(procs[k], logs[k])
        except BaseException as exc:  # a failed process: reported below
            errors.append(exc)
        ends[k] = time.perf_counter() - t0

    threads = [threading.Thread(target=wait, args=(k,)) for k in range(len(procs))]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    if errors:
        raise errors[0]
    # the last sample before each exit (every POLL_SECONDS); ru_maxrss if none was taken
    sampled = [watch.hwm_mb.get(p.pid, 0.0) for p in procs]
    result.rss_mb = [sampled[k] or rss[k][0] for k in range(len(procs))]
    result.ends = [ends[k] for k in range(len(procs))]
    result.crawl = watch.end()
    at_end = watch.cpu_at_change or [0.0] * len(procs)
    result.cpu_after = [rss[k][1] - at_end[k] for k in range(len(procs))]
    return result


def run_sqlite(
    archive: SyntheticArchive, urls_file: Path, work: Path, tree: Path, label: str
) -> Result:
    db_file = work / "policytrail.db"
    work.mkdir()
    db = f"sqlite:///{db_file}"
    t0 = time.perf_counter()
    log = work / "run.log"
    args = ["run", "--urls", str(urls_file), "--archive", archive.base, "--db", db, *RATES]
    watch = CaptureWatch(db, t0)
    result = reap_all([spawn(args, log, tree)], [log], t0, watch)
    result.name = f"sqlite-1proc{label}"
    result.wall = time.perf_counter() - t0
    measure_queries(db, result, work)
    result.db_mb = sum(p.stat().st_size for p in db_file.parent.glob("policytrail.db*")) / 2**20
    return result


def run_cluster(
    archive: SyntheticArchive, urls_file: Path, work: Path, workers: int, tree: Path, label: str
) -> Result:
    from tests.services import Postgres, Redis

    pg = Postgres(Path("/tmp") / f"policytrail-bench-pg-{os.getpid()}")
    redis = Redis(Path("/tmp") / f"policytrail-bench-redis-{os.getpid()}")
    try:
        db, redis_url = pg.start(), redis.start()
        t0 = time.perf_counter()
        work.mkdir()
        log = work / "enqueue.log"
        enq = ["enqueue", "--redis", redis_url, "--urls", str(urls_file)]
        reap(spawn([*enq, "--archive", archive.base, "--db", db], log, tree), log)
        watch = CaptureWatch(db, t0)
        worker = ["worker", "--redis", redis_url, "--archive", archive.base, "--db", db]
        logs = [work / f"worker{k}.log" for k in range(workers)]
        procs = [spawn([*worker, "--idle-timeout", "5", *RATES], lg, tree) for lg in logs]
        result = reap_all(procs, logs, t0, watch)
        result.name = f"postgres-{workers}workers{label}"
        result.wall = time.perf_counter() - t0
        measure_queries(db, result, work)
    finally:
        redis.stop()
        pg.stop()
    return result


def print_split(r: Result) -> None:
    """The crawl and rebuild parts of a run, and each worker's share of the rebuild."""
    print(f"  {r.name}: wall {r.wall:.1f} s = crawl {r.crawl:.1f} s + rebuild {r.rebuild:.1f} s")
    exits = ", ".join(
        f"{end:.1f} s (+{end - r.crawl:.1f} s, CPU {cpu:.1f} s)"
        for end, cpu in zip(r.ends, r.cpu_after, strict=True)
    )
    print(f"    processes exit at {exits} from the start (+ wall and CPU after the crawl)")
    for k, st in enumerate(r.workers):  # in the order the workers started
        if "rebuild_ms" in st:
            print(
                f"    worker {k + 1}: rebuilt {st.get('policies_rebuilt', 0)} policies in "
                f"{st['rebuild_ms'] / 1000:.1f} s ({st.get('rebuild_cpu_ms', 0) / 1000:.1f} s "
                f"CPU), after waiting "
                f"{st.get('rebuild_wait_ms', 0) / 1000:.1f} s for the other crawls"
                + (" (last worker)" if st.get("finalised") else "")
            )
        elif st.get("finalised"):
            print(f"    worker {k + 1}: last worker, rebuilt every policy (time not reported)")


def main() -> int:
    import argparse

    parser = argparse.ArgumentParser()
    parser.add_argument("--against", type=Path, help="another checkout, run before this one")
    args = parser.parse_args()
    trees = [(ROOT, "")]
    if args.against is not None:
        other = args.against.resolve()
        if not (other / "crawler" / "cli.py").is_file():
            raise SystemExit(f"--against {other}: not a policytrail checkout")
        trees.insert(0, (other, f" [{other.name}]"))
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
            for i, (tree, label) in enumerate(trees):
                if "sqlite-1proc" in configs:
                    results.append(run_sqlite(archive, urls_file, work / f"sqlite{i}", tree, label))
                if "postgres" in configs:
                    results.append(
                        run_cluster(archive, urls_file, work / f"pg{i}", workers, tree, label)
                    )
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
    print("crawl and rebuild (the crawl ends when the last capture is stored):")
    for r in results:
        print_split(r)
    per_url = {r.name: (r.wall / n, r.db_mb / n) for r in results}
    for name, (sec, mb) in per_url.items():
        print(
            f"projection to 1,000,000 URLs ({name}, linear): {sec * 1e6 / 3600:.1f} h, "
            f"{mb * 1e6 / 1024:.1f} GB"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
