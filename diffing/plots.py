"""Plots as inline SVG: pure functions from plain data to markup, no scripts, no fonts to load.

Inline SVG needs nothing from outside the page, so it renders under the report's strict
Content-Security-Policy and from ``file://``. Every label is escaped; links point only at pages of
the report itself. Tooltips are SVG ``<title>`` elements (no JavaScript).
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

WIDTH = 860
PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b")


def _esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def _n(x: float) -> str:
    """Coordinates with one decimal: small, stable output."""
    return f"{x:.1f}".rstrip("0").rstrip(".")


@dataclass(frozen=True, slots=True)
class LengthPoint:
    """A version's length over the time it was current."""

    start: datetime
    end: datetime
    value: int
    label: str


@dataclass(frozen=True, slots=True)
class ChangeMark:
    """A change as the archive saw it, with the date the new text states for itself."""

    seen: datetime  # first capture of the new text
    stated: date | None  # the "last updated" date the new text gives
    label: str
    href: str  # a page of the report (relative)
    sharing: bool = False  # adds a third-party sharing clause


@dataclass(frozen=True, slots=True)
class Series:
    name: str
    values: Sequence[float | None]  # one per x label; None: no data


def _as_dt(value: date | datetime) -> datetime:
    if isinstance(value, datetime):
        return value
    return datetime(value.year, value.month, value.day, tzinfo=UTC)


def _nice_max(value: float) -> float:
    if value <= 0:
        return 1.0
    exp = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * exp:
            return float(step * exp)
    return float(10 * exp)


def _fmt_count(value: float) -> str:
    if value >= 10_000:
        return f"{value / 1000:.0f}k"
    if value >= 1000:
        return f"{value / 1000:.1f}k".replace(".0k", "k")
    return f"{value:.0f}"


def _svg(height: int, title: str, body: str, cls: str) -> str:
    return (
        f'<svg class="{cls}" xmlns="http://www.w3.org/2000/svg" role="img" '
        f'viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}" '
        f'font-family="system-ui,sans-serif" font-size="11">'
        f"<title>{_esc(title)}</title>{body}</svg>"
    )


def timeline_svg(
    points: Sequence[LengthPoint], changes: Sequence[ChangeMark], *, height: int = 280
) -> str:
    """Text length over time (a step line, one step per version) and each change: a marker
    where the archive first saw it and, on the lower band, the date the new text states, joined
    by a dashed line, so a back-dated or stale "last updated" date shows as a long slant."""
    left, right, top = 60, 20, 24
    band = 46  # the stated-date band under the plot
    bottom = height - 26 - band
    if not points:
        return _svg(height, "no versions", '<text x="60" y="40">no versions stored</text>', "plot")
    times = [p.start for p in points] + [p.end for p in points] + [c.seen for c in changes]
    times += [_as_dt(c.stated) for c in changes if c.stated is not None]
    t0, t1 = min(times), max(times)
    if t1 - t0 < timedelta(days=30):
        t0, t1 = t0 - timedelta(days=15), t1 + timedelta(days=15)
    span = (t1 - t0).total_seconds()
    ymax = _nice_max(max(p.value for p in points) * 1.1)

    def x(t: datetime) -> float:
        return left + (t - t0).total_seconds() / span * (WIDTH - left - right)

    def y(v: float) -> float:
        return bottom - v / ymax * (bottom - top)

    parts: list[str] = []
    # grid: y ticks and year ticks
    for i in range(5):
        v = ymax * i / 4
        parts.append(
            f'<line x1="{left}" x2="{WIDTH - right}" y1="{_n(y(v))}" y2="{_n(y(v))}" '
            f'stroke="#e5e5e5"/><text x="{left - 6}" y="{_n(y(v) + 4)}" text-anchor="end" '
            f'fill="#555">{_fmt_count(v)}</text>'
        )
    years = range(t0.year + (0 if (t0.month, t0.day) == (1, 1) else 1), t1.year + 1)
    step = max(1, math.ceil(len(years) / 12))
    for year in list(years)[::step]:
        xx = x(datetime(year, 1, 1, tzinfo=UTC))
        parts.append(
            f'<line x1="{_n(xx)}" x2="{_n(xx)}" y1="{top}" y2="{bottom + band}" stroke="#eee"/>'
            f'<text x="{_n(xx)}" y="{height - 8}" text-anchor="middle" fill="#555">{year}</text>'
        )
    parts.append(
        f'<line x1="{left}" x2="{WIDTH - right}" y1="{bottom}" y2="{bottom}" stroke="#999"/>'
        f'<text x="12" y="{_n((top + bottom) / 2)}" fill="#555" text-anchor="middle" '
        f'transform="rotate(-90 12 {_n((top + bottom) / 2)})">words</text>'
        f'<text x="{left - 6}" y="{bottom + 14}" fill="#555" text-anchor="end">seen ▲</text>'
        f'<text x="{left - 6}" y="{bottom + band - 12}" fill="#555" text-anchor="end">'
        "stated ◆</text>"
    )
    # the length step line: each version from its first capture to the next version's
    path: list[str] = []
    for i, p in enumerate(points):
        end = points[i + 1].start if i + 1 < len(points) else p.end
        cmd = "M" if i == 0 else "L"
        path.append(f"{cmd}{_n(x(p.start))},{_n(y(p.value))}L{_n(x(end))},{_n(y(p.value))}")
    parts.append(
        f'<path class="length" d="{"".join(path)}" fill="none" stroke="{PALETTE[0]}" '
        'stroke-width="2"/>'
    )
    for p in points:
        parts.append(
            f'<circle cx="{_n(x(p.start))}" cy="{_n(y(p.value))}" r="3" fill="{PALETTE[0]}">'
            f"<title>{_esc(p.label)}</title></circle>"
        )
    # changes: seen (triangle on the axis), stated (diamond on the band), joined
    for c in changes:
        xs = x(c.seen)
        colour = PALETTE[1] if c.sharing else "#444"
        mark = [
            f'<line x1="{_n(xs)}" x2="{_n(xs)}" y1="{top}" y2="{bottom}" stroke="{colour}" '
            'stroke-opacity=".35"/>',
            f'<path d="M{_n(xs - 5)},{bottom + 12}L{_n(xs + 5)},{bottom + 12}L{_n(xs)},'
            f'{bottom + 3}Z" fill="{colour}"/>',
        ]
        if c.stated is not None:
            xd = x(_as_dt(c.stated))
            yd = bottom + band - 16
            mark.append(
                f'<line x1="{_n(xs)}" y1="{bottom + 12}" x2="{_n(xd)}" y2="{yd}" '
                f'stroke="{colour}" stroke-dasharray="3 2"/>'
                f'<path d="M{_n(xd)},{yd - 5}L{_n(xd + 5)},{yd}L{_n(xd)},{yd + 5}L{_n(xd - 5)},'
                f'{yd}Z" fill="{colour}"/>'
            )
        parts.append(
            f'<a class="change" href="{_esc(c.href)}"><title>{_esc(c.label)}</title>'
            + "".join(mark)
            + "</a>"
        )
    return _svg(height, "Text length and changes over time", "".join(parts), "plot timeline")


def _frame(
    title: str, left: int, right: int, top: int, bottom: int, ymax: float, percent: bool
) -> tuple[list[str], Callable[[float], float], Callable[[float], str]]:
    """What the charts share: the title, the y grid with its ticks, the y scale and tick text."""

    def y(v: float) -> float:
        return bottom - v / ymax * (bottom - top)

    def tick(v: float) -> str:
        return f"{v * 100:.0f}%" if percent else _fmt_count(v)

    parts = [f'<text x="{left}" y="16" font-size="13" font-weight="600">{_esc(title)}</text>']
    for i in range(5):
        v = ymax * i / 4
        parts.append(
            f'<line x1="{left}" x2="{WIDTH - right}" y1="{_n(y(v))}" y2="{_n(y(v))}" '
            f'stroke="#e5e5e5"/><text x="{left - 6}" y="{_n(y(v) + 4)}" text-anchor="end" '
            f'fill="#555">{tick(v)}</text>'
        )
    return parts, y, tick


def line_chart_svg(
    title: str,
    x_labels: Sequence[str],
    series: Sequence[Series],
    *,
    y_label: str = "",
    percent: bool = False,
    height: int = 260,
) -> str:
    """One line per series over categorical x labels (e.g. half-years)."""
    left, right, top, bottom = 60, 20, 30, height - 40
    values = [v for s in series for v in s.values if v is not None]
    ymax = 1.0 if percent else _nice_max(max(values, default=0.0) * 1.1)
    n = max(len(x_labels), 1)
    dx = (WIDTH - left - right) / n

    def x(i: int) -> float:
        return left + dx * (i + 0.5)

    parts, y, tick = _frame(title, left, right, top, bottom, ymax, percent)
    step = max(1, math.ceil(n / 14))
    for i, lab in enumerate(x_labels):
        if i % step == 0:
            parts.append(
                f'<text x="{_n(x(i))}" y="{bottom + 16}" text-anchor="middle" fill="#555">'
                f"{_esc(lab)}</text>"
            )
    if y_label:
        mid = (top + bottom) / 2
        parts.append(
            f'<text x="12" y="{_n(mid)}" fill="#555" text-anchor="middle" '
            f'transform="rotate(-90 12 {_n(mid)})">{_esc(y_label)}</text>'
        )
    for k, s in enumerate(series):
        colour = PALETTE[k % len(PALETTE)]
        d: list[str] = []
        pen_up = True
        for i, val in enumerate(s.values):
            if val is None:
                pen_up = True
                continue
            d.append(f"{'M' if pen_up else 'L'}{_n(x(i))},{_n(y(val))}")
            pen_up = False
        parts.append(
            f'<path class="series" d="{"".join(d)}" fill="none" stroke="{colour}" '
            'stroke-width="2"/>'
        )
        for i, val in enumerate(s.values):
            if val is not None:
                label = x_labels[i] if i < len(x_labels) else ""
                parts.append(
                    f'<circle cx="{_n(x(i))}" cy="{_n(y(val))}" r="3" fill="{colour}">'
                    f"<title>{_esc(s.name)} {_esc(label)}: {tick(val)}</title></circle>"
                )
        lx = left + 10 + k * 160
        parts.append(
            f'<rect x="{lx}" y="{height - 14}" width="10" height="10" fill="{colour}"/>'
            f'<text x="{lx + 14}" y="{height - 5}">{_esc(s.name)}</text>'
        )
    return _svg(height, title, "".join(parts), "plot chart")


def bar_chart_svg(
    title: str,
    x_labels: Sequence[str],
    values: Sequence[float | None],
    notes: Sequence[str] = (),
    *,
    percent: bool = True,
    height: int = 240,
) -> str:
    """One bar per x label; ``notes`` (e.g. "n=12") go in each bar's tooltip."""
    left, right, top, bottom = 60, 20, 30, height - 30
    present = [v for v in values if v is not None]
    ymax = 1.0 if percent else _nice_max(max(present, default=0.0) * 1.1)
    n = max(len(x_labels), 1)
    dx = (WIDTH - left - right) / n

    parts, y, tick = _frame(title, left, right, top, bottom, ymax, percent)
    step = max(1, math.ceil(n / 14))
    for i, lab in enumerate(x_labels):
        xi = left + dx * i
        val = values[i] if i < len(values) else None
        if val is not None:
            note = f" ({notes[i]})" if i < len(notes) and notes[i] else ""
            parts.append(
                f'<rect class="bar" x="{_n(xi + dx * 0.15)}" y="{_n(y(val))}" '
                f'width="{_n(dx * 0.7)}" height="{_n(max(bottom - y(val), 0.5))}" '
                f'fill="{PALETTE[0]}"><title>{_esc(lab)}: {tick(val)}{_esc(note)}</title></rect>'
            )
        if i % step == 0:
            parts.append(
                f'<text x="{_n(xi + dx / 2)}" y="{bottom + 16}" text-anchor="middle" '
                f'fill="#555">{_esc(lab)}</text>'
            )
    return _svg(height, title, "".join(parts), "plot chart")
