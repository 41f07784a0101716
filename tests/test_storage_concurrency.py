"""Concurrent writers storing the same content (issue #7): content-addressed blobs are shared, so
two workers that fetch the same page at the same time both try to add the same blob row. Neither
may fail, on SQLite or on a real PostgreSQL server, and the blob is stored once."""

from __future__ import annotations

import hashlib
import threading
from typing import Any

from sqlalchemy import event, func, select
from sqlalchemy.engine import Engine

from diffing.records import CaptureRef, Document, Verdict
from storage import Store, open_store
from storage.models import Blob, Capture
from storage.repository import FetchResult

WRITERS = 4
TEXT = "We collect your e-mail address and share it with our advertising partners. " * 200
BODY = f"<html><body><h1>Privacy</h1><p>{TEXT}</p></body></html>".encode()


def _meet_before_first_blob_insert(engine: Engine, barrier: threading.Barrier) -> None:
    """Make the race happen every time: each writer has looked the blob up (and not found it)
    and waits here, at its first ``INSERT INTO blob``, until every writer has got this far."""
    waited = threading.Event()

    @event.listens_for(engine, "before_cursor_execute")
    def meet(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if not waited.is_set() and statement.lstrip().upper().startswith("INSERT INTO BLOB"):
            waited.set()
            barrier.wait()


def _document() -> Document:
    digest = hashlib.sha256(TEXT.encode()).hexdigest()
    return Document(TEXT, "Privacy", "en", "test", digest, Verdict("ok"))


def test_writers_storing_the_same_blobs_at_once_all_succeed(db_url: str) -> None:
    setup = open_store(db_url)
    urls = [f"https://site{i}.example.org/privacy" for i in range(WRITERS)]
    targets = setup.track(urls)
    setup.close()
    stores: list[Store] = [open_store(db_url) for _ in range(WRITERS)]  # an engine each
    barrier = threading.Barrier(WRITERS, timeout=60)
    for store in stores:
        _meet_before_first_blob_insert(store.engine, barrier)
    errors: list[BaseException] = []
    ids: list[int] = []

    def write(store: Store, i: int) -> None:
        t = targets[i]
        result = FetchResult(
            t.policy_id,
            t.url_id,
            CaptureRef(urls[i], "20200101000000", "SAMEDIGEST", 200),
            "http://archive",
            "fetched",
            body=BODY,
            document=_document(),
        )
        try:
            ids.append(store.save_fetch(result))
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)
            barrier.abort()  # a writer that failed early must not leave the others waiting

    threads = [threading.Thread(target=write, args=(store, i)) for i, store in enumerate(stores)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=120)
    assert not any(th.is_alive() for th in threads), "a writer hung"
    for store in stores:
        store.close()
    assert not errors, f"{len(errors)} writer(s) failed: {errors[0]!r}"
    assert len(ids) == WRITERS

    check = open_store(db_url)
    with check.engine.connect() as conn:
        per_content = conn.execute(
            select(Blob.kind, Blob.sha256, func.count()).group_by(Blob.kind, Blob.sha256)
        ).all()
        captures = conn.execute(select(Capture.text_id, Capture.snapshot_id)).all()
    assert sorted((kind, n) for kind, _sha, n in per_content) == [("snapshot", 1), ("text", 1)]
    assert len(captures) == WRITERS
    assert len(set(captures)) == 1  # every capture points at the one stored copy
    text_id, snapshot_id = captures[0]
    assert text_id is not None and snapshot_id is not None
    assert check.read_text(text_id) == TEXT
    assert check.read_blob(snapshot_id) == BODY
    check.close()


def test_a_diff_parameter_set_or_category_stored_meanwhile_is_reused(
    postgres_server: Any,
) -> None:
    """Diff parameter sets and clause categories are stored once, like blobs: a row another
    writer committed between this writer's lookup and its insert is used, not an error. (On
    SQLite the lookup already runs inside the write transaction, so this race is PostgreSQL's.)"""
    import json
    from collections.abc import Sequence
    from datetime import date

    from sqlalchemy import text

    from diffing.records import ChangeAnalysis, ChangeKind, DiffStats, TextDiff
    from diffing.records import Clause as AnalysedClause
    from storage.blobs import sha256
    from storage.models import ClauseCategory, DiffParams

    params: dict[str, object] = {"algorithm": "fake", "version": 1, "work_budget": 5}
    shared = json.dumps({"algorithm": "fake", "version": 1}, sort_keys=True, separators=(",", ":"))

    class Analyser:
        def stated_date(self, text: str) -> date | None:
            return None

        def compare(
            self, old: str, new: str, history: Sequence[str]
        ) -> tuple[TextDiff, ChangeAnalysis]:
            clause = AnalysedClause(1, new, "Data Retention", {}, 0, len(new))
            stats = DiffStats(1, 1, 0.0)
            return TextDiff(((-1, old), (1, new)), stats, params), ChangeAnalysis(
                ChangeKind.SUBSTANTIVE, clauses=(clause,)
            )

    postgres_server.reset()
    url = str(postgres_server.url)
    store = open_store(url)
    t = store.track(["https://a.example.org/privacy"])[0]
    for ts, body in (("20200101000000", "Old text."), ("20210101000000", "New text.")):
        digest = hashlib.sha256(body.encode()).hexdigest()
        store.save_fetch(
            FetchResult(
                t.policy_id,
                t.url_id,
                CaptureRef("https://a.example.org/privacy", ts, ts, 200),
                "http://archive",
                "fetched",
                document=Document(body, "", "en", "test", digest, Verdict("ok")),
            )
        )
    interloper = open_store(url).engine
    raced: list[str] = []

    @event.listens_for(store.engine, "before_cursor_execute")
    def insert_it_first(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        for table, sql, values in (
            (
                "DIFF_PARAMS",
                "INSERT INTO diff_params (sha256, params) VALUES (:sha, :params)",
                {"sha": sha256(shared.encode()), "params": shared},
            ),
            (
                "CLAUSE_CATEGORY",
                "INSERT INTO clause_category (name) VALUES (:name)",
                {"name": "Data Retention"},
            ),
        ):
            if table not in raced and statement.upper().startswith(f"INSERT INTO {table}"):
                raced.append(table)
                with interloper.begin() as conn:  # another writer, committed meanwhile
                    conn.execute(text(sql), values)

    result = store.rebuild_versions(t.policy_id, Analyser())
    assert raced == ["DIFF_PARAMS", "CLAUSE_CATEGORY"]
    assert result.changes_added == 1
    (change,) = store.changes()
    assert [c["category"] for c in change.clauses] == ["Data Retention"]
    assert store.change_params(store.versions(t.policy_id)[1].id) == params
    with store.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(DiffParams)).scalar() == 1
        assert conn.execute(select(func.count()).select_from(ClauseCategory)).scalar() == 1
    store.close()
    interloper.dispose()
