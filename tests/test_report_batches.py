"""The reading side in batches of policies: a report, the exports, the feeds and ``changes`` read
the corpus a few policies at a time and give the same files (byte for byte) whatever the batch
size; no more than a batch of changes is held at a time; the corpus-wide half-year figures
accumulated a policy at a time equal those computed over everything at once. Real
SQLite and PostgreSQL (the queries that read a batch, and the streaming cursor of ``changes``)."""

from __future__ import annotations

import gc
import hashlib
import io
import json
import random
import re
import statistics
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import redirect_stdout
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from crawler import reporting
from crawler.cli_reports import print_changes
from crawler.export import export
from crawler.feeds import write_feeds
from crawler.reporting import load_corpus, write_report
from diffing import report as r
from diffing.analysis import TextAnalyser
from diffing.records import CaptureRef, Document
from storage import Store, open_store
from storage.repository import ChangeRow, FetchResult

POLICIES = 48
BATCH = 5  # ten batches

BASE = (
    "# Privacy policy\n\nThis policy explains how Example Inc. handles information about you "
    "when you use our website and services.\n\n"
)
CLAUSES = [
    "We share your personal information with third-party advertising partners and Google.",
    "We collect your email address, your location and your browsing history.",
    "You can opt out of marketing emails at any time by clicking unsubscribe.",
    "We retain your personal data for 90 days after you close your account.",
    "We use encryption to protect your data in transit and at rest.",
    "You may request access to and deletion of the personal data we hold about you.",
    "We will notify you by email of any material change to this policy.",
    "Our services are not directed to children under 13.",
    "We honour Do Not Track signals sent by your browser.",
    "We sell aggregated data to data brokers for market research.",
]
STAMPS = ["20190115000000", "20190820000000", "20200310000000", "20201105000000", "20210601000000"]


def _text(policy: int, capture: int) -> str:
    """Policy ``policy``'s text at its ``capture``-th capture: a base, a stated date and a few
    clauses that change from one capture to the next (some captures repeat the last text)."""
    if capture % 4 == 3 and policy % 3 == 0:
        capture -= 1  # unchanged: no new version
    picks = [CLAUSES[(policy + capture * k) % len(CLAUSES)] for k in range(1, 4)]
    if policy % 5 == 0 and capture:
        picks.append(CLAUSES[0])  # adds sharing
    month = ["January", "March", "June", "September", "December"][(policy + capture) % 5]
    return (
        BASE
        + f"Last updated: {month} {1 + policy % 27}, {2018 + capture}.\n\n"
        + "\n\n".join(picks)
        + f"\n\nContact privacy{policy}@example.com.\n"
    )


def build(db_url: str, policies: int = POLICIES) -> Store:
    """A corpus of ``policies`` policies through the store's own writes and rebuild: 3-5
    captures each (the last policy none at all, every seventh a failed fetch too)."""
    store = open_store(db_url)
    analyser = TextAnalyser()
    targets = store.track([f"https://p{i:03d}.example/privacy" for i in range(policies)])
    for i, t in enumerate(targets):
        if i == policies - 1:
            break
        for k in range(3 + i % 3):
            text = _text(i, k)
            doc = Document(
                text, f"Privacy {i}", "en", "test", hashlib.sha256(text.encode()).hexdigest()
            )
            ts = STAMPS[k]
            store.save_fetch(
                FetchResult(
                    t.policy_id,
                    t.url_id,
                    CaptureRef(t.url, ts, f"D{i}-{k}", 200, "text/html"),
                    "https://web.archive.org",
                    "fetched",
                    body=f"<html><body>{text}</body></html>".encode(),
                    content_type="text/html",
                    document=doc,
                )
            )
        if i % 7 == 0:
            store.save_fetch(
                FetchResult(
                    t.policy_id,
                    t.url_id,
                    CaptureRef(t.url, "20220101000000", f"F{i}", 200, "text/html"),
                    "https://web.archive.org",
                    "failed",
                    error="timeout",
                )
            )
        store.rebuild_versions(t.policy_id, analyser)
    return store


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def corpus_store(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Store]:
    """The corpus on SQLite and on a real PostgreSQL server (as ``db_url``), built once per
    module: the tests only read it."""
    if request.param == "sqlite":
        db_url = f"sqlite:///{tmp_path_factory.mktemp('batches') / 'corpus.db'}"
    else:
        pg = request.getfixturevalue("postgres_server")
        pg.reset()
        db_url = str(pg.url)
    store = build(db_url)
    try:
        yield store
    finally:
        store.close()


GENERATED = [
    (re.compile(rb"Generated \d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC"), b"Generated -"),
    (re.compile(rb'^\{"generated":"[^"]*"'), b'{"generated":"-"'),
]


def tree(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` by relative path, the generation time masked."""
    out = {}
    for p in sorted(root.rglob("*")):
        if p.is_file():
            data = p.read_bytes()
            for pattern, repl in GENERATED:
                data = pattern.sub(repl, data)
            out[str(p.relative_to(root))] = data
    return out


def alive_changes() -> int:
    return sum(1 for o in gc.get_objects() if type(o) is ChangeRow)


def spy_on_batches(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int]]:
    """Record, for each batch ``Store.changes_of`` reads: the changes alive just before it is
    read (what the reader still holds of earlier batches) and the batch's policies."""
    seen: list[tuple[int, int]] = []
    real = Store.changes_of

    def spy(self: Store, policy_ids: Any) -> list[ChangeRow]:
        seen.append((alive_changes(), len(policy_ids)))
        return real(self, policy_ids)

    monkeypatch.setattr(Store, "changes_of", spy)
    return seen


def test_report_exports_and_feeds_in_batches_equal_one_batch(
    corpus_store: Store, tmp_path: Path
) -> None:
    store = corpus_store
    total = store.counts()
    assert total["policies"] == POLICIES and total["changes"] > 2 * POLICIES  # a real corpus
    runs: dict[str, Callable[[Path, int], object]] = {
        "report": lambda out, b: write_report(store, out, corpus=load_corpus(store, batch=b)),
        "feeds": lambda out, b: write_feeds(
            store, out, base_url="https://x.example/r", corpus=load_corpus(store, batch=b)
        ),
        "seed": lambda out, b: export(store, out, "seed-markdown", layout="princeton", batch=b),
        "jsonl": lambda out, b: export(store, out, "jsonl", batch=b),
        "csv": lambda out, b: export(store, out, "csv", batch=b),
    }
    for name, run in runs.items():
        one, many = tmp_path / f"{name}-one", tmp_path / f"{name}-many"
        run(one, POLICIES + 1)
        run(many, BATCH)
        a, b = tree(one), tree(many)
        assert a.keys() == b.keys(), name
        assert len(a) > POLICIES or name in ("jsonl", "csv"), name
        for rel in a:
            assert a[rel] == b[rel], f"{name}: {rel} differs between batch sizes"
    site = tree(tmp_path / "report-many")
    versions_csv = site["corpus/versions.csv"].decode().splitlines()
    assert len(versions_csv) == 1 + total["versions"]
    changes_json = json.loads(site["corpus/corpus.json"])["changes"]
    assert len(changes_json) == total["changes"]
    # the corpus feed holds the newest changes of every batch, not of the last one
    feed = site["feed.atom"].decode()
    assert feed.count("<entry>") == min(total["changes"], 100)


def test_a_second_report_in_batches_rewrites_nothing_and_removes_stale_pages(
    corpus_store: Store, tmp_path: Path
) -> None:
    store = corpus_store
    out = tmp_path / "site"
    write_report(store, out, corpus=load_corpus(store, batch=BATCH))
    stale = out / "0-gone" / "change-9.html"
    stale.parent.mkdir()
    stale.write_text("old", encoding="utf-8")
    manifest = json.loads((out / reporting.MANIFEST).read_text(encoding="utf-8"))
    manifest["pages"]["0-gone/change-9.html"] = "f" * 64
    (out / reporting.MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")
    pages = sorted(out.glob("*/change-*.html"))
    before = {p: p.stat().st_mtime_ns for p in pages if p != stale}
    write_report(store, out, corpus=load_corpus(store, batch=BATCH))
    assert not stale.exists()
    assert {p: p.stat().st_mtime_ns for p in before} == before  # nothing re-rendered


def test_a_run_failing_midway_keeps_the_files_of_the_last_good_run(
    corpus_store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The corpus files are streamed a batch at a time: a report or an export that fails after
    some batches leaves the files of the run before whole (no half-written file, no leftover
    temporary one)."""
    store = corpus_store
    site, csvs = tmp_path / "site", tmp_path / "csv"
    write_report(store, site, corpus=load_corpus(store, batch=BATCH))
    export(store, csvs, "csv", batch=BATCH)
    kept = {"site": tree(site), "csv": tree(csvs)}
    real = Store.changes_of
    calls = 0

    def fails_later(self: Store, policy_ids: Any) -> list[ChangeRow]:
        nonlocal calls
        calls += 1
        if calls == 3:  # rows of two batches are written by then
            raise RuntimeError("the database went away")
        return real(self, policy_ids)

    monkeypatch.setattr(Store, "changes_of", fails_later)
    for name, run in (
        ("site", lambda: write_report(store, site, corpus=load_corpus(store, batch=BATCH))),
        ("csv", lambda: export(store, csvs, "csv", batch=BATCH)),
    ):
        calls = 0
        with pytest.raises(RuntimeError, match="went away"):
            run()
        assert calls == 3
        root = site if name == "site" else csvs
        assert not list(root.rglob("*.part")), f"{name}: a temporary file was left"
        got = tree(root)
        for rel in (
            ("corpus/versions.csv", "corpus/changes.csv", "corpus/corpus.json")
            if (name == "site")
            else ("versions.csv", "changes.csv")
        ):
            assert got[rel] == kept[name][rel], f"{name}: {rel} was cut short"


def test_the_readers_hold_one_batch_of_changes_at_a_time(
    corpus_store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = corpus_store
    total = store.counts()["changes"]
    per_policy = max(len(c) for c in _changes_by_policy(store).values())
    batch_changes = BATCH * per_policy
    seen = spy_on_batches(monkeypatch)
    gc.collect()
    floor = alive_changes()  # none expected; anything else alive is not the reader's
    export(store, tmp_path / "jsonl", "jsonl", batch=BATCH)
    write_feeds(store, tmp_path / "feeds", limit=3, corpus=load_corpus(store, batch=BATCH))
    write_report(store, tmp_path / "site", corpus=load_corpus(store, batch=BATCH))
    sizes = [BATCH] * (POLICIES // BATCH) + ([POLICIES % BATCH] if POLICIES % BATCH else [])
    batches = len(sizes)
    assert [n for _, n in seen] == sizes * 3  # one read per batch, per reader
    export_seen, feeds_seen, report_seen = (
        seen[:batches],
        seen[batches : 2 * batches],
        seen[2 * batches :],
    )
    # before each batch is read, at most the previous batch's last policy is still held
    for alive, _n in export_seen:
        assert alive - floor <= per_policy
    for alive, _n in feeds_seen:  # ... and the newest 3 for the corpus feed
        assert alive - floor <= per_policy + 3
    for alive, _n in report_seen:  # ... and the corpus feed's newest 100
        assert alive - floor <= per_policy + 100
    assert total > 100 + batch_changes  # else the bounds above would prove nothing
    assert max(a for a, _ in export_seen) - floor < batch_changes


def _changes_by_policy(store: Store) -> dict[int, list[ChangeRow]]:
    out: dict[int, list[ChangeRow]] = {}
    for c in store.changes():
        out.setdefault(c.policy_id, []).append(c)
    return out


def test_iter_changes_streams_what_changes_returns(corpus_store: Store) -> None:
    store = corpus_store
    pid = store.changes()[0].policy_id
    since = datetime(2020, 1, 1, tzinfo=UTC)
    for args in [
        (None, None, None),
        (pid, None, None),
        (None, since, None),
        (None, None, "Third Party Sharing/Collection"),
        (None, since, "Data Retention"),
        (pid, since, "First Party Collection/Use"),
    ]:
        want = store.changes(*args)
        gc.collect()
        floor = alive_changes()
        held = []
        got = []
        for k, c in enumerate(store.iter_changes(*args, batch=7)):
            if k % 7 == 0:  # a batch was just read: the most held
                held.append(alive_changes() - floor)
            got.append((c.id, c.policy_id, c.to_seq, c.not_after, c.clauses))
        assert got == [(c.id, c.policy_id, c.to_seq, c.not_after, c.clauses) for c in want]
        # this loop keeps tuples, not rows: the iterator holds its batch, not every change
        assert max(held, default=0) <= 7 + 1  # a batch, and the caller's last row
    assert len(store.changes()) > 7 * 10


@pytest.mark.parametrize("fmt", ["json", "csv", "table"])
def test_changes_printed_as_they_stream_equal_the_whole_list(corpus_store: Store, fmt: str) -> None:
    """``changes``' output written a change at a time equals what the list gave at once."""
    from crawler.cli_reports import _change_record

    store = corpus_store
    for args in [(None, None, None), (None, None, "no such category")]:
        rows = store.changes(*args)
        buf = io.StringIO()
        with redirect_stdout(buf):
            print_changes(fmt, store.iter_changes(*args, batch=4))
        if fmt == "json":
            assert (
                buf.getvalue()
                == json.dumps([_change_record(c) for c in rows], indent=2, ensure_ascii=False)
                + "\n"
            )
        else:
            lines = buf.getvalue().splitlines()
            assert len(lines) == 1 + (1 if fmt == "csv" else 2) * len(rows)


def _facts(rng: random.Random) -> list[r.VersionFacts]:
    zones = [UTC, timezone(timedelta(hours=5)), timezone(timedelta(hours=-7))]
    t = datetime(2017, 1, 1, tzinfo=UTC) + timedelta(days=rng.randrange(0, 2000))
    out = []
    for _ in range(rng.randrange(0, 5)):
        first = t.astimezone(rng.choice(zones))
        t += timedelta(days=rng.randrange(0, 400), hours=rng.randrange(0, 24))
        last = t.astimezone(rng.choice(zones))
        out.append(
            r.VersionFacts(
                first, last, rng.randrange(100, 130), rng.random() < 0.4, rng.random() < 0.3
            )
        )
        t += timedelta(days=rng.randrange(1, 200))
    return out


def reference_corpus_stats(
    versions: Mapping[int, Sequence[r.VersionFacts]],
    changes: Sequence[tuple[datetime, bool]],
) -> list[r.HalfYearStats]:
    """``diffing.report.corpus_stats`` the plain way, over the whole corpus at once (what it
    computed before it tallied a policy at a time): the reference its figures must equal."""
    times = [v.first_seen for vs in versions.values() for v in vs] + [c[0] for c in changes]
    if not times:
        return []
    (y0, h0), (y1, h1) = r.half_year(min(times)), r.half_year(max(times))
    out = []
    year, half = y0, h0
    while (year, half) <= (y1, h1):
        start, end = r._half_bounds(year, half)
        current: list[r.VersionFacts] = []
        for vs in versions.values():
            if not vs or vs[0].first_seen >= end or max(v.last_seen for v in vs) < start:
                continue
            current.append([v for v in vs if v.first_seen < end][-1])
        seen = [adds for when, adds in changes if start <= when < end]
        n = len(current)
        out.append(
            r.HalfYearStats(
                f"{year}-H{half}",
                n,
                statistics.median(v.words for v in current) if n else None,
                sum(v.gdpr for v in current) / n if n else None,
                sum(v.ccpa for v in current) / n if n else None,
                len(seen),
                sum(seen),
            )
        )
        year, half = (year, 2) if half == 1 else (year + 1, 1)
    return out


def test_half_year_tally_equals_corpus_stats() -> None:
    """The figures accumulated a policy and a change at a time equal those of the whole
    corpus at once (medians of odd and even counts, time zones near half-year bounds)."""
    rng = random.Random(7)
    for case in range(300):
        versions = {p: _facts(rng) for p in range(rng.randrange(0, 9))}
        changes = [
            (v.first_seen + timedelta(hours=rng.randrange(-30, 30)), rng.random() < 0.3)
            for vs in versions.values()
            for v in vs[1:]
        ]
        if case % 10 == 0:  # a boundary to the minute, in another zone
            changes.append(
                (datetime(2020, 6, 30, 22, 0, tzinfo=timezone(timedelta(hours=-5))), True)
            )
        tally = r.HalfYearTally()
        for vs in versions.values():
            tally.add_policy(vs)
        for when, adds in changes:
            tally.add_change(when, adds)
        want = reference_corpus_stats(versions, changes)
        assert r.corpus_stats(versions, changes) == want, case
        got = tally.stats()
        assert got == want, case
        assert [type(s.median_words) for s in got] == [type(s.median_words) for s in want]
