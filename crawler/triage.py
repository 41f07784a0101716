"""Deciding what to fetch, and what a replayed response is. Plain functions and small state."""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urljoin

from crawler.archive import Archive, Dialect, is_memento, redirect_target
from crawler.discover import is_site_root, path_names_policy
from diffing.records import CaptureRef, parse_timestamp
from storage.keys import BadUrl, urlkey

MAX_CAPTURED_REDIRECTS = 5  # archived 3xx hops followed inside the archive per capture


@dataclass(slots=True)
class PolicyDigests:
    """Digests of one policy: stored before this run, being fetched now, fetched in this run."""

    stored: set[str] = field(default_factory=set)
    inflight: dict[str, list[CaptureRef]] = field(default_factory=dict)
    done: set[str] = field(default_factory=set)
    # digests of archived redirects: what they lead to depends on when, so no sharing by digest
    redirects: set[str] = field(default_factory=set)


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

    def release_redirect(self, digest: str) -> list[CaptureRef]:
        """The capture with ``digest`` is an archived redirect: rows that waited for it are
        fetched one by one (each redirect is followed at its own time), and so are later ones."""
        if not digest:
            return []
        self.digests.redirects.add(digest)
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
        elif is_redirect_row(r) or (r.digest and r.digest in d.redirects):
            plan.to_fetch.append(r)  # followed at its own time: see release_redirect
        elif r.digest and (r.digest in d.stored or r.digest in d.done):
            plan.known.append(r)
        elif r.digest and r.digest in d.inflight:
            d.inflight[r.digest].append(r)
        else:
            plan.to_fetch.append(r)
            if r.digest:
                d.inflight[r.digest] = []
    return plan


def is_redirect_row(r: CaptureRef) -> bool:
    return r.status is not None and 300 <= r.status < 400


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
    if 200 <= status < 300 and not memento and archive.dialect is Dialect.IA:
        # the Internet Archive's own page (e.g. "This URL has been excluded from the Wayback
        # Machine"): every real capture it replays carries Memento-Datetime
        return ReplayOutcome(
            "failed",
            content_type,
            error="the archive answered its own page, not a capture (no Memento-Datetime)",
            error_kind="not-a-memento",
        )
    if 200 <= status < 300:
        return ReplayOutcome("fetched", content_type)
    if memento:
        return ReplayOutcome("archived-error", content_type, error=f"archived HTTP {status}")
    return ReplayOutcome(
        "failed", content_type, error=f"archive answered HTTP {status}", error_kind=f"http-{status}"
    )


# ------------------------------------------------------------------------------------------------
# archived (captured) redirects


@dataclass(frozen=True, slots=True)
class Hop:
    """One archived response of a redirect chain: when it was captured, its URL, its status."""

    timestamp: str
    url: str
    status: int

    def as_dict(self) -> dict[str, Any]:
        return {"timestamp": self.timestamp, "url": self.url, "status": self.status}


def memento_timestamp(headers: Sequence[tuple[str, str]], fallback: str) -> str:
    """The 14-digit capture time of an archived response (its Memento-Datetime header)."""
    value = _header(headers, "memento-datetime")
    if value:
        try:
            return parsedate_to_datetime(value).astimezone(UTC).strftime("%Y%m%d%H%M%S")
        except (TypeError, ValueError):
            pass
    return fallback


@dataclass(frozen=True, slots=True)
class RedirectStep:
    """What to do after an archived redirect: ``follow`` this replay URL, or stop (``stop``
    names why: no-location, loop, too-many-hops, leaves-policy; ``reason`` says it in words)."""

    follow: str | None = None
    stop: str = ""
    reason: str = ""


def _key(url: str) -> str:
    try:
        return urlkey(url)
    except BadUrl:
        return url


def next_redirect(
    archive: Archive,
    chain: Sequence[Hop],
    target: str | None,
    location: str,
    start_url: str,
    *,
    max_hops: int = MAX_CAPTURED_REDIRECTS,
    policy: bool = True,
) -> RedirectStep:
    """Where an archived redirect (the last hop of ``chain``) leads, inside the archive only: the
    target's raw replay address at the redirect's own time (the Internet Archive already writes
    that into Location; pywb hands back the live Location, resolved here). Never the live web.

    With ``policy`` (a tracked policy URL, not a home page), a redirect to a site's home page has
    left the policy: it is not followed."""
    if not target:
        return RedirectStep(
            stop="no-location", reason="archived redirect without a usable Location"
        )
    if target in {h.url for h in chain}:
        path = " -> ".join([h.url for h in chain] + [target])
        return RedirectStep(stop="loop", reason=f"archived redirect loop: {path}")
    if len(chain) > max_hops:
        return RedirectStep(
            stop="too-many-hops", reason=f"more than {max_hops} archived redirects in a row"
        )
    if policy and is_site_root(target) and _key(target) != _key(start_url):
        return RedirectStep(stop="leaves-policy", reason=f"redirects to the home page {target}")
    inside = archive.original_from_replay(location) if location else None
    if inside is not None and inside[1] == target and "id_/" in location:
        return RedirectStep(follow=location)
    return RedirectStep(follow=archive.replay_url(chain[-1].timestamp, target))


def leaves_policy(start_url: str, end_url: str, verdict: str | None) -> str | None:
    """Why a redirect chain from a policy URL ends somewhere that is not that policy, or None
    when the content at its end is the policy (to be stored as the capture's content).

    The rule: the same archive key (http -> https, www., a trailing slash) is the same policy; a
    site's home page is not; an address whose path names a policy is the policy moved; anything
    else (a login page, a product page) is the policy only if its text reads as one (the
    normaliser's verdict is ``ok``)."""
    if _key(end_url) == _key(start_url):
        return None
    if is_site_root(end_url):
        return f"redirects to the home page {end_url}"
    if path_names_policy(end_url):
        return None
    if verdict == "ok":
        return None
    return f"redirects to {end_url}, which is not a policy ({verdict or 'not read'})"


class Sampling(enum.StrEnum):
    ALL = "all"  # every distinct capture
    MONTHLY = "monthly"  # the first capture of each month
    SEMIANNUAL = "semiannual"  # the Princeton corpus: nearest to 1 April and to 1 October
    YEARLY = "yearly"  # the first capture of each year (home pages for discovery)


def _period(mode: Sampling, when: datetime) -> tuple[int, int]:
    if mode is Sampling.MONTHLY:
        return when.year, when.month
    if mode is Sampling.YEARLY:
        return when.year, 0
    return when.year, 0 if when.month <= 6 else 1


def period_label(mode: Sampling, ts: str) -> str:
    """The period a capture stands for, as printed: ``2019``, ``2019-04``, ``2019-H2``."""
    when = parse_timestamp(ts)
    if mode is Sampling.YEARLY:
        return f"{when.year}"
    if mode is Sampling.SEMIANNUAL:
        return f"{when.year}-H{1 if when.month <= 6 else 2}"
    return f"{when.year}-{when.month:02d}"


def _distance(mode: Sampling, when: datetime) -> float:
    if mode in (Sampling.MONTHLY, Sampling.YEARLY):
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
