"""Typed records that flow between policytrail's stages.

capture (a CDX row) -> snapshot (the raw archived bytes) -> document (normalised text)
-> version (a distinct text of a policy over a span of captures) -> change (between versions).

All datetimes are timezone-aware UTC. Records are immutable; stages are plain functions over them.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import UTC, date, datetime


def parse_timestamp(ts: str) -> datetime:
    """Parse a Wayback 14-digit (or shorter, left-aligned) timestamp into an aware UTC datetime.

    Missing parts default to the start of the period. Real CDX indexes hold impossible timestamps
    (month 00, day 00, day 31 of a 30-day month) for real captures: they are clamped to the
    nearest valid time rather than dropped."""
    digits = ts.strip()
    if not digits.isdigit() or not 4 <= len(digits) <= 14:
        raise ValueError(f"not a Wayback timestamp: {ts!r}")
    padded = digits + "01010000000000"[len(digits) - 4 :] if len(digits) < 14 else digits
    year, month, day = int(padded[:4]), int(padded[4:6]), int(padded[6:8])
    hour, minute, second = int(padded[8:10]), int(padded[10:12]), int(padded[12:14])
    month = min(max(month, 1), 12)
    last_day = (date(year + month // 12, month % 12 + 1, 1) - date(year, month, 1)).days
    day = min(max(day, 1), last_day)
    return datetime(year, month, day, min(hour, 23), min(minute, 59), min(second, 59), tzinfo=UTC)


def format_timestamp(when: datetime) -> str:
    """The 14-digit Wayback timestamp of an aware datetime."""
    return when.astimezone(UTC).strftime("%Y%m%d%H%M%S")


@dataclass(frozen=True, slots=True)
class CaptureRef:
    """One row of an archive's CDX index: a capture of ``url`` at ``timestamp``."""

    url: str  # the original URL as captured
    timestamp: str  # 14-digit Wayback timestamp
    digest: str  # payload digest (base32 SHA-1 on the Wayback Machine); "" if unknown
    status: int | None  # archived HTTP status; None for revisit rows ("-")
    mimetype: str = ""
    length: int | None = None
    urlkey: str = ""  # SURT key
    is_revisit: bool = False

    @property
    def captured_at(self) -> datetime:
        return parse_timestamp(self.timestamp)


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The raw archived response of one capture, fetched in raw (``id_``) mode."""

    capture: CaptureRef
    body: bytes
    content_type: str = ""  # archived Content-Type header
    status: int = 200  # archived status as replayed
    replay_url: str = ""  # the archive URL it was fetched from
    headers: tuple[tuple[str, str], ...] = ()


class Verdict(enum.StrEnum):
    """What a capture turned out to be. Only ``ok`` captures become versions."""

    OK = "ok"
    EMPTY = "empty"  # no text at all
    JS_SHELL = "needs-javascript"  # a client-rendered shell page
    STUB = "stub"  # far too short to be a policy
    NOT_POLICY = "not-a-policy"  # a real page, but not a legal document
    ERROR_PAGE = "error-page"  # soft 404, archived error page
    UNSUPPORTED = "unsupported"  # binary or a format we cannot read
    REDIRECT = "redirect"  # an archived 3xx
    ARCHIVED_ERROR = "archived-error"  # an archived 4xx/5xx response


@dataclass(frozen=True, slots=True)
class Document:
    """A capture's normalised text: markdown (``#`` headings, paragraphs, ``* `` bullets)."""

    text: str
    title: str
    language: str  # ISO 639-1 code or "" if unknown
    normaliser_version: str
    text_hash: str  # hex SHA-256 of ``text`` (UTF-8)
    verdict: Verdict = Verdict.OK
    verdict_reason: str = ""


@dataclass(frozen=True, slots=True)
class DiffStats:
    words_added: int
    words_removed: int
    similarity: float  # 0..1, share of words common to both texts


@dataclass(frozen=True, slots=True)
class TextDiff:
    """A deterministic diff between two texts.

    ``ops`` is a list of (op, text) with op -1 delete, 0 equal, 1 insert (diff-match-patch's
    convention); joining the texts of ops with op <= 0 gives the old text, op >= 0 the new one.
    """

    ops: tuple[tuple[int, str], ...]
    stats: DiffStats
    params: dict[str, object] = field(default_factory=dict)


class ChangeKind(enum.StrEnum):
    SUBSTANTIVE = "substantive"
    DATE_ONLY = "date-only"
    WHITESPACE = "whitespace"
    PUNCTUATION = "punctuation"
    REORDER = "reorder"
    FLIP_FLOP = "flip-flop"


@dataclass(frozen=True, slots=True)
class Clause:
    """A changed sentence and what it is about."""

    op: int  # 1 added, -1 removed
    sentence: str
    category: str  # an OPP-115 category name
    values: dict[str, list[str]] = field(default_factory=dict)  # e.g. {"third_parties": [...]}
    # where ``sentence`` is: text[start:end] of the new version (added) or the old one
    # (removed); -1 when unknown
    start: int = -1
    end: int = -1


@dataclass(frozen=True, slots=True)
class ChangeAnalysis:
    """What a change between two versions is about."""

    kind: ChangeKind
    clauses: tuple[Clause, ...] = ()
    old_stated_date: date | None = None
    new_stated_date: date | None = None
    flags: tuple[str, ...] = ()  # e.g. "silent-edit", "date-bumped-text-unchanged"
