"""Shared pieces of the ``policytrail`` subcommands: errors with exit codes and argument types.

Each area of the command line lives in its own module (``crawler.cli_*``) with a
``register(sub)`` function that adds its subcommands; ``crawler.cli`` assembles them.
"""

from __future__ import annotations

import argparse
from typing import Any

from storage import DEFAULT_DB_ENV

EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_UNREACHABLE = 3
EXIT_DATABASE = 6  # the database failed mid-run (went away, locked, full): rerun to resume
EXIT_LOCKED = 75  # EX_TEMPFAIL: another run holds this database's job lock


class CliError(Exception):
    """A failure reported as one line on stderr, with the exit code to return."""

    def __init__(self, message: str, code: int = EXIT_ERROR) -> None:
        super().__init__(message)
        self.code = code


def db_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--db",
        metavar="URL",
        default=None,
        help=f"SQLAlchemy database URL (default: ${DEFAULT_DB_ENV} or sqlite:///policytrail.db)",
    )


def timestamp_arg(value: str) -> str:
    digits = value.replace("-", "").replace(":", "").replace("T", "").replace(" ", "")
    if not digits.isdigit() or not 4 <= len(digits) <= 14:
        raise argparse.ArgumentTypeError(f"not a date or 4-14 digit timestamp: {value!r}")
    return digits


def positive_arg(value: str) -> float:
    try:
        f = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {value!r}") from None
    if f <= 0:
        raise argparse.ArgumentTypeError(f"must be positive: {value!r}")
    return f


def retry_unfetchable_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--retry-unfetchable",
        action="store_true",
        help="fetch once more the captures stored as unfetchable (too large, corrupt "
        "compression), which runs otherwise never fetch again",
    )


SNAPSHOTS_ENV = "POLICYTRAIL_SNAPSHOTS"


def snapshots_arg(p: argparse.ArgumentParser) -> argparse.Action:
    """``--snapshots keep|none`` of the commands that fetch (crawl, run, schedule, worker)."""
    from storage.repository import SNAPSHOT_MODES

    return p.add_argument(
        "--snapshots",
        choices=SNAPSHOT_MODES,
        default=None,
        help="keep each fetched capture's raw HTML beside its text (keep, the default: texts "
        "can be re-extracted later) or store only the text (none: a fraction of the space; "
        f"the archive keeps the raw capture). Default: ${SNAPSHOTS_ENV} or keep",
    )


def snapshots_mode(args: argparse.Namespace) -> str:
    """The ``--snapshots`` mode of a command: the option (argparse checks its choices), else
    ``$POLICYTRAIL_SNAPSHOTS`` (``crawler.envvars.check`` checked it before the command ran)."""
    import os

    return str(getattr(args, "snapshots", None) or os.environ.get(SNAPSHOTS_ENV) or "keep")


def without_snapshot_note(totals: dict[str, int]) -> str:
    """`` (N without raw snapshot)`` for a summary line, when some fetched captures have none."""
    n = totals.get("without_snapshot", 0)
    return f" ({n} without raw snapshot)" if n else ""


def policy_id(store: Any, url: str) -> int:
    pid = store.find_policy(url)
    if pid is None:
        raise CliError(f"policy not tracked: {url}")
    return int(pid)


def crawl_options(args: argparse.Namespace, urls_file: str) -> Any:
    """The ``CrawlOptions`` of a command that takes the crawl arguments (crawl, run, schedule)."""
    from crawler.jobs import CrawlOptions

    return CrawlOptions(
        urls_file=urls_file,
        archive=args.archive,
        dialect=args.dialect,
        db=args.db,
        from_ts=args.from_ts,
        to_ts=args.to_ts,
        sample=args.sample,
        cdx_per_minute=args.cdx_rate,
        replay_per_second=args.replay_rate,
        backoff_seconds=args.backoff,
        log_level=args.log_level,
        retry_unfetchable=getattr(args, "retry_unfetchable", False),  # crawl and run only
        extra_settings={"POLICYTRAIL_SNAPSHOTS": snapshots_mode(args)},
    )
