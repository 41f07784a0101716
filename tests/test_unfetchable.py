"""Unfetchable captures: failures that fetching again cannot fix (too large, corrupt compression)
are stored in a final state, never become versions, do not hold the URL's cursor back, and are
fetched again only when asked (``--retry-unfetchable``). The end-to-end behaviour against a real
pywb archive behind a fault proxy is in ``tests/test_faults.py``; these check the pieces on a real
database (SQLite and PostgreSQL)."""

from __future__ import annotations

import gzip
import subprocess
import sys
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from scrapy.exceptions import DownloadCancelledError, DownloadTimeoutError, IgnoreRequest

from crawler.items import FetchedCapture, KnownCaptures, Target
from crawler.middlewares import RETRYABLE, UNFETCHABLE, failed_state, failure_kind
from crawler.pipelines import store_fetched, store_known
from diffing.records import CaptureRef
from storage import Store, open_store
from storage.reportdata import capture_quality
from storage.repository import FetchResult
from tests.conftest import ROOT
from tests.test_storage import FakeAnalyser, doc

URL = "https://a.org/privacy"
ARCHIVE = "http://archive"


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    s = open_store(db_url)
    yield s
    s.close()


def ref(ts: str, digest: str = "") -> CaptureRef:
    return CaptureRef(URL, ts, digest or f"D{ts}", 200, "text/html")


def fetched(store: Store, t: Target, ts: str, text: str, digest: str = "") -> None:
    store.save_fetch(
        FetchResult(
            t.policy_id, t.url_id, ref(ts, digest), ARCHIVE, "fetched",
            body=text.encode(), document=doc(text),
        )
    )  # fmt: skip


def failed(store: Store, t: Target, ts: str, error: str, digest: str = "") -> str:
    item = FetchedCapture(
        t, ref(ts, digest), ARCHIVE, failed_state(error.split(":")[0]), error=error
    )
    return store_fetched(store, item, None)


def target(store: Store) -> Target:
    tracked = store.track([URL], ARCHIVE)[0]
    return Target(tracked.policy_id, tracked.url_id, tracked.url)


def test_only_deterministic_kinds_are_unfetchable() -> None:
    assert failure_kind(DownloadCancelledError("over DOWNLOAD_MAXSIZE")) == "too-large"
    assert failure_kind(IgnoreRequest("Ignored response as it exceeds DOWNLOAD_MAXSIZE")) == (
        "too-large"
    )
    assert failure_kind(zlib.error("invalid block type")) == "corrupt-compression"
    assert failure_kind(gzip.BadGzipFile("not gzipped")) == "corrupt-compression"
    assert failed_state("too-large") == failed_state("corrupt-compression") == "unfetchable"
    assert failed_state(failure_kind(DownloadTimeoutError())) == "failed"
    for kind in (*RETRYABLE, "http-503", "http-429", "http-404", "not-a-memento", "error"):
        assert failed_state(kind) == "failed", kind
    assert not UNFETCHABLE & RETRYABLE


def test_unfetchable_is_final_never_a_version_and_does_not_hold_the_cursor(store: Store) -> None:
    t = target(store)
    fetched(store, t, "20200101000000", "A text")
    assert failed(store, t, "20200201000000", "too-large: 20000000 bytes") == "unfetchable"
    assert failed(store, t, "20200301000000", "corrupt-compression: bad gzip") == "unfetchable"
    fetched(store, t, "20200401000000", "B text")
    # a normal run: unfetchable captures count as stored, so they are not fetched again
    assert store.stored_timestamps(t.url_id) == {
        "20200101000000", "20200201000000", "20200301000000", "20200401000000",
    }  # fmt: skip
    # --retry-unfetchable: they are to fetch, listed again from the oldest of them
    assert store.stored_timestamps(t.url_id, retry_unfetchable=True) == {
        "20200101000000", "20200401000000",
    }  # fmt: skip
    assert store.oldest_unfetchable(t.url_id) == "20200201000000"
    assert store.unfetchable_digests(t.policy_id) == {
        "D20200201000000": "too-large", "D20200301000000": "corrupt-compression",
    }  # fmt: skip
    # they do not hold the cursor back (a failed capture does)
    assert store.advance_cursor(t.url_id, "20200401000000") == "20200401000000"
    res = store.rebuild_versions(t.policy_id, FakeAnalyser())
    versions = store.versions(t.policy_id)
    assert res.versions_added == 2
    assert [(v.first_timestamp, v.last_timestamp) for v in versions] == [
        ("20200101000000", "20200101000000"),
        ("20200401000000", "20200401000000"),
    ]
    # the report counts them as a capture problem of their own
    quality = capture_quality(store)[t.policy_id]
    assert quality.problems() == {"unfetchable": 2}
    assert store.summaries()[0].problems == {"not-fetched": 2}


def test_a_failed_capture_still_holds_the_cursor_and_is_retried(store: Store) -> None:
    t = target(store)
    assert failed(store, t, "20200201000000", "http-503: archive answered HTTP 503") == "failed"
    assert failed(store, t, "20200301000000", "timeout: took too long") == "failed"
    assert store.stored_timestamps(t.url_id) == set()
    assert store.advance_cursor(t.url_id, "20200401000000") == "20200201000000"
    assert capture_quality(store)[t.policy_id].problems() == {"fetch failed": 2}


def test_a_retried_unfetchable_capture_is_replaced_by_what_the_retry_gets(store: Store) -> None:
    t = target(store)
    failed(store, t, "20200201000000", "too-large: 20000000 bytes", digest="BIG")
    failed(store, t, "20200301000000", "too-large: 20000000 bytes", digest="BIG2")
    # the retry fetches one (a larger DOWNLOAD_MAXSIZE), the other fails for a passing reason
    fetched(store, t, "20200201000000", "A text", digest="BIG")
    assert failed(store, t, "20200301000000", "timeout: took too long", digest="BIG2") == "failed"
    assert store.stored_timestamps(t.url_id) == {"20200201000000"}
    assert store.oldest_unfetchable(t.url_id) is None
    assert store.advance_cursor(t.url_id, "20200401000000") == "20200301000000"
    assert store.rebuild_versions(t.policy_id, FakeAnalyser()).versions_added == 1


def test_captures_sharing_an_unfetchable_digest_are_unfetchable_without_a_fetch(
    store: Store,
) -> None:
    t = target(store)
    siblings = [ref("20200202000000", "BIG")]
    item = FetchedCapture(
        t, ref("20200201000000", "BIG"), ARCHIVE, "unfetchable",
        error="too-large: 20000000 bytes", siblings=siblings,
    )  # fmt: skip
    assert store_fetched(store, item, None) == "unfetchable"
    # a later CDX row with the same digest (in this run or a later one): the same bytes
    store_known(store, KnownCaptures(t, ARCHIVE, [ref("20200203000000", "BIG")]), None)
    # a sibling of a fetch that failed for a passing reason is failed, retried next run
    transient = FetchedCapture(
        t, ref("20200301000000", "SLOW"), ARCHIVE, "failed", error="timeout: took too long",
        siblings=[ref("20200302000000", "SLOW")],
    )  # fmt: skip
    store_fetched(store, transient, None)
    quality = capture_quality(store)[t.policy_id]
    assert quality.states == {"unfetchable": 3, "failed": 2}
    assert store.stored_timestamps(t.url_id) == {
        "20200201000000", "20200202000000", "20200203000000",
    }  # fmt: skip
    assert store.unfetchable_digests(t.policy_id) == {"BIG": "too-large"}


@pytest.mark.e2e
def test_the_way_back_with_a_larger_download_maxsize(pywb_archive: str, tmp_path: Path) -> None:
    """As README documents it: captures over a (here tiny) DOWNLOAD_MAXSIZE end unfetchable; the
    spider run through Scrapy with the limit raised and ``retry_unfetchable`` fetches them."""
    url = "https://hily.com/privacypolicy"
    urls = tmp_path / "urls.txt"
    urls.write_text(url + "\n")
    db = f"sqlite:///{tmp_path / 'p.db'}"

    def scrapy_crawl(*extra: str) -> None:
        proc = subprocess.run(
            [str(Path(sys.executable).parent / "scrapy"), "crawl", "policies",
             "-a", f"urls={urls}", "-a", f"archive={pywb_archive}", "-a", f"db={db}",
             "-s", "POLICYTRAIL_CDX_PER_MINUTE=1200", "-s", "POLICYTRAIL_REPLAY_PER_SECOND=100",
             "-s", "LOG_LEVEL=WARNING", *extra],
            cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr[-2000:]

    def states() -> dict[str, int]:
        store = open_store(db)
        try:
            return dict(capture_quality(store)[store.find_policy(url) or 0].states)
        finally:
            store.close()

    scrapy_crawl("-s", "DOWNLOAD_MAXSIZE=50000", "-s", "DOWNLOAD_WARNSIZE=40000")
    # five of its six captures are over 50 kB (the last one is 180 bytes)
    assert states() == {"unfetchable": 5, "fetched": 1}
    scrapy_crawl()  # the default limit, not asked to retry: nothing is fetched again
    assert states() == {"unfetchable": 5, "fetched": 1}
    scrapy_crawl("-a", "retry_unfetchable=1")
    assert states() == {"fetched": 6}


def test_the_way_back_through_the_command_line(pywb_archive: str, tmp_path: Path) -> None:
    """As README documents it for users: POLICYTRAIL_DOWNLOAD_MAXSIZE sets the limit of
    ``policytrail crawl``, and ``--retry-unfetchable`` with a larger one fetches them."""
    from tests.conftest import FAST, run_cli

    url = "https://hily.com/privacypolicy"
    urls = tmp_path / "urls.txt"
    urls.write_text(url + "\n")
    db = f"sqlite:///{tmp_path / 'p.db'}"
    crawl = ["crawl", str(urls), "--archive", pywb_archive, "--db", db, *FAST]

    def states() -> dict[str, int]:
        store = open_store(db)
        try:
            return dict(capture_quality(store)[store.find_policy(url) or 0].states)
        finally:
            store.close()

    small = {"POLICYTRAIL_DOWNLOAD_MAXSIZE": "50000"}
    r = run_cli(*crawl, env=small)
    assert r.code == 0 and "unfetchable" in r.out, r.err
    assert states() == {"unfetchable": 5, "fetched": 1}
    r = run_cli(*crawl, "--retry-unfetchable", env=small)  # the same limit: unfetchable again
    assert r.code == 0, r.err
    assert states() == {"unfetchable": 5, "fetched": 1}
    r = run_cli(*crawl, "--retry-unfetchable")  # the default 16 MiB
    assert r.code == 0, r.err
    assert states() == {"fetched": 6}
