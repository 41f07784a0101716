"""Reports and exports: ``policytrail report``."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from crawler.cliutil import CliError, db_arg, policy_id
from storage import open_store


def register(sub: Any) -> None:
    p = sub.add_parser("report", help="write a static HTML report of all policies")
    p.add_argument("--out", required=True, metavar="DIR", help="output directory")
    p.add_argument("--policy", metavar="URL", help="only this policy")
    db_arg(p)
    p.set_defaults(func=cmd_report)


def cmd_report(args: argparse.Namespace) -> int:
    from crawler.reporting import write_report

    store = open_store(args.db, create=False)
    try:
        pid = policy_id(store, args.policy) if args.policy else None
        out = Path(args.out)
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CliError(f"cannot create report directory {out}: {exc.strerror}") from None
        index = write_report(store, out, policy_id=pid)
    finally:
        store.close()
    print(f"report written: {index.resolve()}")
    return 0
