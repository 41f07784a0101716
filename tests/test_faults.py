"""Faults between the crawler and a real pywb archive, injected by a local proxy (tests/faultproxy).

One faulty crawl carries every fault at once, each on its own capture of three sample policies
(18 captures, all with distinct digests), then a second crawl runs with the faults gone. Each
fault is checked on its own capture: what the faulty run stored and how many requests it made
(bounded: never a loop), the error kind the run history names, and that after the recovery run
the database equals a clean crawl's: same captures and states, same version texts, same changes,
nothing lost and nothing twice. Captures that fetching again cannot fix (too large, corrupt
compression) are ``unfetchable``: the recovery run does not ask for them at all, and their URL's
cursor moves past them; a third run with ``--retry-unfetchable`` fetches each of them once more,
after which the database equals a clean crawl's.
"""

from __future__ import annotations

import itertools
import json
import re
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from storage import open_store
from storage.models import Capture, PolicyUrl, Version
from tests.conftest import FAST, Result, run_cli
from tests.faultproxy import FaultProxy, Logged

pytestmark = pytest.mark.e2e

SUBSET = [
    "https://hily.com/privacypolicy",
    "https://www.finya.de/Legal/privacy/",
    "https://uk.match.com/pages/misc/privacy",
]
# short timeouts and retry back-off keep the test fast (the crawler reads these from the env)
ENV = {"POLICYTRAIL_DOWNLOAD_TIMEOUT": "2", "POLICYTRAIL_RETRY_BACKOFF_SECONDS": "0.1"}
RETRY_TIMES = 3  # crawler.settings


@dataclass(frozen=True)
class Case:
    name: str
    url: str
    index: int  # which capture of the URL (in time order)
    kind: str  # the fault (tests.faultproxy)
    times: int | None  # None: the fault persists through the whole first run
    state: str  # the capture's state after the faulty run
    error: str | None = None  # the error kind the run names when the capture failed
    retried: str | None = None  # the retry kind counted in the stats
    requests: int = 1  # requests the faulty run makes for this capture
    # Twisted's connection pool itself resends a request once when a reused keep-alive connection
    # dies before answering (a reset): up to this many more, still bounded
    resent: int = 0
    charset: str = "iso-8859-1"  # what a wrong-charset header claims (the pages are UTF-8)


HILY, FINYA, MATCH = SUBSET
PERSISTENT = 1 + RETRY_TIMES
CASES = [
    Case("503-persistent", HILY, 0, "503", None, "failed", "http-503", "http-503", PERSISTENT),
    Case("503-recovers", HILY, 1, "503", 2, "fetched", None, "http-503", 3),
    Case(
        "reset-persistent",
        HILY,
        2,
        "reset",
        None,
        "failed",
        "connection-lost",
        "connection-lost",
        PERSISTENT,
        resent=PERSISTENT,
    ),
    Case("reset-recovers", HILY, 3, "reset", 1, "fetched", None, None, 2, resent=1),
    Case("timeout-persistent", HILY, 4, "hang", None, "failed", "timeout", "timeout", PERSISTENT),
    Case("timeout-recovers", HILY, 5, "hang", 1, "fetched", None, "timeout", 2),
    Case("wrong-charset", FINYA, 0, "wrong-charset", None, "fetched"),
    Case("truncated", FINYA, 1, "truncate", None, "failed", "truncated", "truncated", PERSISTENT),
    Case("truncated-recovers", FINYA, 2, "truncate", 1, "fetched", None, "truncated", 2),
    # unfetchable (final): not retried in the run, nor fetched again by the next run
    Case("corrupt-gzip", FINYA, 3, "corrupt-gzip", None, "unfetchable", "corrupt-compression"),
    Case("20MB-page", FINYA, 4, "huge", None, "unfetchable", "too-large"),
    Case("429-no-retry-after", FINYA, 5, "429", 1, "fetched", requests=2),
    Case("20MB-streamed", MATCH, 1, "huge-stream", None, "unfetchable", "too-large"),
    # no <meta charset> in this page: only the (wrong) header declares one
    Case(
        "wrong-charset-multibyte", MATCH, 2, "wrong-charset", None, "fetched", charset="shift_jis"
    ),
]


def stored_state(db: str) -> dict[str, Any]:
    """Everything a crawl stored that must not depend on how it got there: per URL its captures
    (timestamp, state, text hash), per policy its versions' text hashes, and the row counts."""
    store = open_store(db)
    try:
        with Session(store.engine) as s:
            rows = s.execute(
                select(PolicyUrl.url, Capture.timestamp, Capture.state, Capture.text_hash)
                .join(PolicyUrl, PolicyUrl.id == Capture.url_id)
                .order_by(PolicyUrl.url, Capture.timestamp)
            ).all()
            dupes = s.execute(
                select(Capture.url_id, Capture.timestamp)
                .group_by(Capture.url_id, Capture.timestamp)
                .having(func.count() > 1)
            ).all()
            n_versions = s.scalar(select(func.count()).select_from(Version))
        captures: dict[str, list[tuple[str, str, str | None]]] = {}
        for url, ts, state, text_hash in rows:
            captures.setdefault(url, []).append((ts, state, text_hash))
        versions: dict[str, list[str]] = {}
        changes: dict[str, list[str]] = {}
        for url in captures:
            pid = store.find_policy(url)
            assert pid is not None
            versions[url] = [v.text_hash for v in store.versions(pid)]
            changes[url] = [f"{c.from_seq}->{c.to_seq} {c.kind}" for c in store.changes(pid)]
        return {
            "captures": captures,
            "versions": versions,
            "changes": changes,
            "duplicate_rows": dupes,
            "n_versions": n_versions,
            "counts": store.counts(),
        }
    finally:
        store.close()


def last_run(db: str) -> dict[str, Any]:
    store = open_store(db)
    try:
        run = store.runs(1)[0]
        return {"status": run.status, **(run.stats or {})}
    finally:
        store.close()


def capture_times(archive: str, url: str) -> list[str]:
    with urllib.request.urlopen(f"{archive}/cdx?url={url}&output=json", timeout=30) as resp:
        rows = [json.loads(line) for line in resp.read().decode().splitlines() if line.strip()]
    return sorted(r["timestamp"] for r in rows)


def crawl(urls: Path, base: str, db: str, cwd: Path, *extra: str) -> Result:
    return run_cli(
        "crawl", str(urls), "--archive", base, "--db", db, "--backoff", "1", *FAST,
        "--log-level", "INFO", *extra, cwd=cwd, env=ENV,
    )  # fmt: skip


@dataclass
class Outcome:
    ref: dict[str, Any]
    first: Result
    after_first: dict[str, Any]
    run1: dict[str, Any]
    log: dict[str, list[Logged]]  # case name -> the requests for its capture
    cdx_answers: list[str]
    second: Result
    after_second: dict[str, Any]
    run2: dict[str, Any]
    times: dict[str, list[str]]
    log2: dict[str, list[Logged]]  # the recovery run's requests, per case
    cdx2: list[str]  # the recovery run's CDX queries of uk.match.com (paths)
    third: Result  # a run with --retry-unfetchable
    after_third: dict[str, Any]
    run3: dict[str, Any]
    log3: dict[str, list[Logged]]
    cdx3: list[str]


CDX_MATCH = r"/cdx\?url=https%3A%2F%2Fuk\.match\.com"


def replay_pattern(url: str, ts: str) -> str:
    return re.escape(f"/{ts}id_/{url}") + "$"


@pytest.fixture(scope="module")
def outcome(pywb_archive: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Outcome]:
    work = tmp_path_factory.mktemp("faults")
    urls = work / "urls.txt"
    urls.write_text("\n".join(SUBSET) + "\n")
    times = {u: capture_times(pywb_archive, u) for u in SUBSET}
    assert all(len(t) == 6 for t in times.values()), times
    proxy = FaultProxy(pywb_archive, hang_seconds=20)
    base = proxy.start()
    try:
        ref_db = f"sqlite:///{work / 'clean.db'}"
        clean = crawl(urls, base, ref_db, work)
        assert clean.code == 0, clean.err
        ref = stored_state(ref_db)

        proxy.clear()
        for c in CASES:
            pattern = replay_pattern(c.url, times[c.url][c.index])
            proxy.add(pattern, c.kind, c.times, charset=c.charset)
        proxy.add(CDX_MATCH, "503", 1)  # the CDX query of one URL fails once
        db = f"sqlite:///{work / 'faulty.db'}"
        first = crawl(urls, base, db, work)
        after_first = stored_state(db)
        run1 = last_run(db)
        log = {c.name: proxy.requests(replay_pattern(c.url, times[c.url][c.index])) for c in CASES}
        cdx_answers = [e.answer for e in proxy.requests(CDX_MATCH)]

        def case_log() -> dict[str, list[Logged]]:
            return {
                c.name: proxy.requests(replay_pattern(c.url, times[c.url][c.index])) for c in CASES
            }

        proxy.clear()  # the archive is healthy again
        second = crawl(urls, base, db, work)
        after_second, run2, log2 = stored_state(db), last_run(db), case_log()
        cdx2 = [e.path for e in proxy.requests(CDX_MATCH)]
        proxy.clear()
        third = crawl(urls, base, db, work, "--retry-unfetchable")
        yield Outcome(
            ref, first, after_first, run1, log, cdx_answers, second, after_second, run2, times,
            log2, cdx2, third, stored_state(db), last_run(db), case_log(),
            [e.path for e in proxy.requests(CDX_MATCH)],
        )  # fmt: skip
    finally:
        proxy.stop()


def test_the_faulty_crawl_finishes_as_partial_and_names_every_fault(outcome: Outcome) -> None:
    assert outcome.first.code == 0, outcome.first.err  # partial is a finished run: exit 0
    assert outcome.run1["status"] == "partial"
    assert "Traceback" not in outcome.first.err
    expected: dict[str, int] = {}
    for c in CASES:
        if c.error:
            expected[c.error] = expected.get(c.error, 0) + 1
    assert outcome.run1["errors"] == expected
    for kind, n in expected.items():
        assert f"errors[{kind}] = {n}" in outcome.first.out
    unfetchable = sum(1 for c in CASES if c.state == "unfetchable")
    assert outcome.run1["unfetchable"] == unfetchable
    assert f"({unfetchable} unfetchable: not fetched again)" in outcome.first.out


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_fault(outcome: Outcome, case: Case) -> None:
    ts = outcome.times[case.url][case.index]
    answered = [e.answer for e in outcome.log[case.name]]
    assert case.requests <= len(answered) <= case.requests + case.resent, answered
    (row,) = [r for r in outcome.after_first["captures"][case.url] if r[0] == ts]
    assert row[1] == case.state, row
    ref_row = next(r for r in outcome.ref["captures"][case.url] if r[0] == ts)
    if case.state == "fetched":
        assert row == ref_row, "the text differs from a clean crawl's"
    else:
        assert row[2] is None
    if case.retried:
        assert outcome.run1["retried"].get(case.retried, 0) >= 1
    # after the recovery run the capture is the clean crawl's, unless it is unfetchable
    (final,) = [r for r in outcome.after_second["captures"][case.url] if r[0] == ts]
    assert final == ((ts, "unfetchable", None) if case.state == "unfetchable" else ref_row)
    # after the run with --retry-unfetchable every capture is the clean crawl's
    (final,) = [r for r in outcome.after_third["captures"][case.url] if r[0] == ts]
    assert final == ref_row


def test_a_failing_cdx_query_is_retried(outcome: Outcome) -> None:
    assert outcome.cdx_answers[:2] == ["503", "200"]
    assert outcome.run1["retried"]["http-503"] >= 1


def _unfetchable(outcome: Outcome) -> set[tuple[str, str]]:
    return {(c.url, outcome.times[c.url][c.index]) for c in CASES if c.state == "unfetchable"}


def test_the_recovery_run_refetches_failed_captures_only(outcome: Outcome) -> None:
    assert outcome.second.code == 0, outcome.second.err
    assert outcome.run2["status"] == "ok"
    assert outcome.run2["errors"] == {}
    got, ref = outcome.after_second, outcome.ref
    assert got["duplicate_rows"] == []
    unfetchable = _unfetchable(outcome)

    def others(captures: dict[str, list[tuple[str, str, str | None]]]) -> dict[str, Any]:
        return {u: [r for r in c if (u, r[0]) not in unfetchable] for u, c in captures.items()}

    assert others(got["captures"]) == others(ref["captures"])
    # only the captures that failed were fetched again: unfetchable ones were not even asked for
    failed = sum(1 for c in CASES if c.state == "failed")
    assert outcome.run2["fetched"] == failed
    for c in CASES:
        if c.state == "unfetchable":
            assert outcome.log2[c.name] == [], c.name
        elif c.state == "failed":  # a transient failure (a 503 through every retry...) is retried
            assert [e.answer for e in outcome.log2[c.name]] == ["200"], c.name


def test_unfetchable_captures_do_not_hold_the_cursor_back(outcome: Outcome) -> None:
    """uk.match.com has one unfetchable capture (index 1) and no failed one: the recovery run
    lists it from its newest capture on; the run with --retry-unfetchable from that capture."""
    times = outcome.times[MATCH]

    def from_ts(paths: list[str]) -> list[str]:
        return [parse_qs(urlsplit(p).query).get("from", [""])[0] for p in paths]

    assert from_ts(outcome.cdx2) == [times[5]]
    assert from_ts(outcome.cdx3) == [times[1]]


def test_retry_unfetchable_fetches_each_once_and_equals_a_clean_crawl(outcome: Outcome) -> None:
    assert outcome.third.code == 0, outcome.third.err
    assert outcome.run3["status"] == "ok", outcome.third.out
    assert outcome.run3["errors"] == {}
    for c in CASES:
        expected = ["200"] if c.state == "unfetchable" else []
        assert [e.answer for e in outcome.log3[c.name]] == expected, c.name
    assert outcome.run3["fetched"] == len(_unfetchable(outcome))
    got, ref = outcome.after_third, outcome.ref
    assert got["duplicate_rows"] == []
    assert got["captures"] == ref["captures"]
    assert got["versions"] == ref["versions"]
    assert got["changes"] == ref["changes"]
    assert got["counts"] == ref["counts"]


def test_retries_back_off(outcome: Outcome) -> None:
    """Each retry waits the back-off (0.1 s here), doubling: 0.1, 0.2, 0.4 s."""
    backoff = float(ENV["POLICYTRAIL_RETRY_BACKOFF_SECONDS"])
    at = [e.at for e in outcome.log["503-persistent"]]
    gaps = [b - a for a, b in itertools.pairwise(at)]
    assert len(gaps) == RETRY_TIMES
    for i, gap in enumerate(gaps):
        assert gap >= backoff * 2**i * 0.9, gaps
