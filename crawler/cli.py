"""The ``policytrail`` command: a group of focused subcommands.

Every subcommand takes ``--db URL`` (an SQLAlchemy URL; default ``$POLICYTRAIL_DB`` or
``sqlite:///policytrail.db``). Errors are one line on stderr and a non-zero exit code:
1 for bad input or a failed run, 2 for bad usage, 3 when the archive cannot be reached.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from crawler import __version__
from crawler.archive import IA_BASE, ArchiveError
from crawler.cliutil import (
    EXIT_ERROR,
    CliError,
    db_arg,
    policy_id,
    timestamp_arg,
)
from crawler.storeworker import one_line
from diffing.report import fmt_date
from storage import StorageError, open_store
from storage.keys import BadUrl

# each module adds its subcommands with register(sub); the order is the order of --help
COMMAND_MODULES = [
    "crawler.cli_crawl",
    "crawler.cli_reports",
    "crawler.cli_jobs",
    "crawler.cli_cluster",
    "crawler.cli_discover",
]


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="policytrail",
        description="Reconstruct and track the history of privacy policies from web archives.",
    )
    ap.add_argument("--version", action="version", version=f"policytrail {__version__}")
    sub = ap.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMAND_MODULES:
        importlib.import_module(module).register(sub)

    p = sub.add_parser("versions", help="list the stored versions of a policy")
    p.add_argument("url", metavar="URL")
    p.add_argument("--format", choices=["table", "json"], default="table")
    db_arg(p)
    p.set_defaults(func=cmd_versions)

    p = sub.add_parser("diff", help="show what changed between two versions of a policy")
    p.add_argument("url", metavar="URL")
    p.add_argument(
        "--from",
        dest="from_ts",
        type=timestamp_arg,
        help="the version current at this time (default: the one before --to)",
    )
    p.add_argument(
        "--to",
        dest="to_ts",
        type=timestamp_arg,
        help="the version current at this time (default: the newest)",
    )
    p.add_argument("--format", choices=["text", "json"], default="text")
    db_arg(p)
    p.set_defaults(func=cmd_diff)

    p = sub.add_parser(
        "normalise",
        aliases=["normalize"],
        help="print the normalised text of an HTML file or of every capture in a WARC",
    )
    p.add_argument("path", metavar="FILE_OR_WARC")
    p.add_argument("--format", choices=["markdown", "seed-markdown", "json"], default="markdown")
    p.add_argument("--url", default="", help="the page's URL (for an HTML file)")
    p.set_defaults(func=cmd_normalise)

    p = sub.add_parser(
        "reextract",
        help="re-run the normaliser on stored raw snapshots (no fetching) and "
        "rebuild the versions whose text changed",
    )
    p.add_argument("--policy", metavar="URL", help="only this policy")
    db_arg(p)
    p.set_defaults(func=cmd_reextract)

    p = sub.add_parser("serve", help="serve WARC files as a local pywb archive (collection 'web')")
    p.add_argument("warcs", nargs="*", metavar="WARC", help="default: the bundled sample")
    p.add_argument("--port", type=int, default=8080)
    p.set_defaults(func=cmd_serve)

    return ap


# ---------------------------------------------------------------------------- commands


def cmd_versions(args: argparse.Namespace) -> int:
    store = open_store(args.db, create=False)
    try:
        rows = store.versions(policy_id(store, args.url))
    finally:
        store.close()
    if args.format == "json":
        print(
            json.dumps(
                [
                    {
                        "seq": v.seq,
                        "first_seen": v.first_seen.isoformat(),
                        "last_seen": v.last_seen.isoformat(),
                        "first_timestamp": v.first_timestamp,
                        "last_timestamp": v.last_timestamp,
                        "chars": v.chars,
                        "title": v.title,
                        "text_hash": v.text_hash,
                        "stated_date": v.stated_date.isoformat() if v.stated_date else None,
                    }
                    for v in rows
                ],
                indent=2,
            )
        )
        return 0
    print(f"{'#':>3}  {'first seen':<19}  {'last seen':<19}  {'chars':>7}  {'stated':<10}  title")
    for v in rows:
        print(
            f"{v.seq:>3}  {v.first_seen:%Y-%m-%d %H:%M:%S}  {v.last_seen:%Y-%m-%d %H:%M:%S}  "
            f"{v.chars:>7}  {fmt_date(v.stated_date):<10}  {v.title[:60]}"
        )
    return 0


def _version_at(rows: Sequence[Any], ts: str) -> Any:
    from diffing.records import parse_timestamp

    when = parse_timestamp(ts)
    current = [v for v in rows if v.first_seen <= when]
    if not current:
        raise CliError(f"no version at or before {ts}")
    return current[-1]


def cmd_diff(args: argparse.Namespace) -> int:
    from diffing.diff import diff_texts

    store = open_store(args.db, create=False)
    try:
        pid = policy_id(store, args.url)
        rows = store.versions(pid)
        if len(rows) < 2 and not (args.from_ts and args.to_ts):
            raise CliError(f"policy has {len(rows)} version(s): nothing to diff")
        new = _version_at(rows, args.to_ts) if args.to_ts else rows[-1]
        if args.from_ts:
            old = _version_at(rows, args.from_ts)
        else:
            earlier = [v for v in rows if v.seq < new.seq]
            if not earlier:
                raise CliError("no version before the one chosen by --to")
            old = earlier[-1]
        ops = store.change_ops(new.id) if old.seq == new.seq - 1 else None
        if ops is None:
            ops = list(diff_texts(store.read_text(old.text_id), store.read_text(new.text_id)).ops)
    finally:
        store.close()
    if args.format == "json":
        print(json.dumps({"from": old.seq, "to": new.seq, "ops": ops}, ensure_ascii=False))
        return 0
    print(f"--- version {old.seq} (first seen {old.first_seen:%Y-%m-%d})")
    print(f"+++ version {new.seq} (first seen {new.first_seen:%Y-%m-%d})")
    print(render_inline(ops))
    return 0


def render_inline(ops: Sequence[tuple[int, str]], context: int = 200) -> str:
    """Changed words marked ``[-removed-]`` and ``{+added+}``, unchanged text shortened."""
    out: list[str] = []
    for i, (op, text) in enumerate(ops):
        if op == -1:
            out.append(f"[-{text}-]")
        elif op == 1:
            out.append(f"{{+{text}+}}")
        elif len(text) > 2 * context:
            head = text[:context] if i > 0 else ""
            tail = text[-context:] if i < len(ops) - 1 else ""
            out.append(f"{head}\n[…]\n{tail}" if head or tail else "")
        else:
            out.append(text)
    return "".join(out).strip("\n")


def cmd_normalise(args: argparse.Namespace) -> int:
    from diffing.normalize import iter_warc_documents, normalize, seed_markdown
    from diffing.records import parse_timestamp
    from storage.keys import site_of

    path = Path(args.path)
    if not path.is_file():
        raise CliError(f"file not found: {path}")
    if path.name.endswith((".warc", ".warc.gz", ".arc.gz")):
        docs = list(iter_warc_documents(path))
    else:
        ts = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
        docs = [(args.url, ts, normalize(path.read_bytes(), url=args.url))]
    for url, ts, doc in docs:
        if args.format == "json":
            print(
                json.dumps(
                    {
                        "url": url,
                        "timestamp": ts,
                        "title": doc.title,
                        "language": doc.language,
                        "verdict": str(doc.verdict),
                        "verdict_reason": doc.verdict_reason,
                        "normaliser_version": doc.normaliser_version,
                        "text_hash": doc.text_hash,
                        "text": doc.text,
                    },
                    ensure_ascii=False,
                )
            )
        elif args.format == "seed-markdown":
            site = site_of(url) if url else path.stem
            print(
                seed_markdown(
                    doc,
                    site=site,
                    archived_on=parse_timestamp(ts).date(),
                    wayback_url=f"{IA_BASE}/web/{ts}id_/{url}",
                )
            )
        else:
            print(f"<!-- {url} {ts} verdict={doc.verdict} {doc.verdict_reason} -->")
            print(doc.text)
    return 0


def cmd_reextract(args: argparse.Namespace) -> int:
    from diffing.analysis import TextAnalyser
    from diffing.normalize import normalize

    store = open_store(args.db, create=False)
    try:
        pid = policy_id(store, args.policy) if args.policy else None
        refs = store.snapshot_refs(pid)
        unreachable = store.without_snapshot(pid)
        changed = 0
        for capture_id, _policy, snapshot_id, url, ctype in refs:
            doc = normalize(store.read_blob(snapshot_id), url=url, content_type=ctype)
            changed += store.replace_document(capture_id, doc)
        analyser = TextAnalyser()
        added = removed = 0
        for dirty in store.dirty_policies():
            res = store.rebuild_versions(dirty, analyser)
            added += res.versions_added
            removed += res.versions_removed
    finally:
        store.close()
    print(
        f"re-extracted {len(refs)} snapshots: {changed} texts changed; "
        f"versions: {added} added, {removed} replaced"
    )
    if unreachable:
        print(
            f"{unreachable} fetched captures have no raw snapshot (crawled with --snapshots "
            "none): their texts stay as extracted; to re-extract them, fetch them again from the "
            "archive with a crawl into a new database with --snapshots keep"
        )
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    import time

    from crawler.localarchive import SAMPLE_WARC, LocalArchive, LocalArchiveError

    try:
        with LocalArchive([Path(w) for w in args.warcs] or [SAMPLE_WARC], port=args.port) as url:
            print(f"serving on {url} (Ctrl-C to stop)", flush=True)
            while True:
                time.sleep(3600)
    except LocalArchiveError as exc:
        raise CliError(str(exc)) from None
    except KeyboardInterrupt:
        return 0


# ---------------------------------------------------------------------------- entry point


def main(argv: Sequence[str] | None = None) -> int:
    from crawler.envvars import EnvVarError, check
    from crawler.localarchive import LocalArchiveError
    from crawler.urlfile import UrlFileError

    parser = build_parser()
    args = parser.parse_args(argv)
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        check()
        return func(args)
    except CliError as exc:
        print(f"policytrail: error: {one_line(str(exc))}", file=sys.stderr)
        return exc.code
    except (
        StorageError,
        UrlFileError,
        ArchiveError,
        BadUrl,
        LocalArchiveError,
        EnvVarError,
    ) as exc:
        print(f"policytrail: error: {one_line(str(exc))}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("policytrail: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    raise SystemExit(main())
