"""A capture stored while its policy is being rebuilt is never lost, and rebuilders sharing one
database never take the same policy at once (on SQLite and on a real PostgreSQL server).

The rebuild is paused at a known point (its analyser waits on an event, after the rebuild has
read the policy's captures); what happens meanwhile is decided by locks, observed directly (a
``NOWAIT`` probe, a lock wait in ``pg_stat_activity``), never by how long a thread sleeps."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Sequence
from datetime import date
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from diffing.records import ChangeAnalysis, TextDiff
from storage import Store, open_store
from tests.test_storage import FakeAnalyser, save

URL = "https://a.org/privacy"
WAIT = 60.0  # seconds before a test gives up on an event that must happen


class PausingAnalyser(FakeAnalyser):
    """Pauses the rebuild that uses it at its first text (its captures are read by then)
    until ``release`` is set; with ``fail``, raises there instead (the rebuild rolls back), and
    with ``abort`` set when released, raises then."""

    def __init__(self, fail: bool = False) -> None:
        super().__init__()
        self.inside = threading.Event()
        self.release = threading.Event()
        self.fail = fail
        self.abort = False

    def stated_date(self, text: str) -> date | None:
        if not self.inside.is_set():
            self.inside.set()
            if self.fail:
                raise RuntimeError("analyser failed mid-rebuild")
            assert self.release.wait(WAIT), "the test never released the rebuild"
            if self.abort:
                raise RuntimeError("rebuild aborted mid-way")
        return super().stated_date(text)

    def compare(
        self, old: str, new: str, history: Sequence[str]
    ) -> tuple[TextDiff, ChangeAnalysis]:
        return super().compare(old, new, history)


class Background:
    """A call in a thread of its own; its result or exception, and when it has finished."""

    def __init__(self, fn: Callable[[], Any]) -> None:
        self.done = threading.Event()
        self.result: Any = None
        self.error: BaseException | None = None

        def run() -> None:
            try:
                self.result = fn()
            except BaseException as exc:  # reported by join()
                self.error = exc
            finally:
                self.done.set()

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()

    def join(self) -> Any:
        self.thread.join(WAIT)
        assert not self.thread.is_alive(), "a thread hung"
        if self.error is not None:
            raise self.error
        return self.result


def policy_is_held(db_url: str, policy_id: int) -> bool:
    """Whether another transaction holds what a capture of the policy must write before it can
    commit: the policy's row (PostgreSQL) or the database's one write lock (SQLite)."""
    if db_url.startswith("sqlite:///"):
        probe = sqlite3.connect(db_url.removeprefix("sqlite:///"), timeout=0)
        try:
            probe.execute("BEGIN IMMEDIATE")
            probe.rollback()
            return False
        except sqlite3.OperationalError as exc:
            assert "locked" in str(exc), exc
            return True
        finally:
            probe.close()
    engine = create_engine(db_url)
    try:
        with engine.begin() as conn:
            conn.execute(
                text("SELECT id FROM policy WHERE id = :p FOR UPDATE NOWAIT"), {"p": policy_id}
            )
        return False
    except OperationalError as exc:
        assert "could not obtain lock" in str(exc), exc
        return True
    finally:
        engine.dispose()


def wait_for_lock_wait(db_url: str, sessions: int = 1) -> None:
    """Return once ``sessions`` sessions of the database wait for a lock (PostgreSQL)."""
    engine = create_engine(db_url)
    query = text(
        "SELECT count(*) FROM pg_stat_activity "
        "WHERE wait_event_type = 'Lock' AND datname = current_database()"
    )
    seen = threading.Event()
    try:
        for _ in range(int(WAIT / 0.01)):
            with engine.connect() as conn:
                if (conn.execute(query).scalar() or 0) >= sessions:
                    return
            seen.wait(0.01)  # polling an observed state: the outcome does not depend on this
        pytest.fail(f"fewer than {sessions} sessions waited for a lock")
    finally:
        engine.dispose()


def texts_of_versions(store: Store, policy_id: int) -> list[str]:
    return [store.read_text(v.text_id) for v in store.versions(policy_id)]


def test_a_capture_stored_during_a_rebuild_is_not_lost(db_url: str) -> None:
    """The rebuild has read the policy's captures A and B; a capture C is stored now. C must
    reach a version: the store waits for the rebuild and leaves the policy dirty after it (on
    the code before this test, C's store matched no row, committed, and the rebuild's final
    "clean" mark buried C until something else dirtied the policy)."""
    setup = open_store(db_url)
    t = setup.track([URL])[0]
    pid, uid = t.policy_id, t.url_id
    save(setup, pid, uid, "20200101000000", "A text")
    setup.rebuild_versions(pid, FakeAnalyser())
    save(setup, pid, uid, "20200201000000", "B text")  # the policy is dirty again
    setup.close()

    rebuilder, writer = open_store(db_url), open_store(db_url)
    try:
        paused = PausingAnalyser()
        rebuild = Background(lambda: rebuilder.rebuild_versions(pid, paused))
        assert paused.inside.wait(WAIT), "the rebuild never reached its analyser"
        held = policy_is_held(db_url, pid)
        store = Background(lambda: save(writer, pid, uid, "20200301000000", "C text"))
        if held:  # the store cannot commit before the rebuild does
            if db_url.startswith("postgresql"):
                wait_for_lock_wait(db_url)  # it waits for the rebuild's row lock
            assert not store.done.is_set()
        else:  # nothing stops the store: let it commit under the rebuild (the race)
            assert store.done.wait(WAIT)
        paused.release.set()
        assert rebuild.join().versions_added == 1
        store.join()
    finally:
        rebuilder.close()
        writer.close()

    check = open_store(db_url)
    try:
        assert check.dirty_policies() == [pid], "the capture stored during the rebuild was lost"
        assert held, "a capture could be committed while the rebuild held its policy"
        check.rebuild_versions(pid, FakeAnalyser())
        assert texts_of_versions(check, pid) == ["A text", "B text", "C text"]
        assert check.dirty_policies() == []
    finally:
        check.close()


def test_a_failed_rebuild_leaves_its_policy_dirty(db_url: str) -> None:
    """A rebuild that fails (a worker killed mid-rebuild rolls back the same way) stores nothing
    and leaves the policy dirty; the next claim takes it."""
    store = open_store(db_url)
    try:
        t = store.track([URL])[0]
        save(store, t.policy_id, t.url_id, "20200101000000", "A text")
        save(store, t.policy_id, t.url_id, "20200201000000", "B text")
        with pytest.raises(RuntimeError, match="mid-rebuild"):
            store.rebuild_next(PausingAnalyser(fail=True))
        assert store.dirty_policies() == [t.policy_id]
        assert store.versions(t.policy_id) == []
        taken = store.rebuild_next(FakeAnalyser())
        assert taken is not None and taken[0] == t.policy_id
        assert (taken[1].versions_added, taken[1].changes_added) == (2, 1)
        assert store.rebuild_next(FakeAnalyser()) is None
        assert store.dirty_policies() == []
    finally:
        store.close()


def test_rebuilders_never_take_the_same_policy(postgres_server: Any) -> None:
    """Three dirty policies, two rebuilders: while one rebuilds the first, the other's claims
    skip it and take the two others; a rebuild of a held policy only if it is still dirty
    waits for the holder, then finds nothing to do. Every policy is rebuilt exactly once."""
    postgres_server.reset()
    db = str(postgres_server.url)
    setup = open_store(db)
    pids = []
    for i in range(3):
        t = setup.track([f"https://site{i}.example.org/privacy"])[0]
        save(setup, t.policy_id, t.url_id, "20200101000000", f"A text {i}")
        save(setup, t.policy_id, t.url_id, "20200201000000", f"B text {i}")
        pids.append(t.policy_id)
    setup.close()
    assert pids == sorted(pids)

    first, second, third = open_store(db), open_store(db), open_store(db)
    try:
        paused = PausingAnalyser()
        held = Background(lambda: first.rebuild_next(paused))
        assert paused.inside.wait(WAIT)
        others = FakeAnalyser()
        taken = []
        while (got := second.rebuild_next(others)) is not None:
            taken.append(got[0])
        assert taken == pids[1:]  # the held policy was skipped, not waited for
        waiting = Background(lambda: third.rebuild_if_dirty(pids[0], FakeAnalyser()))
        wait_for_lock_wait(db)
        assert not waiting.done.is_set()
        paused.release.set()
        assert held.join()[0] == pids[0]
        assert waiting.join() is None  # rebuilt meanwhile: not again
        assert second.dirty_policies() == []
        for pid in pids:
            assert len(second.versions(pid)) == 2
        assert len(others.compared) == 2 and len(paused.compared) == 1
    finally:
        for s in (first, second, third):
            s.close()


def test_a_rebuild_aborted_by_a_deadlock_is_run_again(
    postgres_server: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """Rebuilds side by side insert shared rows (clause categories, diff parameters, identical
    ops blobs) in orders of their own, and PostgreSQL breaks such a deadlock by aborting one
    transaction. Made here on purpose: another transaction inserts the category the rebuild is
    about to insert, the rebuild waits for it, and it then waits for the policy row the rebuild
    holds. The rebuild is the one aborted (the other's deadlock check comes much later); it is
    run again, waits for the other to end, and succeeds (before: a one-line database error,
    which stopped a cluster worker)."""
    from diffing.analysis import TextAnalyser
    from diffing.rules import THIRD_PARTY

    postgres_server.reset()
    db = str(postgres_server.url)
    setup = open_store(db)
    t = setup.track([URL])[0]
    pid = t.policy_id
    old = "We collect your email address to run the service."
    new = old + "\n\nWe share your personal information with our advertising partners."
    save(setup, pid, t.url_id, "20200101000000", old)
    save(setup, pid, t.url_id, "20200201000000", new)
    setup.close()

    engine = create_engine(db)
    rebuilder = open_store(db)
    try:
        with engine.connect() as other:
            other.execute(text("SET deadlock_timeout = '60s'"))  # the rebuild's check fires first
            other.execute(
                text("INSERT INTO clause_category (name) VALUES (:n)"), {"n": THIRD_PARTY}
            )
            with caplog.at_level("WARNING", logger="storage.repository"):
                rebuild = Background(lambda: rebuilder.rebuild_if_dirty(pid, TextAnalyser()))
                wait_for_lock_wait(db)  # the rebuild waits for the category
                # ... and this waits for the policy row until the rebuild is aborted
                other.execute(
                    text("UPDATE policy SET needs_rebuild = true WHERE id = :p"), {"p": pid}
                )
                assert not rebuild.done.is_set()  # its second run waits for this transaction
                other.rollback()
                result = rebuild.join()
        assert "deadlock detected" in caplog.text and "running it again (1 of 2)" in caplog.text
        assert result is not None and (result.versions_added, result.changes_added) == (2, 1)
        assert rebuilder.dirty_policies() == []
        (change,) = rebuilder.changes(pid)
        assert any(c["category"] == THIRD_PARTY and c["op"] == 1 for c in change.clauses)
    finally:
        rebuilder.close()
        engine.dispose()
