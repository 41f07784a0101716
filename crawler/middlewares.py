"""Archive back-off: how policytrail answers the archive's "slow down".

Reads ``POLICYTRAIL_BACKOFF_SECONDS`` (60) and ``POLICYTRAIL_MAX_429`` (3).

The Internet Archive blocks an IP for an hour (doubling on repeats) when 429s are ignored, and sends
no Retry-After. So a *live* 429 (one without Memento-Datetime; an archived page that happened to be
a 429 is content, not a signal) pauses every request to that endpoint's download slot for the
back-off period, doubling on each repeat, and the request is rescheduled once. After
``POLICYTRAIL_MAX_429`` such answers the run stops cleanly with reason ``rate-limited``: never a
retry loop.

``ArchiveRetryMiddleware`` replaces Scrapy's RetryMiddleware (it reads the same ``RETRY_TIMES`` and
``RETRY_HTTP_CODES``, plus ``POLICYTRAIL_RETRY_BACKOFF_SECONDS``, 2): a live 5xx, a timeout, a reset
or lost connection or a truncated body is retried at most ``RETRY_TIMES`` times, waiting the
back-off (doubling, at most ``POLICYTRAIL_RETRY_BACKOFF_MAX``, 60 s) before each retry, so a
struggling archive gets air. An archived 5xx page (it carries Memento-Datetime) is content and is
never retried. Retries are counted by kind in the stats (``policytrail/retry/<kind>``); a request
that still fails reaches the spider, which records the capture as failed: the next run retries it,
unless its kind is one that fetching again cannot fix (``UNFETCHABLE``: recorded ``unfetchable``).

``failure_kind`` names what went wrong with a download, for the stats and the run history.
"""

from __future__ import annotations

import asyncio
import gzip
import logging
import struct
import zlib
from time import monotonic

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.exceptions import (
    CannotResolveHostError,
    DownloadCancelledError,
    DownloadConnectionRefusedError,
    DownloadFailedError,
    DownloadTimeoutError,
    IgnoreRequest,
    ResponseDataLossError,
)
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


# What a failed download was, by exception type: the names the stats and the run history use.
_KINDS: tuple[tuple[tuple[type[BaseException], ...], str], ...] = (
    ((DownloadTimeoutError, TimeoutError), "timeout"),
    ((ResponseDataLossError,), "truncated"),
    ((DownloadCancelledError,), "too-large"),  # DOWNLOAD_MAXSIZE: the only cancel we cause
    ((zlib.error, gzip.BadGzipFile, EOFError, struct.error), "corrupt-compression"),
    ((DownloadConnectionRefusedError, ConnectionRefusedError), "connection-refused"),
    ((CannotResolveHostError,), "dns"),
    ((DownloadFailedError, ConnectionError), "connection-lost"),
)
RETRYABLE = frozenset({"timeout", "truncated", "connection-lost", "connection-refused", "dns"})
# Failures that fetching again cannot fix: the capture is stored ``unfetchable`` (not ``failed``),
# later runs do not fetch it again and it does not hold its URL's cursor back, so an archive is not
# asked every run for a 20 MB body that fails identically (``--retry-unfetchable`` asks once more,
# e.g. after raising DOWNLOAD_MAXSIZE). Only what the archived bytes themselves decide belongs
# here: a body over DOWNLOAD_MAXSIZE, and a Content-Encoding over bytes that do not inflate (both
# are the same every time the same record is replayed). Left out on purpose, because the archive's
# answer may change: ``not-a-memento`` (an exclusion can be lifted), ``http-404`` and other live
# 4xx (an index/replay mismatch can heal), archive redirects outside the archive or in a loop.
# An archived response that is not HTML is no failure at all: it is stored ``fetched``, and the
# normaliser's verdict says what it is.
UNFETCHABLE = frozenset({"too-large", "corrupt-compression"})


def failed_state(kind: str) -> str:
    """The capture state for a download that failed with ``kind``: final or retried next run."""
    return "unfetchable" if kind in UNFETCHABLE else "failed"


def failure_kind(exc: BaseException | None) -> str:
    """A short, stable name for why a download failed (``timeout``, ``connection-lost``...)."""
    if exc is None:
        return "error"
    for types, kind in _KINDS:
        if isinstance(exc, types):
            return kind
    if isinstance(exc, IgnoreRequest) and "DOWNLOAD_MAXSIZE" in str(exc):
        return "too-large"  # exceeded the limit while decompressing
    name = type(exc).__name__
    if name in ("ConnectionLost", "ConnectionDone", "ResponseFailed", "ResponseNeverReceived"):
        return "connection-lost"  # Twisted's own, when Scrapy does not wrap them
    if name == "TimeoutError":
        return "timeout"
    return name


def retry_delay(base: float, attempt: int, cap: float) -> float:
    """The wait before retry number ``attempt`` (1, 2, ...): doubling from ``base``."""
    return float(min(cap, base * 2 ** (attempt - 1)))


class ArchiveRetryMiddleware:
    def __init__(self, crawler: Crawler) -> None:
        s = crawler.settings
        self.crawler = crawler
        self.max_retries = s.getint("RETRY_TIMES", 3)
        self.codes = {int(c) for c in s.getlist("RETRY_HTTP_CODES")} - {429}
        self.base = s.getfloat("POLICYTRAIL_RETRY_BACKOFF_SECONDS", 2.0)
        self.cap = s.getfloat("POLICYTRAIL_RETRY_BACKOFF_MAX", 60.0)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ArchiveRetryMiddleware:
        return cls(crawler)

    async def process_request(self, request: Request) -> None:
        wait = request.meta.get("policytrail_retry_at", 0.0) - monotonic()
        if wait > 0:
            await asyncio.sleep(wait)  # this request only; the rest of the crawl goes on

    def process_response(self, request: Request, response: Response) -> Request | Response:
        if response.status not in self.codes or request.meta.get("dont_retry"):
            return response
        headers = [(k.decode("latin-1"), "") for k in response.headers]
        if is_memento(headers):
            return response  # an archived 5xx page: content, not a failure of the archive
        return self._retry(request, f"http-{response.status}") or response

    def process_exception(self, request: Request, exception: Exception) -> Request | None:
        kind = failure_kind(exception)
        if kind not in RETRYABLE or request.meta.get("dont_retry"):
            return None
        return self._retry(request, kind)

    def _retry(self, request: Request, kind: str) -> Request | None:
        attempt = request.meta.get("retry_times", 0) + 1
        if attempt > request.meta.get("max_retry_times", self.max_retries):
            logger.warning("giving up on %s after %d retries (%s)", request.url, attempt - 1, kind)
            return None  # the spider records the failure by kind
        delay = retry_delay(self.base, attempt, self.cap)
        self.crawler.stats.inc_value(f"policytrail/retry/{kind}")
        logger.info("retrying %s in %.1f s (%s, retry %d)", request.url, delay, kind, attempt)
        meta = {**request.meta, "retry_times": attempt, "policytrail_retry_at": monotonic() + delay}
        return request.replace(dont_filter=True, meta=meta)


def blocked_answer(status: int, body: bytes) -> bool:
    """The archive refuses the URL by policy: the Internet Archive's CDX answers 403 "Blocked Site
    Error" for URLs excluded at their owner's request. Not a fault to retry: named ``blocked``."""
    return status == 403 and b"Blocked Site Error" in body[:2048]
