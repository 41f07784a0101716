"""``--snapshots none``: crawls that keep texts but not the raw HTML, against a real pywb archive
on loopback. What they store must give the same versions and changes as ``keep``; what needs the
raw bytes (``reextract``) says what it cannot reach; mixed databases work."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from storage import open_store
from storage.models import Blob, Capture
from tests.conftest import FAST, SAMPLE_URLS, Result, run_cli

pytestmark = pytest.mark.e2e

SPLIT = "20231231"  # the mixed database: captures up to here with keep, the rest with none
# a part of the sample, for speed: a JavaScript shell that becomes a policy and a URL that moved
# (badoo), archived redirects that leave the policy (match.com), text changes (all of them)
URLS = (
    "https://badoo.com/privacy",
    "https://docviewer.zoosk.com/legal-privacy-en_eu.html",
    "https://uk.match.com/pages/misc/privacy",
    "https://help.thisislex.app/article/51-privacy-policy",
)


def crawl(
    archive: str, db: str, work: Path, *extra: str, env: dict[str, str] | None = None
) -> Result:
    urls = work / "urls.txt"
    if not urls.exists():
        known = SAMPLE_URLS.read_text().splitlines()
        assert all(u in known for u in URLS)
        urls.write_text("\n".join(URLS) + "\n")
    r = run_cli(
        "crawl", str(urls), "--archive", archive, "--db", db, *FAST, *extra, cwd=work, env=env
    )
    assert r.code == 0, r.err
    return r


def history(db: str) -> dict[str, Any]:
    """Everything a user reads from a database, blob ids aside: versions and changes."""
    store = open_store(db)
    try:
        out: dict[str, Any] = {}
        for s in store.summaries():
            versions = [
                (v.seq, v.text_hash, v.first_timestamp, v.last_timestamp, v.stated_date, v.title)
                for v in store.versions(s.id)
            ]
            texts = [store.read_text(v.text_id) for v in store.versions(s.id)]
            changes = [
                (c.from_seq, c.to_seq, c.kind, c.words_added, c.words_removed, c.flags, c.clauses)
                for c in store.changes(s.id)
            ]
            ops = [store.change_ops(v.id) for v in store.versions(s.id)]
            out[s.url] = {"versions": versions, "texts": texts, "changes": changes, "ops": ops}
        return out
    finally:
        store.close()


def snapshot_stats(db: str) -> tuple[int, int, int]:
    """(snapshot blobs, fetched captures with a snapshot, fetched captures without one)."""
    store = open_store(db)
    try:
        with store.engine.connect() as conn:
            blobs = conn.scalar(
                select(func.count()).select_from(Blob).where(Blob.kind == "snapshot")
            )
            with_snap, without = (
                conn.scalar(
                    select(func.count())
                    .select_from(Capture)
                    .where(Capture.state == "fetched", cond)
                )
                for cond in (Capture.snapshot_id.is_not(None), Capture.snapshot_id.is_(None))
            )
        return int(blobs or 0), int(with_snap or 0), int(without or 0)
    finally:
        store.close()


@pytest.fixture(scope="module")
def crawls(pywb_archive: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    work = tmp_path_factory.mktemp("snapshots")
    dbs = {name: f"sqlite:///{work / name}.db" for name in ("keep", "none", "mixed")}
    out: dict[str, Any] = {"work": work, "dbs": dbs}
    out["keep"] = crawl(pywb_archive, dbs["keep"], work)
    out["none"] = crawl(pywb_archive, dbs["none"], work, "--snapshots", "none")
    out["mixed-1"] = crawl(pywb_archive, dbs["mixed"], work, "--to", SPLIT)
    out["mixed-1-stats"] = snapshot_stats(dbs["mixed"])
    # the environment variable sets the mode as the option does
    out["mixed-2"] = crawl(pywb_archive, dbs["mixed"], work, env={"POLICYTRAIL_SNAPSHOTS": "none"})
    return out


def test_none_stores_no_snapshot_and_the_same_history(crawls: dict[str, Any]) -> None:
    dbs = crawls["dbs"]
    keep_blobs, keep_with, keep_without = snapshot_stats(dbs["keep"])
    assert keep_blobs > 0 and keep_with > 0 and keep_without == 0
    none_blobs, none_with, none_without = snapshot_stats(dbs["none"])
    assert (none_blobs, none_with) == (0, 0)
    assert none_without == keep_with  # every capture was fetched, its text stored
    keep = history(dbs["keep"])
    assert keep and any(p["changes"] for p in keep.values())
    assert history(dbs["none"]) == keep
    store = open_store(dbs["none"])
    try:
        counts = store.counts()
        assert counts["fetched"] == counts["without_snapshot"] == none_without
    finally:
        store.close()
    assert f"{none_without} fetched ({none_without} without raw snapshot)" in crawls["none"].out
    assert "without raw snapshot" not in crawls["keep"].out


def test_reextract_names_what_it_cannot_reach(crawls: dict[str, Any]) -> None:
    db = crawls["dbs"]["none"]
    before = history(db)
    r = run_cli("reextract", "--db", db)
    assert r.code == 0, r.err
    _blobs, _with, without = snapshot_stats(db)
    assert r.out.startswith("re-extracted 0 snapshots: 0 texts changed")
    notes = [line for line in r.out.splitlines() if "no raw snapshot" in line]
    assert len(notes) == 1 and notes[0].startswith(f"{without} fetched captures have no raw")
    assert "--snapshots keep" in notes[0]
    assert history(db) == before


def test_keep_then_none_in_one_database(crawls: dict[str, Any]) -> None:
    dbs = crawls["dbs"]
    first_blobs, first_with, first_without = crawls["mixed-1-stats"]
    assert first_blobs > 0 and first_with > 0 and first_without == 0
    blobs, with_snap, without = snapshot_stats(dbs["mixed"])
    # the second run fetched the newer captures without keeping their bytes
    assert (blobs, with_snap) == (first_blobs, first_with) and without > 0
    _k, keep_with, _ = snapshot_stats(dbs["keep"])
    assert with_snap + without == keep_with
    assert history(dbs["mixed"]) == history(dbs["keep"])
    assert f"({without} without raw snapshot)" in crawls["mixed-2"].out
    r = run_cli("reextract", "--db", dbs["mixed"])
    assert r.code == 0, r.err
    assert f"re-extracted {with_snap} snapshots: 0 texts changed" in r.out
    assert f"{without} fetched captures have no raw snapshot" in r.out
    # reports and exports read texts, never raw bytes
    work: Path = crawls["work"]
    rep = run_cli("report", "--out", str(work / "report"), "--db", dbs["mixed"])
    assert rep.code == 0, rep.err
    assert (work / "report" / "index.html").is_file()
    exp = run_cli(
        "export", "--format", "jsonl", "--out", str(work / "export"), "--db", dbs["mixed"]
    )
    assert exp.code == 0, exp.err
    assert (work / "export" / "versions.jsonl").read_text().count("\n") == sum(
        len(p["versions"]) for p in history(dbs["mixed"]).values()
    )


def test_bad_mode_is_one_clear_line(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'x.db'}"
    r = run_cli(
        "crawl",
        str(SAMPLE_URLS),
        "--archive",
        "http://127.0.0.1:9/web",
        "--db",
        db,
        env={"POLICYTRAIL_SNAPSHOTS": "some"},
    )
    assert r.code != 0
    assert "POLICYTRAIL_SNAPSHOTS" in r.err and "Traceback" not in r.err
    assert len(r.err.strip().splitlines()) == 1
    bad = run_cli("crawl", str(SAMPLE_URLS), "--snapshots", "all", "--db", db)
    assert bad.code == 2 and "--snapshots" in bad.err


def test_pipeline_takes_the_mode_from_its_setting() -> None:
    from scrapy.utils.test import get_crawler

    from crawler.pipelines import StorePipeline

    def mode(settings: dict[str, Any]) -> str:
        return StorePipeline.from_crawler(get_crawler(settings_dict=settings)).snapshots

    assert mode({}) == "keep"
    assert mode({"POLICYTRAIL_SNAPSHOTS": "none"}) == "none"
    with pytest.raises(ValueError, match="POLICYTRAIL_SNAPSHOTS='all' is not one of keep, none"):
        mode({"POLICYTRAIL_SNAPSHOTS": "all"})
