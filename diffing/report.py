"""Rendering reports as static HTML: pure functions from plain data to strings.

Every archived string is escaped; every page carries a Content-Security-Policy that forbids
scripts and remote loads, so nothing from an archived page can run or call out. Links leave the
report only to http(s) addresses (``safe_href``). Plots are inline SVG (``diffing.plots``), so the
site needs nothing from outside and works from ``file://``.
"""

from __future__ import annotations

import html
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; "
    "form-action 'none'"
)

STYLE = """
body{font:15px/1.5 system-ui,sans-serif;margin:2rem auto;max-width:76rem;padding:0 1rem;color:#222}
table{border-collapse:collapse;width:100%}th,td{border-bottom:1px solid #ddd;padding:.3rem .5rem;
text-align:left;vertical-align:top}th{background:#f4f4f4}.num{text-align:right}
ins{background:#c9f2c9;text-decoration:none}del{background:#f7c9c9}
.diff{white-space:pre-wrap;overflow-wrap:anywhere;font:14px/1.5 ui-monospace,monospace;
border:1px solid #ddd;padding:1rem}
.sbs{table-layout:fixed;font:13px/1.45 ui-monospace,monospace}.sbs td{white-space:pre-wrap;
overflow-wrap:anywhere;width:50%}.sbs tr.changed td{background:#fbfbf4}.sbs td.gap{color:#777;
text-align:center;background:#f7f7f7;font-family:system-ui,sans-serif}
.flag{background:#fff3cd;border-radius:3px;padding:0 .3rem;font-size:.85em;white-space:nowrap}
.flag.warn{background:#ffd8a8}.prob{background:#eee;border-radius:3px;padding:0 .3rem;
font-size:.85em;white-space:nowrap}
.muted{color:#777}nav a{margin-right:1rem}svg.plot{width:100%;height:auto;display:block;
margin:.5rem 0 1rem}details.fold{display:inline;color:#777}details.fold[open]{color:inherit}
"""

SHORT_CATEGORY = {
    "Third Party Sharing/Collection": "Third Party Sharing",
    "First Party Collection/Use": "First Party Collection",
    "User Access, Edit and Deletion": "User Access/Deletion",
    "International and Specific Audiences": "Specific Audiences",
}

FLAG_NOTES = {
    "silent-edit": "the text changed but its stated date did not",
    "stale-date": "the new stated date is before a capture that still showed the old text",
    "new-sharing-clause": "a sentence about sharing with third parties was added",
    "stated-date-went-back": "the stated date moved back in time",
    "stated-date-added": "the text now states a date",
    "stated-date-removed": "the text no longer states a date",
    "date-bumped-text-unchanged": "only the stated date changed",
    "no-change": "identical texts",
}
WARN_FLAGS = frozenset({"silent-edit", "stale-date", "stated-date-went-back"})


def esc(value: object) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def page(title: str, body: str, *, feed: str | None = None) -> str:
    alt = (
        f'<link rel="alternate" type="application/atom+xml" title="Changes" href="{esc(feed)}">'
        if feed
        else ""
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        '<meta name="referrer" content="no-referrer">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{esc(title)}</title>{alt}<style>{STYLE}</style></head>\n"
        f"<body>\n{body}\n</body></html>\n"
    )


def safe_href(url: str) -> str:
    """Only http(s) links leave the report; anything else (javascript:, data:) becomes inert."""
    return esc(url) if url.strip().lower().startswith(("http://", "https://")) else "#"


def fmt_date(value: date | datetime | None) -> str:
    if value is None:
        return "–"
    return value.strftime("%Y-%m-%d")


def out_link(url: str, text: str) -> str:
    return f'<a rel="noreferrer noopener" href="{safe_href(url)}">{esc(text)}</a>'


# ---------------------------------------------------------------------------- labels and flags


def clause_labels(clauses: Sequence[Mapping[str, Any]], *, max_values: int = 5) -> list[str]:
    """One label per (category, added/removed), e.g. "Third Party Sharing: + advertising
    partners, Google". Extracted values (partners, laws, retention periods…) name what changed;
    a group without values is counted in sentences."""
    groups: dict[tuple[str, int], tuple[list[str], list[int]]] = {}
    for cl in clauses:
        category = str(cl.get("category", "Other"))
        op = 1 if int(cl.get("op", 1)) > 0 else -1
        values, bare = groups.setdefault((category, op), ([], [0]))
        found = False
        raw = cl.get("values") or {}
        if isinstance(raw, Mapping):
            for vs in raw.values():
                for v in vs if isinstance(vs, list) else [vs]:
                    found = True
                    if str(v) not in values:
                        values.append(str(v))
        if not found:
            bare[0] += 1
    labels = []
    for (category, op), (values, bare) in sorted(
        groups.items(), key=lambda kv: (kv[0][0] == "Other", kv[0][0], -kv[0][1])
    ):
        sign = "+" if op > 0 else "−"
        name = SHORT_CATEGORY.get(category, category)
        if values:
            shown = ", ".join(values[:max_values])
            more = len(values) - max_values
            extra = f" and {more} more" if more > 0 else ""
            labels.append(f"{name}: {sign} {shown}{extra}")
        else:
            labels.append(f"{name}: {sign} {bare[0]} sentence{'s' if bare[0] != 1 else ''}")
    return labels


def change_flags(
    kind: str, flags: Iterable[str], new_stated: date | None, not_before: datetime
) -> list[str]:
    """The stored flags plus ``stale-date``: the stated date changed, but the new text states a
    date before a capture that still showed the old text, so it cannot be when this text took
    effect (an unchanged date is already a ``silent-edit``)."""
    out = list(flags)
    if (
        kind in ("substantive", "flip-flop")
        and new_stated is not None
        and new_stated < not_before.date()
        and "stale-date" not in out
        and "silent-edit" not in out
    ):
        out.append("stale-date")
    return out


def _flag_chips(flags: Iterable[str]) -> str:
    return " ".join(
        f'<span class="flag{" warn" if f in WARN_FLAGS else ""}" '
        f'title="{esc(FLAG_NOTES.get(f, f))}">{esc(f)}</span>'
        for f in flags
    )


def _short_labels(labels: Sequence[str], limit: int = 6) -> str:
    if not labels:
        return "–"
    shown = "<br>".join(esc(label) for label in labels[:limit])
    more = len(labels) - limit
    return shown + (
        f"<br><span class=muted>… {more} more on the change page</span>" if more > 0 else ""
    )


def _problem_chips(problems: Mapping[str, int]) -> str:
    return (
        " ".join(f"<span class=prob>{esc(k)}: {int(v)}</span>" for k, v in sorted(problems.items()))
        or "–"
    )


# ---------------------------------------------------------------------------- pages


@dataclass(frozen=True, slots=True)
class PolicyRow:
    slug: str
    url: str
    versions: int
    changes: int
    captures: int
    last_change: datetime | None
    stated_date: date | None
    categories: Sequence[str]
    problems: Mapping[str, int]
    flags: Mapping[str, int] = field(default_factory=dict)  # silent-edit / stale-date counts


@dataclass(frozen=True, slots=True)
class VersionEntry:
    seq: int
    first_seen: datetime
    last_seen: datetime
    chars: int
    stated_date: date | None
    wayback_url: str  # raw (id_) address of its first capture
    words: int = 0
    last_wayback_url: str = ""  # raw address of its last capture


@dataclass(frozen=True, slots=True)
class ChangeEntry:
    slug: str
    from_seq: int
    to_seq: int
    kind: str
    not_before: datetime
    not_after: datetime
    words_added: int
    words_removed: int
    flags: Sequence[str]
    labels: Sequence[str]  # e.g. "Third Party Sharing: + advertising partners"
    old_stated: date | None = None
    new_stated: date | None = None
    sentences: Sequence[tuple[str, int, str]] = ()  # (category, op, sentence)


@dataclass(frozen=True, slots=True)
class CorpusTotals:
    policies: int
    versions: int
    changes: int
    captures: int


def render_index(
    rows: Iterable[PolicyRow],
    generated: datetime,
    *,
    totals: CorpusTotals | None = None,
    corpus_href: str | None = None,
    feed_href: str | None = None,
) -> str:
    trs = []
    for r in rows:
        flags = " ".join(
            f'<span class="flag warn" title="{esc(FLAG_NOTES.get(k, k))}">{esc(k)}: {n}</span>'
            for k, n in sorted(r.flags.items())
            if n
        )
        trs.append(
            f'<tr><td><a href="{esc(r.slug)}/index.html">{esc(r.url)}</a></td>'
            f"<td class=num>{r.captures}</td><td class=num>{r.versions}</td>"
            f"<td class=num>{r.changes}</td><td>{fmt_date(r.last_change)}</td>"
            f"<td>{fmt_date(r.stated_date)}</td><td>{esc(', '.join(r.categories)) or '–'}</td>"
            f"<td>{flags or '–'}</td><td>{_problem_chips(r.problems)}</td></tr>"
        )
    links = []
    if corpus_href:
        links.append(f'<a href="{esc(corpus_href)}">Corpus summary, plots, CSV and JSON</a>')
    if feed_href:
        links.append(f'<a href="{esc(feed_href)}">Atom feed of changes</a>')
    summary = (
        f"<p>{totals.policies} policies, {totals.captures} captures, {totals.versions} versions, "
        f"{totals.changes} changes.</p>"
        if totals
        else ""
    )
    body = (
        f"<nav>{''.join(links)}</nav><h1>Privacy policy history</h1>"
        f"<p class=muted>Generated {esc(generated.strftime('%Y-%m-%d %H:%M UTC'))} "
        "by policytrail.</p>" + summary + "<table><tr><th>Policy</th><th>Captures</th>"
        "<th>Versions</th><th>Changes</th><th>Last change seen</th><th>Stated date</th>"
        "<th>Categories changed</th><th>Flags</th><th>Capture problems</th></tr>"
        + "".join(trs)
        + "</table>"
    )
    return page("Privacy policy history", body, feed=feed_href)


def render_policy(
    url: str,
    versions: Sequence[VersionEntry],
    changes: Sequence[ChangeEntry],
    *,
    urls: Sequence[str] = (),
    timeline: str = "",
    problems: Mapping[str, int] | None = None,
    feed_href: str | None = None,
) -> str:
    vrows = "".join(
        f"<tr><td class=num>{v.seq}</td><td>{fmt_date(v.first_seen)}</td>"
        f"<td>{fmt_date(v.last_seen)}</td><td class=num>{v.words}</td>"
        f"<td class=num>{v.chars}</td><td>{fmt_date(v.stated_date)}</td>"
        f"<td>{out_link(v.wayback_url, 'first capture')}"
        + (f" · {out_link(v.last_wayback_url, 'last')}" if v.last_wayback_url else "")
        + "</td></tr>"
        for v in versions
    )
    crows = "".join(
        f'<tr><td><a href="{esc(c.slug)}.html">v{c.from_seq}→v{c.to_seq}</a></td>'
        f"<td>{fmt_date(c.not_before)} – {fmt_date(c.not_after)}</td>"
        f"<td>{fmt_date(c.new_stated)}</td><td>{esc(c.kind)}</td>"
        f"<td class=num>+{c.words_added} / −{c.words_removed}</td>"
        f"<td>{_short_labels(c.labels)}</td><td>{_flag_chips(c.flags)}</td></tr>"
        for c in changes
    )
    also = [u for u in urls if u != url]
    nav = ['<a href="../index.html">All policies</a>']
    if feed_href:
        nav.append(f'<a href="{esc(feed_href)}">Atom feed</a>')
    body = (
        f"<nav>{''.join(nav)}</nav>"
        f"<h1>{esc(url)}</h1>"
        + (f"<p class=muted>Also tracked as: {esc(', '.join(also))}</p>" if also else "")
        + f"<p>{out_link(url, 'live page')} · capture problems: "
        f"{_problem_chips(problems or {})}</p>"
        + (
            "<h2>Timeline</h2><p class=muted>Length of each version (words) over the time it "
            "was current; ▲ where the archive first saw each change, ◆ the date the new text "
            "states (red: adds a sharing clause).</p>" + timeline
            if timeline
            else ""
        )
        + "<h2>Changes</h2>"
        + (
            "<table><tr><th>Change</th><th>Happened between</th><th>Stated date</th>"
            "<th>Kind</th><th>Words</th><th>Clauses</th><th>Flags</th></tr>" + crows + "</table>"
            if changes
            else "<p>No change seen.</p>"
        )
        + "<h2>Versions</h2><table><tr><th>#</th><th>First seen</th><th>Last seen</th>"
        "<th>Words</th><th>Chars</th><th>Stated date</th><th>Archive</th></tr>" + vrows + "</table>"
    )
    return page(url, body, feed=feed_href)


def render_ops(ops: Sequence[tuple[int, str]]) -> str:
    parts = []
    for op, text in ops:
        t = esc(text)
        parts.append(f"<ins>{t}</ins>" if op == 1 else f"<del>{t}</del>" if op == -1 else t)
    return "".join(parts)


def render_inline(ops: Sequence[tuple[int, str]], *, context: int = 400) -> str:
    """The new text with insertions and deletions marked; long unchanged runs folded into a
    ``<details>`` element (opens without scripts)."""
    parts = []
    last = len(ops) - 1
    for i, (op, text) in enumerate(ops):
        if op == 1:
            parts.append(f"<ins>{esc(text)}</ins>")
        elif op == -1:
            parts.append(f"<del>{esc(text)}</del>")
        elif len(text) > 3 * context:
            head = text[:context] if i > 0 else ""
            tail = text[-context:] if i < last else ""
            middle = text[len(head) : len(text) - len(tail)]
            parts.append(
                f"{esc(head)}<details class=fold><summary>… {len(middle):,} unchanged "
                f"characters</summary>{esc(middle)}</details>{esc(tail)}"
            )
        else:
            parts.append(esc(text))
    return "".join(parts)


def diff_excerpt(ops: Sequence[tuple[int, str]], *, context: int = 80, limit: int = 2000) -> str:
    """The changed words with a little context, as HTML, at most about ``limit`` characters of
    text: enough for a notification (feeds); the change page has the rest."""
    out: list[str] = []
    used = 0
    last = len(ops) - 1
    for i, (op, text) in enumerate(ops):
        if used >= limit:
            out.append(" …")
            break
        if op == 0:
            if len(text) > 2 * context:
                head = text[:context] if i > 0 else ""
                tail = text[-context:] if i < last else ""
                chunk = f"{head} … {tail}" if head or tail else ""
            else:
                chunk = text
            out.append(esc(chunk))
        else:
            chunk = text if len(text) <= 400 else text[:400] + " …"
            tag = "ins" if op == 1 else "del"
            out.append(f"<{tag}>{esc(chunk)}</{tag}>")
        used += len(chunk)
    return "".join(out).strip()


def _aligned_rows(ops: Sequence[tuple[int, str]]) -> list[tuple[str, str, bool]]:
    """(old cell, new cell, changed) rows, aligned at the line breaks both texts share."""
    rows: list[tuple[str, str, bool]] = []
    left: list[str] = []
    right: list[str] = []
    changed = False

    def flush() -> None:
        nonlocal changed
        if left or right or changed:
            rows.append(("".join(left), "".join(right), changed))
        left.clear()
        right.clear()
        changed = False

    for op, text in ops:
        escaped = esc(text)  # escaping leaves line breaks alone: split after it
        if op == 0:
            for i, part in enumerate(escaped.split("\n")):
                if i:
                    flush()
                if part:
                    left.append(part)
                    right.append(part)
        elif op == -1:
            left.append(f"<del>{escaped}</del>")
            changed = True
        else:
            right.append(f"<ins>{escaped}</ins>")
            changed = True
    flush()
    return rows


def render_side_by_side(ops: Sequence[tuple[int, str]], *, context: int = 1) -> str:
    """Old and new text in two columns, aligned by paragraph; only changed paragraphs and
    ``context`` paragraphs around them are shown, the rest is counted."""
    rows = _aligned_rows(ops)
    keep = [False] * len(rows)
    for i, (_, _, changed) in enumerate(rows):
        if changed:
            for j in range(max(0, i - context), min(len(rows), i + context + 1)):
                keep[j] = True
    out = ["<table class=sbs><tr><th>Before</th><th>After</th></tr>"]
    skipped = 0
    for (old, new, changed), shown in zip(rows, keep, strict=True):
        if not shown:
            skipped += 1
            continue
        if skipped:
            out.append(
                f"<tr><td class=gap colspan=2>⋯ {skipped} unchanged "
                f"paragraph{'s' if skipped != 1 else ''}</td></tr>"
            )
            skipped = 0
        cls = " class=changed" if changed else ""
        out.append(f"<tr{cls}><td>{old}</td><td>{new}</td></tr>")
    if skipped:
        out.append(
            f"<tr><td class=gap colspan=2>⋯ {skipped} unchanged "
            f"paragraph{'s' if skipped != 1 else ''}</td></tr>"
        )
    out.append("</table>")
    return "".join(out)


def render_change(
    url: str,
    change: ChangeEntry,
    ops: Sequence[tuple[int, str]],
    old_capture: str,
    new_capture: str,
    prev_slug: str | None,
    next_slug: str | None,
    *,
    feed_href: str | None = None,
) -> str:
    nav = ['<a href="index.html">Policy</a>', '<a href="../index.html">All policies</a>']
    if prev_slug:
        nav.append(f'<a rel="prev" href="{esc(prev_slug)}.html">← previous change</a>')
    if next_slug:
        nav.append(f'<a rel="next" href="{esc(next_slug)}.html">next change →</a>')
    lag = ""
    if change.new_stated is not None:
        days = (change.not_after.date() - change.new_stated).days
        lag = (
            f" The new text states {fmt_date(change.new_stated)}"
            f" (was {fmt_date(change.old_stated)}); the archive first saw it "
            f"{abs(days)} day{'s' if abs(days) != 1 else ''} "
            f"{'after' if days >= 0 else 'before'} that date."
        )
    by_cat: dict[str, list[tuple[int, str]]] = {}
    for category, op, sentence in change.sentences:
        by_cat.setdefault(category, []).append((op, sentence))
    sentences = "".join(
        f"<h3>{esc(cat)}</h3><ul>"
        + "".join(
            f"<li>{'<ins>+</ins>' if op > 0 else '<del>−</del>'} {esc(s)}</li>" for op, s in items
        )
        + "</ul>"
        for cat, items in sorted(by_cat.items())
    )
    body = (
        f"<nav>{''.join(nav)}</nav><h1>{esc(url)}: v{change.from_seq} → v{change.to_seq}</h1>"
        f"<p>{esc(change.kind)}; happened between {fmt_date(change.not_before)} (last capture "
        f"of the old text) and {fmt_date(change.not_after)} (first capture of the new text); "
        f"+{change.words_added} / −{change.words_removed} words.{esc(lag)}</p>"
        f"<p>Archived captures (raw): {out_link(old_capture, 'before')} · "
        f"{out_link(new_capture, 'after')}</p>"
        + (f"<p>{_flag_chips(change.flags)}</p>" if change.flags else "")
        + (
            f"<ul class=labels>{''.join(f'<li>{esc(lb)}</li>' for lb in change.labels)}</ul>"
            if change.labels
            else ""
        )
        + (
            f"<details><summary>Changed sentences by category</summary>{sentences}</details>"
            if sentences
            else ""
        )
        + "<h2>Side by side</h2>"
        + render_side_by_side(ops)
        + "<h2>Inline</h2>"
        + f"<div class=diff>{render_inline(ops)}</div>"
    )
    return page(f"{url} v{change.from_seq}→v{change.to_seq}", body, feed=feed_href)


def render_corpus(
    generated: datetime, plots: Sequence[tuple[str, str]], files: Sequence[tuple[str, str]]
) -> str:
    """The corpus summary: (heading, svg) plots and (href, description) data files."""
    body = (
        '<nav><a href="index.html">All policies</a></nav><h1>Corpus summary</h1>'
        f"<p class=muted>Generated {esc(generated.strftime('%Y-%m-%d %H:%M UTC'))}. "
        "Half-years: H1 is January–June. A policy counts in a half-year when it was observed "
        "during or after it and had a version by its end; its version current at the end of "
        "the half-year is used.</p>"
        + "".join(f"<h2>{esc(h)}</h2>{svg}" for h, svg in plots)
        + "<h2>Data</h2><ul>"
        + "".join(f'<li><a href="{esc(href)}">{esc(href)}</a>: {esc(d)}</li>' for href, d in files)
        + "</ul>"
    )
    return page("Corpus summary", body)


# ---------------------------------------------------------------------------- corpus statistics


@dataclass(frozen=True, slots=True)
class VersionFacts:
    first_seen: datetime
    last_seen: datetime
    words: int
    gdpr: bool
    ccpa: bool


@dataclass(frozen=True, slots=True)
class HalfYearStats:
    label: str  # "2021-H1"
    policies: int
    median_words: float | None
    gdpr_share: float | None
    ccpa_share: float | None
    changes: int
    sharing_changes: int

    @property
    def sharing_share(self) -> float | None:
        return self.sharing_changes / self.changes if self.changes else None


def half_year(when: date | datetime) -> tuple[int, int]:
    return when.year, 1 if when.month <= 6 else 2


def _half_bounds(year: int, half: int) -> tuple[datetime, datetime]:
    start = datetime(year, 1 if half == 1 else 7, 1, tzinfo=UTC)
    end = datetime(year + 1, 1, 1, tzinfo=UTC) if half == 2 else datetime(year, 7, 1, tzinfo=UTC)
    return start, end


def corpus_stats(
    versions: Mapping[int, Sequence[VersionFacts]],
    changes: Sequence[tuple[datetime, bool]],
) -> list[HalfYearStats]:
    """Per half-year, in the manner of the Princeton-Leuven study's headline figures: median
    length (words) of the policies current then, the share citing GDPR / CCPA, and the share of
    changes seen then that add a third-party sharing clause. ``changes``: (seen, adds sharing).
    A policy is current in a half-year when its first version came before the half-year's end
    and it was last seen at or after its start; its version then is the last one first seen
    before that end."""
    tally = HalfYearTally()
    for vs in versions.values():
        tally.add_policy(vs)
    for when, adds in changes:
        tally.add_change(when, adds)
    return tally.stats()


class HalfYearTally:
    """The figures of ``corpus_stats`` accumulated a policy and a change at a time: per
    half-year, the words of the policies current then (as counts per length, for the median),
    how many cite GDPR / CCPA, and the changes seen then; the same figures, without holding
    every version and change."""

    def __init__(self) -> None:
        self._first: datetime | None = None  # the earliest and latest of every version's
        self._last: datetime | None = None  # first_seen and every change's time
        self._words: dict[tuple[int, int], Counter[int]] = {}
        self._laws: dict[tuple[int, int], list[int]] = {}  # half-year -> [gdpr, ccpa]
        self._changes: dict[tuple[int, int], list[int]] = {}  # half-year -> [all, sharing]

    def _seen(self, when: datetime) -> None:
        if self._first is None or when < self._first:
            self._first = when
        if self._last is None or when > self._last:
            self._last = when

    @staticmethod
    def _step(year: int, half: int, by: int) -> tuple[int, int]:
        k = year * 2 + half - 1 + by
        return k // 2, k % 2 + 1

    def add_policy(self, vs: Sequence[VersionFacts]) -> None:
        for v in vs:
            self._seen(v.first_seen)
        if not vs:
            return
        newest = max(v.last_seen for v in vs)
        # a half-year counts the policy when its first version came before the half-year's
        # end and it was seen at or after its start (half_year() reads the datetime's own
        # fields: one half-year of slack either side for a time zone near a boundary)
        half = self._step(*half_year(vs[0].first_seen), -1)
        stop = self._step(*half_year(newest), 1)
        while half <= stop:
            start, end = _half_bounds(*half)
            if not (vs[0].first_seen >= end or newest < start):
                current = [v for v in vs if v.first_seen < end][-1]
                self._words.setdefault(half, Counter())[current.words] += 1
                laws = self._laws.setdefault(half, [0, 0])
                laws[0] += current.gdpr
                laws[1] += current.ccpa
            half = self._step(*half, 1)

    def add_change(self, when: datetime, adds: bool) -> None:
        self._seen(when)
        year, half = half_year(when)
        for h in (self._step(year, half, -1), (year, half), self._step(year, half, 1)):
            start, end = _half_bounds(*h)
            if start <= when < end:
                counts = self._changes.setdefault(h, [0, 0])
                counts[0] += 1
                counts[1] += adds
                return

    @staticmethod
    def _median(words: Counter[int]) -> float:
        """``statistics.median`` of the multiset (an int for an odd count, as it returns)."""
        n = sum(words.values())
        want = [n // 2] if n % 2 else [n // 2 - 1, n // 2]
        found: list[int] = []
        seen = 0
        for value in sorted(words):
            count = words[value]
            while want and want[0] < seen + count:
                found.append(value)
                del want[0]
            seen += count
        return found[0] if len(found) == 1 else (found[0] + found[1]) / 2

    def stats(self) -> list[HalfYearStats]:
        if self._first is None or self._last is None:
            return []
        half, stop = half_year(self._first), half_year(self._last)
        out = []
        while half <= stop:
            words = self._words.get(half, Counter())
            n = sum(words.values())
            gdpr, ccpa = self._laws.get(half, [0, 0])
            changes, sharing = self._changes.get(half, [0, 0])
            out.append(
                HalfYearStats(
                    f"{half[0]}-H{half[1]}",
                    n,
                    self._median(words) if n else None,
                    gdpr / n if n else None,
                    ccpa / n if n else None,
                    changes,
                    sharing,
                )
            )
            half = self._step(*half, 1)
        return out
