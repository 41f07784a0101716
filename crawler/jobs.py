"""Running a crawl: validate inputs, open the database, run the spider once, record the run.

``run_crawl`` starts a Twisted reactor, so call it once per process (the CLI does).
"""

from __future__ import annotations

import socket
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import urlsplit

from crawler.archive import IA_BASE, Archive, make_archive
from crawler.urlfile import read_url_file
from storage import open_store


class CrawlError(RuntimeError):
    """A crawl that could not run or could not reach its archive."""


@dataclass(frozen=True, slots=True)
class CrawlOptions:
    urls_file: str
    archive: str = IA_BASE
    dialect: str = "auto"
    db: str | None = None
    from_ts: str | None = None
    to_ts: str | None = None
    sample: str = "all"
    cdx_per_minute: float = 24.0
    replay_per_second: float = 8.0
    backoff_seconds: float = 60.0
    log_level: str = "WARNING"
    extra_settings: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class CrawlSummary:
    run_id: int
    status: str
    policies: int
    cdx_requests: int
    captures_seen: int
    fetched: int
    skipped_digest: int
    skipped_stored: int
    versions_stored: int
    changes_stored: int
    errors: dict[str, int]
    totals: dict[str, int]

    def line(self) -> str:
        errors = sum(self.errors.values())
        return (
            f"{self.policies} policies, {self.captures_seen} captures seen, "
            f"{self.fetched} fetched, "
            f"{self.skipped_digest} skipped by digest, {self.skipped_stored} already stored, "
            f"{self.versions_stored} versions stored, {self.changes_stored} changes, "
            f"{errors} errors"
        )


def check_reachable(archive: Archive, timeout: float = 10.0) -> None:
    """Fail fast with a readable error when the archive's host does not answer at all."""
    parts = urlsplit(archive.base)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((host, port), timeout=timeout):
            pass
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise CrawlError(f"archive unreachable: {archive.base} ({reason})") from None


def run_crawl(opts: CrawlOptions) -> CrawlSummary:
    from scrapy.crawler import CrawlerProcess
    from scrapy.utils.project import get_project_settings

    from crawler.spiders.policies import PolicySpider

    urls = read_url_file(opts.urls_file)
    archive = make_archive(opts.archive, opts.dialect)
    store = open_store(opts.db)  # fails early on an unwritable or bad database
    try:
        check_reachable(archive)
        run_id = store.start_run(
            archive.base,
            {"urls": len(urls), "from": opts.from_ts, "to": opts.to_ts, "sample": opts.sample},
        )
    finally:
        store.close()

    settings = get_project_settings()
    settings.setmodule("crawler.settings", priority="project")
    settings.set("POLICYTRAIL_CDX_PER_MINUTE", opts.cdx_per_minute, priority="cmdline")
    settings.set("POLICYTRAIL_REPLAY_PER_SECOND", opts.replay_per_second, priority="cmdline")
    settings.set("POLICYTRAIL_BACKOFF_SECONDS", opts.backoff_seconds, priority="cmdline")
    settings.set("LOG_LEVEL", opts.log_level, priority="cmdline")
    for k, v in opts.extra_settings.items():
        settings.set(k, v, priority="cmdline")
    process = CrawlerProcess(settings)
    crawler = process.create_crawler(PolicySpider)
    process.crawl(
        crawler,
        urls=urls,
        archive=archive.base,
        dialect=str(archive.dialect),
        db=opts.db,
        from_ts=opts.from_ts,
        to_ts=opts.to_ts,
        run_id=run_id,
        sample=opts.sample,
    )
    process.start()

    stats: dict[str, Any] = crawler.stats.get_stats() if crawler.stats else {}
    spider = crawler.spider
    reason = str(stats.get("finish_reason", "unknown"))
    errors = {
        k.split("/", 2)[2]: int(v) for k, v in stats.items() if k.startswith("policytrail/error/")
    }
    cdx_errors: dict[int, str] = getattr(spider, "cdx_errors", {})
    n_targets = len(getattr(spider, "targets", []))
    if cdx_errors:
        errors["cdx"] = len(cdx_errors)
    status = (
        "ok"
        if reason == "finished" and not errors
        else ("partial" if reason == "finished" else reason)
    )
    store = open_store(opts.db)
    try:
        totals = store.counts()
        summary = CrawlSummary(
            run_id=run_id,
            status=status,
            policies=totals["policies"],
            cdx_requests=int(stats.get("policytrail/cdx_requests", 0)),
            captures_seen=int(stats.get("policytrail/captures_seen", 0)),
            fetched=int(stats.get("policytrail/capture_fetched", 0)),
            skipped_digest=int(stats.get("policytrail/skipped_digest", 0)),
            skipped_stored=int(stats.get("policytrail/skipped_stored", 0)),
            versions_stored=int(stats.get("policytrail/versions_stored", 0)),
            changes_stored=int(stats.get("policytrail/changes_stored", 0)),
            errors=errors,
            totals=totals,
        )
        store.finish_run(run_id, status, _summary_stats(summary))
    finally:
        store.close()
    if n_targets and len(cdx_errors) == n_targets:
        first = next(iter(cdx_errors.values()))
        raise CrawlError(f"archive unreachable or refusing CDX queries: {archive.base} ({first})")
    return summary


def _summary_stats(s: CrawlSummary) -> dict[str, Any]:
    """What a run row records: the summary less its identity and the database totals."""
    stats = asdict(s)
    for key in ("run_id", "status", "policies", "totals"):
        stats.pop(key)
    return stats
