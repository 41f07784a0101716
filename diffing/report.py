"""Rendering reports as static HTML: pure functions from plain data to strings.

Every archived string is escaped; every page carries a Content-Security-Policy that forbids
scripts and remote loads, so nothing from an archived page can run or call out.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime

CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; "
    "form-action 'none'"
)

STYLE = """
body{font:15px/1.5 system-ui,sans-serif;margin:2rem auto;max-width:70rem;padding:0 1rem;color:#222}
table{border-collapse:collapse;width:100%}th,td{border-bottom:1px solid #ddd;padding:.3rem .5rem;
text-align:left;vertical-align:top}th{background:#f4f4f4}.num{text-align:right}
ins{background:#d4f8d4;text-decoration:none}del{background:#f8d4d4}
.diff{white-space:pre-wrap;font:14px/1.5 ui-monospace,monospace;border:1px solid #ddd;padding:1rem}
.flag{background:#fff3cd;border-radius:3px;padding:0 .3rem;font-size:.85em}
.muted{color:#777}nav a{margin-right:1rem}
"""


def esc(value: object) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def page(title: str, body: str) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        '<meta name="referrer" content="no-referrer">'
        f"<title>{esc(title)}</title><style>{STYLE}</style></head>\n<body>\n{body}\n</body></html>\n"
    )


def safe_href(url: str) -> str:
    """Only http(s) links leave the report; anything else (javascript:, data:) becomes inert."""
    return esc(url) if url.lower().startswith(("http://", "https://")) else "#"


def fmt_date(value: date | datetime | None) -> str:
    if value is None:
        return "–"
    return value.strftime("%Y-%m-%d")


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
    problems: dict[str, int]


@dataclass(frozen=True, slots=True)
class VersionEntry:
    seq: int
    first_seen: datetime
    last_seen: datetime
    chars: int
    stated_date: date | None
    wayback_url: str


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
    labels: Sequence[str]  # e.g. "Third Party Sharing/Collection: + advertising partners"


def render_index(rows: Iterable[PolicyRow], generated: datetime) -> str:
    trs = []
    for r in rows:
        problems = ", ".join(f"{k}: {v}" for k, v in sorted(r.problems.items())) or "–"
        trs.append(
            f'<tr><td><a href="{esc(r.slug)}/index.html">{esc(r.url)}</a></td>'
            f"<td class=num>{r.captures}</td><td class=num>{r.versions}</td>"
            f"<td class=num>{r.changes}</td><td>{fmt_date(r.last_change)}</td>"
            f"<td>{fmt_date(r.stated_date)}</td><td>{esc(', '.join(r.categories)) or '–'}</td>"
            f"<td>{esc(problems)}</td></tr>"
        )
    body = (
        "<h1>Privacy policy history</h1>"
        f"<p class=muted>Generated {esc(generated.strftime('%Y-%m-%d %H:%M UTC'))} "
        "by policytrail.</p>"
        "<table><tr><th>Policy</th><th>Captures</th><th>Versions</th><th>Changes</th>"
        "<th>Last change seen</th><th>Stated date</th><th>Categories changed</th>"
        "<th>Capture problems</th></tr>" + "".join(trs) + "</table>"
    )
    return page("Privacy policy history", body)


def render_policy(
    url: str, versions: Sequence[VersionEntry], changes: Sequence[ChangeEntry]
) -> str:
    vrows = "".join(
        f"<tr><td class=num>{v.seq}</td><td>{fmt_date(v.first_seen)}</td>"
        f"<td>{fmt_date(v.last_seen)}</td>"
        f"<td class=num>{v.chars}</td><td>{fmt_date(v.stated_date)}</td>"
        f'<td><a rel="noreferrer" href="{safe_href(v.wayback_url)}">capture</a></td></tr>'
        for v in versions
    )
    crows = "".join(
        f'<tr><td><a href="{esc(c.slug)}.html">v{c.from_seq}→v{c.to_seq}</a></td>'
        f"<td>{fmt_date(c.not_before)} – {fmt_date(c.not_after)}</td><td>{esc(c.kind)}</td>"
        f"<td class=num>+{c.words_added} / −{c.words_removed}</td>"
        f"<td>{'<br>'.join(esc(label) for label in c.labels) or '–'}</td>"
        f"<td>{' '.join(f'<span class=flag>{esc(f)}</span>' for f in c.flags)}</td></tr>"
        for c in changes
    )
    body = (
        '<nav><a href="../index.html">All policies</a></nav>'
        f"<h1>{esc(url)}</h1><h2>Versions</h2>"
        "<table><tr><th>#</th><th>First seen</th><th>Last seen</th><th>Chars</th>"
        "<th>Stated date</th><th>Archive</th></tr>" + vrows + "</table>"
        "<h2>Changes</h2><table><tr><th>Change</th><th>Happened between</th><th>Kind</th>"
        "<th>Words</th><th>Clauses</th><th>Flags</th></tr>" + crows + "</table>"
    )
    return page(url, body)


def render_ops(ops: Sequence[tuple[int, str]]) -> str:
    parts = []
    for op, text in ops:
        t = esc(text)
        parts.append(f"<ins>{t}</ins>" if op == 1 else f"<del>{t}</del>" if op == -1 else t)
    return "".join(parts)


def render_change(
    url: str,
    change: ChangeEntry,
    ops: Sequence[tuple[int, str]],
    old_capture: str,
    new_capture: str,
    prev_slug: str | None,
    next_slug: str | None,
) -> str:
    nav = ['<a href="index.html">Policy</a>']
    if prev_slug:
        nav.append(f'<a href="{esc(prev_slug)}.html">← previous change</a>')
    if next_slug:
        nav.append(f'<a href="{esc(next_slug)}.html">next change →</a>')
    body = (
        f"<nav>{''.join(nav)}</nav><h1>{esc(url)}: v{change.from_seq} → v{change.to_seq}</h1>"
        f"<p>{esc(change.kind)}; happened between {fmt_date(change.not_before)} and "
        f"{fmt_date(change.not_after)}; +{change.words_added} / −{change.words_removed} words. "
        f'<a rel="noreferrer" href="{safe_href(old_capture)}">old capture</a> · '
        f'<a rel="noreferrer" href="{safe_href(new_capture)}">new capture</a></p>'
        + (
            f"<ul>{''.join(f'<li>{esc(label)}</li>' for label in change.labels)}</ul>"
            if change.labels
            else ""
        )
        + f"<div class=diff>{render_ops(ops)}</div>"
    )
    return page(f"{url} v{change.from_seq}→v{change.to_seq}", body)
