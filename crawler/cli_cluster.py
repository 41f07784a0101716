"""Distributed crawls: ``policytrail enqueue`` and ``policytrail worker``.

How the workers share the work: ``crawler.distributed``."""

from __future__ import annotations

import argparse
from typing import Any

from crawler.archive import IA_BASE
from crawler.cliutil import (
    EXIT_DATABASE,
    EXIT_ERROR,
    EXIT_UNREACHABLE,
    CliError,
    db_arg,
    positive_arg,
    retry_unfetchable_arg,
    snapshots_arg,
    snapshots_mode,
)

REDIS_HELP = "the cluster's Redis server, e.g. redis://10.0.0.5:6379/0"


def register(sub: Any) -> None:
    p = sub.add_parser(
        "enqueue", help="track the URLs of a file and queue them for distributed workers"
    )
    p.add_argument("--redis", required=True, metavar="URL", help=REDIS_HELP)
    p.add_argument("--urls", required=True, metavar="FILE", help="one policy URL per line")
    p.add_argument("--archive", default=IA_BASE, help=f"archive base URL (default {IA_BASE})")
    p.add_argument("--sample", choices=["all", "monthly", "semiannual"], default="all")
    retry_unfetchable_arg(p)  # for this job's workers
    db_arg(p)
    p.set_defaults(func=cmd_enqueue)

    p = sub.add_parser("worker", help="crawl what the cluster's Redis queue holds; exit when idle")
    p.add_argument("--redis", required=True, metavar="URL", help=REDIS_HELP)
    p.add_argument("--archive", default=IA_BASE, help=f"archive base URL (default {IA_BASE})")
    p.add_argument("--dialect", choices=["auto", "ia", "pywb"], default="auto")
    p.add_argument(
        "--cdx-rate",
        type=positive_arg,
        default=24.0,
        metavar="PER_MIN",
        help="CDX requests per minute for the whole cluster (default 24)",
    )
    p.add_argument(
        "--replay-rate",
        type=positive_arg,
        default=8.0,
        metavar="PER_SEC",
        help="capture fetches per second for the whole cluster (default 8)",
    )
    p.add_argument("--backoff", type=positive_arg, default=60.0, metavar="SECONDS")
    p.add_argument(
        "--idle-timeout",
        type=positive_arg,
        default=30.0,
        metavar="SECONDS",
        help="exit after this long without work (default 30)",
    )
    p.add_argument("--log-level", default="WARNING", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    snapshots_arg(p)
    db_arg(p)
    p.set_defaults(func=cmd_worker)


def cmd_enqueue(args: argparse.Namespace) -> int:
    from crawler.archive import make_archive
    from crawler.distributed import Cluster, ClusterError, enqueue
    from crawler.runjob import reap_stale_runs
    from crawler.urlfile import read_url_file
    from storage import open_store

    urls = read_url_file(args.urls)
    archive = make_archive(args.archive, "auto")
    try:
        cluster = Cluster(args.redis)
        cluster.ping()
    except ClusterError as exc:
        raise CliError(str(exc), EXIT_UNREACHABLE) from None
    store = open_store(args.db)
    try:
        # workers that died leave rows saying "running": say so, as `run` does
        for reaped in reap_stale_runs(store, holding_lock=False):
            print(reaped.line())
        result = enqueue(
            cluster,
            store,
            urls,
            archive.base,
            sample=args.sample,
            retry_unfetchable=args.retry_unfetchable,
        )
    finally:
        store.close()
        cluster.close()
    job = "a new job" if result.new_job else "the job already queued or running"
    print(f"enqueued {result.urls} URLs for {job}")
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    from crawler.distributed import ClusterError, WorkerOptions, run_worker
    from crawler.jobs import CrawlError, DatabaseLost

    opts = WorkerOptions(
        redis_url=args.redis,
        archive=args.archive,
        dialect=args.dialect,
        db=args.db,
        cdx_per_minute=args.cdx_rate,
        replay_per_second=args.replay_rate,
        backoff_seconds=args.backoff,
        idle_timeout=args.idle_timeout,
        log_level=args.log_level,
        extra_settings={"POLICYTRAIL_SNAPSHOTS": snapshots_mode(args)},
    )
    try:
        summary = run_worker(opts)
    except (ClusterError, CrawlError) as exc:
        raise CliError(str(exc), EXIT_UNREACHABLE) from None
    except DatabaseLost as exc:
        raise CliError(str(exc), EXIT_DATABASE) from None
    print(f"worker run {summary.run_id} {summary.status}: {summary.line()}")
    if summary.status == "redis-unavailable":
        raise CliError(
            "Redis connection lost: this worker stopped (nothing stored is lost; "
            "queued captures are fetched by the next job)",
            EXIT_UNREACHABLE,
        )
    return 0 if summary.status in ("ok", "partial") else EXIT_ERROR
