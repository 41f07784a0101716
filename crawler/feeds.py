"""Atom feeds of changes (RFC 4287), so feed readers and chat integrations can follow policies.

``write_feeds(store, out)`` writes ``out/feed.atom`` (the newest changes of every policy) and
``out/<slug>/feed.atom`` per policy (all its changes), beside the report pages they link to
(the layout of ``crawler.reporting``). Entry ids are tag URIs built from what identifies a change
across rebuilds and re-runs: the policy's archive key, the timestamp of the first capture of the
new text and the text's hash. An entry's ``updated`` is when the archive first saw the change.

An entry links to its change page in the report: relative to the feed (RFC 4287 resolves them
against the feed's own address) when the report is in the same directory, absolute when
``base_url`` gives the address the report is published at. Feeds written anywhere else link to
the archived capture of the new text instead, so no link is dead.

``FeedWriter`` writes them a policy at a time as a pass over the corpus reaches it (the report
writes its pages in the same pass), keeping only the newest changes for the corpus feed.
"""

from __future__ import annotations

import heapq
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

from crawler import __version__
from crawler.reporting import (
    FEED_NAME,
    Corpus,
    PolicyData,
    change_slug,
    load_corpus,
    replay_url,
)
from diffing import report as r
from storage import Store
from storage.repository import ChangeRow

ATOM = "http://www.w3.org/2005/Atom"
TAG = "tag:policytrail.github.io,2024:"
HOME = "https://github.com/policytrail/policytrail"
OPP115 = "https://usableprivacy.org/data#opp-115"
GLOBAL_LIMIT = 100  # entries in the corpus-wide feed: the newest changes

# characters XML 1.0 cannot carry at all, even escaped: archived text may hold them
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
ET.register_namespace("", ATOM)  # write <feed xmlns="…Atom">, not ns0: prefixes


def xml_text(value: object) -> str:
    return _NOT_XML.sub("\ufffd", str(value))


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _tag_part(value: str) -> str:
    return quote(value, safe="/,)(=&;:@!$'*+-._~")


def entry_id(p: PolicyData, c: ChangeRow) -> str:
    new = next((v for v in p.versions if v.seq == c.to_seq), None)
    ts, digest = (new.first.timestamp, new.text_hash[:16]) if new else (str(c.id), "")
    return f"{TAG}change/{_tag_part(p.info.key)}/{ts}/{digest}"


@dataclass(frozen=True, slots=True)
class _Entry:
    """What a feed entry shows of a change: its row, what the pages show of it (flags and
    labels), its categories and its diff excerpt (the clauses themselves are not needed)."""

    policy: PolicyData
    change: ChangeRow
    excerpt: str
    shown: r.ChangeEntry
    categories: list[str]

    def slim(self) -> _Entry:
        """The entry without the change's clauses and sentences (kept for the corpus feed)."""
        return _Entry(
            replace(self.policy, changes=[]),
            replace(self.change, clauses=[]),
            self.excerpt,
            replace(self.shown, sentences=()),
            self.categories,
        )


def _el(parent: ET.Element, name: str, text: str | None = None, **attrs: str) -> ET.Element:
    e = ET.SubElement(parent, f"{{{ATOM}}}{name}", {k: xml_text(v) for k, v in attrs.items()})
    if text is not None:
        e.text = xml_text(text)
    return e


def _href(base_url: str | None, from_dir: str, target: str) -> str:
    """``target`` (a path relative to the report root) as seen from a feed in ``from_dir``."""
    if base_url:
        return f"{base_url.rstrip('/')}/{target}"
    if from_dir and target.startswith(from_dir + "/"):
        return target[len(from_dir) + 1 :]
    return ("../" if from_dir else "") + target


def _entry(
    feed: ET.Element,
    e: _Entry,
    from_dir: str,
    base_url: str | None,
    with_report: bool,
) -> None:
    p, c, ce = e.policy, e.change, e.shown
    entry = _el(feed, "entry")
    _el(entry, "id", entry_id(p, c))
    _el(
        entry,
        "title",
        f"{p.info.url}: v{c.from_seq} → v{c.to_seq} ({c.kind}, +{c.words_added}/"
        f"−{c.words_removed} words)",
    )
    _el(entry, "updated", _iso(c.not_after))
    page = f"{p.slug}/{change_slug(c)}.html"
    new = next((v for v in p.versions if v.seq == c.to_seq), None)
    capture = replay_url(new.first) if new is not None else p.info.url
    if with_report:
        _el(entry, "link", rel="alternate", type="text/html", href=_href(base_url, from_dir, page))
        _el(entry, "link", rel="related", type="text/html", href=capture)
    else:
        _el(entry, "link", rel="alternate", type="text/html", href=capture)
    for category in e.categories:
        _el(entry, "category", term=category, scheme=OPP115)
    for flag in ce.flags:
        _el(entry, "category", term=flag, scheme=f"{HOME}#flags")
    summary = "; ".join(ce.labels) or f"{c.kind} change"
    _el(entry, "summary", summary)
    parts = [
        f"<p>{r.esc(c.kind)} change to {r.esc(p.info.url)}, between "
        f"{r.fmt_date(c.not_before)} and {r.fmt_date(c.not_after)}; stated date "
        f"{r.fmt_date(c.old_stated_date)} → {r.fmt_date(c.new_stated_date)}.</p>"
    ]
    if ce.flags:
        parts.append(f"<p>Flags: {r.esc(', '.join(ce.flags))}</p>")
    if ce.labels:
        parts.append("<ul>" + "".join(f"<li>{r.esc(lb)}</li>" for lb in ce.labels) + "</ul>")
    if e.excerpt:
        parts.append(f"<p>{e.excerpt}</p>")
    _el(entry, "content", "".join(parts), type="html")


def _feed(
    path: Path,
    feed_id: str,
    title: str,
    entries: list[_Entry],
    from_dir: str,
    base_url: str | None,
    updated: datetime,
    with_report: bool,
) -> Path:
    """One feed; ``updated`` (for a feed without entries): when its policies were last seen."""
    feed = ET.Element(f"{{{ATOM}}}feed")
    _el(feed, "id", feed_id)
    _el(feed, "title", title)
    newest = max((e.change.not_after for e in entries), default=updated)
    _el(feed, "updated", _iso(newest))
    author = _el(feed, "author")
    _el(author, "name", "policytrail")
    _el(author, "uri", HOME)
    _el(feed, "generator", "policytrail", uri=HOME, version=__version__)
    index = f"{from_dir}/index.html" if from_dir else "index.html"
    if with_report:
        _el(feed, "link", rel="alternate", type="text/html", href=_href(base_url, from_dir, index))
    self_path = f"{from_dir}/{FEED_NAME}" if from_dir else FEED_NAME
    _el(
        feed,
        "link",
        rel="self",
        type="application/atom+xml",
        href=_href(base_url, from_dir, self_path),
    )
    for e in sorted(entries, key=lambda e: (e.change.not_after, e.change.id), reverse=True):
        _entry(feed, e, from_dir, base_url, with_report)
    ET.indent(feed)
    path.parent.mkdir(parents=True, exist_ok=True)
    ET.ElementTree(feed).write(path, encoding="utf-8", xml_declaration=True)
    return path


def _entries(corpus: Corpus, p: PolicyData) -> list[_Entry]:
    out = []
    by_seq = {v.seq: v for v in p.versions}
    for c in p.changes:
        new = by_seq.get(c.to_seq)
        out.append(
            _Entry(
                p,
                c,
                corpus.excerpt(c, new.id) if new is not None else "",
                corpus.entry(c),
                sorted({str(cl["category"]) for cl in c.clauses}),
            )
        )
    return out


class FeedWriter:
    """The feeds of a pass over the corpus: ``add`` writes a policy's feed (and keeps its
    newest changes for the corpus feed, at most ``limit`` in all), ``finish`` writes the corpus
    feed (``corpus_feed``: only when the pass covers every policy) and returns the paths
    written, the corpus feed first. ``with_report``: link entries to the report's pages."""

    def __init__(
        self,
        corpus: Corpus,
        out: Path,
        *,
        with_report: bool,
        corpus_feed: bool = True,
        base_url: str | None = None,
        limit: int = GLOBAL_LIMIT,
    ) -> None:
        self.corpus = corpus
        self.out = out
        self.with_report = with_report
        self.corpus_feed = corpus_feed
        self.base_url = base_url
        self.limit = max(0, limit)
        self.written: list[Path] = []
        self._newest: list[tuple[datetime, int, _Entry]] = []  # a min-heap of the newest
        self._policies = 0
        self._last_seen: datetime | None = None

    def add(self, p: PolicyData) -> None:
        entries = _entries(self.corpus, p)
        last_seen = max((v.last_seen for v in p.versions), default=None)
        if last_seen is not None and (self._last_seen is None or last_seen > self._last_seen):
            self._last_seen = last_seen
        self._policies += 1
        self.written.append(
            _feed(
                self.out / p.slug / FEED_NAME,
                f"{TAG}feed/policy/{_tag_part(p.info.key)}",
                f"Changes to {p.info.url}",
                entries,
                p.slug,
                self.base_url,
                last_seen if last_seen is not None else _EPOCH,
                self.with_report,
            )
        )
        if not self.corpus_feed or not self.limit:
            return
        for e in entries:
            key = (e.change.not_after, e.change.id)
            if len(self._newest) >= self.limit and key <= self._newest[0][:2]:
                continue
            item = (*key, e.slim())
            if len(self._newest) < self.limit:
                heapq.heappush(self._newest, item)
            else:
                heapq.heapreplace(self._newest, item)

    def finish(self) -> list[Path]:
        if self.corpus_feed:
            self.written.insert(
                0,
                _feed(
                    self.out / FEED_NAME,
                    f"{TAG}feed/all",
                    f"Privacy policy changes ({self._policies} policies tracked)",
                    [e for *_key, e in self._newest],
                    "",
                    self.base_url,
                    self._last_seen if self._last_seen is not None else _EPOCH,
                    self.with_report,
                ),
            )
        return self.written


def write_feeds(
    store: Store,
    out: Path,
    policy_id: int | None = None,
    *,
    base_url: str | None = None,
    limit: int = GLOBAL_LIMIT,
    corpus: Corpus | None = None,
) -> list[Path]:
    """Write the per-policy feeds (only ``policy_id``'s when given) and, for the whole corpus,
    the global feed of the newest ``limit`` changes. Returns the paths written. ``corpus``:
    a ``crawler.reporting.load_corpus`` to read from (its batch size, say)."""
    if corpus is None:
        corpus = load_corpus(store, policy_id)
    with_report = base_url is not None or (out / "index.html").exists()
    feeds = FeedWriter(
        corpus,
        out,
        with_report=with_report,
        corpus_feed=policy_id is None,
        base_url=base_url,
        limit=limit,
    )
    for p in corpus:
        feeds.add(p)
    return feeds.finish()
