"""Running a crawl: validate inputs, open the database, run the spider once, record the run.

``run_crawl`` starts a Twisted reactor, so call it once per process (the CLI does).
"""

from __future__ import annotations

import socket
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from crawler.archive import IA_BASE, Archive, make_archive
from crawler.discover import (
    Finding,
    SiteHistory,
    Tracked,
    append_to_url_file,
    histories,
    home_url,
    track_site,
)
from crawler.urlfile import read_url_file
from storage import open_store


class CrawlError(RuntimeError):
    """A crawl that could not run or could not reach its archive."""


class DatabaseLost(RuntimeError):
    """The database failed mid-crawl (went away, stayed locked, disk full). The crawl stopped;
    everything stored before the failure stays stored and the next run resumes from it."""


def database_lost(worker: Any) -> DatabaseLost | None:
    """The named error for a crawl its store worker stopped (None: the database held)."""
    error = getattr(worker, "error", None)
    if error is None:
        return None
    return DatabaseLost(
        f"database failed mid-run, crawl stopped: {error} "
        "(everything stored before is kept; run again to resume)"
    )


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
    retry_unfetchable: bool = False  # fetch captures stored as unfetchable once more


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
    retried: dict[str, int] = field(default_factory=dict)  # faults that a retry got past
    cdx_malformed_lines: int = 0  # CDX lines skipped as unreadable
    # what became of archived redirects: hops, followed, leaves-policy, loop, too-many-hops,
    # no-location, target-not-archived
    redirects: dict[str, int] = field(default_factory=dict)
    # captures stored unfetchable (too large, corrupt compression): their kinds are in errors
    unfetchable: int = 0

    def line(self) -> str:
        errors = sum(self.errors.values())
        line = (
            f"{self.policies} policies, {self.captures_seen} captures seen, "
            f"{self.fetched} fetched, "
            f"{self.skipped_digest} skipped by digest, {self.skipped_stored} already stored, "
            f"{self.versions_stored} versions stored, {self.changes_stored} changes, "
            f"{errors} errors"
        )
        if self.unfetchable:
            line += f" ({self.unfetchable} unfetchable: not fetched again)"
        if self.redirects:
            parts = ", ".join(f"{n} {kind}" for kind, n in sorted(self.redirects.items()))
            line += f"; archived redirects: {parts}"
        return line


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
            {
                "urls": len(urls),
                "from": opts.from_ts,
                "to": opts.to_ts,
                "sample": opts.sample,
                "retry_unfetchable": opts.retry_unfetchable,
                "snapshots": opts.extra_settings.get("POLICYTRAIL_SNAPSHOTS", "keep"),
            },
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
        retry_unfetchable=opts.retry_unfetchable,
    )
    process.start()

    stats: dict[str, Any] = crawler.stats.get_stats() if crawler.stats else {}
    spider = crawler.spider
    lost = database_lost(getattr(spider, "worker", None))
    if lost is not None:
        raise lost  # the run row cannot be written now; the next run marks it killed
    reason = str(stats.get("finish_reason", "unknown"))
    retried = {
        k.split("/", 2)[2]: int(v) for k, v in stats.items() if k.startswith("policytrail/retry/")
    }
    errors = {
        k.split("/", 2)[2]: int(v) for k, v in stats.items() if k.startswith("policytrail/error/")
    }
    redirects = {
        k.split("/", 2)[2]: int(v)
        for k, v in stats.items()
        if k.startswith("policytrail/redirect/") and v
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
            retried=retried,
            cdx_malformed_lines=int(stats.get("policytrail/cdx_malformed_lines", 0)),
            totals=totals,
            redirects=redirects,
            unfetchable=int(stats.get("policytrail/unfetchable", 0)),
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


# ------------------------------------------------------------------------------------------------
# discovery: a site's privacy-policy URLs over time, from its archived home pages


@dataclass(frozen=True, slots=True)
class DiscoverOptions:
    domains: tuple[str, ...]
    archive: str = IA_BASE
    dialect: str = "auto"
    db: str | None = None
    from_ts: str | None = None
    to_ts: str | None = None
    sample: str = "yearly"
    add_to: str | None = None
    cdx_per_minute: float = 24.0
    replay_per_second: float = 8.0
    log_level: str = "WARNING"
    extra_settings: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SiteDiscovery:
    history: SiteHistory
    listed: int  # home-page captures the index listed
    tracked: list[Tracked]
    error: str | None = None


@dataclass(frozen=True, slots=True)
class DiscoverSummary:
    sites: list[SiteDiscovery]
    appended: list[str]
    cdx_requests: int
    fetched: int

    @property
    def found(self) -> int:
        return sum(len(s.tracked) for s in self.sites)


def run_discover(opts: DiscoverOptions) -> DiscoverSummary:
    """List each site's home page, read one capture per period, track the policy URLs found.
    Starts a Twisted reactor: once per process."""
    from scrapy.crawler import CrawlerProcess
    from scrapy.utils.project import get_project_settings

    from crawler.spiders.discover import DiscoverSpider

    if not opts.domains:
        raise CrawlError("no domain given")
    for d in opts.domains:
        home_url(d)  # BadUrl names a bad domain before anything starts
    archive = make_archive(opts.archive, opts.dialect)
    store = open_store(opts.db)  # fails early on an unwritable or bad database
    store.close()
    check_reachable(archive)

    settings = get_project_settings()
    settings.setmodule("crawler.settings", priority="project")
    settings.set("POLICYTRAIL_CDX_PER_MINUTE", opts.cdx_per_minute, priority="cmdline")
    settings.set("POLICYTRAIL_REPLAY_PER_SECOND", opts.replay_per_second, priority="cmdline")
    settings.set("LOG_LEVEL", opts.log_level, priority="cmdline")
    for k, v in opts.extra_settings.items():
        settings.set(k, v, priority="cmdline")
    process = CrawlerProcess(settings)
    crawler = process.create_crawler(DiscoverSpider)
    process.crawl(
        crawler,
        domains=list(opts.domains),
        archive=archive.base,
        dialect=str(archive.dialect),
        from_ts=opts.from_ts,
        to_ts=opts.to_ts,
        sample=opts.sample,
    )
    process.start()

    stats: dict[str, Any] = crawler.stats.get_stats() if crawler.stats else {}
    spider = crawler.spider
    findings: list[Finding] = list(getattr(spider, "findings", []))
    listed: dict[str, int] = getattr(spider, "listed", {})
    cdx_errors: dict[str, str] = getattr(spider, "cdx_errors", {})
    if cdx_errors and len(cdx_errors) == len(opts.domains):
        first = next(iter(cdx_errors.values()))
        raise CrawlError(f"archive unreachable or refusing CDX queries: {archive.base} ({first})")
    sites: list[SiteDiscovery] = []
    appended: list[str] = []
    store = open_store(opts.db)
    try:
        for history in histories(opts.domains, findings):
            tracked = track_site(store, history, archive.base)
            sites.append(
                SiteDiscovery(
                    history, listed.get(history.domain, 0), tracked, cdx_errors.get(history.domain)
                )
            )
            if opts.add_to and tracked:
                appended += append_to_url_file(
                    Path(opts.add_to),
                    [t.url for t in tracked],
                    f"{history.domain}: discovered from archived home pages ({archive.base})",
                )
    finally:
        store.close()
    return DiscoverSummary(
        sites,
        appended,
        int(stats.get("policytrail/cdx_requests", 0)),
        int(stats.get("policytrail/capture_fetched", 0)),
    )
