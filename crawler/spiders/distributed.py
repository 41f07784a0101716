"""The policy spider of a distributed crawl: ``PolicySpider`` fed from Redis (scrapy-redis'
``RedisMixin``), its requests shared by every worker through the Redis scheduler.

Any worker may answer any request, so nothing a callback needs lives in one worker's memory:
- a CDX page is planned from the database's state (``known_state``) when it arrives;
- a replay request carries the rows that share its digest (``siblings``) in its meta;
- a resume request carries the rows buffered for sampling.
``PolicySpider``'s callbacks then run unchanged on that state (eagerly, so no other callback
interleaves while it is in place). Requests are filtered by the cluster's duplicate filter
(``dont_filter`` off), so each URL is requested once by the whole cluster.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterator
from functools import partial
from typing import Any

import scrapy
from scrapy.crawler import Crawler
from scrapy.exceptions import DontCloseSpider
from scrapy.http import Response
from scrapy_redis.spiders import RedisMixin
from twisted.python.failure import Failure

from crawler.archive import CdxQuery
from crawler.items import KnownCaptures, Target
from crawler.spiders.policies import PolicySpider, start_state
from crawler.storeworker import DatabaseFailed
from crawler.triage import Listing, PolicyDigests, Sampling
from diffing.records import CaptureRef


class DistributedPolicySpider(RedisMixin, PolicySpider):  # type: ignore[misc]
    name = "policies-distributed"

    def __init__(self, *args: Any, member: str = "", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.member = member
        self.cluster: Any = None
        self.redis_error: str | None = None
        self._last_activity = time.monotonic()
        self._idle_call: Any = None

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> DistributedPolicySpider:
        from crawler.distributed import Cluster
        from crawler.storeworker import StoreWorker
        from storage import default_db_url

        spider: DistributedPolicySpider = super().from_crawler(crawler, *args, **kwargs)
        # before the engine runs: requests of the shared queue may reach this worker before
        # start() would have opened the database (they are lost if a callback finds none)
        spider.worker = StoreWorker(spider.db_url or default_db_url(), spider.database_failed)
        spider.setup_redis(crawler)
        spider.cluster = Cluster(
            crawler.settings.get("POLICYTRAIL_REDIS_URL"),
            crawler.settings.get("POLICYTRAIL_REDIS_PREFIX", "policytrail"),
        )
        return spider

    async def start(self) -> AsyncIterator[scrapy.Request]:
        return
        yield  # start URLs come from Redis when the spider is idle (RedisMixin.spider_idle)

    # ------------------------------------------------------------------ start messages

    def make_request_from_data(self, data: bytes) -> scrapy.Request | None:
        """A start message from ``policytrail enqueue``: the CDX listing of one tracked URL."""
        try:
            m = json.loads(data)
            target = Target(int(m["policy_id"]), int(m["url_id"]), str(m["url"]))
            query = CdxQuery(target.url, from_ts=m.get("from_ts"), to_ts=m.get("to_ts"))
            sample = str(Sampling(m.get("sample") or "all"))
        except (ValueError, KeyError, TypeError) as exc:
            self.logger.error("ignored a malformed start message %r: %s", data[:200], exc)
            return None
        self._last_activity = time.monotonic()
        request = self._cdx_request(target, query)
        request.meta["sample"] = sample
        if m.get("retry_unfetchable"):
            request.meta["retry_unfetchable"] = True
        return request

    def spider_idle(self) -> None:
        """Take start messages when there are some; close after ``MAX_IDLE_TIME_BEFORE_CLOSE``
        seconds without any work (the queue is shared: other workers may still add to it)."""
        if self.server is not None and self.count_size(self.redis_key) > 0:
            self._last_activity = time.monotonic()
        self.schedule_next_requests()
        idle = time.monotonic() - self._last_activity
        if self.max_idle_time and idle >= self.max_idle_time:
            return
        if self.max_idle_time and self._idle_call is None:
            # the engine asks again only every 5 s: look again when the timeout is due
            from twisted.internet import reactor

            self._idle_call = reactor.callLater(  # type: ignore[attr-defined]
                self.max_idle_time - idle + 0.05, self._idle_due
            )
        raise DontCloseSpider

    def _idle_due(self) -> None:
        self._idle_call = None
        engine = self.crawler.engine
        if engine is None or not engine.spider_is_idle():
            return  # busy again: the engine calls spider_idle when it is idle next
        try:
            self.spider_idle()
        except DontCloseSpider:
            return
        from scrapy.utils.defer import deferred_from_coro

        deferred_from_coro(engine.close_spider_async(reason="finished"))

    # ------------------------------------------------------------------ requests

    def _cdx_request(self, target: Target, query: CdxQuery) -> scrapy.Request:
        request = super()._cdx_request(target, query)
        buffered = self.buffered.pop(target.url_id, None)
        if buffered:
            request.meta["buffered"] = buffered  # rows of earlier pages, awaiting sampling
        if str(self.sampling) != "all":
            request.meta["sample"] = str(self.sampling)
        if self.retry_unfetchable:
            request.meta["retry_unfetchable"] = True  # the listing's next page: the same job
        return request.replace(dont_filter=False)

    def _replay_request(self, target: Target, ref: CaptureRef, *args: Any, **kw: Any) -> Any:
        request = super()._replay_request(target, ref, *args, **kw)
        listing = self.listings.get(target.url_id)
        siblings = listing.digests.inflight.get(ref.digest, []) if listing and ref.digest else []
        request.meta["siblings"] = list(siblings)
        return request.replace(dont_filter=False)

    # ------------------------------------------------------------------ callbacks

    async def parse_cdx(self, response: Response) -> AsyncIterator[Any]:  # type: ignore[override]
        self._last_activity = time.monotonic()
        target: Target = response.meta["target"]
        assert self.worker is not None
        # the job's choice (``enqueue --retry-unfetchable``), carried by its start message
        retry = bool(response.meta.get("retry_unfetchable"))
        try:
            contents, stamps, unfetchable, _ = await self.worker.run(
                partial(start_state, target=target, retry_unfetchable=retry)
            )
        except DatabaseFailed:
            return  # the worker is stopping; the next job lists this URL again
        # from here to the end of the eager call below nothing else runs: the state is ours
        # (as in a single-process crawl, a capture whose digest is unfetchable holds the same
        # bytes: it is stored unfetchable without a fetch, unless the job retries them)
        self.listings[target.url_id] = Listing(
            PolicyDigests(stored=set(contents) | set(unfetchable)), stored_timestamps=stamps
        )
        self.retry_unfetchable = retry
        self.sampling = Sampling(response.meta.get("sample") or "all")
        if response.meta.get("buffered"):
            self.buffered[target.url_id] = list(response.meta["buffered"])
        out = list(super().parse_cdx(response))
        newest = self.newest_listed.pop(target.url_id, None)
        pending: list[CaptureRef] = []
        for x in out:
            if isinstance(x, KnownCaptures):
                pending.extend(x.captures)
            elif isinstance(x, scrapy.Request) and "capture" in x.meta:
                pending.append(x.meta["capture"])
                pending.extend(x.meta.get("siblings", ()))
        if pending:
            try:
                n = await self.worker.run(
                    lambda s: _mark_pending(s, target, self.archive.base, pending, self.run_id)
                )
            except DatabaseFailed:
                return
            self.crawler.stats.inc_value("policytrail/pending_marked", n)
        if newest and self.cluster is not None:
            await asyncio.to_thread(self.cluster.record_newest, target.url_id, newest)
        for x in out:
            yield x

    def _adopt(self, meta: dict[str, Any]) -> None:
        """The state a replay callback needs, from the request that carried it."""
        self._last_activity = time.monotonic()
        target: Target = meta["target"]
        ref: CaptureRef = meta["capture"]
        inflight = {ref.digest: list(meta.get("siblings", ()))} if ref.digest else {}
        self.listings[target.url_id] = Listing(PolicyDigests(inflight=inflight))

    def parse_capture(self, response: Response) -> Iterator[Any]:
        self._adopt(response.meta)
        return iter(list(super().parse_capture(response)))

    def capture_failed(self, failure: Failure) -> Iterator[Any]:
        self._adopt(failure.request.meta)  # type: ignore[attr-defined]
        return iter(list(super().capture_failed(failure)))

    def cdx_failed(self, failure: Failure) -> None:
        self._last_activity = time.monotonic()
        super().cdx_failed(failure)


def _mark_pending(
    store: Any, target: Target, archive: str, refs: list[CaptureRef], run_id: int | None
) -> int:
    from crawler.distributed import mark_pending

    return mark_pending(store, target.policy_id, target.url_id, archive, refs, run_id)
