"""The store pipeline: normalise each fetched capture and store it, in the database thread.

Thin: the work is ``diffing.normalize.normalize`` and ``storage.Store`` methods. At the end of a
run it advances each URL's incremental cursor and rebuilds the versions of changed policies.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from scrapy.crawler import Crawler

from crawler.items import FetchedCapture, KnownCaptures
from crawler.storeworker import DatabaseFailed
from crawler.triage import leaves_policy
from diffing.analysis import TextAnalyser
from diffing.normalize import normalize
from storage import Store
from storage.repository import SNAPSHOT_MODES, FetchResult, StoredContent

logger = logging.getLogger(__name__)


def store_fetched(
    store: Store, item: FetchedCapture, run_id: int | None, snapshots: str = "keep"
) -> str:
    """Normalise and store one capture; returns the state it was stored in. Content reached
    through archived redirects is the capture's content only when it is still the policy
    (``crawler.triage.leaves_policy``); otherwise the capture is a redirect that left it.
    ``snapshots``: ``keep`` stores the raw bytes too, ``none`` only what was extracted."""
    t = item.target
    document = None
    state, error, leaves = item.state, item.error, item.leaves_policy
    if item.state == "fetched" and item.body is not None:
        document = normalize(
            item.body,
            url=item.redirect_to if item.redirect_chain and item.redirect_to else item.capture.url,
            content_type=item.content_type,
            captured_at=item.capture.captured_at,
        )
        if item.redirect_chain and item.redirect_to:
            why = leaves_policy(item.capture.url, item.redirect_to, str(document.verdict))
            if why is not None:
                state, error, leaves = "redirect", why, True
    store.save_fetch(
        FetchResult(
            policy_id=t.policy_id,
            url_id=t.url_id,
            capture=item.capture,
            archive=item.archive,
            state=state,
            body=item.body if snapshots == "keep" else None,
            content_type=item.content_type,
            document=document,
            redirect_to=item.redirect_to,
            error=error,
            run_id=run_id,
            redirect_chain=item.redirect_chain,
            leaves_policy=leaves,
        )
    )
    if item.siblings:
        # the same bytes: unfetchable too, or failed (retried next run) as the one fetch did
        kind = (error or "").split(":", 1)[0] if state == "unfetchable" else ""
        store_known(store, KnownCaptures(t, item.archive, item.siblings), run_id, kind)
    return state


def store_known(
    store: Store, item: KnownCaptures, run_id: int | None, unfetchable_kind: str | None = None
) -> None:
    """Store captures whose digest was fetched already (in this run or an earlier one). When that
    fetch gave no content they take its outcome: ``unfetchable`` with ``unfetchable_kind`` (the
    fetch's error kind; "" when it failed for a passing reason; None: look for a stored
    unfetchable capture with the digest), else ``failed``, retried by the next run."""
    t = item.target
    digests = {ref.digest for ref in item.captures}
    contents = store.stored_contents(t.policy_id, digests)
    unfetchable: dict[str, str] | None = None
    found: list[tuple[Any, StoredContent]] = []
    for ref in item.captures:
        src = contents.get(ref.digest)
        if src is not None:
            found.append((ref, src))
            continue
        kind = unfetchable_kind
        if kind is None:
            if unfetchable is None:
                missing = {d for d in digests if d not in contents}
                unfetchable = store.unfetchable_digests(t.policy_id, missing)
            kind = unfetchable.get(ref.digest, "")
        if kind:
            state, error = "unfetchable", f"{kind}: same digest as a capture that is unfetchable"
        else:  # the one fetch of this digest failed: keep the row so the next run retries it
            state, error = "failed", "the capture with the same digest failed"
        store.save_fetch(
            FetchResult(t.policy_id, t.url_id, ref, item.archive, state, error=error, run_id=run_id)
        )
    store.save_duplicates(t.policy_id, t.url_id, item.archive, found, run_id)


class StorePipeline:
    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.analyser = TextAnalyser()
        self.snapshots = str(crawler.settings.get("POLICYTRAIL_SNAPSHOTS") or "keep")
        if self.snapshots not in SNAPSHOT_MODES:
            modes = ", ".join(SNAPSHOT_MODES)
            raise ValueError(f"POLICYTRAIL_SNAPSHOTS={self.snapshots!r} is not one of {modes}")

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> StorePipeline:
        return cls(crawler)

    @property
    def spider(self) -> Any:
        return self.crawler.spider

    async def process_item(self, item: Any) -> Any:
        try:
            return await self._store_item(item)
        except DatabaseFailed:
            return item  # the crawl is stopping (the spider was told); nothing more to store

    async def _store_item(self, item: Any) -> Any:
        worker = self.spider.worker
        run_id = self.spider.run_id
        if isinstance(item, FetchedCapture):
            snapshots = self.snapshots
            state = await worker.run(lambda s: store_fetched(s, item, run_id, snapshots))
            if state != item.state:  # content at the end of a redirect chain left the policy
                self.crawler.stats.inc_value("policytrail/redirect/leaves-policy")
                self.crawler.stats.inc_value("policytrail/capture_redirect")
                key = f"policytrail/capture_{item.state}"
                self.crawler.stats.set_value(key, self.crawler.stats.get_value(key, 1) - 1)
        elif isinstance(item, KnownCaptures):
            await worker.run(lambda s: store_known(s, item, run_id))
        return item

    async def close_spider(self) -> None:
        spider = self.spider
        worker = getattr(spider, "worker", None)  # the discovery spider stores nothing
        if worker is None:
            return
        reason = self.crawler.stats.get_value("finish_reason")
        stats = self.crawler.stats
        try:
            if reason in (None, "finished"):
                for url_id, newest in spider.newest_listed.items():
                    await worker.run(lambda s, u=url_id, n=newest: s.advance_cursor(u, n))
            dirty = await worker.run(lambda s: s.dirty_policies())
            for pid in dirty:
                res = await worker.run(lambda s, p=pid: s.rebuild_versions(p, self.analyser))
                stats.inc_value("policytrail/versions_stored", res.versions_added)
                stats.inc_value("policytrail/changes_stored", res.changes_added)
        except DatabaseFailed:
            pass  # what was stored stays stored; the next run rebuilds (its policies stay dirty)
        finally:
            await asyncio.to_thread(worker.close)  # waits for the DB thread: not on the reactor
