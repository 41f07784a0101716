"""What a crawl stored, as plain data independent of row ids, backend and which process fetched
what: two databases that hold the same history compare equal."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from storage import open_store
from storage.models import Capture, CrawlRun, PolicyUrl


def stored_result(db_url: str) -> dict[str, Any]:
    store = open_store(db_url, create=False)
    try:
        out: dict[str, Any] = {}
        for s in store.summaries():
            versions = store.versions(s.id)
            changes = store.changes(s.id)
            out[s.url] = {
                "urls": sorted(s.urls),
                "captures": s.captures,
                "versions": [
                    (
                        store.read_text(v.text_id),
                        v.first_timestamp,
                        v.last_timestamp,
                        v.first_url,
                        v.stated_date,
                        v.title,
                    )
                    for v in versions
                ],
                "changes": [
                    (
                        c.from_seq,
                        c.to_seq,
                        c.kind,
                        c.words_added,
                        c.words_removed,
                        round(c.similarity, 6),
                        sorted(map(str, c.flags)),
                        c.old_stated_date,
                        c.new_stated_date,
                        c.not_before,
                        c.not_after,
                        sorted((cl["category"], cl["op"], cl["sentence"]) for cl in c.clauses),
                    )
                    for c in changes
                ],
            }
        with Session(store.engine) as session:
            rows = session.execute(
                select(
                    PolicyUrl.url,
                    Capture.timestamp,
                    Capture.state,
                    Capture.text_hash,
                    Capture.verdict,
                    Capture.redirect_to,
                ).join(PolicyUrl, PolicyUrl.id == Capture.url_id)
            ).all()
        # who fetched a digest and who reused it depends on scheduling, not on the history
        out["_captures"] = sorted(
            (
                url,
                ts,
                "content" if state in ("fetched", "duplicate") else state,
                text_hash or "",
                verdict or "",
                redirect_to or "",
            )
            for url, ts, state, text_hash, verdict, redirect_to in rows
        )
        return out
    finally:
        store.close()


def run_rows(db_url: str) -> list[CrawlRun]:
    store = open_store(db_url, create=False)
    try:
        return store.runs(1000)
    finally:
        store.close()


@pytest.fixture(scope="session")
def sqlite_baseline(pywb_archive: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One single-process ``policytrail run`` of the sample into SQLite: the reference that
    PostgreSQL, distributed and killed-and-resumed crawls must reproduce exactly."""
    from tests.conftest import FAST, SAMPLE_URLS, run_cli

    work = tmp_path_factory.mktemp("baseline")
    db = f"sqlite:///{work / 'policytrail.db'}"
    r = run_cli(
        "run",
        "--urls",
        str(SAMPLE_URLS),
        "--archive",
        pywb_archive,
        "--db",
        db,
        "--report",
        str(work / "report"),
        "--feeds",
        str(work / "feeds"),
        *FAST,
        cwd=work,
    )
    assert r.code == 0, r.err
    return {"db": db, "work": work, "out": r.out, "result": stored_result(db)}


def assert_same_history(got: dict[str, Any], want: dict[str, Any]) -> None:
    """Equal stored results, or an assertion naming what differs (not two pages of repr)."""
    assert sorted(got) == sorted(want), (sorted(got), sorted(want))
    extra = sorted(set(got["_captures"]) - set(want["_captures"]))
    missing = sorted(set(want["_captures"]) - set(got["_captures"]))
    assert not extra and not missing, f"captures: extra {extra[:5]}, missing {missing[:5]}"
    for policy in want:
        if policy == "_captures":
            continue
        for part in want[policy]:
            assert got[policy][part] == want[policy][part], f"{policy}: {part} differ"
    assert got == want
