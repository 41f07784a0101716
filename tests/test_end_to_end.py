"""End to end: crawl the bundled sample from a real pywb archive on loopback with the real CLI,
and compare what was stored with what the WARC holds, computed independently of the crawler."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator

from diffing.normalize import normalize
from storage import open_store
from storage.keys import urlkey
from tests.conftest import FAST, SAMPLE_URLS, SAMPLE_WARC, run_cli

pytestmark = pytest.mark.e2e


def expected_versions() -> dict[str, list[str]]:
    """urlkey -> the distinct successive ok texts of the policy, straight from the WARC."""
    captures: dict[str, list[tuple[str, str]]] = defaultdict(list)
    with SAMPLE_WARC.open("rb") as fh:
        for rec in ArchiveIterator(fh):
            if rec.rec_type != "response":
                continue
            url = rec.rec_headers.get_header("WARC-Target-URI")
            ts = rec.rec_headers.get_header("WARC-Date")
            ctype = rec.http_headers.get_header("Content-Type") or ""
            doc = normalize(rec.content_stream().read(), url=url, content_type=ctype)
            if doc.verdict == "ok":
                captures[urlkey(url)].append((ts, doc.text))
    out: dict[str, list[str]] = {}
    for key, rows in captures.items():
        texts: list[str] = []
        for _, text in sorted(rows):
            if not texts or texts[-1] != text:
                texts.append(text)
        out[key] = texts
    return out


def response_count() -> int:
    with SAMPLE_WARC.open("rb") as fh:
        return sum(1 for rec in ArchiveIterator(fh) if rec.rec_type == "response")


@pytest.fixture(scope="module")
def crawled(pywb_archive: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    work = tmp_path_factory.mktemp("e2e")
    db = f"sqlite:///{work / 'policytrail.db'}"
    first = run_cli(
        "crawl", str(SAMPLE_URLS), "--archive", pywb_archive, "--db", db, *FAST, cwd=work
    )
    assert first.code == 0, first.err
    store = open_store(db)
    snapshot = {"counts": store.counts(), "summaries": store.summaries()}
    store.close()
    second = run_cli(
        "crawl", str(SAMPLE_URLS), "--archive", pywb_archive, "--db", db, *FAST, cwd=work
    )
    return {"db": db, "work": work, "first": first, "second": second, **snapshot}


def test_stored_versions_equal_distinct_texts_in_the_warc(crawled: dict[str, object]) -> None:
    expected = expected_versions()
    store = open_store(str(crawled["db"]))
    try:
        for url in [u for u in SAMPLE_URLS.read_text().splitlines() if u and not u.startswith("#")]:
            pid = store.find_policy(url)
            assert pid is not None, url
            stored = [store.read_text(v.text_id) for v in store.versions(pid)]
            assert stored == expected.get(urlkey(url), []), (
                f"versions of {url} differ from the WARC"
            )
        n_versions = sum(len(v) for v in expected.values())
        counts = store.counts()
        assert counts["versions"] == n_versions
        assert counts["changes"] == n_versions - len([k for k, v in expected.items() if v])
    finally:
        store.close()


def test_every_capture_listed_and_each_digest_fetched_once(crawled: dict[str, object]) -> None:
    counts = crawled["counts"]
    assert isinstance(counts, dict)
    assert counts["captures"] == response_count()
    assert counts["fetched"] <= counts["captures"]
    first = crawled["first"]
    assert f"{response_count()} captures seen" in first.out  # type: ignore[attr-defined]


def test_second_crawl_stores_nothing_new(crawled: dict[str, object]) -> None:
    second = crawled["second"]
    assert second.code == 0, second.err  # type: ignore[attr-defined]
    assert " 0 fetched" in second.out and "0 versions stored" in second.out  # type: ignore[attr-defined]
    store = open_store(str(crawled["db"]))
    try:
        assert store.counts() == crawled["counts"]
        runs = store.runs()
        assert [r.status for r in runs] == ["ok", "ok"]
        assert runs[0].stats["cdx_requests"] == 9  # exactly one CDX request per tracked URL
    finally:
        store.close()


def test_moved_url_is_one_policy(crawled: dict[str, object]) -> None:
    store = open_store(str(crawled["db"]))
    try:
        pid = store.find_policy("https://badoo.com/privacy")
        assert pid == store.find_policy("https://badoo.com/privacy/")
        (summary,) = [s for s in store.summaries() if s.id == pid]
        assert summary.captures == 6  # 3 captures under each spelling of the URL
        assert summary.problems.get("needs-javascript", 0) >= 1  # the 2023-12 JavaScript shells
    finally:
        store.close()


def test_cli_reads_back_versions_diff_changes_and_report(crawled: dict[str, object]) -> None:
    db = str(crawled["db"])
    work = Path(str(crawled["work"]))
    versions = run_cli("versions", "https://hily.com/privacypolicy", "--format", "json", "--db", db)
    assert versions.code == 0, versions.err
    rows = json.loads(versions.out)
    assert [r["seq"] for r in rows] == list(range(1, len(rows) + 1))
    changes = run_cli("changes", "--format", "json", "--db", db)
    assert changes.code == 0, changes.err
    changed = json.loads(changes.out)
    assert len(changed) == crawled["counts"]["changes"]  # type: ignore[index]
    policy = changed[0]["policy"]
    diff = run_cli("diff", policy, "--db", db)
    assert diff.code == 0 and diff.out.startswith("--- version"), diff.err
    assert "{+" in diff.out or "[-" in diff.out
    report = run_cli("report", "--out", str(work / "report"), "--db", db)
    assert report.code == 0, report.err
    index = (work / "report" / "index.html").read_text()
    assert "hily.com/privacypolicy" in index and "Content-Security-Policy" in index
    assert len(list((work / "report").glob("*/change-*.html"))) == len(changed)


def test_changes_filters(crawled: dict[str, object]) -> None:
    db = str(crawled["db"])
    everything = json.loads(run_cli("changes", "--format", "json", "--db", db).out)
    sharing = run_cli("changes", "--category", "sharing", "--format", "json", "--db", db)
    assert sharing.code == 0, sharing.err
    got = json.loads(sharing.out)
    want = [c for c in everything if "Third Party Sharing/Collection" in c["categories"]]
    assert got == want and 0 < len(got) < len(everything) + 1
    since = json.loads(
        run_cli("changes", "--since", "2025-01-01", "--format", "json", "--db", db).out
    )
    assert since == [c for c in everything if c["not_after"] >= "2025-01-01"]
    assert 0 < len(since) < len(everything)
    one = json.loads(
        run_cli(
            "changes", "--policy", "https://hily.com/privacypolicy/", "--format", "json", "--db", db
        ).out
    )
    assert one and {c["policy"] for c in one} == {"https://hily.com/privacypolicy"}
    csv_out = run_cli("changes", "--format", "csv", "--db", db).out.splitlines()
    assert (
        csv_out[0].startswith("policy,from_version,to_version")
        and len(csv_out) == len(everything) + 1
    )


def test_semiannual_sample_crawl(pywb_archive: str, tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'sample.db'}"
    r = run_cli(
        "crawl",
        str(SAMPLE_URLS),
        "--archive",
        pywb_archive,
        "--db",
        db,
        "--sample",
        "semiannual",
        *FAST,
    )
    assert r.code == 0, r.err
    store = open_store(db)
    try:
        from sqlalchemy import select

        from storage.models import Capture

        with store.engine.connect() as conn:
            rows = conn.execute(select(Capture.url_id, Capture.captured_at)).all()
        halves = [(uid, when.year, when.month <= 6) for uid, when in rows]
        assert len(halves) == len(set(halves)), "at most one capture per URL and half-year"
        assert 0 < len(rows) < response_count()
    finally:
        store.close()


def test_reextract_rebuilds_from_stored_snapshots_without_fetching(
    crawled: dict[str, object], tmp_path: Path
) -> None:
    import shutil

    from sqlalchemy import update

    from storage.models import Capture

    db_file = tmp_path / "copy.db"
    src = Path(str(crawled["db"]).removeprefix("sqlite:///"))
    store = open_store(str(crawled["db"]))
    store.close()  # checkpoints the WAL into the main file
    shutil.copy(src, db_file)
    db = f"sqlite:///{db_file}"
    store = open_store(db)
    try:
        before = {
            url: [v.text_hash for v in store.versions(store.find_policy(url) or 0)]
            for url in ["https://hily.com/privacypolicy", "https://badoo.com/privacy"]
        }
        # simulate an older normaliser having stored stale texts for one policy
        pid = store.find_policy("https://hily.com/privacypolicy")
        with store.engine.begin() as conn:
            conn.execute(
                update(Capture).where(Capture.policy_id == pid).values(normaliser_version="0")
            )
    finally:
        store.close()
    r = run_cli("reextract", "--db", db)
    assert r.code == 0, r.err
    hily_captures = 6
    assert f"re-extracted {crawled['counts']['fetched']} snapshots" in r.out  # type: ignore[index]
    assert f"{hily_captures} texts changed" in r.out
    store = open_store(db)
    try:
        after = {
            url: [v.text_hash for v in store.versions(store.find_policy(url) or 0)]
            for url in before
        }
        assert after == before  # same normaliser, same snapshots: the same versions again
        assert store.counts() == crawled["counts"]
    finally:
        store.close()


def test_progress_line_counts() -> None:
    from crawler.progress import BAR_WIDTH, progress_line

    stats = {
        "policytrail/urls_listed": 3,
        "policytrail/captures_seen": 40,
        "policytrail/to_fetch": 10,
        "policytrail/capture_fetched": 4,
        "policytrail/capture_failed": 1,
        "policytrail/skipped_digest": 7,
        "policytrail/error/timeout": 1,
    }
    line = progress_line(stats, 9, 2.0)
    half = "#" * (BAR_WIDTH // 2) + "-" * (BAR_WIDTH // 2)
    assert line == (
        f"3/9 listed | 40 captures | [{half}] 5/10 fetched | 7 skipped | 1 errors | 2.5/s"
    )
    assert "[" + "-" * BAR_WIDTH + "] 0/0" in progress_line({}, 0, 0.0)


def test_progress_on_a_terminal_and_summary_line(pywb_archive: str, tmp_path: Path) -> None:
    """On a terminal, stderr shows one line redrawn in place (\\r) ending on the final counts;
    piped, it shows nothing (the crawled fixture's runs have empty stderr)."""
    import os
    import pty
    import subprocess
    import sys
    import threading

    from tests.conftest import ROOT

    db = f"sqlite:///{tmp_path / 'tty.db'}"
    master, slave = pty.openpty()
    chunks: list[bytes] = []

    def drain() -> None:
        while True:
            try:
                data = os.read(master, 4096)
            except OSError:  # the terminal closed: the child is gone
                return
            if not data:
                return
            chunks.append(data)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "crawler.cli",
            "crawl",
            str(SAMPLE_URLS),
            "--archive",
            pywb_archive,
            "--db",
            db,
            *FAST,
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=slave,
        env={**os.environ, "POLICYTRAIL_PROGRESS_INTERVAL": "0.05"},
        timeout=300,
        check=False,
    )
    os.close(slave)
    reader.join(timeout=10)
    os.close(master)
    err = b"".join(chunks).decode("utf-8", "replace")
    out = proc.stdout.decode()
    assert proc.returncode == 0, err
    assert "\r" in err and "listed |" in err, err
    final = err.rstrip().split("\r")[-1]
    n = response_count()
    assert final.startswith(f"9/9 listed | {n} captures | [{'#' * 20}] "), final
    done = int(final.split("] ")[1].split("/")[0])
    assert f"] {done}/{done} fetched" in final  # the bar ends full
    store = open_store(db)
    try:
        assert done == store.counts()["fetched"] > 0  # every distinct capture, fetched once
    finally:
        store.close()
    assert f", {n} captures seen," in out and out.startswith("run ")  # the summary line


def test_piped_crawl_shows_no_progress(crawled: dict[str, object]) -> None:
    first = crawled["first"]
    assert "listed |" not in first.err and "\r" not in first.err  # type: ignore[attr-defined]
