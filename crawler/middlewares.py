"""Archive back-off: how policytrail answers the archive's "slow down".

Reads ``POLICYTRAIL_BACKOFF_SECONDS`` (60) and ``POLICYTRAIL_MAX_429`` (3).

The Internet Archive blocks an IP for an hour (doubling on repeats) when 429s are ignored, and sends
no Retry-After. So a *live* 429 (one without Memento-Datetime; an archived page that happened to be
a 429 is content, not a signal) pauses every request to that endpoint's download slot for the
back-off period, doubling on each repeat, and the request is rescheduled once. After
``POLICYTRAIL_MAX_429`` such answers the run stops cleanly with reason ``rate-limited``: never a
retry loop.
"""

from __future__ import annotations

import logging
from time import monotonic

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.http import Response
from scrapy.utils.defer import deferred_from_coro

from crawler.archive import is_memento

logger = logging.getLogger(__name__)


class ArchiveBackoffMiddleware:
    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.base = crawler.settings.getfloat("POLICYTRAIL_BACKOFF_SECONDS", 60.0)
        self.max_429 = crawler.settings.getint("POLICYTRAIL_MAX_429", 3)
        self.count = 0

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ArchiveBackoffMiddleware:
        return cls(crawler)

    def process_response(self, request: Request, response: Response) -> Request | Response:
        if response.status != 429:
            return response
        headers = [(k.decode("latin-1"), "") for k in response.headers]
        if is_memento(headers):
            return response  # an archived 429 page: content, handled as an archived error
        self.count += 1
        stats = self.crawler.stats
        stats.inc_value("policytrail/rate_limited")
        slot_key = request.meta.get("download_slot", "")
        if self.count > self.max_429:
            logger.error("archive answered 429 %d times: stopping this run cleanly", self.count)
            assert self.crawler.engine is not None
            deferred_from_coro(self.crawler.engine.close_spider_async(reason="rate-limited"))
            return response
        pause = self.base * 2 ** (self.count - 1)
        self.pause_slot(slot_key, pause)
        logger.warning(
            "archive answered 429 (rate limited) on %s: pausing the %r endpoint for %.0f s (%d/%d)",
            request.url,
            slot_key,
            pause,
            self.count,
            self.max_429,
        )
        if request.meta.get("policytrail_429"):
            return response  # rescheduled once already: record it as failed, the next run retries
        return request.replace(dont_filter=True, meta={**request.meta, "policytrail_429": True})

    def pause_slot(self, slot_key: str, seconds: float) -> None:
        engine = self.crawler.engine
        if engine is None:
            return
        slot = engine.downloader.slots.get(slot_key)
        if slot is not None:
            # the downloader waits until `delay` has passed since `lastseen`
            slot.lastseen = max(slot.lastseen, monotonic() + seconds)
