"""``policytrail discover``: privacy-policy URLs of sites over time, from archived home pages."""

from __future__ import annotations

import argparse
from typing import Any

from crawler.archive import IA_BASE
from crawler.cliutil import (
    EXIT_ERROR,
    EXIT_UNREACHABLE,
    CliError,
    db_arg,
    positive_arg,
    timestamp_arg,
)


def register(sub: Any) -> None:
    p = sub.add_parser(
        "discover",
        help="find the privacy-policy URLs of sites in their archived home pages and track them",
    )
    p.add_argument(
        "domains", metavar="DOMAIN", nargs="+", help="a site (example.com) or a home-page URL"
    )
    p.add_argument(
        "--archive",
        default=IA_BASE,
        help=f"archive base URL ({IA_BASE}, default, or a pywb collection)",
    )
    p.add_argument("--dialect", choices=["auto", "ia", "pywb"], default="auto")
    p.add_argument("--from", dest="from_ts", type=timestamp_arg, help="home pages from this date")
    p.add_argument("--to", dest="to_ts", type=timestamp_arg, help="home pages up to this date")
    p.add_argument(
        "--sample",
        choices=["yearly", "semiannual", "monthly"],
        default="yearly",
        help="how many home pages to read: the first of each year (default), the one nearest "
        "to 1 April and 1 October, or the first of each month",
    )
    p.add_argument(
        "--add-to",
        metavar="URLS_FILE",
        help="also append the URLs found to this URL file (those it does not list yet)",
    )
    p.add_argument("--cdx-rate", type=positive_arg, default=24.0, metavar="PER_MIN")
    p.add_argument("--replay-rate", type=positive_arg, default=8.0, metavar="PER_SEC")
    p.add_argument("--log-level", default="WARNING", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    db_arg(p)
    p.set_defaults(func=cmd_discover)


def cmd_discover(args: argparse.Namespace) -> int:
    from crawler.jobs import CrawlError, DiscoverOptions, run_discover

    opts = DiscoverOptions(
        domains=tuple(args.domains),
        archive=args.archive,
        dialect=args.dialect,
        db=args.db,
        from_ts=args.from_ts,
        to_ts=args.to_ts,
        sample=args.sample,
        add_to=args.add_to,
        cdx_per_minute=args.cdx_rate,
        replay_per_second=args.replay_rate,
        log_level=args.log_level,
    )
    try:
        summary = run_discover(opts)
    except CrawlError as exc:
        raise CliError(str(exc), EXIT_UNREACHABLE) from None
    for site in summary.sites:
        h = site.history
        read = sum(1 for f in h.findings if f.error is None)
        print(f"{h.domain}: {site.listed} home-page captures listed, {read} read")
        if site.error:
            print(f"  error: {site.error}")
        for f in h.findings:
            if f.error:
                print(f"  {f.period:<8} {f.timestamp}  (not read: {f.error})")
            elif f.best is None:
                print(f"  {f.period:<8} {f.timestamp}  (no privacy-policy link)")
            else:
                print(f'  {f.period:<8} {f.timestamp}  {f.best.url}  "{f.best.text}"')
        for i, t in enumerate(site.tracked):
            how = "added" if t.added else "already tracked"
            moved = " (moved: same policy)" if i else ""
            print(f"  -> policy {t.policy_id}: {t.url} [{how}]{moved}")
    if summary.appended:
        print(f"appended {len(summary.appended)} URLs to {opts.add_to}")
    print(
        f"{summary.found} policy URLs found for {len(summary.sites)} sites "
        f"({summary.cdx_requests} CDX requests, {summary.fetched} home pages fetched)"
    )
    if not summary.found:
        raise CliError("no privacy-policy link found in the archived home pages", EXIT_ERROR)
    return 0
