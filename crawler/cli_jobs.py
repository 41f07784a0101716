"""Jobs and their history: ``policytrail runs``."""

from __future__ import annotations

import argparse
from typing import Any

from crawler.cliutil import db_arg
from storage import open_store


def register(sub: Any) -> None:
    p = sub.add_parser("runs", help="list the history of crawl runs")
    p.add_argument("--limit", type=int, default=20)
    db_arg(p)
    p.set_defaults(func=cmd_runs)


def cmd_runs(args: argparse.Namespace) -> int:
    store = open_store(args.db, create=False)
    try:
        runs = store.runs(args.limit)
    finally:
        store.close()
    for r in runs:
        end = f"{r.finished_at:%Y-%m-%d %H:%M:%S}" if r.finished_at else "-"
        s = r.stats or {}
        print(
            f"{r.id:>4}  {r.started_at:%Y-%m-%d %H:%M:%S}  {end:<19}  {r.status:<9}  "
            f"seen={s.get('captures_seen', 0)} fetched={s.get('fetched', 0)} "
            f"versions={s.get('versions_stored', 0)} changes={s.get('changes_stored', 0)}  "
            f"{r.archive}"
        )
    return 0
