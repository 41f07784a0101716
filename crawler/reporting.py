"""Writing the static report: load from the store, render with ``diffing.report`` and
``diffing.plots``, write files.

Layout of ``out``::

    index.html                  all policies
    corpus.html                 corpus plots; corpus/*.svg, versions.csv, changes.csv, corpus.json
    feed.atom                   the newest changes (crawler.feeds)
    <slug>/index.html           a policy: timeline plot, changes, versions
    <slug>/change-<seq>.html    the change that led to version <seq>: side-by-side and inline diff
    <slug>/feed.atom            the policy's changes (crawler.feeds)

``load_corpus`` is shared with the feeds and the exports. It reads the corpus ``BATCH`` policies
at a time as it is iterated (their versions, capture quality, URLs, changes and clauses in one set
of queries), and drops each batch once its pages are written, so memory stays that of one batch
whatever the size of the corpus; the corpus-wide files (index, corpus page, plots, CSV, JSON, the
corpus feed) are accumulated as the batches pass.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from functools import lru_cache
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from crawler.archive import IA_BASE, Archive, ArchiveError, make_archive
from crawler.outfiles import replacing
from diffing import plots
from diffing import report as r
from diffing.rules import LAWS, THIRD_PARTY
from storage import Store
from storage import reportdata as rd
from storage.repository import ChangeRow

FEED_NAME = "feed.atom"
BATCH = 100  # policies read (versions, changes, clauses) and written at a time
_GDPR = re.compile(f"{LAWS['GDPR']}|{LAWS['UK GDPR']}", re.IGNORECASE)
_CCPA = re.compile(LAWS["CCPA"], re.IGNORECASE)


def slugify(url: str, policy_id: int) -> str:
    body = re.sub(r"[^a-z0-9]+", "-", url.lower().split("://", 1)[-1]).strip("-")[:60]
    return f"{policy_id}-{body}"


def change_slug(change: ChangeRow) -> str:
    return f"change-{change.to_seq}"


@lru_cache(maxsize=64)
def _archive(base: str) -> Archive:
    try:
        return make_archive(base or IA_BASE)
    except ArchiveError:
        return make_archive(IA_BASE)


def replay_url(end: rd.CaptureEnd) -> str:
    """The raw (``id_``) address of a capture in the archive it was fetched from."""
    return _archive(end.archive).replay_url(end.timestamp, end.url)


@dataclass(frozen=True, slots=True)
class TextFacts:
    words: int
    gdpr: bool
    ccpa: bool


def text_facts(text: str) -> TextFacts:
    return TextFacts(len(text.split()), bool(_GDPR.search(text)), bool(_CCPA.search(text)))


MANIFEST = ".policytrail-report.json"


def _code_fingerprint() -> str:
    """Changes whenever the renderers change, so pages written by older code are redone."""
    h = hashlib.sha256()
    for mod in (r, plots):
        h.update(Path(str(mod.__file__)).read_bytes())
    h.update(Path(__file__).read_bytes())
    return h.hexdigest()[:16]


@dataclass(slots=True)
class Manifest:
    """What an earlier run wrote in ``out``: change pages by fingerprint (a page whose inputs
    did not change is not rendered again, nor its diff read), feed excerpts, and the words and
    laws of each text by hash. A missing or unreadable manifest only means more work."""

    code: str
    pages: dict[str, str] = field(default_factory=dict)  # relative path -> fingerprint
    excerpts: dict[str, str] = field(default_factory=dict)  # fingerprint -> feed excerpt
    facts: dict[str, list[int]] = field(default_factory=dict)  # text hash -> words, gdpr, ccpa

    @classmethod
    def load(cls, out: Path) -> Manifest:
        code = _code_fingerprint()
        try:
            data = json.loads((out / MANIFEST).read_text(encoding="utf-8"))
            if data.get("code") != code:
                return cls(code, facts=dict(data.get("facts", {})))
            return cls(code, dict(data["pages"]), dict(data["excerpts"]), dict(data["facts"]))
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return cls(code)

    def save(self, out: Path) -> None:
        tmp = out / f"{MANIFEST}.tmp"
        tmp.write_text(
            json.dumps(
                {
                    "code": self.code,
                    "pages": self.pages,
                    "excerpts": self.excerpts,
                    "facts": self.facts,
                },
                separators=(",", ":"),
            ),
            encoding="utf-8",
        )
        tmp.replace(out / MANIFEST)


def adds_sharing(change: ChangeRow) -> bool:
    return any(cl.get("op") == 1 and cl.get("category") == THIRD_PARTY for cl in change.clauses)


@dataclass(slots=True)
class PolicyData:
    info: rd.PolicyInfo
    slug: str
    versions: list[rd.VersionInfo]
    changes: list[ChangeRow]
    quality: rd.CaptureQuality
    urls: list[str] = field(default_factory=list)


@dataclass(slots=True)
class Corpus:
    """Everything a report, a feed or an export reads. Iterating it reads the policies a batch
    at a time (``batch`` policies, ``BATCH`` unless given), each batch in a few queries, and
    forgets the previous batch's entries and excerpts: hold on to a ``PolicyData`` no longer
    than its batch, and memory stays that of one batch."""

    store: Store
    policy_id: int | None = None  # one policy, or every policy
    with_changes: bool = True
    batch: int | None = None
    _facts: dict[str, TextFacts] = field(default_factory=dict)
    _entries: dict[int, r.ChangeEntry] = field(default_factory=dict)
    _excerpts: dict[int, str] = field(default_factory=dict)
    manifest: Manifest | None = None

    def entry(self, c: ChangeRow) -> r.ChangeEntry:
        """The change as the pages and feeds show it (labels and flags worked out once)."""
        got = self._entries.get(c.id)
        if got is None:
            got = self._entries[c.id] = change_entry(c)
        return got

    def ops(self, c: ChangeRow, new_version_id: int) -> list[tuple[int, str]]:
        """The change's diff ops (read from the store each time: they are as long as the
        text); a short excerpt for the feeds is kept as they pass."""
        ops = self.store.change_ops(new_version_id) or []
        self._excerpts[c.id] = r.diff_excerpt(ops)
        return ops

    def excerpt(self, c: ChangeRow, new_version_id: int) -> str:
        got = self._excerpts.get(c.id)
        if got is None:
            self.ops(c, new_version_id)
            got = self._excerpts[c.id]
        return got

    def facts(self, v: rd.VersionInfo) -> TextFacts:
        """Words and laws cited of a version's text (read once per distinct text)."""
        got = self._facts.get(v.text_hash)
        if got is None:
            known = self.manifest.facts.get(v.text_hash) if self.manifest else None
            if known is not None and len(known) == 3:
                got = TextFacts(int(known[0]), bool(known[1]), bool(known[2]))
            else:
                got = text_facts(self.store.read_text(v.text_id))
                if self.manifest is not None:
                    self.manifest.facts[v.text_hash] = [got.words, int(got.gdpr), int(got.ccpa)]
            self._facts[v.text_hash] = got
        return got

    def batches(self) -> Iterator[list[PolicyData]]:
        """The policies in id order, ``batch`` at a time, each batch read when it is reached."""
        size = max(1, self.batch or BATCH)
        after: int | None = None
        while True:
            infos = rd.policies(self.store, self.policy_id, after=after, limit=size)
            if not infos:
                break
            self._entries.clear()
            self._excerpts.clear()
            yield self._load(infos)
            if len(infos) < size:
                break
            after = infos[-1].id
        self._entries.clear()
        self._excerpts.clear()

    def _load(self, infos: list[rd.PolicyInfo]) -> list[PolicyData]:
        ids = [info.id for info in infos]
        versions = rd.versions_by_policy(self.store, ids=ids)
        quality = rd.capture_quality(self.store, ids=ids)
        urls = rd.policy_urls(self.store, ids=ids)
        changes: dict[int, list[ChangeRow]] = {}
        for c in self.store.changes_of(ids) if self.with_changes else []:
            changes.setdefault(c.policy_id, []).append(c)
        return [
            PolicyData(
                info,
                slugify(info.url, info.id),
                versions.get(info.id, []),
                sorted(changes.get(info.id, []), key=lambda c: c.to_seq),
                quality.get(info.id, rd.CaptureQuality()),
                urls.get(info.id, []),
            )
            for info in infos
        ]

    def __iter__(self) -> Iterator[PolicyData]:
        for batch in self.batches():
            yield from batch
            del batch[:]  # the caller's loop variable may hold one policy on; not the batch


def load_corpus(
    store: Store,
    policy_id: int | None = None,
    *,
    with_changes: bool = True,
    batch: int | None = None,
) -> Corpus:
    """Policies, versions, capture quality and (unless ``with_changes`` is false: the costly
    part, every clause) changes, of one policy or all, read ``batch`` policies at a time as
    the corpus is iterated (nothing is read here)."""
    return Corpus(store, policy_id, with_changes, batch)


# ---------------------------------------------------------------------------- entries


def _flag_counts(entries: list[r.ChangeEntry]) -> dict[str, int]:
    counts = {"silent-edit": 0, "stale-date": 0}
    for e in entries:
        for f in e.flags:
            if f in counts:
                counts[f] += 1
    return counts


def change_entry(c: ChangeRow) -> r.ChangeEntry:
    return r.ChangeEntry(
        change_slug(c),
        c.from_seq,
        c.to_seq,
        c.kind,
        c.not_before,
        c.not_after,
        c.words_added,
        c.words_removed,
        r.change_flags(c.kind, c.flags, c.new_stated_date, c.not_before),
        r.clause_labels(c.clauses),
        c.old_stated_date,
        c.new_stated_date,
        [(str(cl["category"]), int(cl["op"]), str(cl.get("sentence", ""))) for cl in c.clauses],
    )


def _timeline(corpus: Corpus, p: PolicyData, entries: list[r.ChangeEntry]) -> str:
    points = [
        plots.LengthPoint(
            v.first_seen,
            v.last_seen,
            corpus.facts(v).words,
            f"v{v.seq}: {corpus.facts(v).words} words, first seen {r.fmt_date(v.first_seen)}",
        )
        for v in p.versions
    ]
    marks = [
        plots.ChangeMark(
            e.not_after,
            e.new_stated,
            f"v{e.from_seq}→v{e.to_seq} seen {r.fmt_date(e.not_after)}, states "
            f"{r.fmt_date(e.new_stated)}; " + "; ".join(e.labels[:3]),
            f"{e.slug}.html",
            adds_sharing(c),
        )
        for e, c in zip(entries, p.changes, strict=True)
    ]
    return plots.timeline_svg(points, marks)


# ---------------------------------------------------------------------------- writing


def write_policy(corpus: Corpus, p: PolicyData, out: Path) -> r.PolicyRow:
    pdir = out / p.slug
    pdir.mkdir(parents=True, exist_ok=True)
    ventries = [
        r.VersionEntry(
            v.seq,
            v.first_seen,
            v.last_seen,
            v.chars,
            v.stated_date,
            replay_url(v.first),
            corpus.facts(v).words,
            replay_url(v.last),
        )
        for v in p.versions
    ]
    entries = [corpus.entry(c) for c in p.changes]
    problems = p.quality.problems()
    (pdir / "index.html").write_text(
        r.render_policy(
            p.info.url,
            ventries,
            entries,
            urls=p.urls,
            timeline=_timeline(corpus, p, entries),
            problems=problems,
            feed_href=FEED_NAME,
        ),
        encoding="utf-8",
    )
    by_seq = {v.seq: v for v in p.versions}
    manifest = corpus.manifest
    for i, (e, c) in enumerate(zip(entries, p.changes, strict=True)):
        old, new = by_seq[c.from_seq], by_seq[c.to_seq]
        args = (
            p.info.url,
            e,
            replay_url(old.last),
            replay_url(new.first),
            entries[i - 1].slug if i > 0 else None,
            entries[i + 1].slug if i + 1 < len(entries) else None,
        )
        path = pdir / f"{e.slug}.html"
        rel = f"{p.slug}/{e.slug}.html"
        # what the page shows, less the changed sentences themselves (they follow from the
        # change and its texts: the id and the hashes pin them), which are long to hash
        key = (c.id, old.text_hash, new.text_hash, len(e.sentences), replace(e, sentences=()))
        fp = hashlib.sha256(repr((key, args[0], *args[2:])).encode()).hexdigest()
        if (
            manifest is not None
            and manifest.pages.get(rel) == fp
            and fp in manifest.excerpts
            and path.exists()
        ):
            corpus._excerpts[c.id] = manifest.excerpts[fp]
            continue
        ops = corpus.ops(c, new.id)
        url, entry, before, after, prev_slug, next_slug = args
        page = r.render_change(
            url, entry, ops, before, after, prev_slug, next_slug, feed_href=FEED_NAME
        )
        path.write_text(page, encoding="utf-8")
        if manifest is not None:
            manifest.pages[rel] = fp
            manifest.excerpts[fp] = corpus._excerpts[c.id]
    last = p.versions[-1] if p.versions else None
    return r.PolicyRow(
        p.slug,
        p.info.url,
        len(p.versions),
        len(p.changes),
        p.quality.captures,
        max((c.not_after for c in p.changes), default=None),
        last.stated_date if last else None,
        sorted(
            {
                r.SHORT_CATEGORY.get(str(cl["category"]), str(cl["category"]))
                for c in p.changes
                for cl in c.clauses
            }
        ),
        problems,
        _flag_counts(entries),
    )


def _iso(value: date | datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


VERSION_COLUMNS = (
    "policy_id",
    "policy_url",
    "site",
    "seq",
    "first_seen",
    "last_seen",
    "first_timestamp",
    "last_timestamp",
    "chars",
    "words",
    "stated_date",
    "cites_gdpr",
    "cites_ccpa",
    "title",
    "text_hash",
    "first_capture",
)
CHANGE_COLUMNS = (
    "policy_id",
    "policy_url",
    "from_version",
    "to_version",
    "not_before",
    "not_after",
    "kind",
    "words_added",
    "words_removed",
    "similarity",
    "old_stated_date",
    "new_stated_date",
    "flags",
    "categories",
    "labels",
    "adds_sharing",
)  # the keys of change_record's rows (less "clauses"): the CSV header, even with no rows


def version_record(corpus: Corpus, p: PolicyData, v: rd.VersionInfo) -> dict[str, Any]:
    """A version as ``versions.csv`` and ``corpus.json`` show it (keys: VERSION_COLUMNS)."""
    f = corpus.facts(v)
    return {
        "policy_id": p.info.id,
        "policy_url": p.info.url,
        "site": p.info.site,
        "seq": v.seq,
        "first_seen": _iso(v.first_seen),
        "last_seen": _iso(v.last_seen),
        "first_timestamp": v.first.timestamp,
        "last_timestamp": v.last.timestamp,
        "chars": v.chars,
        "words": f.words,
        "stated_date": _iso(v.stated_date),
        "cites_gdpr": f.gdpr,
        "cites_ccpa": f.ccpa,
        "title": v.title,
        "text_hash": v.text_hash,
        "first_capture": replay_url(v.first),
    }


def change_record(
    corpus: Corpus, p: PolicyData, c: ChangeRow, *, with_clauses: bool = True
) -> dict[str, Any]:
    """A change as ``changes.csv``, ``corpus.json`` and the exports show it (keys:
    CHANGE_COLUMNS, then ``clauses`` when ``with_clauses``)."""
    e = corpus.entry(c)
    row: dict[str, Any] = {
        "policy_id": p.info.id,
        "policy_url": p.info.url,
        "from_version": c.from_seq,
        "to_version": c.to_seq,
        "not_before": _iso(c.not_before),
        "not_after": _iso(c.not_after),
        "kind": c.kind,
        "words_added": c.words_added,
        "words_removed": c.words_removed,
        "similarity": round(c.similarity, 4),
        "old_stated_date": _iso(c.old_stated_date),
        "new_stated_date": _iso(c.new_stated_date),
        "flags": list(e.flags),
        "categories": sorted({str(cl["category"]) for cl in c.clauses}),
        "labels": list(e.labels),
        "adds_sharing": adds_sharing(c),
    }
    if with_clauses:
        row["clauses"] = c.clauses
    return row


def csv_cells(row: dict[str, Any], columns: Sequence[str]) -> list[Any]:
    """A row's CSV cells: list cells joined with ``;``, booleans as 0/1, None empty."""
    cells = []
    for k in columns:
        v = row[k]
        if isinstance(v, list):
            v = ";".join(str(x) for x in v)
        elif isinstance(v, bool):
            v = int(v)
        cells.append("" if v is None else v)
    return cells


def to_csv(rows: list[dict[str, Any]], columns: Sequence[str] = ()) -> str:
    """Rows as CSV; list cells joined with ``;``, booleans as 0/1. ``columns`` is the header
    when there are no rows (an empty corpus still gets a CSV a spreadsheet can open)."""
    buf = io.StringIO()
    if not rows and not columns:
        return ""
    cols = [k for k in (rows[0] if rows else columns) if k != "clauses"]
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(cols)
    for row in rows:
        w.writerow(csv_cells(row, cols))
    return buf.getvalue()


def json_compact(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


class CorpusWriter:
    """``corpus.html`` with the half-year plots, and ``corpus/`` with the SVGs, CSV and JSON,
    written a policy at a time: the CSV rows as they come, the JSON's lists into temporary
    files joined at the end, the plots' figures tallied (``diffing.report.HalfYearTally``)."""

    def __init__(self, corpus: Corpus, out: Path) -> None:
        self.corpus = corpus
        self.out = out
        self.cdir = out / "corpus"
        self.cdir.mkdir(parents=True, exist_ok=True)
        self.tally = r.HalfYearTally()
        self._files = ExitStack()
        self._versions_csv = self._open(self.cdir / "versions.csv", VERSION_COLUMNS)
        self._changes_csv = self._open(self.cdir / "changes.csv", CHANGE_COLUMNS)
        self._json = [self._temp() for _ in range(3)]  # policies, versions, changes
        self._count = [0, 0, 0]

    def _open(self, path: Path, columns: Sequence[str]) -> Any:
        fh = self._files.enter_context(replacing(path))
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(columns)
        return w

    def _temp(self) -> IO[str]:
        return self._files.enter_context(
            tempfile.TemporaryFile("w+", encoding="utf-8", dir=self.cdir)
        )

    def _json_item(self, which: int, value: object) -> None:
        if self._count[which]:
            self._json[which].write(",")
        self._json[which].write(json_compact(value))
        self._count[which] += 1

    def add(self, p: PolicyData) -> None:
        corpus = self.corpus
        self._json_item(
            0,
            {
                "id": p.info.id,
                "url": p.info.url,
                "site": p.info.site,
                "key": p.info.key,
                "captures": p.quality.captures,
                "capture_problems": p.quality.problems(),
            },
        )
        for v in p.versions:
            row = version_record(corpus, p, v)
            self._versions_csv.writerow(csv_cells(row, VERSION_COLUMNS))
            self._json_item(1, row)
        for c in p.changes:
            # every sentence is in ``export``: not here
            row = change_record(corpus, p, c, with_clauses=False)
            self._changes_csv.writerow(csv_cells(row, CHANGE_COLUMNS))
            self._json_item(2, row)
        self.tally.add_policy(
            [
                r.VersionFacts(
                    v.first_seen,
                    v.last_seen,
                    corpus.facts(v).words,
                    corpus.facts(v).gdpr,
                    corpus.facts(v).ccpa,
                )
                for v in p.versions
            ]
        )
        for c in p.changes:
            self.tally.add_change(c.not_after, adds_sharing(c))

    def close(self) -> None:
        """Done: the files move to their places."""
        self._files.close()

    def __enter__(self) -> CorpusWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """On an error, the files written so far are dropped (``crawler.outfiles``)."""
        self._files.__exit__(exc_type, exc, tb)

    def finish(self, generated: datetime) -> Path:
        stats = self.tally.stats()
        labels = [s.label for s in stats]
        figures = [
            (
                "median-length.svg",
                "Median policy length",
                plots.line_chart_svg(
                    "Median policy length per half-year (words)",
                    labels,
                    [plots.Series("median words", [s.median_words for s in stats])],
                    y_label="words",
                ),
            ),
            (
                "laws-cited.svg",
                "Policies citing GDPR / CCPA",
                plots.line_chart_svg(
                    "Share of policies citing GDPR / CCPA per half-year",
                    labels,
                    [
                        plots.Series("GDPR", [s.gdpr_share for s in stats]),
                        plots.Series("CCPA", [s.ccpa_share for s in stats]),
                    ],
                    percent=True,
                ),
            ),
            (
                "sharing-changes.svg",
                "Changes adding sharing clauses",
                plots.bar_chart_svg(
                    "Share of changes adding a third-party sharing clause, per half-year",
                    labels,
                    [s.sharing_share for s in stats],
                    [f"{s.sharing_changes} of {s.changes} changes" for s in stats],
                ),
            ),
        ]
        cdir = self.cdir
        for name, _, svg in figures:
            (cdir / name).write_text('<?xml version="1.0" encoding="utf-8"?>\n' + svg, "utf-8")
        half_years = [
            {
                "half_year": s.label,
                "policies": s.policies,
                "median_words": s.median_words,
                "gdpr_share": s.gdpr_share,
                "ccpa_share": s.ccpa_share,
                "changes": s.changes,
                "sharing_changes": s.sharing_changes,
            }
            for s in stats
        ]
        with replacing(cdir / "corpus.json") as fh:
            # what json.dumps of the whole object writes, the lists copied from their files
            fh.write('{"generated":' + json_compact(generated.isoformat()))
            for key, part in zip(("policies", "versions", "changes"), self._json, strict=True):
                fh.write(f',"{key}":[')
                part.seek(0)
                shutil.copyfileobj(part, fh)
                fh.write("]")
            fh.write(',"half_years":' + json_compact(half_years) + "}")
        self.close()
        files = [
            ("corpus/versions.csv", "every version (one row each)"),
            ("corpus/changes.csv", "every change, with flags, categories and clause labels"),
            ("corpus/corpus.json", "policies, versions, changes and half-years"),
        ] + [(f"corpus/{name}", f"{heading} (SVG)") for name, heading, _ in figures]
        index = self.out / "corpus.html"
        index.write_text(
            r.render_corpus(generated, [(h, svg) for _, h, svg in figures], files),
            encoding="utf-8",
        )
        return index


def write_report(
    store: Store,
    out: Path,
    policy_id: int | None = None,
    *,
    corpus: Corpus | None = None,
) -> Path:
    """Write the whole site (or, with ``policy_id``, the site restricted to one policy) with
    the Atom feeds its pages link to, and return the path of its index page. ``corpus``: a
    ``load_corpus`` to read from (its batch size, say). One pass over the corpus, a batch of
    policies at a time: each policy's pages and feed, and its rows of the corpus files."""
    from crawler.feeds import FeedWriter

    out.mkdir(parents=True, exist_ok=True)
    generated = datetime.now(UTC)
    if corpus is None:
        corpus = load_corpus(store, policy_id)
    manifest = corpus.manifest = Manifest.load(out)
    stale = set(manifest.pages) if policy_id is None else set()
    hashes: set[str] = set()
    rows = []
    feeds = FeedWriter(corpus, out, with_report=True, corpus_feed=policy_id is None)
    with CorpusWriter(corpus, out) as summary:
        for p in corpus:
            rows.append(write_policy(corpus, p, out))
            summary.add(p)
            feeds.add(p)
            if policy_id is None:
                stale.difference_update(f"{p.slug}/{change_slug(c)}.html" for c in p.changes)
                hashes.update(v.text_hash for v in p.versions)
        summary.finish(generated)
    totals = r.CorpusTotals(
        len(rows),
        sum(row.versions for row in rows),
        sum(row.changes for row in rows),
        sum(row.captures for row in rows),
    )
    index = out / "index.html"
    index.write_text(
        r.render_index(
            rows, generated, totals=totals, corpus_href="corpus.html", feed_href=FEED_NAME
        ),
        encoding="utf-8",
    )
    feeds.finish()
    if policy_id is None:
        # forget (and remove) change pages of changes that no longer exist, e.g. after a
        # rebuild; only pages this manifest recorded are touched
        for rel in [rel for rel in manifest.pages if rel in stale]:
            (out / rel).unlink(missing_ok=True)
            del manifest.pages[rel]
        live = set(manifest.pages.values())
        manifest.excerpts = {k: v for k, v in manifest.excerpts.items() if k in live}
        manifest.facts = {k: v for k, v in manifest.facts.items() if k in hashes}
    manifest.save(out)
    return index
