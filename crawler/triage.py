"""Deciding what to fetch, and what a replayed response is. Plain functions and small state."""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from urllib.parse import urljoin

from crawler.archive import Archive, is_memento, redirect_target
from diffing.records import CaptureRef, parse_timestamp


@dataclass(slots=True)
class PolicyDigests:
    """Digests of one policy: stored before this run, being fetched now, fetched in this run."""

    stored: set[str] = field(default_factory=set)
    inflight: dict[str, list[CaptureRef]] = field(default_factory=dict)
    done: set[str] = field(default_factory=set)


@dataclass(slots=True)
class Listing:
    """What this run knows of one URL's captures."""

    digests: PolicyDigests
    stored_timestamps: set[str] = field(default_factory=set)
    seen: set[str] = field(default_factory=set)

    def finish(self, digest: str) -> list[CaptureRef]:
        """The capture with ``digest`` is done: hand back the rows that waited for it."""
        if not digest:
            return []
        self.digests.done.add(digest)
        return self.digests.inflight.pop(digest, [])


@dataclass(slots=True)
class Plan:
    to_fetch: list[CaptureRef] = field(default_factory=list)
    known: list[CaptureRef] = field(default_factory=list)  # digest already stored: no fetch
    already_stored: int = 0


def plan_listing(listing: Listing, records: Iterable[CaptureRef]) -> Plan:
    """Split CDX rows into: already stored, same digest as stored content, to fetch. One fetch per
    distinct digest per policy; rows sharing a digest wait for the one fetch."""
    plan = Plan()
    d = listing.digests
    for r in sorted(records, key=lambda r: (r.timestamp, r.url)):
        if r.timestamp in listing.seen:
            continue  # the CDX repeats rows (IA does, across resume pages)
        listing.seen.add(r.timestamp)
        if r.timestamp in listing.stored_timestamps:
            plan.already_stored += 1
        elif r.digest and (r.digest in d.stored or r.digest in d.done):
            plan.known.append(r)
        elif r.digest and r.digest in d.inflight:
            d.inflight[r.digest].append(r)
        else:
            plan.to_fetch.append(r)
            if r.digest:
                d.inflight[r.digest] = []
    return plan


@dataclass(frozen=True, slots=True)
class ReplayOutcome:
    state: str  # fetched | redirect | archived-error | archive-redirect | failed
    content_type: str = ""
    location: str | None = None  # archive-internal redirect to follow
    redirect_to: str | None = None  # an archived redirect's target (original URL)
    error: str | None = None
    error_kind: str = ""

    def failed(self, error: str, kind: str = "archive-redirect-loop") -> ReplayOutcome:
        return replace(self, state="failed", error=error, error_kind=kind, location=None)


def _header(headers: Sequence[tuple[str, str]], name: str) -> str:
    name = name.lower()
    return next((v for k, v in headers if k.lower() == name), "")


def classify_replay(
    archive: Archive, status: int, headers: Sequence[tuple[str, str]], replay_url: str
) -> ReplayOutcome:
    """What a raw-mode replay response is. An archived response carries Memento-Datetime; one
    without it is the archive speaking for itself (a redirect to the exact capture, a live 404
    because it has no such capture, a 5xx)."""
    content_type = _header(headers, "content-type")
    memento = is_memento(headers)
    location = _header(headers, "location")
    if 300 <= status < 400:
        if memento:
            target = redirect_target(archive, location, replay_url) if location else None
            return ReplayOutcome("redirect", content_type, redirect_to=target)
        absolute = urljoin(replay_url, location) if location else ""
        if absolute and archive.original_from_replay(absolute) is not None:
            return ReplayOutcome("archive-redirect", content_type, location=absolute)
        return ReplayOutcome(
            "failed",
            content_type,
            error=f"redirect outside the archive: {location!r}",
            error_kind="redirect-outside-archive",
        )
    if 200 <= status < 300:
        return ReplayOutcome("fetched", content_type)
    if memento:
        return ReplayOutcome("archived-error", content_type, error=f"archived HTTP {status}")
    return ReplayOutcome(
        "failed", content_type, error=f"archive answered HTTP {status}", error_kind=f"http-{status}"
    )


class Sampling(enum.StrEnum):
    ALL = "all"  # every distinct capture
    MONTHLY = "monthly"  # the first capture of each month
    SEMIANNUAL = "semiannual"  # the Princeton corpus: nearest to 1 April and to 1 October


def _period(mode: Sampling, when: datetime) -> tuple[int, int]:
    if mode is Sampling.MONTHLY:
        return when.year, when.month
    return when.year, 0 if when.month <= 6 else 1


def _distance(mode: Sampling, when: datetime) -> float:
    if mode is Sampling.MONTHLY:
        return when.timestamp()  # earliest first
    target = datetime(when.year, 4 if when.month <= 6 else 10, 1, tzinfo=UTC)
    return abs((when - target).total_seconds())


def sample(
    records: Sequence[CaptureRef], mode: Sampling, covered: Iterable[str] = ()
) -> list[CaptureRef]:
    """Keep one capture per period (``mode``), choosing among successful captures (2xx, 3xx and
    revisits). Periods that already hold a stored capture (``covered`` timestamps) are done."""
    if mode is Sampling.ALL:
        return list(records)
    done = {_period(mode, parse_timestamp(ts)) for ts in covered}
    best: dict[tuple[int, int], CaptureRef] = {}
    for r in records:
        if r.status is not None and not 200 <= r.status < 400:
            continue
        when = r.captured_at
        key = _period(mode, when)
        if key in done:
            continue
        current = best.get(key)
        if current is None or (_distance(mode, when), r.timestamp) < (
            _distance(mode, current.captured_at),
            current.timestamp,
        ):
            best[key] = r
    return sorted(best.values(), key=lambda r: r.timestamp)
