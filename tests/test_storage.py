"""Storage: tracking, captures, version building, compression, migrations, errors."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import date
from pathlib import Path

import pytest
from alembic import command

from diffing.records import CaptureRef, ChangeAnalysis, ChangeKind, DiffStats, Document, TextDiff
from storage import StorageError, Store, open_store
from storage.blobs import pack, unpack
from storage.db import alembic_config
from storage.repository import FetchResult, compact_ops, expand_ops


class FakeAnalyser:
    """A deliberately simple analyser: storage must not depend on how texts are compared."""

    def __init__(self) -> None:
        self.compared: list[tuple[str, str]] = []

    def stated_date(self, text: str) -> date | None:
        return date(2020, 1, 1) if "2020" in text else None

    def compare(
        self, old: str, new: str, history: Sequence[str]
    ) -> tuple[TextDiff, ChangeAnalysis]:
        self.compared.append((old, new))
        ops = ((-1, old), (1, new))
        kind = ChangeKind.FLIP_FLOP if new in history else ChangeKind.SUBSTANTIVE
        return TextDiff(ops, DiffStats(len(new.split()), len(old.split()), 0.0)), ChangeAnalysis(
            kind
        )


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    s = open_store(db_url)
    yield s
    s.close()


def doc(text: str, verdict: str = "ok") -> Document:
    import hashlib

    from diffing.records import Verdict

    return Document(
        text, "T", "en", "test", hashlib.sha256(text.encode()).hexdigest(), Verdict(verdict)
    )


def save(
    store: Store,
    pid: int,
    uid: int,
    ts: str,
    text: str | None,
    digest: str = "",
    verdict: str = "ok",
    state: str = "fetched",
) -> None:
    ref = CaptureRef("https://a.org/privacy", ts, digest or f"D{ts}", 200)
    store.save_fetch(
        FetchResult(
            pid,
            uid,
            ref,
            "http://archive",
            state,
            body=(text or "").encode() if text is not None else None,
            document=doc(text, verdict) if text is not None else None,
        )
    )


def test_track_is_idempotent_and_merges_same_urlkey(store: Store) -> None:
    a = store.track(["https://www.a.org/privacy/"])[0]
    b = store.track(["http://a.org/privacy", "https://www.a.org/privacy/"])
    assert b[0].policy_id == a.policy_id and b[1].url_id == a.url_id
    assert b[0].url_id != a.url_id  # a second URL of the same policy
    other = store.track(["https://b.org/privacy"])[0]
    assert other.policy_id != a.policy_id


def test_versions_are_runs_of_identical_text_in_capture_order(store: Store) -> None:
    t = store.track(["https://a.org/privacy"])[0]
    # stored out of order, as concurrent fetches finish
    save(store, t.policy_id, t.url_id, "20200301000000", "B text 2020")
    save(store, t.policy_id, t.url_id, "20200101000000", "A text")
    save(store, t.policy_id, t.url_id, "20200201000000", "A text")
    save(store, t.policy_id, t.url_id, "20200401000000", "A text")
    save(store, t.policy_id, t.url_id, "20200315000000", "", verdict="empty")
    analyser = FakeAnalyser()
    res = store.rebuild_versions(t.policy_id, analyser)
    assert (res.versions_added, res.changes_added) == (3, 2)
    vs = store.versions(t.policy_id)
    assert [store.read_text(v.text_id) for v in vs] == ["A text", "B text 2020", "A text"]
    assert [(v.first_timestamp, v.last_timestamp) for v in vs] == [
        ("20200101000000", "20200201000000"),
        ("20200301000000", "20200301000000"),
        ("20200401000000", "20200401000000"),
    ]
    assert vs[1].stated_date == date(2020, 1, 1)
    changes = store.changes(t.policy_id)
    assert changes[1].kind == "flip-flop"  # A -> B -> A, history passed to the analyser
    assert changes[0].not_before.strftime("%Y%m%d") == "20200201"
    assert changes[0].not_after.strftime("%Y%m%d") == "20200301"
    # idempotent: nothing new, nothing compared again
    again = store.rebuild_versions(t.policy_id, analyser)
    assert (again.versions_added, again.changes_added, len(analyser.compared)) == (0, 0, 2)


def test_rebuild_keeps_prefix_and_extends_last_version(store: Store) -> None:
    t = store.track(["https://a.org/privacy"])[0]
    save(store, t.policy_id, t.url_id, "20200101000000", "A")
    save(store, t.policy_id, t.url_id, "20200201000000", "B")
    store.rebuild_versions(t.policy_id, FakeAnalyser())
    first_ids = [v.id for v in store.versions(t.policy_id)]
    save(store, t.policy_id, t.url_id, "20200301000000", "B")
    save(store, t.policy_id, t.url_id, "20200401000000", "C")
    analyser = FakeAnalyser()
    store.rebuild_versions(t.policy_id, analyser)
    vs = store.versions(t.policy_id)
    assert [v.id for v in vs[:2]] == first_ids
    assert vs[1].last_timestamp == "20200301000000"
    assert analyser.compared == [("B", "C")]


def test_late_older_capture_rebuilds_from_where_history_changed(store: Store) -> None:
    t = store.track(["https://a.org/privacy"])[0]
    save(store, t.policy_id, t.url_id, "20200101000000", "A")
    save(store, t.policy_id, t.url_id, "20200301000000", "C")
    store.rebuild_versions(t.policy_id, FakeAnalyser())
    save(store, t.policy_id, t.url_id, "20200201000000", "B")  # a backfill between the two
    store.rebuild_versions(t.policy_id, FakeAnalyser())
    assert [store.read_text(v.text_id) for v in store.versions(t.policy_id)] == ["A", "B", "C"]
    assert [(c.from_seq, c.to_seq) for c in store.changes(t.policy_id)] == [(1, 2), (2, 3)]


def test_duplicates_reuse_stored_content(store: Store) -> None:
    t = store.track(["https://a.org/privacy"])[0]
    save(store, t.policy_id, t.url_id, "20200101000000", "A", digest="SAME")
    contents = store.stored_contents(t.policy_id)
    ref = CaptureRef("https://a.org/privacy", "20200601000000", "SAME", 200)
    assert (
        store.save_duplicates(t.policy_id, t.url_id, "http://archive", [(ref, contents["SAME"])])
        == 1
    )
    assert (
        store.save_duplicates(t.policy_id, t.url_id, "http://archive", [(ref, contents["SAME"])])
        == 0
    )
    store.rebuild_versions(t.policy_id, FakeAnalyser())
    (v,) = store.versions(t.policy_id)
    assert v.last_timestamp == "20200601000000"
    assert store.counts()["fetched"] == 1


def test_cursor_is_held_back_by_failed_captures(store: Store) -> None:
    t = store.track(["https://a.org/privacy"])[0]
    save(store, t.policy_id, t.url_id, "20200101000000", "A")
    save(store, t.policy_id, t.url_id, "20200201000000", None, state="failed")
    assert store.advance_cursor(t.url_id, "20200301000000") == "20200201000000"
    assert "20200201000000" not in store.stored_timestamps(t.url_id)  # will be retried
    save(store, t.policy_id, t.url_id, "20200201000000", "B")  # the retry succeeds
    assert store.advance_cursor(t.url_id, "20200301000000") == "20200301000000"


def test_delta_compression_stores_small_edit_small() -> None:
    base = ("We collect your e-mail address. " * 3000).encode()
    edited = base.replace(b"e-mail", b"email", 1)
    packed = pack(edited, base)
    assert packed.codec == "zstd-dict" and len(packed.data) < 200
    assert unpack(packed.codec, packed.data, base) == edited


def test_compact_ops_round_trip() -> None:
    old, ops = "abc def ghi", [(0, "abc "), (-1, "def"), (1, "xyz"), (0, " ghi")]
    assert expand_ops(compact_ops(ops), old) == ops
    with pytest.raises(StorageError):
        expand_ops(compact_ops(ops), "other old text")


def test_corrupt_blob_is_a_clear_error(store: Store) -> None:
    t = store.track(["https://a.org/privacy"])[0]
    save(store, t.policy_id, t.url_id, "20200101000000", "A")
    from sqlalchemy import update

    from storage.models import Blob

    with store.engine.begin() as conn:
        conn.execute(update(Blob).where(Blob.kind == "text").values(data=b"\x00\x01\x02\x03"))
    store._blob_cache.clear()
    text_id = store.stored_contents(t.policy_id)["D20200101000000"].text_id
    assert text_id is not None
    with pytest.raises(StorageError, match="corrupt"):
        store.read_text(text_id)


def test_failed_write_rolls_back_everything(store: Store) -> None:
    t = store.track(["https://a.org/privacy"])[0]
    save(store, t.policy_id, t.url_id, "20200101000000", "A")
    before = store.counts()
    bad = FetchResult(
        t.policy_id,
        999999,
        CaptureRef("https://a.org/privacy", "20200201000000", "X", 200),
        "http://archive",
        "fetched",
        body=b"B",
        document=doc("B"),
    )
    with pytest.raises(Exception):  # noqa: B017 - foreign key violation, whatever the driver calls it
        store.save_fetch(bad)
    assert store.counts() == before
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM blob WHERE kind='text'").scalar() == 1


def test_unwritable_database_path_is_a_storage_error(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="does not exist"):
        open_store(f"sqlite:///{tmp_path / 'missing' / 'x.db'}")
    # /proc refuses new files even to root
    with pytest.raises(StorageError, match="cannot"):
        open_store("sqlite:////proc/policytrail-test.db")
    with pytest.raises(StorageError, match="cannot use database"):
        open_store("nonsense://")


def test_models_and_migrations_agree(db_url: str) -> None:
    """``alembic check``: the models and the shipped migrations never drift (both backends)."""
    s = open_store(db_url)
    cfg = alembic_config(s.engine)
    command.check(cfg)
    s.close()


def test_locked_database_is_a_clear_error_and_loses_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sqlite3

    monkeypatch.setenv("POLICYTRAIL_DB_BUSY_TIMEOUT", "0.2")
    path = tmp_path / "locked.db"
    store = open_store(f"sqlite:///{path}")
    t = store.track(["https://a.org/privacy"])[0]
    save(store, t.policy_id, t.url_id, "20200101000000", "A")
    before = store.counts()
    other = sqlite3.connect(path)
    other.execute("BEGIN EXCLUSIVE")  # another process holds the write lock
    try:
        with pytest.raises(StorageError, match="locked"):
            save(store, t.policy_id, t.url_id, "20200201000000", "B")
    finally:
        other.rollback()
        other.close()
    assert store.counts() == before
    save(store, t.policy_id, t.url_id, "20200201000000", "B")  # works once the lock is gone
    assert store.counts()["captures"] == before["captures"] + 1
    store.close()
