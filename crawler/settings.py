"""Scrapy settings of policytrail (``scrapy.cfg`` points here).

policytrail's own settings, all prefixed ``POLICYTRAIL_``:
- ``POLICYTRAIL_CDX_PER_MINUTE`` (24): CDX requests per minute, shared by all concurrent requests.
- ``POLICYTRAIL_REPLAY_PER_SECOND`` (8): replay (capture) requests per second.
- ``POLICYTRAIL_PACING`` (``schedule``): requests to the archive are paced from a fixed schedule
  (``crawler/pacing.py``), so a busy reactor does not slow them below the limit; ``delay`` is
  Scrapy's own slot delay. The environment variable of the same name overrides it.
- ``POLICYTRAIL_BACKOFF_SECONDS`` (60): pause after a live HTTP 429; doubles on each repeat.
- ``POLICYTRAIL_MAX_429`` (3): live 429s tolerated before the run gives up cleanly.
- ``POLICYTRAIL_RETRY_BACKOFF_SECONDS`` (2): wait before retrying a live 5xx, a timeout, a reset or
  a truncated body; doubles on each retry (at most ``RETRY_TIMES`` retries, 3).
- ``DOWNLOAD_TIMEOUT`` (60 s) and ``DOWNLOAD_MAXSIZE`` (16 MiB: a larger capture is not a policy
  page; it is stored ``unfetchable`` with the error ``too-large``), ``DOWNLOAD_WARNSIZE`` (4 MiB).
The environment variables ``POLICYTRAIL_DOWNLOAD_TIMEOUT``, ``POLICYTRAIL_DOWNLOAD_MAXSIZE`` (bytes)
and ``POLICYTRAIL_RETRY_BACKOFF_SECONDS`` override those (the fault tests run with short ones; a
larger size with ``--retry-unfetchable`` fetches captures that were too large).
- ``POLICYTRAIL_SNAPSHOTS`` (``keep``): ``keep`` stores each fetched capture's raw bytes beside its
  text; ``none`` only the text and what was read from it (``--snapshots``). The environment
  variable of the same name sets the default.
- ``POLICYTRAIL_PROGRESS`` (auto) and ``POLICYTRAIL_PROGRESS_INTERVAL`` (0.5 s): the progress line
  on stderr (``auto``: only on a terminal); see ``crawler/progress.py``.
The defaults follow the Internet Archive's published practice; a local archive can go faster.
"""

from __future__ import annotations

import os

from crawler import USER_AGENT


def _env_float(name: str, default: float) -> float:
    value = os.environ.get(name, "")
    try:
        return float(value) if value else default
    except ValueError:
        return default


BOT_NAME = "policytrail"
SPIDER_MODULES = ["crawler.spiders"]
NEWSPIDER_MODULE = "crawler.spiders"

USER_AGENT = USER_AGENT
ROBOTSTXT_OBEY = False  # archives' replay space is not a site's robots.txt domain
COOKIES_ENABLED = False
TELNETCONSOLE_ENABLED = False
REQUEST_FINGERPRINTER_IMPLEMENTATION = "2.7"

POLICYTRAIL_CDX_PER_MINUTE = 24.0
POLICYTRAIL_REPLAY_PER_SECOND = 8.0
POLICYTRAIL_PACING = os.environ.get("POLICYTRAIL_PACING") or "schedule"
POLICYTRAIL_BACKOFF_SECONDS = 60.0
POLICYTRAIL_MAX_429 = 3
POLICYTRAIL_SNAPSHOTS = os.environ.get("POLICYTRAIL_SNAPSHOTS") or "keep"  # keep | none

CONCURRENT_REQUESTS = 8
CONCURRENT_REQUESTS_PER_DOMAIN = 8
DOWNLOAD_TIMEOUT = _env_float("POLICYTRAIL_DOWNLOAD_TIMEOUT", 60.0)
DOWNLOAD_MAXSIZE = int(_env_float("POLICYTRAIL_DOWNLOAD_MAXSIZE", 16 * 1024 * 1024))
DOWNLOAD_WARNSIZE = 4 * 1024 * 1024
DOWNLOAD_DELAY_JITTER = 0

# 429 is never retried: ArchiveBackoffMiddleware pauses instead. ArchiveRetryMiddleware replaces
# the stock RetryMiddleware: back-off between retries, archived 5xx pages never retried.
RETRY_HTTP_CODES = [500, 502, 503, 504, 522, 524, 408]
RETRY_TIMES = 3
POLICYTRAIL_RETRY_BACKOFF_SECONDS = _env_float("POLICYTRAIL_RETRY_BACKOFF_SECONDS", 2.0)
POLICYTRAIL_RETRY_BACKOFF_MAX = 60.0
DOWNLOADER_MIDDLEWARES = {
    "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
    "crawler.middlewares.ArchiveRetryMiddleware": 550,
}

# The add-on installs the middleware and pipeline and turns the POLICYTRAIL_* rates into slots.
ADDONS = {"crawler.addon.PolicytrailAddon": 0}

# A one-line progress display on stderr, only when it is a terminal (crawler/progress.py).
POLICYTRAIL_PROGRESS = "auto"  # auto | on | off
POLICYTRAIL_PROGRESS_INTERVAL = 0.5
EXTENSIONS = {"crawler.progress.ProgressExtension": 500}
LOG_LEVEL = "INFO"
