"""The policy spider: for each tracked URL, list its captures through the archive's CDX API and
fetch each distinct capture in raw (``id_``) mode.

Callbacks are thin: CDX parsing and triage are plain functions (``crawler.archive``,
``crawler.triage``); database work happens in the pipeline's worker thread.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from functools import partial
from typing import Any
from urllib.parse import urljoin

import scrapy
from scrapy.http import Response
from twisted.python.failure import Failure

from crawler.archive import Archive, CdxQuery, make_archive, parse_cdx
from crawler.items import FetchedCapture, KnownCaptures, Target
from crawler.middlewares import blocked_answer, failed_state, failure_kind
from crawler.storeworker import CLOSE_REASON, DatabaseFailed, StoreWorker
from crawler.triage import (
    Hop,
    Listing,
    PolicyDigests,
    Sampling,
    classify_replay,
    memento_timestamp,
    next_redirect,
    plan_listing,
    sample,
)
from diffing.records import CaptureRef
from storage import Store
from storage.repository import StoredContent

CDX_SLOT = "cdx"
REPLAY_SLOT = "replay"
MAX_ARCHIVE_HOPS = 3  # archive-internal redirects (inexact timestamp -> exact capture)


def known_state(
    store: Store, target: Target, retry_unfetchable: bool = False
) -> tuple[dict[str, StoredContent], set[str]]:
    """What is stored already: content by digest (policy-wide) and this URL's capture times.
    A followed archived redirect holds the content at the end of its chain, which its digest
    (the redirect's own payload) does not name: it is no reason to skip a capture. With
    ``retry_unfetchable``, unfetchable captures do not count as stored: they are fetched again."""
    contents = {
        digest: c
        for digest, c in store.stored_contents(target.policy_id).items()
        if not (c.state == "fetched" and c.redirect_to)
    }
    return contents, store.stored_timestamps(target.url_id, retry_unfetchable=retry_unfetchable)


def start_state(
    store: Store, target: Target, retry_unfetchable: bool
) -> tuple[dict[str, StoredContent], set[str], set[str], str | None]:
    """``known_state``, then, in a normal run, the digests of the policy's unfetchable captures
    (a new capture with one holds the same bytes: not fetched either); with
    ``retry_unfetchable``, the time of this URL's oldest unfetchable capture (to list from)."""
    contents, stamps = known_state(store, target, retry_unfetchable)
    if retry_unfetchable:
        return contents, stamps, set(), store.oldest_unfetchable(target.url_id)
    return contents, stamps, set(store.unfetchable_digests(target.policy_id)), None


def _absolute_location(headers: list[tuple[str, str]], replay_url: str) -> str:
    location = next((v for k, v in headers if k.lower() == "location"), "")
    return urljoin(replay_url, location) if location else ""


class PolicySpider(scrapy.Spider):
    name = "policies"

    def __init__(
        self,
        urls: list[str] | str = "",
        archive: str = "https://web.archive.org",
        dialect: str = "auto",
        db: str | None = None,
        from_ts: str | None = None,
        to_ts: str | None = None,
        run_id: int | str | None = None,
        sample: str = "all",
        retry_unfetchable: bool | str = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if isinstance(urls, str):
            from crawler.urlfile import read_url_file

            urls = read_url_file(urls) if urls else []
        self.urls: list[str] = list(urls)
        self.archive: Archive = make_archive(archive, dialect)
        self.db_url = db
        self.from_ts = from_ts
        self.to_ts = to_ts
        self.run_id = int(run_id) if run_id not in (None, "") else None
        self.sampling = Sampling(sample)
        # fetch the captures stored unfetchable once more (a spider argument may be a string)
        self.retry_unfetchable = str(retry_unfetchable).lower() in ("1", "true", "yes", "on")
        self.buffered: dict[int, list[CaptureRef]] = {}  # url_id -> rows awaiting sampling
        self.worker: StoreWorker | None = None
        self.targets: list[Target] = []
        self.listings: dict[int, Listing] = {}  # url_id -> what this run has seen of it
        self.digests: dict[int, PolicyDigests] = {}  # policy_id -> digests, shared by its URLs
        self.newest_listed: dict[int, str] = {}
        self.cdx_errors: dict[int, str] = {}

    async def start(self) -> AsyncIterator[scrapy.Request]:
        from storage import default_db_url

        self.worker = await asyncio.to_thread(
            StoreWorker, self.db_url or default_db_url(), self.database_failed
        )
        try:
            tracked = await self.worker.run(lambda s: s.track(self.urls, self.archive.base))
        except DatabaseFailed:
            return  # the crawl is closing (database_failed)
        for t in tracked:
            target = Target(t.policy_id, t.url_id, t.url)
            self.targets.append(target)
            retry = self.retry_unfetchable
            try:
                contents, stamps, unfetchable, oldest = await self.worker.run(
                    partial(start_state, target=target, retry_unfetchable=retry)
                )
            except DatabaseFailed:
                return
            digests = self.digests.setdefault(t.policy_id, PolicyDigests())
            digests.stored.update(contents)
            digests.stored.update(unfetchable)  # the same bytes would fail the same way
            self.listings[t.url_id] = Listing(digests, stored_timestamps=stamps)
            from_ts = self.from_ts
            if t.last_seen_ts and (from_ts is None or t.last_seen_ts > from_ts):
                from_ts = t.last_seen_ts  # incremental: only what the index lists since last time
            if retry and oldest and from_ts and oldest < from_ts:
                # unfetchable captures do not hold the cursor back: list from the oldest again
                from_ts = max(oldest, self.from_ts or "")
            yield self._cdx_request(target, CdxQuery(t.url, from_ts=from_ts, to_ts=self.to_ts))

    def database_failed(self, error: str) -> None:
        """The store worker's first failure: stop crawling (nothing fetched now could be kept)."""
        from scrapy.utils.defer import deferred_from_coro

        self.logger.info("database failed, stopping the crawl: %s", error)
        if self.crawler.engine is not None:
            deferred_from_coro(self.crawler.engine.close_spider_async(reason=CLOSE_REASON))

    def _cdx_request(self, target: Target, query: CdxQuery) -> scrapy.Request:
        return scrapy.Request(
            self.archive.cdx_url(query),
            callback=self.parse_cdx,
            errback=self.cdx_failed,
            meta={
                "download_slot": CDX_SLOT,
                "target": target,
                "query": query,
                "handle_httpstatus_list": [404],
            },
            dont_filter=True,
        )

    def parse_cdx(self, response: Response) -> Iterator[Any]:
        target: Target = response.meta["target"]
        query: CdxQuery = response.meta["query"]
        if response.status != 200:
            self.cdx_errors[target.url_id] = f"CDX answered HTTP {response.status}"
            self.crawler.stats.inc_value("policytrail/cdx_errors")
            return
        page = parse_cdx(self.archive, response.body)
        stats = self.crawler.stats
        stats.inc_value("policytrail/cdx_requests")
        stats.inc_value("policytrail/captures_seen", len(page.records))
        if page.skipped:
            stats.inc_value("policytrail/cdx_malformed_lines", len(page.skipped))
            for line in page.skipped[:5]:
                self.logger.warning("skipped malformed CDX line for %s: %s", target.url, line)
        if page.records:
            newest = max(r.timestamp for r in page.records)
            if newest > self.newest_listed.get(target.url_id, ""):
                self.newest_listed[target.url_id] = newest
        records = page.records
        listing = self.listings[target.url_id]
        if self.sampling is not Sampling.ALL:
            # a period may straddle CDX pages: sample once the whole listing is in
            self.buffered.setdefault(target.url_id, []).extend(records)
            records = []
            if not page.resume_key:
                records = sample(
                    self.buffered.pop(target.url_id),
                    self.sampling,
                    covered=listing.stored_timestamps,
                )
                stats.inc_value("policytrail/sampled_out", len(page.records) - len(records))
        plan = plan_listing(listing, records)
        stats.inc_value("policytrail/to_fetch", len(plan.to_fetch))
        if not page.resume_key:
            stats.inc_value("policytrail/urls_listed")
        stats.inc_value("policytrail/skipped_stored", plan.already_stored)
        if plan.known:
            stats.inc_value("policytrail/skipped_digest", len(plan.known))
            yield KnownCaptures(target, self.archive.base, plan.known)
        for ref in plan.to_fetch:
            yield self._replay_request(target, ref)
        if page.resume_key:
            yield self._cdx_request(target, replace(query, resume_key=page.resume_key))

    def cdx_failed(self, failure: Failure) -> None:
        target: Target = failure.request.meta["target"]  # type: ignore[attr-defined]
        answer = getattr(failure.value, "response", None)
        if answer is not None and blocked_answer(answer.status, answer.body):
            self.crawler.stats.inc_value("policytrail/error/blocked")
            self.logger.error("the archive blocks %s (excluded on request): skipped", target.url)
            return
        self.cdx_errors[target.url_id] = failure.getErrorMessage() or repr(failure.value)
        self.crawler.stats.inc_value("policytrail/cdx_errors")
        self.logger.error("CDX query failed for %s: %s", target.url, self.cdx_errors[target.url_id])

    def _replay_request(
        self,
        target: Target,
        ref: CaptureRef,
        url: str | None = None,
        hops: int = 0,
        chain: tuple[Hop, ...] = (),
    ) -> scrapy.Request:
        return scrapy.Request(
            url or self.archive.replay_url(ref.timestamp, ref.url),
            callback=self.parse_capture,
            errback=self.capture_failed,
            meta={
                "download_slot": REPLAY_SLOT,
                "target": target,
                "capture": ref,
                "hops": hops,
                "chain": chain,
                "dont_redirect": True,
                "handle_httpstatus_all": True,
            },
            dont_filter=True,
        )

    def parse_capture(self, response: Response) -> Iterator[Any]:
        target: Target = response.meta["target"]
        ref: CaptureRef = response.meta["capture"]
        chain: tuple[Hop, ...] = response.meta.get("chain", ())
        headers = [
            (k.decode("latin-1"), v.decode("latin-1"))
            for k, vs in response.headers.items()
            for v in vs
        ]
        outcome = classify_replay(self.archive, response.status, headers, response.url)
        stats = self.crawler.stats
        if outcome.state == "archive-redirect":
            hops = response.meta["hops"]
            if outcome.location and hops < MAX_ARCHIVE_HOPS:
                yield self._replay_request(target, ref, outcome.location, hops + 1, chain)
                return
            outcome = outcome.failed("archive kept redirecting")
        listing = self.listings[target.url_id]
        if chain or outcome.state == "redirect":
            hop = self._hop(response, headers, ref, chain)
            if outcome.state == "redirect":
                if not chain:
                    # a redirect's digest says nothing of where it led at another time
                    for sibling in listing.release_redirect(ref.digest):
                        stats.inc_value("policytrail/to_fetch")
                        yield self._replay_request(target, sibling)
                chain = (*chain, hop)
                step = next_redirect(
                    self.archive,
                    chain,
                    outcome.redirect_to,
                    _absolute_location(headers, response.url),
                    ref.url,
                )
                if step.follow:
                    stats.inc_value("policytrail/redirect/hops")
                    yield self._replay_request(target, ref, step.follow, 0, chain)
                    return
                stats.inc_value(f"policytrail/redirect/{step.stop}")
                yield self._chain_end(
                    target,
                    ref,
                    outcome.content_type,
                    chain,
                    response.url,
                    outcome.redirect_to,
                    step.reason,
                    leaves=step.stop == "leaves-policy",
                )
                return
            if outcome.state == "failed" and response.status == 404:
                # the redirect's target was never archived: an archived fact, not an error
                stats.inc_value("policytrail/redirect/target-not-archived")
                yield self._chain_end(
                    target,
                    ref,
                    outcome.content_type,
                    chain,
                    response.url,
                    hop.url,
                    f"redirect target not in the archive: {hop.url}",
                )
                return
            if outcome.state != "failed":
                chain = (*chain, hop)
                stats.inc_value("policytrail/redirect/followed")
        siblings = [] if chain else listing.finish(ref.digest)
        stats.inc_value(f"policytrail/capture_{outcome.state}")
        if outcome.state == "failed":
            stats.inc_value(f"policytrail/error/{outcome.error_kind}")
        yield FetchedCapture(
            target=target,
            capture=ref,
            archive=self.archive.base,
            state=outcome.state,
            body=response.body if outcome.state == "fetched" else None,
            content_type=outcome.content_type,
            replay_url=response.url,
            redirect_to=chain[-1].url if chain else outcome.redirect_to,
            error=outcome.error,
            siblings=siblings,
            redirect_chain=[h.as_dict() for h in chain] or None,
        )

    def _hop(
        self,
        response: Response,
        headers: list[tuple[str, str]],
        ref: CaptureRef,
        chain: tuple[Hop, ...],
    ) -> Hop:
        """The archived response just received, as a hop of its capture's redirect chain."""
        inside = self.archive.original_from_replay(response.url)
        url = inside[1] if inside else ref.url
        fallback = inside[0].ljust(14, "0")[:14] if inside else ref.timestamp
        if not chain:
            url = ref.url  # the capture itself, as its CDX row names it
        return Hop(memento_timestamp(headers, fallback), url, response.status)

    def _chain_end(
        self,
        target: Target,
        ref: CaptureRef,
        content_type: str,
        chain: tuple[Hop, ...],
        replay_url: str,
        redirect_to: str | None,
        reason: str,
        leaves: bool = False,
    ) -> FetchedCapture:
        """A capture whose archived redirects led to no content: recorded with its chain and the
        reason (in ``error``), never a version."""
        self.crawler.stats.inc_value("policytrail/capture_redirect")
        return FetchedCapture(
            target=target,
            capture=ref,
            archive=self.archive.base,
            state="redirect",
            content_type=content_type,
            replay_url=replay_url,
            redirect_to=redirect_to,
            error=reason,
            redirect_chain=[h.as_dict() for h in chain],
            leaves_policy=leaves,
        )

    def capture_failed(self, failure: Failure) -> Iterator[Any]:
        request = failure.request  # type: ignore[attr-defined]
        target: Target = request.meta["target"]
        ref: CaptureRef = request.meta["capture"]
        kind = failure_kind(failure.value)  # timeout, connection-lost, truncated, too-large...
        state = failed_state(kind)  # too-large, corrupt-compression: unfetchable, not retried
        stats = self.crawler.stats
        stats.inc_value("policytrail/capture_failed")  # a fetch that failed, either way
        stats.inc_value(f"policytrail/error/{kind}")
        if state == "unfetchable":
            stats.inc_value("policytrail/unfetchable")
        siblings = self.listings[target.url_id].finish(ref.digest)
        yield FetchedCapture(
            target=target,
            capture=ref,
            archive=self.archive.base,
            state=state,
            replay_url=request.url,
            error=f"{kind}: {failure.getErrorMessage()}",
            siblings=siblings,
        )
