"""The database failing mid-run: a PostgreSQL server that goes away (stopped with ``-m
immediate``, as a crash would) and an SQLite database another process keeps locked.

The crawl must stop promptly (fetching on would cost the archive requests whose results cannot be
kept), say so in one line with its own exit code (6), keep everything stored before the failure,
and the next run must mark the dead run, resume, and end with exactly the history of an
uninterrupted run."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from storage import open_store
from tests.conftest import FAST, ROOT, SAMPLE_URLS, run_cli
from tests.stored import assert_same_history, run_rows, sqlite_baseline, stored_result

__all__ = ["sqlite_baseline"]  # the session fixture, used here

pytestmark = pytest.mark.e2e

EXIT_DATABASE = 6


def _captures(db: str) -> int:
    try:
        store = open_store(db, create=False)
    except Exception:  # not created yet
        return 0
    try:
        return store.counts()["captures"]
    except Exception:
        return 0
    finally:
        store.close()


def _slow_run(db: str, archive: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    import os

    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "crawler.cli",
            "run",
            "--urls",
            str(SAMPLE_URLS),
            "--archive",
            archive,
            "--db",
            db,
            "--cdx-rate",
            "1200",
            "--replay-rate",
            "2",
        ],
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for_captures(proc: subprocess.Popen[str], db: str, n: int) -> int:
    deadline = time.monotonic() + 90
    while True:
        assert proc.poll() is None, f"the slow run ended before the fault: {proc.communicate()}"
        assert time.monotonic() < deadline, f"the slow run stored fewer than {n} captures in 90 s"
        got = _captures(db)
        if got >= n:
            return got
        time.sleep(0.1)


def _assert_stopped_with_one_line(proc: subprocess.Popen[str], *causes: str) -> float:
    """The run stopped with exit code 6 and one line naming one of ``causes``."""
    t0 = time.monotonic()
    out, err = proc.communicate(timeout=120)
    waited = time.monotonic() - t0
    assert proc.returncode == EXIT_DATABASE, (proc.returncode, out, err)
    assert "Traceback" not in err, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("policytrail: error: database failed mid-run"), lines[0]
    assert any(c in lines[0] for c in causes), lines[0]
    return waited


@pytest.fixture
def own_postgres(tmp_path: Path) -> Iterator[Any]:
    """A PostgreSQL server of this test alone: it is stopped and restarted mid-test."""
    import os

    from tests.services import Postgres, ServiceError

    pg = Postgres(Path("/tmp") / f"policytrail-pgloss-{os.getpid()}", durable=True)
    try:
        pg.start()
    except ServiceError as exc:
        pg.stop()
        pytest.fail(f"cannot start a PostgreSQL test server: {exc}")
    try:
        yield pg
    finally:
        pg.stop()


def test_postgres_going_away_stops_the_run_and_loses_nothing(
    own_postgres: Any, pywb_archive: str, sqlite_baseline: dict[str, Any]
) -> None:
    pg, db = own_postgres, own_postgres.url
    proc = _slow_run(db, pywb_archive)
    try:
        stored = _wait_for_captures(proc, db, 3)
        pg.halt()
        # a pooled connection breaks, or a new one is refused: either way the cause is named
        waited = _assert_stopped_with_one_line(
            proc, "server closed the connection", "Connection refused"
        )
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    # stopped promptly: not after failing on every remaining capture at 2 fetches per second
    assert waited < 30, waited

    pg.restart()
    assert _captures(db) >= stored, "captures stored before the failure were lost"
    (dead,) = run_rows(db)
    assert dead.status == "running"  # it could not record its end: the next run marks it

    r = run_cli("run", "--urls", str(SAMPLE_URLS), "--archive", pywb_archive, "--db", db, *FAST)
    assert r.code == 0, r.err
    assert f"run {dead.id} (run, pid {proc.pid}" in r.out and "marked killed" in r.out
    statuses = {row.id: row.status for row in run_rows(db)}
    assert statuses[dead.id] == "killed" and sorted(statuses.values()) == ["killed", "ok"]
    assert_same_history(stored_result(db), sqlite_baseline["result"])


def test_sqlite_kept_locked_stops_the_crawl_and_loses_nothing(
    tmp_path: Path, pywb_archive: str, sqlite_baseline: dict[str, Any]
) -> None:
    db_file = tmp_path / "p.db"
    db = f"sqlite:///{db_file}"
    proc = _slow_run(db, pywb_archive, env={"POLICYTRAIL_DB_BUSY_TIMEOUT": "1"})
    blocker = None
    try:
        stored = _wait_for_captures(proc, db, 3)
        # another process (a sqlite3 shell, a backup tool) takes the write lock and keeps it
        blocker = sqlite3.connect(db_file, timeout=30, isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")
        _assert_stopped_with_one_line(proc, "database is locked")
    finally:
        if blocker is not None:
            blocker.execute("ROLLBACK")
            blocker.close()
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert _captures(db) >= stored

    r = run_cli("run", "--urls", str(SAMPLE_URLS), "--archive", pywb_archive, "--db", db, *FAST)
    assert r.code == 0, r.err
    assert "marked killed" in r.out
    assert_same_history(stored_result(db), sqlite_baseline["result"])


def test_crawl_takes_the_job_lock(tmp_path: Path) -> None:
    """``policytrail crawl`` and ``policytrail run`` on one database never run at once."""
    import os

    from crawler.locking import lock_for

    db = f"sqlite:///{tmp_path / 'p.db'}"
    lock = lock_for(db)
    lock.acquire()
    try:
        r = run_cli("crawl", str(SAMPLE_URLS), "--archive", "http://127.0.0.1:9/web", "--db", db)
    finally:
        lock.release()
    assert r.code == 75, (r.code, r.err)
    lines = r.err.strip().splitlines()
    assert len(lines) == 1 and "another run holds the lock" in lines[0], r.err
    assert f"pid {os.getpid()}" in lines[0]
    # free again: the crawl runs (and finds the archive unreachable)
    r = run_cli("crawl", str(SAMPLE_URLS), "--archive", "http://127.0.0.1:9/web", "--db", db)
    assert r.code == 3, r.err
