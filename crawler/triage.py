"""Deciding what to fetch, and what a replayed response is. Plain functions and small state."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from urllib.parse import urljoin

from crawler.archive import Archive, is_memento, redirect_target
from diffing.records import CaptureRef


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
