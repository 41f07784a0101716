"""Workers of a cluster on PostgreSQL rebuild versions together once their crawls end: two real
``policytrail worker`` processes (real redis-server, PostgreSQL and pywb) each take dirty policies
one at a time, no policy is rebuilt twice in a job, and the stored history equals a
single-process run's. A rebuild that dies leaves its policy dirty, and the next job rebuilds it.
A SQLite cluster leaves the whole rebuild to its last worker."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from storage import open_store
from tests.stored import assert_same_history, run_rows, sqlite_baseline, stored_result
from tests.test_distributed import cluster, enqueue, finish, front, redis_server, start_worker
from tests.test_rebuild_race import WAIT, Background, PausingAnalyser, wait_for_lock_wait

__all__ = ["cluster", "front", "redis_server", "sqlite_baseline"]


def policies_with_versions(db: str) -> int:
    engine = create_engine(db)
    try:
        with engine.connect() as conn:
            n = conn.execute(text("SELECT count(DISTINCT policy_id) FROM version")).scalar()
            return int(n or 0)
    finally:
        engine.dispose()


def worker_rows(db: str) -> list[Any]:
    return sorted((r for r in run_rows(db) if r.kind == "worker"), key=lambda r: r.id)


def to_rebuild_again(db: str) -> None:
    """Every policy's versions to be rebuilt (as after a re-extraction of its texts)."""
    engine = create_engine(db)
    try:
        with engine.begin() as conn:
            for table in ("clause", "change", "version"):
                conn.execute(text(f"DELETE FROM {table}"))
            conn.execute(text("UPDATE policy SET needs_rebuild = true"))
    finally:
        engine.dispose()


def check_rebuilt_once(
    c: dict[str, str], results: list[tuple[int, str, str]], want: dict[str, Any]
) -> list[int]:
    """Both workers of the job ended well; every policy was rebuilt once (by one worker, never
    twice), none is left dirty, and the history equals the single-process run's. The number of
    policies each worker of the job rebuilt."""
    for code, out, err in results:
        assert code == 0, err[-2000:]
        assert " policies rebuilt, " in out, out
    rows = worker_rows(c["db"])[-2:]
    assert all(r.status == "ok" for r in rows)
    assert sorted(bool(r.stats["finalised"]) for r in rows) == [False, True]
    rebuilt = [int(r.stats["policies_rebuilt"]) for r in rows]
    assert sum(rebuilt) == policies_with_versions(c["db"]) == 9, rebuilt
    store = open_store(c["db"], create=False)
    try:
        assert store.dirty_policies() == []
    finally:
        store.close()
    assert_same_history(stored_result(c["db"]), want)
    return rebuilt


def test_two_workers_share_the_rebuild(
    cluster: dict[str, str], sqlite_baseline: dict[str, Any]
) -> None:
    """A job crawled by two workers; then a job with nothing new to crawl whose workers find
    every policy dirty, and whose first claims are held up (a lock on the policy table) until
    both workers wait at them: released together, each takes policies of its own."""
    want = sqlite_baseline["result"]
    enqueue(cluster)
    workers = [start_worker(cluster), start_worker(cluster)]
    check_rebuilt_once(cluster, [finish(w) for w in workers], want)

    to_rebuild_again(cluster["db"])
    engine = create_engine(cluster["db"])
    try:
        with engine.connect() as conn:
            conn.execute(text("LOCK TABLE policy IN EXCLUSIVE MODE"))  # reads go on, claims wait
            assert "for a new job" in enqueue(cluster)
            workers = [start_worker(cluster), start_worker(cluster)]
            wait_for_lock_wait(cluster["db"], sessions=2)
            conn.rollback()
    finally:
        engine.dispose()
    rebuilt = check_rebuilt_once(cluster, [finish(w) for w in workers], want)
    assert all(n > 0 for n in rebuilt), f"a worker rebuilt nothing: {rebuilt}"


def test_a_rebuild_that_dies_leaves_its_policy_to_the_next_job(
    cluster: dict[str, str], sqlite_baseline: dict[str, Any]
) -> None:
    """A policy held by a rebuild elsewhere is skipped by the workers' claims and waited for by
    the last worker; that rebuild dies (its transaction rolls back), the waiting worker is
    killed too (SIGKILL): the policy stays dirty, and the next job's worker rebuilds it."""
    db = cluster["db"]
    enqueue(cluster)
    code, _, err = finish(start_worker(cluster))
    assert code == 0, err[-2000:]
    to_rebuild_again(db)

    elsewhere = open_store(db, create=False)
    try:
        dies = PausingAnalyser()
        held = Background(lambda: elsewhere.rebuild_next(dies))  # takes the first policy
        assert dies.inside.wait(WAIT)
        assert "for a new job" in enqueue(cluster)
        victim = start_worker(cluster)
        wait_for_lock_wait(db)  # the worker rebuilt the others and waits for the held one
        victim.send_signal(signal.SIGKILL)
        victim.communicate(timeout=WAIT)
        dies.abort = True  # the held rebuild now fails: its transaction rolls back
        dies.release.set()
        with pytest.raises(RuntimeError, match="aborted mid-way"):
            held.join()
    finally:
        elsewhere.close()
    check = open_store(db, create=False)
    try:
        left = check.dirty_policies()
    finally:
        check.close()
    assert len(left) == 1, left
    assert policies_with_versions(db) == 8

    out = enqueue(cluster)
    assert f"pid {victim.pid}" in out and "marked killed" in out, out
    code, out, err = finish(start_worker(cluster))
    assert code == 0, err[-2000:]
    assert "1 policies rebuilt" in out, out
    assert_same_history(stored_result(db), sqlite_baseline["result"])


def test_a_sqlite_cluster_leaves_the_rebuild_to_the_last_worker(
    cluster: dict[str, str], sqlite_baseline: dict[str, Any], tmp_path: Path
) -> None:
    """SQLite has one writer at a time: its workers do not share the rebuild, the last one to
    leave does all of it (and the history is the same)."""
    c = {**cluster, "db": f"sqlite:///{tmp_path / 'cluster.db'}"}
    enqueue(c)
    workers = [start_worker(c), start_worker(c)]
    for code, out, err in [finish(w) for w in workers]:
        assert code == 0, err[-2000:]
        assert " policies rebuilt, " in out, out
    rows = worker_rows(c["db"])
    assert sorted((bool(r.stats["finalised"]), r.stats["policies_rebuilt"]) for r in rows) == [
        (False, 0),
        (True, 9),
    ]
    assert_same_history(stored_result(c["db"]), sqlite_baseline["result"])
