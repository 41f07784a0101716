"""Distributed crawls on scrapy-redis: ``policytrail enqueue`` and ``policytrail worker``.

N worker processes, on any machines, share through one Redis server
- the start URLs (``PREFIX:start_urls``: one JSON message per tracked URL, pushed by ``enqueue``),
- the request queue and the duplicate filter (scrapy-redis' scheduler and ``RFPDupeFilter``),
- the archive's rate limits (``crawler.redislimit``),
- the cluster's membership (``PREFIX:workers``: heartbeats), and the newest capture listed per URL
  (``PREFIX:newest``),
and write to one database (PostgreSQL; SQLite only for workers on one machine).

Nothing is lost when a worker dies (SIGKILL, a lost machine): before a page of CDX rows turns into
queued requests, every row not yet stored is recorded as a ``failed`` capture ("pending"). Such
a row holds its URL's incremental cursor back, and the next job fetches it again.

A worker leaves the cluster when its crawl ends. On PostgreSQL, it then waits for the others'
crawls to end too and rebuilds versions with them: each takes one dirty policy at a time
(``Store.rebuild_next``: ``FOR UPDATE SKIP LOCKED``, never one policy to two workers). The last
worker to leave (an atomic check in Redis) also advances the cursors (every capture of the job is
stored by then) and rebuilds what is still dirty, waiting for policies other workers still hold.
A SQLite cluster (one writer) leaves the whole rebuild to the last worker.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import time
from dataclasses import dataclass, field
from typing import Any

from scrapy.crawler import Crawler
from scrapy_redis.scheduler import Scheduler as _RedisSchedulerBase

from crawler.pipelines import StorePipeline
from crawler.storeworker import DatabaseFailed, StoreWorker
from storage import Store
from storage.repository import RebuildResult

logger = logging.getLogger(__name__)

PREFIX = "policytrail"
MEMBER_TTL_SECONDS = 10.0  # a worker without a heartbeat this long is gone
BEAT_SECONDS = 2.0
# a worker whose crawl has ended waits this long at most for the others' crawls to end before
# it rebuilds versions (they end together when the queue runs dry; the wait is polled this often)
REBUILD_WAIT_SECONDS = 60.0
REBUILD_POLL_SECONDS = 0.25
PENDING = "pending: queued for a worker (a worker that died left it; the next job fetches it)"


class ClusterError(Exception):
    """Redis could not be reached or answered an error."""


# KEYS[1] members; KEYS[2] the member's "left" mark; ARGV[1] member; ARGV[2] ttl ms. Leave for
# good (the mark stops a heartbeat still under way from adding the member back); return how many
# live members remain.
LEAVE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('SET', KEYS[2], 1, 'PX', 86400000)
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[2]))
return redis.call('ZCARD', KEYS[1])
"""

# KEYS[1] members; KEYS[2] the member's "left" mark; ARGV[1] member. A heartbeat on Redis'
# clock, unless the member has left.
BEAT = """
if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[1], now, ARGV[1])
return now
"""

# KEYS[1] members; ARGV[1] ttl ms. Live members.
LIVE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
return redis.call('ZCOUNT', KEYS[1], now - tonumber(ARGV[1]), '+inf')
"""

# KEYS[1] newest hash; ARGV[1] url id; ARGV[2] timestamp. Keep the greater.
NEWEST = """
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if (not cur) or cur < ARGV[2] then redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) end
return 1
"""


class Cluster:
    """The cluster's shared state in Redis (synchronous client: call it off the reactor)."""

    def __init__(self, redis_url: str, prefix: str = PREFIX) -> None:
        import redis

        self.redis_url = redis_url
        self.prefix = prefix
        try:
            self.client = redis.Redis.from_url(redis_url, socket_timeout=30)
        except ValueError as exc:
            raise ClusterError(f"not a Redis URL: {redis_url!r} ({exc})") from None
        self.members_key = f"{prefix}:workers"
        self.newest_key = f"{prefix}:newest"
        self.start_key = f"{prefix}:start_urls"
        self.queue_key = f"{prefix}:requests"
        self.dupefilter_key = f"{prefix}:dupefilter"

    def ping(self) -> None:
        import redis

        try:
            self.client.ping()
        except redis.RedisError as exc:
            raise ClusterError(f"Redis unreachable at {self.redis_url}: {exc}") from None

    def left_key(self, member: str) -> str:
        return f"{self.prefix}:left:{member}"

    def beat(self, member: str) -> None:
        """Mark ``member`` live (no-op once it has left: the heartbeat thread outlives leave)."""
        self.client.eval(BEAT, 2, self.members_key, self.left_key(member), member)

    def leave(self, member: str) -> int:
        """Leave the cluster; how many live workers remain (0: this one was the last)."""
        ttl = int(MEMBER_TTL_SECONDS * 1000)
        keys = (self.members_key, self.left_key(member))
        return int(self.client.eval(LEAVE, 2, *keys, member, ttl))  # type: ignore[arg-type]

    def prune_dead_local(self) -> list[str]:
        """Forget members on this host whose process is gone (without waiting for their TTL)."""
        from crawler.runjob import pid_alive

        host = socket.gethostname()
        gone = []
        for raw in self.client.zrange(self.members_key, 0, -1):
            member = raw.decode() if isinstance(raw, bytes) else str(raw)
            parts = member.split(":")
            local = len(parts) >= 3 and parts[-3] == host and parts[-2].isdigit()
            if local and not pid_alive(int(parts[-2])):
                gone.append(member)
        if gone:
            self.client.zrem(self.members_key, *gone)
        return gone

    def live_workers(self) -> int:
        ttl = int(MEMBER_TTL_SECONDS * 1000)
        return int(self.client.eval(LIVE, 1, self.members_key, ttl))  # type: ignore[arg-type]

    def queued(self) -> int:
        """Start URLs and requests still waiting for a worker."""
        return int(self.client.llen(self.start_key)) + int(self.client.zcard(self.queue_key))

    def record_newest(self, url_id: int, timestamp: str) -> None:
        self.client.eval(NEWEST, 1, self.newest_key, str(url_id), timestamp)

    def take_newest(self) -> dict[int, str]:
        with self.client.pipeline(transaction=True) as pipe:
            pipe.hgetall(self.newest_key)
            pipe.delete(self.newest_key)
            raw, _ = pipe.execute()
        return {int(k): v.decode() for k, v in raw.items()}

    def push_start(self, messages: list[dict[str, Any]]) -> None:
        if messages:
            self.client.rpush(self.start_key, *(json.dumps(m) for m in messages))

    def new_job_if_idle(self) -> bool:
        """With no live worker, start a new job: False while a job is still running.

        A job whose workers are all gone (finished, killed, or stopped by a lost database) may
        have left requests in the queue and fingerprints in the duplicate filter of requests a
        dead worker took and never finished. Those would stop the new job from fetching them
        again, so they are dropped (the captures they were for are still "pending" in the
        database, the URL cursors were not advanced, and the new job's listing finds them). Start
        messages not yet taken stay queued; so does everything when no worker ever started."""
        self.prune_dead_local()
        if self.live_workers():
            return False
        if self.client.exists(self.dupefilter_key):  # a worker took requests: the job ran
            self.client.delete(self.dupefilter_key, self.queue_key, self.newest_key)
            return True
        return not self.queued()  # start messages waiting for their first worker: that job

    def close(self) -> None:
        self.client.close()


def member_name(run_id: int) -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{run_id}"


# ---------------------------------------------------------------------------- Scrapy components


class RedisScheduler(_RedisSchedulerBase):  # type: ignore[misc]
    """scrapy-redis' scheduler; when Redis goes away the worker stops cleanly (reason
    ``redis-unavailable``) instead of failing on every request. What it had not stored is
    recorded as pending in the database, so the next job fetches it."""

    crawler: Crawler | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RedisScheduler:
        import redis

        try:
            instance: RedisScheduler = super().from_crawler(crawler)
        except redis.RedisError as exc:
            raise ClusterError(f"Redis unreachable: {exc}") from None
        instance.crawler = crawler
        return instance

    def _lost(self, exc: Exception) -> None:
        crawler = self.crawler
        if crawler is None or crawler.engine is None:
            return
        spider = crawler.spider
        if getattr(spider, "redis_error", None) is None:
            spider.redis_error = str(exc)  # type: ignore[union-attr]
            logger.error("Redis connection lost: %s (stopping this worker)", exc)
            from scrapy.utils.defer import deferred_from_coro

            deferred_from_coro(crawler.engine.close_spider_async(reason="redis-unavailable"))

    def enqueue_request(self, request: Any) -> bool:
        import redis

        try:
            return bool(super().enqueue_request(request))
        except redis.RedisError as exc:
            self._lost(exc)
            return False

    def next_request(self) -> Any:
        import redis

        try:
            return super().next_request()
        except redis.RedisError as exc:
            self._lost(exc)
            return None

    def has_pending_requests(self) -> bool:
        import redis

        try:
            return bool(super().has_pending_requests())
        except redis.RedisError as exc:
            self._lost(exc)
            return False

    def close(self, reason: str) -> None:
        import redis

        with contextlib.suppress(redis.RedisError):
            super().close(reason)


class DistributedStorePipeline(StorePipeline):
    """The store pipeline of a worker: stores items like ``StorePipeline``; at the end, the
    workers rebuild versions together (PostgreSQL) and the last to leave the cluster advances
    cursors and rebuilds what is left (the whole rebuild, on SQLite).

    Blobs are content-addressed (unique by hash): two workers storing the same text at the same
    moment both look, find nothing, and one insert loses with an IntegrityError. Its transaction
    rolled back whole, so the item is simply stored again (and now finds the other's blob)."""

    retries = 3

    async def process_item(self, item: Any) -> Any:
        from sqlalchemy.exc import IntegrityError

        for attempt in range(self.retries):
            try:
                return await super().process_item(item)
            except IntegrityError:
                if attempt == self.retries - 1:
                    raise
                self.crawler.stats.inc_value("policytrail/store_conflicts")
        return item

    async def close_spider(self) -> None:
        import asyncio

        spider = self.spider
        worker = spider.worker
        if worker is None:
            return
        stats = self.crawler.stats
        cluster: Cluster = spider.cluster
        reason = stats.get_value("finish_reason") if stats else None
        try:
            try:
                await asyncio.to_thread(cluster.prune_dead_local)
                remaining = await asyncio.to_thread(cluster.leave, spider.member)
                queued = await asyncio.to_thread(cluster.queued)
            except Exception as exc:
                logger.error("cannot leave the cluster cleanly: %s", exc)
                return
            if reason not in (None, "finished"):
                return  # stopped early (Redis or the database lost, a signal): no rebuild
            last = not remaining and not queued
            spread = worker.store.engine.dialect.name != "sqlite"  # SQLite: one writer anyway
            if not last and not spread:
                logger.info(
                    "not the last worker (%d live, %d queued): leaving the rebuild to it",
                    remaining,
                    queued,
                )
                return
            if not last:  # rebuild once the others have stored all they crawled, if they end
                await self._wait_for_crawls(cluster)
            started, cpu = time.monotonic(), time.process_time()
            if last:  # every other worker has left: all captures of the job are stored
                stats.set_value("policytrail/finalised", 1)
                newest = await asyncio.to_thread(cluster.take_newest)
                for url_id, ts in newest.items():
                    await worker.run(lambda s, u=url_id, n=ts: s.advance_cursor(u, n))
            if spread:
                await self._rebuild_claimed(worker)
            if last:  # what is still dirty: held by a worker still rebuilding (waited for), or
                # left by one that died mid-rebuild, or a SQLite cluster's whole rebuild
                for pid in await worker.run(lambda s: s.dirty_policies()):
                    res = await worker.run(lambda s, p=pid: s.rebuild_if_dirty(p, self.analyser))
                    if res is not None:
                        self._count_rebuild(res)
            stats.set_value("policytrail/rebuild_ms", int((time.monotonic() - started) * 1000))
            stats.set_value("policytrail/rebuild_cpu_ms", int((time.process_time() - cpu) * 1000))
        except DatabaseFailed:
            pass  # reported by the worker's summary; the next job's workers rebuild
        finally:
            await asyncio.to_thread(worker.close)

    async def _wait_for_crawls(self, cluster: Cluster) -> None:
        """Wait (at most ``REBUILD_WAIT_SECONDS``) until no worker of the cluster is still
        crawling (a worker leaves the cluster when its crawl ends), so that each dirty policy is
        rebuilt once, after all its captures are stored. A rebuild that does race a store is
        still safe (see ``storage.repository._MARK_DIRTY``): it is only done twice."""
        import asyncio

        started = time.monotonic()
        try:
            while time.monotonic() - started < REBUILD_WAIT_SECONDS:
                await asyncio.to_thread(cluster.prune_dead_local)
                if not await asyncio.to_thread(cluster.live_workers):
                    break
                await asyncio.sleep(REBUILD_POLL_SECONDS)
        except Exception as exc:  # Redis gone: the rebuild does not need it
            logger.warning("cannot see the other workers (%s): rebuilding now", exc)
        waited = int((time.monotonic() - started) * 1000)
        self.crawler.stats.set_value("policytrail/rebuild_wait_ms", waited)

    async def _rebuild_claimed(self, worker: StoreWorker) -> None:
        """Take dirty policies one at a time, in id order from where the last claim was, and
        rebuild each (PostgreSQL: a claim skips a policy another worker holds)."""
        after, wrapped = 0, False
        while True:

            def claim(s: Store, a: int = after) -> tuple[int, RebuildResult] | None:
                return s.rebuild_next(self.analyser, after=a)

            got = await worker.run(claim)
            if got is None:
                if wrapped or after == 0:
                    return
                after, wrapped = 0, True  # once more from the start: re-dirtied meanwhile
                continue
            after = got[0]
            self._count_rebuild(got[1])

    def _count_rebuild(self, res: RebuildResult) -> None:
        stats = self.crawler.stats
        stats.inc_value("policytrail/policies_rebuilt")
        stats.inc_value("policytrail/versions_stored", res.versions_added)
        stats.inc_value("policytrail/changes_stored", res.changes_added)


def mark_pending(
    store: Store, policy_id: int, url_id: int, archive: str, refs: list[Any], run_id: int | None
) -> int:
    """Record captures about to be queued as ``failed`` (pending) unless already stored: until a
    worker stores them, they hold the URL's cursor back."""
    from storage.repository import FetchResult

    stored = store.stored_timestamps(url_id)
    n = 0
    for ref in refs:
        if ref.timestamp in stored:
            continue
        store.save_fetch(
            FetchResult(policy_id, url_id, ref, archive, "failed", error=PENDING, run_id=run_id)
        )
        n += 1
    return n


# ---------------------------------------------------------------------------- enqueue


@dataclass(frozen=True, slots=True)
class EnqueueResult:
    urls: int
    new_job: bool


def enqueue(
    cluster: Cluster,
    store: Store,
    urls: list[str],
    archive: str,
    from_ts: str | None = None,
    to_ts: str | None = None,
    sample: str = "all",
    retry_unfetchable: bool = False,
) -> EnqueueResult:
    """Track ``urls`` in the database and push one start message per URL. With
    ``retry_unfetchable``, the workers fetch the captures stored unfetchable once more (as
    ``policytrail crawl --retry-unfetchable``): each URL is listed from its oldest one."""
    new_job = cluster.new_job_if_idle()
    messages = []
    for t in store.track(urls, archive):
        start = from_ts
        if t.last_seen_ts and (start is None or t.last_seen_ts > start):
            start = t.last_seen_ts  # incremental, as in a single-process crawl
        if retry_unfetchable:
            oldest = store.oldest_unfetchable(t.url_id)
            if oldest and start and oldest < start:
                start = max(oldest, from_ts or "")  # they do not hold the cursor back
        message: dict[str, Any] = {
            "url": t.url,
            "policy_id": t.policy_id,
            "url_id": t.url_id,
            "from_ts": start,
            "to_ts": to_ts,
            "sample": sample,
        }
        if retry_unfetchable:
            message["retry_unfetchable"] = True
        messages.append(message)
    cluster.push_start(messages)
    return EnqueueResult(len(messages), new_job)


# ---------------------------------------------------------------------------- worker


@dataclass(frozen=True, slots=True)
class WorkerOptions:
    redis_url: str
    archive: str
    dialect: str = "auto"
    db: str | None = None
    cdx_per_minute: float = 24.0
    replay_per_second: float = 8.0
    backoff_seconds: float = 60.0
    idle_timeout: float = 30.0
    concurrency: int = 8
    log_level: str = "WARNING"
    prefix: str = PREFIX
    extra_settings: dict[str, Any] = field(default_factory=dict)


def worker_settings(opts: WorkerOptions) -> Any:
    from scrapy.utils.project import get_project_settings

    settings = get_project_settings()
    settings.setmodule("crawler.settings", priority="project")
    p = opts.prefix
    values: dict[str, Any] = {
        "POLICYTRAIL_CDX_PER_MINUTE": opts.cdx_per_minute,
        "POLICYTRAIL_REPLAY_PER_SECOND": opts.replay_per_second,
        "POLICYTRAIL_BACKOFF_SECONDS": opts.backoff_seconds,
        "POLICYTRAIL_REDIS_URL": opts.redis_url,
        "POLICYTRAIL_REDIS_PREFIX": p,
        "LOG_LEVEL": opts.log_level,
        "SCHEDULER": "crawler.distributed.RedisScheduler",
        "DUPEFILTER_CLASS": "scrapy_redis.dupefilter.RFPDupeFilter",
        "SCHEDULER_PERSIST": True,  # the queue and filter belong to the cluster, not this worker
        "SCHEDULER_QUEUE_KEY": f"{p}:requests",
        "SCHEDULER_DUPEFILTER_KEY": f"{p}:dupefilter",
        "REDIS_START_URLS_KEY": f"{p}:start_urls",
        "REDIS_URL": opts.redis_url,
        "MAX_IDLE_TIME_BEFORE_CLOSE": opts.idle_timeout,
        "CONCURRENT_REQUESTS": opts.concurrency,
        # the shared limiter spaces requests; a local delay on top would only slow the cluster
        "DOWNLOAD_SLOTS": {
            "cdx": {"concurrency": opts.concurrency, "delay": 0},
            "replay": {"concurrency": opts.concurrency, "delay": 0},
        },
    }
    for k, v in {**values, **opts.extra_settings}.items():
        settings.set(k, v, priority="cmdline")
    settings["DOWNLOADER_MIDDLEWARES"].set(
        "crawler.redislimit.SharedRateLimitMiddleware", 900, priority="cmdline"
    )
    settings["ITEM_PIPELINES"].set("crawler.pipelines.StorePipeline", None, priority="cmdline")
    settings["ITEM_PIPELINES"].set(
        "crawler.distributed.DistributedStorePipeline", 300, priority="cmdline"
    )
    return settings


@dataclass(frozen=True, slots=True)
class WorkerSummary:
    run_id: int
    status: str
    stats: dict[str, Any]

    def line(self) -> str:
        s = self.stats
        return (
            f"{s.get('cdx_requests', 0)} CDX requests, {s.get('captures_seen', 0)} captures seen, "
            f"{s.get('fetched', 0)} fetched, {s.get('versions_stored', 0)} versions stored, "
            f"{s.get('changes_stored', 0)} changes, {s.get('policies_rebuilt', 0)} policies "
            f"rebuilt, {sum(s.get('errors', {}).values())} errors"
            + (
                f" ({s['unfetchable']} unfetchable: not fetched again)"
                if s.get("unfetchable")
                else ""
            )
            + (
                f", {s['shared_limit_late']} requests woken late took a new rate-limit slot"
                if s.get("shared_limit_late")
                else ""
            )
            + (" (last worker: cursors and versions updated)" if s.get("finalised") else "")
        )


class WorkerBeat:
    """A worker's heartbeat: in Redis every beat, in its run row every 15th."""

    def __init__(self, cluster: Cluster, member: str, db_url: str, run_id: int) -> None:
        self.cluster = cluster
        self.member = member
        self.db_url = db_url
        self.run_id = run_id
        self.n = 0
        self._store: Store | None = None

    def __call__(self) -> bool:
        from storage import open_store

        self.cluster.beat(self.member)
        if self.n % 15 == 0:
            if self._store is None:
                self._store = open_store(self.db_url, create=False)
            self._store.heartbeat_run(self.run_id, kind="worker")
        self.n += 1
        return True

    def close(self) -> None:
        if self._store is not None:
            self._store.close()


def run_worker(opts: WorkerOptions) -> WorkerSummary:
    """One worker: crawl what the cluster's queue holds until idle for ``idle_timeout`` seconds.
    Starts a Twisted reactor: once per process."""
    import warnings

    from scrapy.crawler import CrawlerProcess
    from scrapy.exceptions import ScrapyDeprecationWarning

    from crawler.archive import make_archive
    from crawler.jobs import check_reachable
    from crawler.runjob import Heartbeat
    from crawler.spiders.distributed import DistributedPolicySpider
    from storage import default_db_url, open_store

    # scrapy-redis 0.9 still passes ``spider`` to the stats collector
    warnings.filterwarnings("ignore", category=ScrapyDeprecationWarning, module="scrapy_redis")
    archive = make_archive(opts.archive, opts.dialect)
    db_url = opts.db or default_db_url()
    cluster = Cluster(opts.redis_url, opts.prefix)
    try:
        cluster.ping()
        store = open_store(db_url)
        try:
            check_reachable(archive)
            run_id = store.start_run(
                archive.base,
                {"redis_prefix": opts.prefix, "idle_timeout": opts.idle_timeout},
                kind="worker",
            )
        finally:
            store.close()
        member = member_name(run_id)
        cluster.beat(member)  # a member before it takes any work
        process = CrawlerProcess(worker_settings(opts))
        crawler = process.create_crawler(DistributedPolicySpider)
        process.crawl(
            crawler,
            archive=archive.base,
            dialect=str(archive.dialect),
            db=db_url,
            run_id=run_id,
            member=member,
        )
        beat = WorkerBeat(cluster, member, db_url, run_id)
        try:
            with Heartbeat(beat, BEAT_SECONDS, first=BEAT_SECONDS):
                process.start()
        finally:
            beat.close()
    finally:
        cluster.close()
    from crawler.jobs import database_lost

    lost = database_lost(getattr(crawler.spider, "worker", None))
    if lost is not None:
        raise lost  # its run row cannot be written now: the next job marks it killed
    raw: dict[str, Any] = crawler.stats.get_stats() if crawler.stats else {}
    reason = str(raw.get("finish_reason", "unknown"))
    errors = {
        k.split("/", 2)[2]: int(v) for k, v in raw.items() if k.startswith("policytrail/error/")
    }
    stats = {
        "cdx_requests": int(raw.get("policytrail/cdx_requests", 0)),
        "captures_seen": int(raw.get("policytrail/captures_seen", 0)),
        "fetched": int(raw.get("policytrail/capture_fetched", 0)),
        "pending_marked": int(raw.get("policytrail/pending_marked", 0)),
        "versions_stored": int(raw.get("policytrail/versions_stored", 0)),
        "changes_stored": int(raw.get("policytrail/changes_stored", 0)),
        "policies_rebuilt": int(raw.get("policytrail/policies_rebuilt", 0)),
        # the rebuild's wall time, and how long the worker waited for the others' crawls first
        "rebuild_ms": int(raw.get("policytrail/rebuild_ms", 0)),
        "rebuild_cpu_ms": int(raw.get("policytrail/rebuild_cpu_ms", 0)),
        "rebuild_wait_ms": int(raw.get("policytrail/rebuild_wait_ms", 0)),
        "shared_limit_waited_ms": int(raw.get("policytrail/shared_limit/waited_ms", 0)),
        # requests woken too late for their shared-limit slot, which reserved another
        "shared_limit_late": int(raw.get("policytrail/shared_limit/late_reserved_again", 0)),
        "unfetchable": int(raw.get("policytrail/unfetchable", 0)),
        "finalised": bool(raw.get("policytrail/finalised")),
        "errors": errors,
    }
    redis_error = getattr(crawler.spider, "redis_error", None)
    if reason == "finished":
        status = "ok" if not errors else "partial"
    elif reason == "shutdown":
        status = "interrupted"
    else:
        status = reason
    store = open_store(db_url, create=False)
    try:
        store.finish_run(run_id, status, stats, redis_error)
    finally:
        store.close()
    return WorkerSummary(run_id, status, stats)
