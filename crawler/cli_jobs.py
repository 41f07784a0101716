"""Jobs and their history: ``policytrail run``, ``schedule`` and ``runs``."""

from __future__ import annotations

import argparse
import json
import socket
import sys
from datetime import UTC, datetime
from typing import Any

from crawler.archive import IA_BASE
from crawler.cliutil import (
    EXIT_USAGE,
    CliError,
    db_arg,
    positive_arg,
    retry_unfetchable_arg,
    snapshots_arg,
    timestamp_arg,
    without_snapshot_note,
)
from crawler.cliutil import crawl_options as cliutil_crawl_options
from storage import open_store


def add_run_options(p: argparse.ArgumentParser) -> list[argparse.Action]:
    """The options of one job (shared by ``run`` and ``schedule``); returns their actions so
    ``schedule`` can hand them on to each ``run`` it starts."""
    actions = [
        p.add_argument(
            "--urls",
            required=True,
            metavar="FILE",
            help="the policy URLs to track, one per line (# comments)",
        ),
        p.add_argument(
            "--archive",
            default=IA_BASE,
            help=f"archive base URL (default {IA_BASE}) or a pywb collection",
        ),
        p.add_argument("--dialect", choices=["auto", "ia", "pywb"], default="auto"),
        p.add_argument(
            "--from", dest="from_ts", type=timestamp_arg, help="only captures from this date"
        ),
        p.add_argument(
            "--to", dest="to_ts", type=timestamp_arg, help="only captures up to this date"
        ),
        p.add_argument("--sample", choices=["all", "monthly", "semiannual"], default="all"),
        p.add_argument("--cdx-rate", type=positive_arg, default=24.0, metavar="PER_MIN"),
        p.add_argument("--replay-rate", type=positive_arg, default=8.0, metavar="PER_SEC"),
        p.add_argument("--backoff", type=positive_arg, default=60.0, metavar="SECONDS"),
        p.add_argument(
            "--report", metavar="DIR", help="refresh the static HTML report in DIR after the crawl"
        ),
        p.add_argument(
            "--feeds", metavar="DIR", help="refresh the Atom feeds of changes in DIR afterwards"
        ),
        p.add_argument(
            "--lock-file",
            metavar="PATH",
            help="the job lock (default: DB.lock beside a SQLite file; an advisory lock "
            "inside PostgreSQL)",
        ),
        p.add_argument(
            "--log-level", default="WARNING", choices=["DEBUG", "INFO", "WARNING", "ERROR"]
        ),
    ]
    actions.append(snapshots_arg(p))
    db_arg(p)
    actions.append(p._option_string_actions["--db"])
    return actions


def register(sub: Any) -> None:
    p = sub.add_parser(
        "run",
        help="one complete scheduled job: crawl, versions, changes, report and feeds "
        "(locked: never two at once on one database)",
    )
    add_run_options(p)
    retry_unfetchable_arg(p)  # a one-off: not for `schedule`, whose every run would retry them
    p.set_defaults(func=cmd_run)

    p = sub.add_parser(
        "schedule", help="run 'policytrail run' repeatedly, for machines without cron"
    )
    when = p.add_mutually_exclusive_group(required=True)
    when.add_argument("--every", metavar="INTERVAL", help="e.g. 12h, 30m, 1d (first run at once)")
    when.add_argument("--cron", metavar="EXPR", help='a crontab expression, e.g. "0 */12 * * *"')
    p.add_argument(
        "--max-runs", type=int, metavar="N", help="stop after N runs (default: run forever)"
    )
    run_actions = add_run_options(p)
    p.set_defaults(func=cmd_schedule, run_actions=run_actions)

    p = sub.add_parser("runs", help="list the history of crawl runs and jobs")
    p.add_argument("--limit", type=int, default=20)
    p.add_argument("--format", choices=["table", "json"], default="table")
    db_arg(p)
    p.set_defaults(func=cmd_runs)


# ---------------------------------------------------------------------------- run


def crawl_options(args: argparse.Namespace) -> Any:
    return cliutil_crawl_options(args, args.urls)


def cmd_run(args: argparse.Namespace) -> int:
    from crawler.archive import make_archive
    from crawler.locking import LockError
    from crawler.runjob import EXIT_LOCKED, JobLocked, JobOptions, run_job
    from crawler.urlfile import read_url_file

    read_url_file(args.urls)  # bad input: one clear line before taking the lock
    make_archive(args.archive, args.dialect)
    opts = JobOptions(
        crawl=crawl_options(args),
        report_dir=args.report,
        feeds_dir=args.feeds,
        lock_file=args.lock_file,
    )
    try:
        result = run_job(opts)
    except JobLocked as exc:
        raise CliError(f"{exc}: not starting", EXIT_LOCKED) from None
    except LockError as exc:
        raise CliError(str(exc)) from None
    for reaped in result.reaped:
        print(reaped.line())
    s = result.summary
    if s is not None:
        print(f"run {result.run_id} {result.status}: {s.line()}")
        t = s.totals
        print(
            f"database: {t['policies']} policies, {t['captures']} captures, "
            f"{t['fetched']} fetched{without_snapshot_note(t)}, {t['versions']} versions, "
            f"{t['changes']} changes"
        )
        for kind, n in sorted(s.errors.items()):
            print(f"  errors[{kind}] = {n}")
    else:
        print(f"run {result.run_id} {result.status}")
    if result.report:
        print(f"report: {result.report}")
    if result.feeds:
        print(f"feeds: {result.feeds} ({result.feeds_written} files)")
    if result.error:
        raise CliError(result.error, result.exit_code)
    return result.exit_code


# ---------------------------------------------------------------------------- schedule


def run_argv(args: argparse.Namespace, actions: list[argparse.Action]) -> list[str]:
    """The ``policytrail run`` command line equivalent to the run options of ``args``."""
    argv = [sys.executable, "-m", "crawler.cli", "run"]
    for action in actions:
        value = getattr(args, action.dest)
        if value is None or value == action.default:
            continue
        argv += [action.option_strings[0], str(value)]
    return argv


def cmd_schedule(args: argparse.Namespace) -> int:
    from crawler.schedule import (
        Schedule,
        ScheduleError,
        Scheduler,
        check_cron,
        install_signal_handlers,
        parse_every,
    )
    from crawler.urlfile import read_url_file

    try:
        if args.every is not None:
            schedule = Schedule(every=parse_every(args.every))
        else:
            schedule = Schedule(cron=check_cron(args.cron))
    except ScheduleError as exc:
        raise CliError(str(exc), EXIT_USAGE) from None
    if args.max_runs is not None and args.max_runs < 1:
        raise CliError("--max-runs must be at least 1", EXIT_USAGE)
    read_url_file(args.urls)  # bad input fails now, not at every run
    scheduler = Scheduler(
        schedule,
        run_argv(args, args.run_actions),
        max_runs=args.max_runs,
        out=lambda line: print(line, flush=True),
    )
    install_signal_handlers(scheduler)
    return scheduler.loop()


# ---------------------------------------------------------------------------- runs


def _iso(d: datetime | None) -> str | None:
    return d.isoformat() if d else None


def cmd_runs(args: argparse.Namespace) -> int:
    from crawler.runjob import stale_reason

    store = open_store(args.db, create=False)
    try:
        runs = store.runs(args.limit)
    finally:
        store.close()
    now, host = datetime.now(UTC), socket.gethostname()

    def stale(r: Any) -> str | None:
        if r.status != "running":
            return None
        return stale_reason(r, now=now, host=host, holding_lock=False)

    if args.format == "json":
        rows = [
            {
                "id": r.id,
                "kind": r.kind,
                "status": r.status,
                "started_at": _iso(r.started_at),
                "finished_at": _iso(r.finished_at),
                "heartbeat_at": _iso(r.heartbeat_at),
                "host": r.host,
                "pid": r.pid,
                "archive": r.archive,
                "args": r.args,
                "stats": r.stats,
                "error": r.error,
                "stale": stale(r),
            }
            for r in runs
        ]
        print(json.dumps(rows, indent=2, ensure_ascii=False))
        return 0
    for r in runs:
        end = f"{r.finished_at:%Y-%m-%d %H:%M:%S}" if r.finished_at else "-"
        s = r.stats or {}
        status = r.status + ("?" if stale(r) else "")
        line = (
            f"{r.id:>4}  {r.kind:<6}  {r.started_at:%Y-%m-%d %H:%M:%S}  {end:<19}  "
            f"{status:<12}  seen={s.get('captures_seen', 0)} fetched={s.get('fetched', 0)} "
            f"versions={s.get('versions_stored', 0)} changes={s.get('changes_stored', 0)}  "
            f"{r.archive}"
        )
        if r.error:
            line += f"\n{'':>6}{r.error[:200]}"
        print(line)
    return 0
