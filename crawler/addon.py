"""The policytrail add-on: installs its components in one place and derives per-endpoint download
slots from ``POLICYTRAIL_CDX_PER_MINUTE`` and ``POLICYTRAIL_REPLAY_PER_SECOND``, paced from a fixed
schedule (``crawler/pacing.py``) unless ``POLICYTRAIL_PACING`` is ``delay`` (Scrapy's own slot
delay, the baseline of ``bench/bench_crawl.py``)."""

from __future__ import annotations

import logging
from typing import Any

from scrapy.settings import BaseSettings

logger = logging.getLogger(__name__)

PACINGS = ("schedule", "delay")


def slot_settings(cdx_per_minute: float, replay_per_second: float) -> dict[str, dict[str, Any]]:
    """Each slot spaces its requests ``delay`` seconds apart, whatever the concurrency."""
    if cdx_per_minute <= 0 or replay_per_second <= 0:
        raise ValueError("rate limits must be positive")
    return {
        "cdx": {"concurrency": 1, "delay": 60.0 / cdx_per_minute, "jitter": 0},
        "replay": {"concurrency": 4, "delay": 1.0 / replay_per_second, "jitter": 0},
    }


class PolicytrailAddon:
    def update_settings(self, settings: BaseSettings) -> None:
        settings["DOWNLOADER_MIDDLEWARES"]["crawler.middlewares.ArchiveBackoffMiddleware"] = 560
        settings["ITEM_PIPELINES"]["crawler.pipelines.StorePipeline"] = 300
        slots = slot_settings(
            settings.getfloat("POLICYTRAIL_CDX_PER_MINUTE", 24.0),
            settings.getfloat("POLICYTRAIL_REPLAY_PER_SECOND", 8.0),
        )
        slots.update(settings.getdict("DOWNLOAD_SLOTS"))
        settings.set("DOWNLOAD_SLOTS", slots, priority="addon")
        pacing = settings.get("POLICYTRAIL_PACING", "schedule")
        if pacing not in PACINGS:
            logger.warning(
                "POLICYTRAIL_PACING=%r is not one of %s: using schedule", pacing, PACINGS
            )
        if pacing != "delay":
            settings.set("DOWNLOADER", "crawler.pacing.PacedDownloader", priority="addon")
