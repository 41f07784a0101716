"""Reports, exports, feeds and the list of changes: ``policytrail report``, ``export``,
``feed`` and ``changes``."""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from crawler.cliutil import CliError, db_arg, policy_id, timestamp_arg
from storage import Store, open_store
from storage.repository import ChangeRow


def register(sub: Any) -> None:
    p = sub.add_parser(
        "report",
        help="write a static HTML report (index, a page per policy and per change, corpus "
        "plots and data, Atom feeds)",
    )
    p.add_argument("--out", required=True, metavar="DIR", help="output directory")
    p.add_argument("--policy", metavar="URL", help="only this policy")
    db_arg(p)
    p.set_defaults(func=cmd_report)

    p = sub.add_parser(
        "export", help="export the stored versions and changes (seed markdown, JSON lines, CSV)"
    )
    p.add_argument(
        "--format",
        required=True,
        choices=["seed-markdown", "jsonl", "csv"],
        help="seed-markdown: one file per version in the Princeton-Leuven seed format",
    )
    p.add_argument("--out", required=True, metavar="DIR", help="output directory")
    p.add_argument(
        "--layout",
        choices=["flat", "princeton"],
        default="flat",
        help="seed-markdown files: flat (NAME_TIMESTAMP.md) or princeton (a/ab/abc/NAME.md)",
    )
    p.add_argument("--policy", metavar="URL", help="only this policy")
    db_arg(p)
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("feed", help="write Atom feeds of changes (all policies and each policy)")
    p.add_argument("--out", required=True, metavar="DIR", help="output directory")
    p.add_argument("--policy", metavar="URL", help="only this policy's feed")
    p.add_argument(
        "--base-url",
        metavar="URL",
        help="where the report is published, to make feed links absolute (default: relative)",
    )
    db_arg(p)
    p.set_defaults(func=cmd_feed)

    p = sub.add_parser("changes", help="list changes across policies")
    p.add_argument("--policy", metavar="URL", help="only this policy")
    p.add_argument(
        "--since", type=timestamp_arg, metavar="DATE", help="only changes seen since DATE"
    )
    p.add_argument(
        "--category",
        help="only changes with a clause of this category "
        "(e.g. sharing, collection, retention, or a full OPP-115 name)",
    )
    p.add_argument("--format", choices=["table", "json", "csv"], default="table")
    db_arg(p)
    p.set_defaults(func=cmd_changes)


def _out_dir(path: str) -> Path:
    out = Path(path)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CliError(f"cannot create output directory {out}: {exc.strerror}") from None
    return out


def _open(args: argparse.Namespace) -> tuple[Store, int | None]:
    store = open_store(args.db, create=False)
    try:
        return store, policy_id(store, args.policy) if args.policy else None
    except BaseException:
        store.close()
        raise


def cmd_report(args: argparse.Namespace) -> int:
    from crawler.reporting import write_report

    store, pid = _open(args)
    try:
        out = _out_dir(args.out)
        try:
            index = write_report(store, out, policy_id=pid)
        except OSError as exc:
            raise CliError(f"cannot write the report in {out}: {exc.strerror}") from None
    finally:
        store.close()
    print(f"report written: {index.resolve()}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from crawler.export import ExportError, export

    store, pid = _open(args)
    try:
        out = _out_dir(args.out)
        try:
            result = export(store, out, args.format, layout=args.layout, policy_id=pid)
        except ExportError as exc:
            raise CliError(str(exc)) from None
        except OSError as exc:
            raise CliError(f"cannot write the export in {out}: {exc.strerror}") from None
    finally:
        store.close()
    what = f"{result.versions} versions" + (
        "" if args.format == "seed-markdown" else f" and {result.changes} changes"
    )
    print(f"exported {what} as {args.format} ({len(result.files)} files) to {out.resolve()}")
    return 0


def cmd_feed(args: argparse.Namespace) -> int:
    from crawler.feeds import write_feeds

    if args.base_url and not args.base_url.lower().startswith(("http://", "https://")):
        raise CliError(f"--base-url must be an http(s) URL, got {args.base_url!r}")
    store, pid = _open(args)
    try:
        out = _out_dir(args.out)
        try:
            paths = write_feeds(store, out, policy_id=pid, base_url=args.base_url)
        except OSError as exc:
            raise CliError(f"cannot write feeds in {out}: {exc.strerror}") from None
    finally:
        store.close()
    print(f"{len(paths)} feeds written: {paths[0].resolve() if paths else out.resolve()}")
    return 0


def _change_record(c: ChangeRow) -> dict[str, Any]:
    return {
        "policy": c.policy_url,
        "from_version": c.from_seq,
        "to_version": c.to_seq,
        "not_before": c.not_before.isoformat(),
        "not_after": c.not_after.isoformat(),
        "kind": c.kind,
        "words_added": c.words_added,
        "words_removed": c.words_removed,
        "similarity": round(c.similarity, 4),
        "flags": c.flags,
        "old_stated_date": c.old_stated_date.isoformat() if c.old_stated_date else None,
        "new_stated_date": c.new_stated_date.isoformat() if c.new_stated_date else None,
        "categories": sorted({cl["category"] for cl in c.clauses}),
        "clauses": c.clauses,
    }


# the csv columns: every field of a record but its lists, which follow joined by ";"
_CSV_COLUMNS = [
    "policy",
    "from_version",
    "to_version",
    "not_before",
    "not_after",
    "kind",
    "words_added",
    "words_removed",
    "similarity",
    "old_stated_date",
    "new_stated_date",
]


def print_changes(fmt: str, rows: Iterator[ChangeRow]) -> None:
    """``changes``' output (table, json or csv) of ``rows``, printed as they come."""
    records = map(_change_record, rows)
    if fmt == "json":
        # json.dumps(list, indent=2) written an item at a time: each item one level deeper
        first = True
        for r in records:
            item = json.dumps(r, indent=2, ensure_ascii=False).replace("\n", "\n  ")
            sys.stdout.write(("[\n  " if first else ",\n  ") + item)
            first = False
        print("[]" if first else "\n]")
    elif fmt == "csv":
        w = csv.writer(sys.stdout)
        w.writerow([*_CSV_COLUMNS, "flags", "categories"])
        for r in records:
            cells = [r[c] for c in _CSV_COLUMNS]
            w.writerow([*cells, ";".join(r["flags"]), ";".join(r["categories"])])
    else:
        print(f"{'seen by':<10}  {'kind':<11}  {'+words':>6}  {'-words':>6}  policy / categories")
        for r in records:
            cats = ", ".join(r["categories"]) or "-"
            print(
                f"{r['not_after'][:10]:<10}  {r['kind']:<11}  {r['words_added']:>6}  "
                f"{r['words_removed']:>6}  {r['policy']} (v{r['from_version']}→v{r['to_version']})"
                f"\n{'':>40}{cats}{'  [' + ', '.join(r['flags']) + ']' if r['flags'] else ''}"
            )


CATEGORY_ALIASES = {
    "sharing": "Third Party Sharing/Collection",
    "collection": "First Party Collection/Use",
    "choice": "User Choice/Control",
    "access": "User Access, Edit and Deletion",
    "retention": "Data Retention",
    "security": "Data Security",
    "policy-change": "Policy Change",
    "dnt": "Do Not Track",
    "audiences": "International and Specific Audiences",
    "other": "Other",
}


def cmd_changes(args: argparse.Namespace) -> int:
    store = open_store(args.db, create=False)
    try:
        pid = policy_id(store, args.policy) if args.policy else None
        since = None
        if args.since:
            from diffing.records import parse_timestamp

            since = parse_timestamp(args.since)
        category = CATEGORY_ALIASES.get(args.category, args.category) if args.category else None
        # streamed: printed a batch of changes at a time, however many there are
        print_changes(args.format, store.iter_changes(pid, since, category))
    finally:
        store.close()
    return 0
