"""Scrapy settings of policytrail (``scrapy.cfg`` points here).

policytrail's own settings, all prefixed ``POLICYTRAIL_``:
- ``POLICYTRAIL_CDX_PER_MINUTE`` (24): CDX requests per minute, shared by all concurrent requests.
- ``POLICYTRAIL_REPLAY_PER_SECOND`` (8): replay (capture) requests per second.
- ``POLICYTRAIL_BACKOFF_SECONDS`` (60): pause after a live HTTP 429; doubles on each repeat.
- ``POLICYTRAIL_MAX_429`` (3): live 429s tolerated before the run gives up cleanly.
The defaults follow the Internet Archive's published practice; a local archive can go faster.
"""

from __future__ import annotations

from crawler import USER_AGENT

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
POLICYTRAIL_BACKOFF_SECONDS = 60.0
POLICYTRAIL_MAX_429 = 3

CONCURRENT_REQUESTS = 8
CONCURRENT_REQUESTS_PER_DOMAIN = 8
DOWNLOAD_TIMEOUT = 60
DOWNLOAD_MAXSIZE = 64 * 1024 * 1024
DOWNLOAD_WARNSIZE = 0
DOWNLOAD_DELAY_JITTER = 0

# 429 is not retried by the stock RetryMiddleware: ArchiveBackoffMiddleware pauses instead.
RETRY_HTTP_CODES = [500, 502, 503, 504, 522, 524, 408]
RETRY_TIMES = 3

# The add-on installs the middleware and pipeline and turns the POLICYTRAIL_* rates into slots.
ADDONS = {"crawler.addon.PolicytrailAddon": 0}
LOG_LEVEL = "INFO"
