"""One scheduled job, safe under cron and systemd timers: ``policytrail run``.

lock the database (``crawler.locking``) → mark the runs that a killed process left "running" as
``killed`` → crawl (new captures → versions → diffs → classification, done by the crawl's
pipeline) with a heartbeat on the run row → refresh the report and the feeds → record the outcome
in the run row → an exit code a monitor can read (``EXIT_*`` below, documented in the README).

``run_job`` starts a Twisted reactor (through ``crawler.jobs.run_crawl``): once per process.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from crawler.jobs import CrawlError, CrawlOptions, CrawlSummary, DatabaseLost
from crawler.locking import LockError, LockHeld, lock_for
from crawler.storeworker import one_line
from storage import StorageError, Store, default_db_url, open_store
from storage.models import CrawlRun

logger = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_FAILED = 1  # the crawl, the report or the database failed
EXIT_UNREACHABLE = 3  # the archive did not answer
EXIT_PARTIAL = 4  # finished, but some captures failed (the next run retries them)
EXIT_RATE_LIMITED = 5  # the archive kept answering 429: stopped cleanly
EXIT_INTERRUPTED = 130  # stopped by SIGINT/SIGTERM
EXIT_DATABASE = 6  # the database failed mid-run; what was stored is kept, rerun to resume
EXIT_LOCKED = 75  # EX_TEMPFAIL: another run holds the lock; try again later

STATUS_EXIT = {
    "ok": EXIT_OK,
    "partial": EXIT_PARTIAL,
    "rate-limited": EXIT_RATE_LIMITED,
    "unreachable": EXIT_UNREACHABLE,
    "interrupted": EXIT_INTERRUPTED,
    "database-error": EXIT_DATABASE,
}

HEARTBEAT_SECONDS = 30.0
STALE_AFTER = timedelta(minutes=10)  # a heartbeat older than this: its process is gone
BEATING_KINDS = ("run", "worker")  # kinds whose rows get heartbeats (plain crawls don't)


class JobLocked(Exception):
    """Another job holds the lock on this database."""


@dataclass(frozen=True, slots=True)
class JobOptions:
    crawl: CrawlOptions
    report_dir: str | None = None
    feeds_dir: str | None = None
    lock_file: str | None = None
    heartbeat_seconds: float = HEARTBEAT_SECONDS
    stale_after: timedelta = STALE_AFTER


@dataclass(frozen=True, slots=True)
class ReapedRun:
    """A run row left "running" by a process that is gone, now marked ``killed``."""

    run_id: int
    kind: str
    host: str
    pid: int | None
    started_at: datetime
    reason: str

    def line(self) -> str:
        who = f"pid {self.pid} on {self.host}" if self.pid else "unknown process"
        return (
            f"run {self.run_id} ({self.kind}, {who}, started {self.started_at:%Y-%m-%d %H:%M:%S}) "
            f"marked killed: {self.reason}"
        )


@dataclass(slots=True)
class JobResult:
    run_id: int | None
    status: str
    exit_code: int
    summary: CrawlSummary | None = None
    reaped: list[ReapedRun] = field(default_factory=list)
    report: Path | None = None
    feeds: Path | None = None
    feeds_written: int = 0
    error: str | None = None
    seconds: dict[str, float] = field(default_factory=dict)


# ---------------------------------------------------------------------------- stale runs


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    return True


def stale_reason(
    run: CrawlRun,
    *,
    now: datetime,
    host: str,
    holding_lock: bool,
    stale_after: timedelta = STALE_AFTER,
) -> str | None:
    """Why a row still saying "running" belongs to a process that is gone (None: it may live).

    A ``run`` row while we hold the job lock is proof: its process would hold the lock if alive.
    On this host a missing pid is proof. Elsewhere, a heartbeat older than ``stale_after``."""
    if run.host == host and run.pid == os.getpid():
        return None  # our own
    if run.kind == "run" and holding_lock:
        return "its process no longer holds the job lock"
    if run.host == host and run.pid is not None and not pid_alive(run.pid):
        return f"process {run.pid} is gone"
    if run.kind in BEATING_KINDS:
        last = run.heartbeat_at or run.started_at
        if now - last > stale_after:
            return f"no heartbeat since {last:%Y-%m-%d %H:%M:%S} UTC"
    return None


def reap_stale_runs(
    store: Store, *, holding_lock: bool, stale_after: timedelta = STALE_AFTER
) -> list[ReapedRun]:
    """Mark every run a dead process left "running" as ``killed`` (its error says why)."""
    now = datetime.now(UTC)
    host = socket.gethostname()
    reaped: list[ReapedRun] = []
    for run in store.runs(limit=10_000, status="running"):
        reason = stale_reason(
            run, now=now, host=host, holding_lock=holding_lock, stale_after=stale_after
        )
        if reason is None:
            continue
        store.finish_run(run.id, "killed", dict(run.stats or {}), error=f"killed: {reason}")
        reaped.append(ReapedRun(run.id, run.kind, run.host, run.pid, run.started_at, reason))
    return reaped


def own_run(store: Store, since: datetime, status: str | None = "running") -> int | None:
    """The newest run row this process started at or after ``since`` (with ``status``)."""
    host, pid = socket.gethostname(), os.getpid()
    for run in store.runs(limit=50, status=status):
        if run.host == host and run.pid == pid and run.started_at >= since:
            return run.id
    return None


# ---------------------------------------------------------------------------- heartbeat


class Heartbeat:
    """A daemon thread calling ``beat()`` every ``interval`` seconds until stopped (never in the
    reactor's thread: a beat may block on the database). A failing beat is logged, not fatal;
    while ``beat()`` returns False (nothing to beat yet) it is called again after ``first``."""

    def __init__(self, beat: Callable[[], bool], interval: float, first: float = 0.2) -> None:
        self._beat = beat
        self.interval = interval
        self.first = first
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="policytrail-beat", daemon=True)

    def _loop(self) -> None:
        wait = self.first
        while not self._stop.wait(wait):
            wait = self.interval
            try:
                if not self._beat():
                    wait = self.first
            except Exception as exc:  # the job goes on; the next beat may work again
                logger.warning("heartbeat failed: %s", exc)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)


class RunBeat:
    """The beat of a job: finds the run row the crawl created in this process, claims it as
    ``kind``, then refreshes its heartbeat."""

    def __init__(self, db_url: str, kind: str, since: datetime) -> None:
        self.db_url = db_url
        self.kind = kind
        self.since = since
        self.run_id: int | None = None
        self._store: Store | None = None

    def __call__(self) -> bool:
        if self._store is None:
            self._store = open_store(self.db_url, create=False)
        if self.run_id is None:
            self.run_id = own_run(self._store, self.since)
            if self.run_id is None:
                return False
        self._store.heartbeat_run(self.run_id, kind=self.kind)
        return True

    def close(self) -> None:
        if self._store is not None:
            self._store.close()


# ---------------------------------------------------------------------------- the job


def _crawl_status(summary: CrawlSummary) -> str:
    if summary.status == "shutdown":
        return "interrupted"
    return summary.status


def _refresh_outputs(store: Store, opts: JobOptions, result: JobResult) -> None:
    if opts.report_dir:
        from crawler.reporting import write_report

        t0 = time.monotonic()
        out = Path(opts.report_dir)
        result.report = write_report(store, out, policy_id=None)
        result.seconds["report"] = round(time.monotonic() - t0, 3)
    if opts.feeds_dir:
        from crawler.feeds import write_feeds

        t0 = time.monotonic()
        out = Path(opts.feeds_dir)
        out.mkdir(parents=True, exist_ok=True)
        result.feeds_written = len(write_feeds(store, out, policy_id=None))
        result.feeds = out
        result.seconds["feeds"] = round(time.monotonic() - t0, 3)


def _record(store: Store, result: JobResult, started: datetime, archive: str) -> None:
    """The job's outcome into its run row (creating one if the crawl never got to it)."""
    stats: dict[str, Any] = {}
    if result.summary is not None:
        stats = asdict(result.summary)
        for key in ("run_id", "status", "policies", "totals"):
            stats.pop(key, None)
    stats["seconds"] = result.seconds
    if result.report:
        stats["report"] = str(result.report)
    if result.feeds:
        stats["feeds"] = str(result.feeds)
    if result.reaped:
        stats["reaped"] = [r.run_id for r in result.reaped]
    run_id = result.run_id or own_run(store, started, status=None)
    if run_id is None:  # the crawl stopped before it recorded a run (unreachable archive)
        run_id = store.start_run(archive, {}, kind="run")
    store.heartbeat_run(run_id, kind="run")
    store.finish_run(run_id, result.status, stats, result.error)
    result.run_id = run_id


def run_job(opts: JobOptions) -> JobResult:
    """Run one complete job; raises ``JobLocked`` when another holds the lock, ``LockError``
    when the lock cannot be checked. Everything else ends up in the result and its run row."""
    from crawler.jobs import run_crawl

    db_url = opts.crawl.db or default_db_url()
    crawl = opts.crawl if opts.crawl.db else _with_db(opts.crawl, db_url)
    lock = lock_for(db_url, opts.lock_file)
    try:
        lock.acquire()
    except LockHeld as exc:
        raise JobLocked(str(exc)) from None
    try:
        started = datetime.now(UTC) - timedelta(seconds=1)
        store = open_store(db_url)  # migrates; fails early on a bad database
        try:
            reaped = reap_stale_runs(store, holding_lock=True, stale_after=opts.stale_after)
        finally:
            store.close()
        result = JobResult(run_id=None, status="failed", exit_code=EXIT_FAILED, reaped=reaped)
        beat = RunBeat(db_url, "run", started)
        t0 = time.monotonic()
        try:
            with Heartbeat(beat, opts.heartbeat_seconds):
                try:
                    result.summary = run_crawl(crawl)
                    result.run_id = result.summary.run_id
                    result.status = _crawl_status(result.summary)
                except CrawlError as exc:
                    result.status, result.error = "unreachable", str(exc)
                except DatabaseLost as exc:
                    result.status, result.error = "database-error", str(exc)
                except StorageError as exc:
                    result.status, result.error = "failed", str(exc)
                result.seconds["crawl"] = round(time.monotonic() - t0, 3)
                if result.status in ("ok", "partial"):
                    store = open_store(db_url, create=False)
                    try:
                        _refresh_outputs(store, opts, result)
                    except (OSError, RuntimeError, StorageError) as exc:
                        result.status, result.error = "failed", f"report/feeds: {exc}"
                    finally:
                        store.close()
        finally:
            beat.close()
        result.run_id = result.run_id or beat.run_id
        result.exit_code = STATUS_EXIT.get(result.status, EXIT_FAILED)
        try:
            store = open_store(db_url, create=False)
            try:
                _record(store, result, started, crawl.archive)
            finally:
                store.close()
        except StorageError as exc:
            # the outcome cannot be recorded: the row stays "running" and the next run, holding
            # the lock, marks it killed. The job's own error (if any) says more than this one.
            if result.error is None:
                result.status, result.error = "database-error", one_line(str(exc))
                result.exit_code = EXIT_DATABASE
        return result
    finally:
        lock.release()


def _with_db(crawl: CrawlOptions, db_url: str) -> CrawlOptions:
    from dataclasses import replace

    return replace(crawl, db=db_url)


__all__ = [
    "EXIT_DATABASE",
    "EXIT_FAILED",
    "EXIT_LOCKED",
    "EXIT_OK",
    "EXIT_PARTIAL",
    "EXIT_RATE_LIMITED",
    "EXIT_UNREACHABLE",
    "Heartbeat",
    "JobLocked",
    "JobOptions",
    "JobResult",
    "LockError",
    "ReapedRun",
    "reap_stale_runs",
    "run_job",
]
