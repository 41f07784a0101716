"""Storage: tracking, captures, version building, compression, migrations, errors."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import func, select

from diffing.records import CaptureRef, ChangeAnalysis, ChangeKind, DiffStats, Document, TextDiff
from storage import StorageError, Store, open_store
from storage.blobs import pack, sha256, unpack
from storage.db import alembic_config
from storage.repository import FetchResult, compact_ops, expand_ops, expand_runs, run_lengths


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


# --- compact storage (migration 0003) ------------------------------------------------------


def test_snapshot_is_compressed_against_its_own_text(store: Store) -> None:
    from storage.models import Blob

    words = " ".join(f"clause{i} about data sharing and retention" for i in range(400))
    body = f"<html><body><h1>Privacy</h1><p>{words}</p></body></html>".encode()
    t = store.track(["https://a.org/privacy"])[0]
    ref = CaptureRef("https://a.org/privacy", "20200101000000", "D1", 200)
    store.save_fetch(
        FetchResult(t.policy_id, t.url_id, ref, "a", "fetched", body=body, document=doc(words))
    )
    with store.engine.connect() as conn:
        rows = {
            kind: (bid, extra, codec, len(data))
            for kind, bid, extra, codec, data in conn.execute(
                select(Blob.kind, Blob.id, Blob.extra_base_id, Blob.codec, Blob.data)
            )
        }
    snap_id, extra, codec, packed = rows["snapshot"]
    assert (extra, codec) == (rows["text"][0], "zstd-dict")
    assert packed < len(pack(body).data) / 2  # the words come from the text
    store._blob_cache.clear()
    assert store.read_blob(snap_id) == body


def test_rolled_back_blob_is_never_read_back(store: Store) -> None:
    """A blob written by a transaction that rolls back is not cached: its id may be reused."""
    t = store.track(["https://a.org/privacy"])[0]
    save(store, t.policy_id, t.url_id, "20200101000000", "A")
    bad = FetchResult(
        t.policy_id,
        999999,  # no such URL: the capture insert fails after the blobs were written
        CaptureRef("https://a.org/privacy", "20200201000000", "X", 200),
        "http://archive",
        "fetched",
        body=b"rolled back body",
        document=doc("rolled back text"),
    )
    with pytest.raises(Exception):  # noqa: B017 - foreign key violation
        store.save_fetch(bad)
    save(store, t.policy_id, t.url_id, "20200301000000", "C text")
    text_id = store.stored_contents(t.policy_id)["D20200301000000"].text_id
    assert text_id is not None
    assert store.read_text(text_id) == "C text"


def test_ops_are_stored_as_run_lengths() -> None:
    old, new = "abc def ghi", "abc xyz ghi"
    ops = [(0, "abc "), (-1, "def"), (1, "xyz"), (0, " ghi")]
    stored = run_lengths(ops)
    assert stored == {"format": 2, "runs": [0, 4, -1, 3, 1, 3, 0, 4]}
    assert expand_runs(stored, old, new) == ops
    assert expand_runs(compact_ops(ops), old, new) == ops  # stored before format 2
    with pytest.raises(StorageError, match="corrupt"):
        expand_runs(stored, old, new + "!")
    with pytest.raises(StorageError, match="corrupt"):
        expand_runs({"format": 2, "runs": [0, -4]}, old, new)


def _seed_text(prefix: str) -> str:
    from tests.conftest import SHARED

    found = sorted((SHARED / "seeds").glob(f"{prefix}_*.txt"))
    if not found:
        pytest.fail(f"shared test data missing: seed {prefix} in {SHARED / 'seeds'}")
    return found[0].read_text(encoding="utf-8")


def test_clauses_are_stored_as_spans_and_read_back_whole(store: Store) -> None:
    from diffing.analysis import TextAnalyser
    from storage.models import Clause

    old = _seed_text("003")
    paragraphs = old.split("\n\n")
    new = "\n\n".join(
        [
            *paragraphs[:3],
            "We may share your information with our advertising partners and Google Analytics.",
            *paragraphs[4:],
        ]
    )
    t = store.track(["https://a.org/privacy"])[0]
    save(store, t.policy_id, t.url_id, "20200101000000", old)
    save(store, t.policy_id, t.url_id, "20200201000000", new)
    store.rebuild_versions(t.policy_id, TextAnalyser())
    _, analysis = TextAnalyser().compare(old, new)
    expected = [
        {"op": c.op, "category": c.category, "sentence": c.sentence, "values": c.values}
        for c in analysis.clauses
    ]
    assert len(expected) >= 2 and any(c["op"] == -1 for c in expected)
    (change,) = store.changes(t.policy_id)
    assert change.clauses == expected
    assert "new-sharing-clause" in change.flags
    (sharing,) = store.changes(t.policy_id, category="Third Party Sharing/Collection")
    assert sharing.id == change.id
    with store.engine.connect() as conn:
        rows = conn.execute(select(Clause.op, Clause.category_id, Clause.sentence)).all()
    assert len(rows) == len({(c["op"], c["category"]) for c in expected})
    assert all(sentence is None for _, _, sentence in rows)  # no sentence stored twice
    vs = store.versions(t.policy_id)
    ops = store.change_ops(vs[1].id)
    assert ops is not None
    assert "".join(x for op, x in ops if op <= 0) == old
    assert "".join(x for op, x in ops if op >= 0) == new


def test_migration_0003_packs_old_clause_rows_and_unpacks_them_again(db_url: str) -> None:
    """Rows written by 0002 (one sentence verbatim each) are packed as spans on upgrade and
    written out again on downgrade; nothing is lost either way."""
    import sqlalchemy as sa
    import zstandard

    from storage.db import make_engine

    engine = make_engine(db_url)
    cfg = alembic_config(engine)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0002")
    old_text = "We collect your e-mail address. We never sell it.\nContact privacy@a.org."
    new_text = "We collect your e-mail address. We share it with advertisers.\nContact us."
    z = zstandard.ZstdCompressor()
    base_dict = zstandard.ZstdCompressionDict(
        old_text.encode(), dict_type=zstandard.DICT_TYPE_RAWCONTENT
    )
    legacy = [  # (op, category, sentence, values) in the order 0002 wrote them
        (-1, "Third Party Sharing/Collection", "We never sell it.", {"sale": ["no-sale"]}),
        (-1, "Other", "Contact privacy@a.org.", {"emails": ["privacy@a.org"]}),
        (1, "Third Party Sharing/Collection", "We share it with advertisers.", {}),
        (1, "Other", "Contact us.", {}),
        (1, "Other", "A sentence that is in neither text.", {}),
    ]
    md = sa.MetaData()
    tables = {
        name: sa.Table(name, md, autoload_with=engine)
        for name in ("blob", "policy", "policy_url", "capture", "version", "change", "clause")
    }
    when = datetime(2020, 1, 1, tzinfo=UTC)
    with engine.begin() as conn:

        def put(table: str, **values: object) -> int:
            result = conn.execute(tables[table].insert().values(**values))
            key = result.inserted_primary_key
            assert key is not None
            return int(key[0])

        blob = dict(kind="text", size=0, depth=0)
        old_id = put(
            "blob",
            sha256=sha256(old_text.encode()),
            codec="zstd",
            data=z.compress(old_text.encode()),
            **blob,
        )
        new_id = put(  # against the old text, as 0002 stored a policy's next text
            "blob",
            sha256=sha256(new_text.encode()),
            codec="zstd-dict",
            base_id=old_id,
            data=zstandard.ZstdCompressor(dict_data=base_dict).compress(new_text.encode()),
            **blob,
        )
        ops_id = put("blob", sha256=sha256(b"[]"), codec="zstd", data=z.compress(b"[]"), **blob)
        pid = put(
            "policy",
            key="k",
            url="https://a.org/p",
            site="a.org",
            created_at=when,
            needs_rebuild=False,
        )
        uid = put("policy_url", policy_id=pid, url="https://a.org/p", urlkey="k", added_at=when)
        cap = dict(
            policy_id=pid,
            url_id=uid,
            captured_at=when,
            original_url="u",
            mimetype="",
            digest="",
            archive="",
            state="fetched",
            content_type="",
            verdict_reason="",
            title="",
            language="",
            normaliser_version="",
            leaves_policy=False,
        )
        c1 = put("capture", timestamp="20200101000000", **cap)
        c2 = put("capture", timestamp="20200201000000", **cap)
        ver = dict(policy_id=pid, chars=0, title="", first_seen=when, last_seen=when)
        v1 = put(
            "version",
            seq=1,
            text_id=old_id,
            text_hash="a",
            first_capture_id=c1,
            last_capture_id=c1,
            **ver,
        )
        v2 = put(
            "version",
            seq=2,
            text_id=new_id,
            text_hash="b",
            first_capture_id=c2,
            last_capture_id=c2,
            **ver,
        )
        change_id = put(
            "change",
            policy_id=pid,
            from_version_id=v1,
            to_version_id=v2,
            kind="substantive",
            words_added=1,
            words_removed=1,
            similarity=0.5,
            ops_id=ops_id,
            diff_params={},
            flags=[],
            not_before=when,
            not_after=when,
        )
        for op, category, sentence, values in legacy:
            put(
                "clause",
                change_id=change_id,
                op=op,
                category=category,
                sentence=sentence,
                values=values,
            )
    engine.dispose()

    def as_dicts(rows: list[tuple[int, str, str, dict[str, list[str]]]]) -> list[dict[str, Any]]:
        return [dict(op=o, category=c, sentence=s, values=v) for o, c, s, v in rows]

    store = open_store(db_url)  # upgrades to 0003
    (change,) = store.changes()
    assert change.clauses == as_dicts(legacy)
    with store.engine.connect() as conn:
        rows = conn.exec_driver_sql("SELECT op, packed IS NULL, sentence FROM clause").all()
    # the removed sentences are found in the old text: packed, one row per category; one added
    # sentence is in no text, so the added ones stay as they were
    assert sorted((op, bool(v), s or "") for op, v, s in rows) == [
        (-1, False, ""),
        (-1, False, ""),
        (1, True, "A sentence that is in neither text."),
        (1, True, "Contact us."),
        (1, True, "We share it with advertisers."),
    ]
    # a snapshot stored from now on is compressed against its text (a second base)
    t = store.track(["https://a.org/p"])[0]
    body = f"<html><body><p>{old_text}</p></body></html>".encode()
    ref = CaptureRef("https://a.org/p", "20200301000000", "D3", 200)
    store.save_fetch(
        FetchResult(t.policy_id, t.url_id, ref, "a", "fetched", body=body, document=doc(old_text))
    )
    store.close()

    engine = make_engine(db_url)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0002")
    with engine.connect() as conn:
        back = conn.execute(
            sa.select(
                tables["clause"].c.op,
                tables["clause"].c.category,
                tables["clause"].c.sentence,
                tables["clause"].c["values"],
            ).order_by(tables["clause"].c.id)
        ).all()
        snapshot = conn.execute(
            sa.select(tables["blob"].c.codec, tables["blob"].c.data).where(
                tables["blob"].c.kind == "snapshot"
            )
        ).one()
    engine.dispose()
    assert snapshot[0] == "zstd"  # repacked alone: 0002 knows one base only
    assert zstandard.ZstdDecompressor().decompress(snapshot[1]) == body
    assert sorted(tuple(json.dumps(x) for x in r) for r in back) == sorted(
        tuple(json.dumps(x) for x in r) for r in legacy
    )


def test_large_blob_against_large_base_round_trips() -> None:
    """Match tables and window are sized to input + dictionary: a multi-megabyte edit still
    decodes with a default decompressor, and stays small."""
    base = b"".join(
        f"clause {i}: we keep your data for {i % 97} days.\n".encode() for i in range(90000)
    )
    edited = base.replace(b"clause 45000:", b"section 45000:")
    assert len(base) > 3_000_000
    packed = pack(edited, base)
    assert packed.codec == "zstd-dict" and len(packed.data) < len(edited) // 500
    assert unpack(packed.codec, packed.data, base) == edited
    plain = pack(edited)
    assert unpack(plain.codec, plain.data) == edited


def test_new_sqlite_database_uses_small_pages(tmp_path: Path) -> None:
    """2 kB pages: less slack after each blob's overflow chain than SQLite's default 4 kB."""
    from storage.db import SQLITE_PAGE_SIZE

    s = open_store(f"sqlite:///{tmp_path / 'pages.db'}")
    with s.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA page_size").scalar() == SQLITE_PAGE_SIZE == 2048
    s.close()


def test_ops_format_3_round_trips_and_older_formats_still_read() -> None:
    from storage.repository import decode_ops, pack_runs

    old = "abc déf " + "x" * 300 + " ghi"
    new = "abc xyz " + "x" * 300 + " ghi ✓"
    ops = [(0, "abc "), (-1, "déf"), (1, "xyz"), (0, " " + "x" * 300 + " ghi"), (1, " ✓")]
    packed = pack_runs(ops)
    assert packed[0] == 3 and len(packed) == 1 + 1 + 1 + 1 + 2 + 1
    assert decode_ops(packed, old, new) == ops
    for stored in (run_lengths(ops), compact_ops(ops)):  # formats 2 and 1, as JSON blobs
        assert decode_ops(json.dumps(stored).encode(), old, new) == ops
    with pytest.raises(StorageError, match="does not match"):
        decode_ops(packed, old, new + "!")
    with pytest.raises(StorageError, match="truncated"):
        decode_ops(packed[:-1] + b"\x80", old, new)
    with pytest.raises(StorageError, match="unknown format"):
        decode_ops(b"\x07\x01", old, new)


def test_clause_form_2_round_trips_smaller_and_form_1_still_reads() -> None:
    from storage import clauses as packing

    spans = [(3, 40, {}), (41, 180, {"third_parties": ["Google", "Meta ✓"]}), (500, 5000, {})]
    v1, v2 = packing.pack_spans_v1(spans), packing.pack_spans(spans)
    assert v1[:4] == b"\x28\xb5\x2f\xfd" and v2[0] in (packing.RAW, packing.ZSTD)
    assert packing.spans_of(v1, 6000) == packing.spans_of(v2, 6000) == spans
    few: list[tuple[int, int, dict[str, list[str]]]] = [(0, 12, {})]
    assert len(packing.pack_spans(few)) < len(packing.pack_spans_v1(few)) / 4
    assert packing.spans_of(packing.pack_spans([]), 0) == []
    with pytest.raises(packing.ClauseFormatError, match="do not fit"):
        packing.spans_of(v2, 4999)
    for bad in (v2[:3], b"\x02\x05\x01", b"\x09abc", b"\x03not zstd", b""):
        with pytest.raises(packing.ClauseFormatError):
            packing.spans_of(bad, 6000)


class ParamsAnalyser(FakeAnalyser):
    """Diff parameters as the differ names them: a shared configuration and per-change counts."""

    def compare(
        self, old: str, new: str, history: Sequence[str]
    ) -> tuple[TextDiff, ChangeAnalysis]:
        diff, analysis = super().compare(old, new, history)
        params: dict[str, object] = {
            "algorithm": "fake",
            "version": 7,
            "tokenizer": r"\s+",
            "work_budget": 1000 + len(old) + len(new),
            "coarse_regions": len(new) % 2,
            "unrelated_regions": 0,
        }
        return TextDiff(diff.ops, diff.stats, params), analysis


def test_diff_params_are_stored_once_per_set_and_read_back_whole(store: Store) -> None:
    from storage.models import Change, DiffParams

    t = store.track(["https://a.org/privacy"])[0]
    for i, text in enumerate(["A one", "B two two", "C three", "D"]):
        save(store, t.policy_id, t.url_id, f"202{i}0101000000", text)
    analyser = ParamsAnalyser()
    store.rebuild_versions(t.policy_id, analyser)
    vs = store.versions(t.policy_id)
    assert store.change_params(vs[0].id) is None
    for prev, v in itertools.pairwise(vs):
        old, new = store.read_text(prev.text_id), store.read_text(v.text_id)
        assert store.change_params(v.id) == analyser.compare(old, new, [])[0].params
    with store.engine.connect() as conn:
        assert conn.execute(select(DiffParams.params)).scalars().all() == [
            {"algorithm": "fake", "version": 7, "tokenizer": r"\s+"}
        ]
        own = conn.execute(select(Change.diff_params).order_by(Change.id)).scalars().all()
    assert all(set(p) == {"work_budget", "coarse_regions", "unrelated_regions"} for p in own)
    # a new store (no cache) on the same database reuses the stored set
    other = open_store(str(store.engine.url.render_as_string(hide_password=False)))
    save(other, t.policy_id, t.url_id, "20250101000000", "E five")
    other.rebuild_versions(t.policy_id, ParamsAnalyser())
    other.close()
    with store.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(DiffParams)).scalar() == 1


def test_migration_0004_writes_old_formats_back_and_reads_them_again(db_url: str) -> None:
    """Down to 0003: diff parameters whole on each change, ops as JSON runs, clause rows as
    zstd JSON (what 0003's code reads); up again: every read gives the same as before."""
    import sqlalchemy as sa
    import zstandard

    from diffing.analysis import TextAnalyser
    from storage.db import make_engine

    old = _seed_text("003")
    paragraphs = old.split("\n\n")
    new = "\n\n".join([*paragraphs[:3], "We share your data with Google.", *paragraphs[4:]])
    store = open_store(db_url)
    t = store.track(["https://a.org/privacy"])[0]
    save(store, t.policy_id, t.url_id, "20200101000000", old)
    save(store, t.policy_id, t.url_id, "20200201000000", new)
    save(store, t.policy_id, t.url_id, "20200301000000", old)  # the same ops again, reversed
    store.rebuild_versions(t.policy_id, TextAnalyser())
    vs = store.versions(t.policy_id)

    def reads(s: Store) -> tuple[Any, ...]:
        return (
            s.changes(),
            [s.change_ops(v.id) for v in vs],
            [s.change_params(v.id) for v in vs],
        )

    before = reads(store)
    assert before[0][0].clauses and before[2][1] and before[2][1]["version"]
    store.close()
    engine = make_engine(db_url)
    cfg = alembic_config(engine)
    # the first change's runs as an older version stored them: the downgrade reuses that blob
    first_ops = before[1][1]
    assert first_ops is not None
    legacy = json.dumps(run_lengths(first_ops), separators=(",", ":")).encode()
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO blob (kind, sha256, size, codec, depth, data) "
                "VALUES ('ops', :sha, :size, 'zstd', 0, :data)"
            ),
            {"sha": sha256(legacy), "size": len(legacy), "data": pack(legacy).data},
        )
        legacy_id = conn.exec_driver_sql("SELECT max(id) FROM blob").scalar()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0003")
    with engine.connect() as conn:
        params = conn.exec_driver_sql('SELECT diff_params FROM "change" ORDER BY id').scalars()
        whole = [p if isinstance(p, dict) else json.loads(p) for p in params]
        ops = conn.exec_driver_sql("SELECT data FROM blob WHERE kind = 'ops'").scalars().all()
        packed = conn.exec_driver_sql("SELECT packed FROM clause").scalars().all()
        names = set(conn.exec_driver_sql("SELECT category FROM clause").scalars())
        tables = sa.inspect(conn).get_table_names()
        first_ops_id = conn.exec_driver_sql('SELECT ops_id FROM "change" ORDER BY id').scalar()
    engine.dispose()
    assert whole == before[2][1:] and "diff_params" not in tables
    assert len(ops) == 2 and first_ops_id == legacy_id
    assert names == {c["category"] for ch in before[0] for c in ch.clauses}
    assert "clause_category" not in tables
    for data in ops:  # format 2: the JSON runs 0003 reads
        assert json.loads(zstandard.ZstdDecompressor().decompress(data))["format"] == 2
    assert packed and all(bytes(p)[:4] == b"\x28\xb5\x2f\xfd" for p in packed)
    store = open_store(db_url)  # up to head again
    try:
        assert reads(store) == before
    finally:
        store.close()


def test_text_is_compressed_against_the_two_newest_texts_of_its_policy(store: Store) -> None:
    """A policy that was briefly something else (a stub, another text) and came back: its
    text costs its edit, not a whole text, as the one before the newest is a base too."""
    from storage.models import Blob, Capture

    a, b = _seed_text("003"), _seed_text("001")
    back = a.replace("privacy", "Privacy", 1)
    assert back != a
    t = store.track(["https://a.org/privacy"])[0]
    for ts, text in (("20200101000000", a), ("20200201000000", b), ("20200301000000", back)):
        save(store, t.policy_id, t.url_id, ts, text)
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(Blob.id, Blob.base_id, Blob.extra_base_id, func.length(Blob.data))
            .join(Capture, Capture.text_id == Blob.id)
            .order_by(Capture.timestamp)
        ).all()
    (a_id, *_), (b_id, b_base, *_), (back_id, base, extra, n) = rows
    assert b_base == a_id and (base, extra) == (b_id, a_id)
    assert n * 10 < len(pack(back.encode()).data)  # about the edit, not the text
    fresh = open_store(str(store.engine.url.render_as_string(hide_password=False)))
    try:  # no cache: decoded from the database, both bases
        assert [fresh.read_text(i) for i in (a_id, b_id, back_id)] == [a, b, back]
    finally:
        fresh.close()
