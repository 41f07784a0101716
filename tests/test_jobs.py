"""``policytrail run``: one locked, recorded job against a real pywb archive; a second job is
refused while the first holds the lock; a killed job's row is marked and its lock taken over."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from crawler.locking import FileLock, lock_for
from storage import open_store
from tests.conftest import FAST, ROOT, SAMPLE_URLS, run_cli
from tests.stored import assert_same_history, run_rows, sqlite_baseline, stored_result

__all__ = ["sqlite_baseline"]  # the session fixture, used here

pytestmark = pytest.mark.e2e


def assert_one_line_error(err: str, *fragments: str) -> None:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("policytrail: error: "), err
    for f in fragments:
        assert f in lines[0], lines[0]


def test_run_records_history_report_and_feeds(sqlite_baseline: dict[str, object]) -> None:
    out = str(sqlite_baseline["out"])
    work = Path(str(sqlite_baseline["work"]))
    assert "run 1 ok:" in out and "52 captures seen" in out
    assert (work / "report" / "index.html").is_file()
    assert list((work / "feeds").rglob("*.atom")), "no feed written"
    runs = json.loads(run_cli("runs", "--format", "json", "--db", str(sqlite_baseline["db"])).out)
    (row,) = runs
    assert row["kind"] == "run" and row["status"] == "ok" and row["error"] is None
    assert row["pid"] and row["host"] and row["heartbeat_at"] and row["finished_at"]
    assert row["stats"]["fetched"] > 0 and row["stats"]["report"].endswith("index.html")
    assert row["stale"] is None
    table = run_cli("runs", "--db", str(sqlite_baseline["db"]))
    assert table.code == 0 and " run " in table.out and " ok " in table.out


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_second_run_is_refused_while_the_lock_is_held(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    if backend == "sqlite":
        db = f"sqlite:///{tmp_path / 'p.db'}"
    else:
        pg = request.getfixturevalue("postgres_server")
        pg.reset()
        db = str(pg.url)
    lock = lock_for(db)
    lock.acquire()
    try:
        t0 = time.monotonic()
        r = run_cli(
            "run", "--urls", str(SAMPLE_URLS), "--archive", "http://127.0.0.1:9/web", "--db", db
        )
        assert r.code == 75, (r.code, r.err)
        assert_one_line_error(r.err, "another run holds the lock", f"pid {os.getpid()}")
        assert time.monotonic() - t0 < 30  # at once, not after a wait
    finally:
        lock.release()
    # the lock is free again: the same job now runs (and finds the archive unreachable)
    r = run_cli(
        "run", "--urls", str(SAMPLE_URLS), "--archive", "http://127.0.0.1:9/web", "--db", db
    )
    assert r.code == 3, r.err
    assert_one_line_error(r.err, "archive unreachable")
    (row,) = run_rows(db)
    assert row.kind == "run" and row.status == "unreachable" and "127.0.0.1:9" in str(row.error)


def test_lock_of_a_killed_process_is_free(tmp_path: Path) -> None:
    path = tmp_path / "x.lock"
    code = (
        "import time; from pathlib import Path; from crawler.locking import FileLock; "
        f"lock = FileLock(Path({str(path)!r})); lock.acquire(); "
        "print('locked', flush=True); time.sleep(60)"
    )
    child = subprocess.Popen(
        [sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "locked"
        with pytest.raises(Exception, match=f"pid {child.pid}"):
            FileLock(path).acquire()
    finally:
        child.kill()
        child.wait()
    with FileLock(path):
        assert f"pid {os.getpid()}" in path.read_text()


def test_killed_run_is_marked_and_its_lock_taken_over(
    pywb_archive: str, postgres_server: object, sqlite_baseline: dict[str, Any]
) -> None:
    """SIGKILL a job mid-crawl on PostgreSQL (the lock lives in the server): the next job takes
    the lock at once, marks the dead job's row killed, and completes the history."""
    pg = postgres_server
    pg.reset()  # type: ignore[attr-defined]
    db = str(pg.url)  # type: ignore[attr-defined]
    slow = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "crawler.cli",
            "run",
            "--urls",
            str(SAMPLE_URLS),
            "--archive",
            pywb_archive,
            "--db",
            db,
            "--cdx-rate",
            "1200",
            "--replay-rate",
            "2",
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert slow.poll() is None, "the slow job ended before it could be killed"
            assert time.monotonic() < deadline, "the slow job stored nothing in 60 s"
            rows = [r for r in run_rows(db) if r.kind == "run"] if _has_schema(db) else []
            if rows and _captures(db) >= 3:
                break
            time.sleep(0.2)
        slow.send_signal(signal.SIGKILL)
        slow.wait()
    finally:
        if slow.poll() is None:
            slow.kill()
            slow.wait()
    (dead,) = run_rows(db)
    assert dead.status == "running"
    r = run_cli("run", "--urls", str(SAMPLE_URLS), "--archive", pywb_archive, "--db", db, *FAST)
    assert r.code == 0, r.err
    assert f"run {dead.id} (run, pid {slow.pid}" in r.out and "marked killed" in r.out
    by_id = {row.id: row for row in run_rows(db)}
    assert by_id[dead.id].status == "killed" and "lock" in str(by_id[dead.id].error)
    assert by_id[dead.id].finished_at is not None
    assert [row.status for row in by_id.values() if row.id != dead.id] == ["ok"]
    assert_same_history(stored_result(db), sqlite_baseline["result"])


def _has_schema(db: str) -> bool:
    from sqlalchemy import create_engine, inspect

    engine = create_engine(db)
    try:
        return "crawl_run" in inspect(engine).get_table_names()
    finally:
        engine.dispose()


def _captures(db: str) -> int:
    store = open_store(db, create=False)
    try:
        return store.counts()["captures"]
    finally:
        store.close()


def test_bad_urls_file_is_one_line(tmp_path: Path) -> None:
    r = run_cli(
        "run", "--urls", str(tmp_path / "missing.txt"), "--db", f"sqlite:///{tmp_path / 'x.db'}"
    )
    assert r.code == 1
    assert_one_line_error(r.err, "URL file not found")
