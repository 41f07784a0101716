"""The discovery spider: for each site, list its archived home page through the CDX API, take
one capture per period, fetch it in raw (``id_``) mode (following archive-internal and archived
redirects, inside the archive only) and keep the links that name a privacy policy.

Thin: link scoring is ``crawler.discover``, sampling and redirect rules ``crawler.triage``. It
touches no database; ``crawler.jobs.run_discover`` stores what it found once the crawl is over.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from typing import Any
from urllib.parse import urljoin

import scrapy
from scrapy.http import Response
from twisted.python.failure import Failure

from crawler.archive import Archive, CdxQuery, Dialect, make_archive, parse_cdx
from crawler.discover import Finding, home_url, policy_links
from crawler.triage import (
    Hop,
    Sampling,
    classify_replay,
    memento_timestamp,
    next_redirect,
    period_label,
    sample,
)
from diffing.records import CaptureRef

CDX_SLOT = "cdx"
REPLAY_SLOT = "replay"
MAX_ARCHIVE_HOPS = 3
_COLLAPSE = {Sampling.YEARLY: "timestamp:4", Sampling.MONTHLY: "timestamp:6"}


class DiscoverSpider(scrapy.Spider):
    name = "discover"

    def __init__(
        self,
        domains: list[str] | str = "",
        archive: str = "https://web.archive.org",
        dialect: str = "auto",
        from_ts: str | None = None,
        to_ts: str | None = None,
        sample: str = "yearly",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if isinstance(domains, str):
            domains = [d for d in domains.split(",") if d.strip()]
        self.domains: list[str] = list(domains)
        self.archive: Archive = make_archive(archive, dialect)
        self.from_ts = from_ts
        self.to_ts = to_ts
        self.sampling = Sampling(sample)
        self.findings: list[Finding] = []
        self.listed: dict[str, int] = {}  # domain -> home-page captures listed
        self.buffered: dict[str, list[CaptureRef]] = {}
        self.cdx_errors: dict[str, str] = {}

    async def start(self) -> AsyncIterator[scrapy.Request]:
        for domain in self.domains:
            query = CdxQuery(home_url(domain), from_ts=self.from_ts, to_ts=self.to_ts)
            if self.archive.dialect is Dialect.IA:
                # the index does the sampling: one row per year (month), successful ones only
                query = replace(
                    query,
                    collapse=_COLLAPSE.get(self.sampling),
                    filters=("statuscode:[23]..",),
                )
            yield self._cdx_request(domain, query)

    def _cdx_request(self, domain: str, query: CdxQuery) -> scrapy.Request:
        return scrapy.Request(
            self.archive.cdx_url(query),
            callback=self.parse_cdx,
            errback=self.cdx_failed,
            meta={"download_slot": CDX_SLOT, "domain": domain, "query": query},
            dont_filter=True,
        )

    def parse_cdx(self, response: Response) -> Iterator[scrapy.Request]:
        domain: str = response.meta["domain"]
        query: CdxQuery = response.meta["query"]
        stats = self.crawler.stats
        stats.inc_value("policytrail/cdx_requests")
        if response.status != 200:
            self.cdx_errors[domain] = f"CDX answered HTTP {response.status}"
            return
        page = parse_cdx(self.archive, response.body)
        stats.inc_value("policytrail/captures_seen", len(page.records))
        self.buffered.setdefault(domain, []).extend(page.records)
        if page.resume_key:
            yield self._cdx_request(domain, replace(query, resume_key=page.resume_key))
            return
        rows = self.buffered.pop(domain)
        self.listed[domain] = len(rows)
        pages = [r for r in rows if r.mimetype in ("text/html", "warc/revisit", "unk", "")]
        chosen = sample(pages, self.sampling)
        stats.inc_value("policytrail/to_fetch", len(chosen))
        for ref in chosen:
            yield self._replay_request(domain, ref, self.archive.replay_url(ref.timestamp, ref.url))

    def cdx_failed(self, failure: Failure) -> None:
        domain: str = failure.request.meta["domain"]  # type: ignore[attr-defined]
        self.cdx_errors[domain] = failure.getErrorMessage() or repr(failure.value)
        self.logger.error("CDX query failed for %s: %s", domain, self.cdx_errors[domain])

    def _replay_request(
        self, domain: str, ref: CaptureRef, url: str, hops: int = 0, chain: tuple[Hop, ...] = ()
    ) -> scrapy.Request:
        return scrapy.Request(
            url,
            callback=self.parse_home,
            errback=self.home_failed,
            meta={
                "download_slot": REPLAY_SLOT,
                "domain": domain,
                "capture": ref,
                "hops": hops,
                "chain": chain,
                "dont_redirect": True,
                "handle_httpstatus_all": True,
            },
            dont_filter=True,
        )

    async def parse_home(self, response: Response) -> AsyncIterator[scrapy.Request]:
        domain: str = response.meta["domain"]
        ref: CaptureRef = response.meta["capture"]
        chain: tuple[Hop, ...] = response.meta["chain"]
        headers = [
            (k.decode("latin-1"), v.decode("latin-1"))
            for k, vs in response.headers.items()
            for v in vs
        ]
        outcome = classify_replay(self.archive, response.status, headers, response.url)
        hops: int = response.meta["hops"]
        if outcome.state == "archive-redirect" and outcome.location and hops < MAX_ARCHIVE_HOPS:
            yield self._replay_request(domain, ref, outcome.location, hops + 1, chain)
            return
        inside = self.archive.original_from_replay(response.url)
        page_url = inside[1] if inside else ref.url
        if outcome.state == "redirect":
            hop = Hop(memento_timestamp(headers, ref.timestamp), page_url, response.status)
            location = next((v for k, v in headers if k.lower() == "location"), "")
            step = next_redirect(
                self.archive,
                (*chain, hop),
                outcome.redirect_to,
                urljoin(response.url, location) if location else "",
                ref.url,
                policy=False,
            )
            if step.follow:
                yield self._replay_request(domain, ref, step.follow, 0, (*chain, hop))
                return
            self._record(domain, ref, page_url, error=step.reason)
            return
        if outcome.state != "fetched":
            self._record(domain, ref, page_url, error=outcome.error or outcome.state)
            return
        self.crawler.stats.inc_value("policytrail/capture_fetched")
        # parsing a large page is CPU work: off the reactor thread
        links = await asyncio.to_thread(policy_links, response.body, page_url)
        self._record(domain, ref, page_url, links=tuple(links))

    def _record(
        self,
        domain: str,
        ref: CaptureRef,
        page_url: str,
        links: tuple[Any, ...] = (),
        error: str | None = None,
    ) -> None:
        if error:
            self.crawler.stats.inc_value("policytrail/capture_failed")
        self.findings.append(
            Finding(
                domain=domain,
                period=period_label(self.sampling, ref.timestamp),
                timestamp=ref.timestamp,
                page_url=page_url,
                links=links,
                error=error,
            )
        )

    def home_failed(self, failure: Failure) -> None:
        request = failure.request  # type: ignore[attr-defined]
        ref: CaptureRef = request.meta["capture"]
        error = f"{failure.type.__name__ if failure.type else 'error'}: {failure.getErrorMessage()}"
        self._record(request.meta["domain"], ref, ref.url, error=error)
