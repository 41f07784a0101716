"""The archive's rate limits, held for a whole cluster of workers: a limiter kept in Redis.

Reads ``POLICYTRAIL_REDIS_URL`` (off without it), ``POLICYTRAIL_REDIS_PREFIX`` ("policytrail"),
``POLICYTRAIL_CDX_PER_MINUTE`` (24), ``POLICYTRAIL_REPLAY_PER_SECOND`` (8) and
``POLICYTRAIL_BACKOFF_SECONDS`` (60).

Each endpoint (download slot ``cdx`` or ``replay``, per archive host) has one key in Redis holding
the earliest time the next request may go. A request reserves its time atomically (a Lua script
reading Redis' own clock, so the workers' clocks do not matter): ``start = max(now, next)``,
``next = start + interval``, and waits ``start - now`` before it is sent. Requests of all workers
are so spaced ``interval`` apart, however many workers there are. A live 429 pushes the
endpoint's next time ``POLICYTRAIL_BACKOFF_SECONDS`` ahead for every worker at once.

A request is sent no later than half an interval after its reserved time. The wait counts from
Redis' clock, and on a loaded machine the reply (or the end of the sleep) can reach a busy
reactor tens of milliseconds late: sent that late, a request would go out right before the next
worker's punctual one, and the archive would see more than the limit within a second. So when
the time since the reservation was asked for exceeds the wait by more than half an interval
(``too_late``: an upper bound of the lateness), the slot is given up and a new one reserved (at
most ``LATE_RETRIES`` times). Any second then holds at most ``rate + 1`` requests of the cluster.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any
from urllib.parse import urlsplit

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.http import Response

from crawler.archive import is_memento

logger = logging.getLogger(__name__)

LATE_RETRIES = 3  # new reservations for one request that woke too late, before it goes anyway

# KEYS[1]: the endpoint's key; ARGV[1]: interval (µs). Returns the wait (µs) before sending.
RESERVE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local nxt = tonumber(redis.call('GET', KEYS[1]) or '0')
local start = math.max(now, nxt)
local interval = tonumber(ARGV[1])
local ttl = math.floor((start - now + interval) / 1000) + 60000
redis.call('SET', KEYS[1], start + interval, 'PX', ttl)
return start - now
"""

# KEYS[1]: the endpoint's key; ARGV[1]: pause (µs). Nobody sends before now + pause.
PAUSE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local nxt = tonumber(redis.call('GET', KEYS[1]) or '0')
local until_ = math.max(nxt, now + tonumber(ARGV[1]))
redis.call('SET', KEYS[1], until_, 'PX', math.floor((until_ - now) / 1000) + 60000)
return until_ - now
"""


def too_late(asked: float, wait: float, now: float, interval: float) -> bool:
    """Whether a request whose reservation was asked for at ``asked`` (local clock) and answered
    with ``wait`` may be more than half an interval late at ``now``: Redis reserved its time at
    most ``wait`` after the question left, so ``now - asked - wait`` bounds the lateness."""
    return now - asked - wait > interval / 2


class SharedRateLimiter:
    """Reservations of send times, shared through Redis (``redis.asyncio``: never blocks)."""

    def __init__(self, client: Any, prefix: str = "policytrail") -> None:
        self.client = client
        self.prefix = prefix
        self._reserve = client.register_script(RESERVE)
        self._pause = client.register_script(PAUSE)

    @classmethod
    def from_url(cls, url: str, prefix: str = "policytrail") -> SharedRateLimiter:
        import redis.asyncio

        return cls(redis.asyncio.Redis.from_url(url), prefix)

    def key(self, slot: str, host: str) -> str:
        return f"{self.prefix}:rate:{slot}:{host}"

    async def reserve(self, key: str, interval: float) -> float:
        """Reserve the next send time on ``key``; the seconds to wait before sending."""
        waited = await self._reserve(keys=[key], args=[max(1, round(interval * 1e6))])
        return int(waited) / 1e6

    async def pause(self, key: str, seconds: float) -> float:
        left = await self._pause(keys=[key], args=[round(seconds * 1e6)])
        return int(left) / 1e6

    async def close(self) -> None:
        await self.client.aclose()


class SharedRateLimitMiddleware:
    """Downloader middleware: waits for the cluster-wide reservation of each archive request."""

    def __init__(self, crawler: Crawler, limiter: SharedRateLimiter) -> None:
        s = crawler.settings
        self.crawler = crawler
        self.limiter = limiter
        self.intervals = {
            "cdx": 60.0 / s.getfloat("POLICYTRAIL_CDX_PER_MINUTE", 24.0),
            "replay": 1.0 / s.getfloat("POLICYTRAIL_REPLAY_PER_SECOND", 8.0),
        }
        self.backoff = s.getfloat("POLICYTRAIL_BACKOFF_SECONDS", 60.0)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> SharedRateLimitMiddleware:
        url = crawler.settings.get("POLICYTRAIL_REDIS_URL")
        if not url:
            raise NotConfigured("no POLICYTRAIL_REDIS_URL: rate limits are per process")
        prefix = crawler.settings.get("POLICYTRAIL_REDIS_PREFIX", "policytrail")
        return cls(crawler, SharedRateLimiter.from_url(url, prefix))

    def _key(self, request: Request) -> tuple[str, float] | None:
        slot = str(request.meta.get("download_slot", ""))
        interval = self.intervals.get(slot)
        if interval is None:
            return None
        return self.limiter.key(slot, urlsplit(request.url).netloc), interval

    async def process_request(self, request: Request) -> None:
        found = self._key(request)
        if found is None:
            return
        key, interval = found
        stats = self.crawler.stats
        for attempt in range(LATE_RETRIES + 1):
            asked = time.monotonic()
            wait = await self.limiter.reserve(key, interval)
            if stats is not None:
                stats.inc_value("policytrail/shared_limit/requests")
            if wait > 0:
                if stats is not None:
                    stats.inc_value("policytrail/shared_limit/waited_ms", round(wait * 1000))
                await asyncio.sleep(wait)
            if attempt == LATE_RETRIES or not too_late(asked, wait, time.monotonic(), interval):
                return
            if stats is not None:  # its slot has passed: sent now, it would bunch with the next
                stats.inc_value("policytrail/shared_limit/late_reserved_again")

    async def process_response(self, request: Request, response: Response) -> Response:
        if response.status == 429:
            headers = [(k.decode("latin-1"), "") for k in response.headers]
            found = self._key(request)
            if found is not None and not is_memento(headers):
                left = await self.limiter.pause(found[0], self.backoff)
                logger.warning(
                    "429 from the archive: every worker pauses %s for %.0f s", found[0], left
                )
        return response
