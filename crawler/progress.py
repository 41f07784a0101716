"""Progress on a terminal: one line on stderr, redrawn in place while a crawl runs.

Reads ``POLICYTRAIL_PROGRESS`` (``auto``: only when stderr is a terminal, the default; ``on``;
``off``) and ``POLICYTRAIL_PROGRESS_INTERVAL`` (seconds between redraws, 0.5). It reads the run's
stats from a reactor timer (``LoopingCall``): never a blocking call, never a thread. Off a
terminal (a pipe, a log file, cron) it switches itself off, so logs stay clean.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from time import monotonic
from typing import Any, TextIO

from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from twisted.internet.task import LoopingCall

BAR_WIDTH = 20


def _n(stats: Mapping[str, Any], key: str) -> int:
    return int(stats.get(f"policytrail/{key}", 0) or 0)


def progress_line(stats: Mapping[str, Any], urls: int, elapsed: float) -> str:
    """The progress line for a run's stats so far: URLs listed, captures seen, a bar of captures
    done out of those to fetch, captures skipped (digest stored or already stored), errors."""
    done = sum(
        _n(stats, f"capture_{state}")
        for state in ("fetched", "failed", "archived-error", "redirect")
    )
    todo = max(_n(stats, "to_fetch"), done)
    filled = BAR_WIDTH * done // todo if todo else 0
    bar = "#" * filled + "-" * (BAR_WIDTH - filled)
    errors = sum(int(v or 0) for k, v in stats.items() if k.startswith("policytrail/error/"))
    errors += _n(stats, "cdx_errors")
    rate = done / elapsed if elapsed > 0 else 0.0
    listed = f"{_n(stats, 'urls_listed')}/{urls} listed" if urls else "listing"
    return (
        f"{listed} | {_n(stats, 'captures_seen')} captures | [{bar}] {done}/{todo} fetched "
        f"| {_n(stats, 'skipped_digest') + _n(stats, 'skipped_stored')} skipped "
        f"| {errors} errors | {rate:.1f}/s"
    )


class ProgressExtension:
    def __init__(self, crawler: Crawler, stream: TextIO, interval: float) -> None:
        self.crawler = crawler
        self.stream = stream
        self.interval = interval
        self.started = monotonic()
        self.width = 0
        self.task: LoopingCall | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ProgressExtension:
        mode = str(crawler.settings.get("POLICYTRAIL_PROGRESS", "auto")).lower()
        stream = sys.stderr
        if mode in ("off", "0", "false", "no") or (mode == "auto" and not stream.isatty()):
            raise NotConfigured  # no message: Scrapy would log a warning on every piped run
        ext = cls(crawler, stream, crawler.settings.getfloat("POLICYTRAIL_PROGRESS_INTERVAL", 0.5))
        crawler.signals.connect(ext.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(ext.spider_closed, signal=signals.spider_closed)
        return ext

    def _urls(self) -> int:
        spider = self.crawler.spider
        return len(getattr(spider, "urls", None) or getattr(spider, "domains", None) or [])

    def draw(self) -> None:
        stats = self.crawler.stats.get_stats() if self.crawler.stats else {}
        line = progress_line(stats, self._urls(), monotonic() - self.started)
        pad = max(self.width - len(line), 0)
        self.width = len(line)
        self.stream.write("\r" + line + " " * pad)
        self.stream.flush()

    def spider_opened(self) -> None:
        self.started = monotonic()
        self.task = LoopingCall(self.draw)
        self.task.start(self.interval, now=True)

    def spider_closed(self) -> None:
        if self.task is not None and self.task.running:
            self.task.stop()
        self.draw()  # the final counts stay on screen, and the summary starts on a new line
        self.stream.write("\n")
        self.stream.flush()
