"""``policytrail crawl``: discover and fetch archived captures."""

from __future__ import annotations

import argparse
from typing import Any

from crawler.archive import IA_BASE
from crawler.cliutil import (
    EXIT_DATABASE,
    EXIT_ERROR,
    EXIT_LOCKED,
    EXIT_UNREACHABLE,
    CliError,
    crawl_options,
    db_arg,
    positive_arg,
    retry_unfetchable_arg,
    snapshots_arg,
    timestamp_arg,
    without_snapshot_note,
)


def register(sub: Any) -> None:
    p = sub.add_parser("crawl", help="discover and fetch archived captures of the URLs in a file")
    p.add_argument("urls_file", metavar="URLS_FILE", help="one policy URL per line (# comments)")
    p.add_argument(
        "--archive",
        default=IA_BASE,
        help=f"archive base URL: the Internet Archive ({IA_BASE}, default) "
        "or a pywb collection (e.g. http://127.0.0.1:8080/web)",
    )
    p.add_argument(
        "--dialect",
        choices=["auto", "ia", "pywb"],
        default="auto",
        help="the archive's API dialect (default: guessed from the URL)",
    )
    p.add_argument(
        "--from", dest="from_ts", type=timestamp_arg, help="only captures from this date"
    )
    p.add_argument("--to", dest="to_ts", type=timestamp_arg, help="only captures up to this date")
    p.add_argument(
        "--sample",
        choices=["all", "monthly", "semiannual"],
        default="all",
        help="which captures to fetch: every distinct one (default), the first of each month, "
        "or the Princeton corpus' semiannual sample (nearest to 1 April and 1 October)",
    )
    p.add_argument(
        "--cdx-rate",
        type=positive_arg,
        default=24.0,
        metavar="PER_MIN",
        help="CDX requests per minute (default 24, the Internet Archive's limit)",
    )
    p.add_argument(
        "--replay-rate",
        type=positive_arg,
        default=8.0,
        metavar="PER_SEC",
        help="capture fetches per second (default 8)",
    )
    p.add_argument(
        "--backoff",
        type=positive_arg,
        default=60.0,
        metavar="SECONDS",
        help="pause after the archive answers 429, doubled on repeats (default 60)",
    )
    p.add_argument("--log-level", default="WARNING", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    retry_unfetchable_arg(p)
    snapshots_arg(p)
    db_arg(p)
    p.set_defaults(func=cmd_crawl)


def cmd_crawl(args: argparse.Namespace) -> int:
    from crawler.jobs import CrawlError, DatabaseLost, run_crawl
    from crawler.locking import LockError, LockHeld, lock_for
    from storage import default_db_url

    opts = crawl_options(args, args.urls_file)
    # the job lock of `policytrail run`: a crawl and a job on one database at once would both
    # fetch the same captures and rebuild the same policies
    lock = lock_for(opts.db or default_db_url())
    try:
        lock.acquire()
    except LockHeld as exc:
        raise CliError(f"{exc}: not starting", EXIT_LOCKED) from None
    except LockError as exc:
        raise CliError(str(exc)) from None
    try:
        summary = run_crawl(opts)
    except CrawlError as exc:
        raise CliError(str(exc), EXIT_UNREACHABLE) from None
    except DatabaseLost as exc:
        raise CliError(str(exc), EXIT_DATABASE) from None
    finally:
        lock.release()
    print(f"run {summary.run_id} {summary.status}: {summary.line()}")
    t = summary.totals
    print(
        f"database: {t['policies']} policies, {t['captures']} captures, {t['fetched']} fetched"
        f"{without_snapshot_note(t)}, {t['versions']} versions, {t['changes']} changes"
    )
    for kind, n in sorted(summary.errors.items()):
        print(f"  errors[{kind}] = {n}")
    return 0 if summary.status in ("ok", "partial") else EXIT_ERROR
