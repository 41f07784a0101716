"""Archive dialects: how to ask an archive for its captures of a URL, how to read its answer, and
how to address one capture in raw (``id_``) mode. Plain functions; no network here.

Two dialects:
- ``ia``: the Internet Archive's Wayback Machine (``https://web.archive.org``). CDX at
  ``/cdx/search/cdx`` (space-separated rows, ``showResumeKey`` paging), replay at
  ``/web/<ts>id_/<url>``.
- ``pywb``: any pywb collection (``http://host/<coll>``), as run by national and institutional
  archives and by researchers with their own WARCs. CDX at ``/<coll>/cdx`` with ``output=json``
  (NDJSON with keys url/mime/status), no resume keys, no ``collapse``; replay at
  ``/<coll>/<ts>id_/<url>``.
"""

from __future__ import annotations

import enum
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from urllib.parse import urlencode, urljoin, urlsplit

from waybackpy.cdx_utils import check_filters, check_match_type
from waybackpy.exceptions import WaybackError

from diffing.records import CaptureRef

IA_BASE = "https://web.archive.org"
IA_FIELDS = ("urlkey", "timestamp", "original", "mimetype", "statuscode", "digest", "length")
_TS = re.compile(r"^\d{14}$")
# Scrapy drops a request longer than URLLENGTH_LIMIT (2083) silently: leave room for the prefix
MAX_URL_LENGTH = 2000
_REPLAY_TAIL = re.compile(r"/(?P<ts>\d{4,14})(?:[a-z]{2}_)?/(?P<url>.+)$")


class ArchiveError(ValueError):
    """A misconfigured archive (bad base URL, unknown dialect, bad CDX parameters)."""


class Dialect(enum.StrEnum):
    IA = "ia"
    PYWB = "pywb"


@dataclass(frozen=True, slots=True)
class Archive:
    """Where captures come from. ``base`` has no trailing slash."""

    base: str
    dialect: Dialect

    @property
    def cdx_endpoint(self) -> str:
        return f"{self.base}/cdx/search/cdx" if self.dialect is Dialect.IA else f"{self.base}/cdx"

    def replay_url(self, timestamp: str, url: str) -> str:
        """The raw (``id_``) replay address of a capture: the archived bytes, unrewritten."""
        prefix = f"{self.base}/web" if self.dialect is Dialect.IA else self.base
        return f"{prefix}/{timestamp}id_/{url}"

    def original_from_replay(self, replay_url: str) -> tuple[str, str] | None:
        """(timestamp, original URL) of an address inside this archive, else None."""
        prefix = f"{self.base}/web" if self.dialect is Dialect.IA else self.base
        if not replay_url.startswith(prefix + "/"):
            return None
        m = _REPLAY_TAIL.match(replay_url[len(prefix) :])
        if not m:
            return None
        return m.group("ts"), m.group("url")

    def cdx_url(self, query: CdxQuery) -> str:
        if self.dialect is Dialect.IA:
            params: list[tuple[str, str]] = [
                ("url", query.url),
                ("fl", ",".join(IA_FIELDS)),
                ("showResumeKey", "true"),
                ("limit", str(query.limit)),
            ]
            if query.match_type:
                params.append(("matchType", query.match_type))
            if query.resume_key:
                params.append(("resumeKey", query.resume_key))
            if query.collapse:
                params.append(("collapse", query.collapse))
        else:
            params = [("url", query.url), ("output", "json")]
            if query.match_type:
                params.append(("matchType", query.match_type))
        if query.from_ts:
            params.append(("from", query.from_ts))
        if query.to_ts:
            params.append(("to", query.to_ts))
        params.extend(("filter", f) for f in query.filters)
        return f"{self.cdx_endpoint}?{urlencode(params)}"


@dataclass(frozen=True, slots=True)
class CdxQuery:
    url: str
    from_ts: str | None = None  # inclusive, 4..14 digits
    to_ts: str | None = None  # inclusive: to=2004 means the end of 2004
    match_type: str | None = None  # exact (default) | prefix | host | domain
    filters: tuple[str, ...] = ()
    limit: int = 10000
    resume_key: str | None = None
    # IA only: one row per run of equal field prefixes, e.g. ``timestamp:4`` = the first capture
    # of each year. pywb has no collapse: callers sample what it lists instead.
    collapse: str | None = None

    def __post_init__(self) -> None:
        for name in ("from_ts", "to_ts"):
            value = getattr(self, name)
            if value is not None and not (value.isdigit() and 4 <= len(value) <= 14):
                raise ArchiveError(
                    f"{name.replace('_ts', '')} must be 4 to 14 digits, got {value!r}"
                )
        if self.collapse is not None and not re.fullmatch(r"[a-z]+(?::\d+)?", self.collapse):
            raise ArchiveError(f"collapse must be FIELD or FIELD:N, got {self.collapse!r}")
        try:
            check_filters(list(self.filters))
            if self.match_type:
                check_match_type(self.match_type, self.url)
        except WaybackError as exc:
            raise ArchiveError(str(exc)) from None


@dataclass(slots=True)
class CdxPage:
    records: list[CaptureRef] = field(default_factory=list)
    resume_key: str | None = None
    skipped: list[str] = field(default_factory=list)  # malformed lines, with the reason


def make_archive(base: str, dialect: str = "auto") -> Archive:
    """Build an Archive from a base URL. ``auto``: web.archive.org (or a bare host) is the
    Internet Archive; a URL with a path names a pywb collection."""
    base = base.strip().rstrip("/")
    parts = urlsplit(base)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ArchiveError(f"archive must be an http(s) URL, got {base!r}")
    if dialect == "auto":
        is_ia = parts.hostname == "web.archive.org" or parts.path in ("", "/")
        chosen = Dialect.IA if is_ia else Dialect.PYWB
    else:
        try:
            chosen = Dialect(dialect)
        except ValueError:
            raise ArchiveError(
                f"unknown archive dialect {dialect!r} (use ia, pywb or auto)"
            ) from None
    if chosen is Dialect.IA and parts.path.rstrip("/").endswith("/web"):
        base = base[: -len("/web")]  # users paste https://web.archive.org/web
    return Archive(base=base, dialect=chosen)


def _int_or_none(value: str) -> int | None:
    return int(value) if value.isdigit() else None


def _record(
    urlkey: str, ts: str, original: str, mime: str, status: str, digest: str, length: str
) -> CaptureRef:
    if not _TS.match(ts):
        raise ValueError(f"bad timestamp {ts!r}")
    if "://" not in original or " " in original:
        raise ValueError(f"bad URL {original!r}")
    if len(original) > MAX_URL_LENGTH:  # junk such as inline data: URIs read as links
        raise ValueError(f"URL longer than {MAX_URL_LENGTH} characters: {original[:60]!r}...")
    revisit = mime == "warc/revisit" or status == "-"
    return CaptureRef(
        url=original,
        timestamp=ts,
        digest=digest if digest != "-" else "",
        status=_int_or_none(status),
        mimetype=mime,
        length=_int_or_none(length),
        urlkey=urlkey,
        is_revisit=revisit,
    )


def parse_cdx(archive: Archive, body: bytes) -> CdxPage:
    """Parse one CDX response. Malformed lines are skipped and reported, never fatal."""
    text = body.decode("utf-8", errors="replace")
    page = CdxPage()
    if archive.dialect is Dialect.PYWB:
        for line in text.splitlines():
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                page.records.append(
                    _record(
                        str(row.get("urlkey", "")),
                        str(row.get("timestamp", "")),
                        str(row.get("url", "")),
                        str(row.get("mime", "")),
                        str(row.get("status", "")),
                        str(row.get("digest", "")),
                        str(row.get("length", "")),
                    )
                )
            except (ValueError, AttributeError) as exc:
                page.skipped.append(f"{exc}: {line[:120]!r}")
        return page
    lines = text.split("\n")
    # With showResumeKey, the last non-empty line after a blank line is the resume key.
    while lines and not lines[-1].strip():
        lines.pop()
    if len(lines) >= 2 and not lines[-2].strip() and len(lines[-1].split(" ")) == 1:
        page.resume_key = lines[-1].strip()
        lines = lines[:-2]
    for line in lines:
        if not line.strip():
            continue
        fields = line.split(" ")
        if len(fields) != len(IA_FIELDS):
            page.skipped.append(
                f"expected {len(IA_FIELDS)} fields, got {len(fields)}: {line[:120]!r}"
            )
            continue
        try:
            page.records.append(_record(*fields))
        except ValueError as exc:
            page.skipped.append(f"{exc}: {line[:120]!r}")
    return page


def redirect_target(archive: Archive, location: str, replay_url: str) -> str | None:
    """The original URL an archived redirect points to. The Internet Archive rewrites Location
    into its own replay space; pywb hands back the raw original Location, which, when relative,
    is relative to the captured page's URL (not to the replay address)."""
    absolute = urljoin(replay_url, location)
    if urlsplit(location).scheme or location.startswith("/"):
        inside = archive.original_from_replay(absolute)
        if inside is not None:
            return inside[1]
    captured = archive.original_from_replay(replay_url)
    if captured is not None:
        absolute = urljoin(captured[1], location)
    if urlsplit(absolute).scheme in ("http", "https"):
        return absolute
    return None


def is_memento(headers: Sequence[tuple[str, str]]) -> bool:
    """An archived response carries Memento-Datetime (IA also sends x-archive-src). A response
    without it is the archive's own (a live 404/429/5xx), not an archived page."""
    names = {k.lower() for k, _ in headers}
    return "memento-datetime" in names
