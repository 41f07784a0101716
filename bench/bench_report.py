"""Report, export and feed benchmark on a SYNTHETIC corpus of 1,000 policies.

The corpus is built from real data: the 25 policies of ../shared/data/ota-policies (130 real
captures) are stored through the crawler's own pipeline function, then their rows (policy, URLs,
captures, versions, changes, clauses; blobs shared) are copied under distinct URLs
(``…?copy=N``) until there are ``--policies`` policies. Texts, diffs and clauses are therefore
real; only the repetition is synthetic.

Timed (wall clock, median of ``--repeat``), side by side with two named baselines:

* ``old write_report``: the report as it was before this issue (per-policy queries through
  ``Store.summaries/versions/changes``, index + policy + change pages, no plots, corpus or
  feeds), kept here verbatim as the baseline;
* ``file copy``: ``shutil.copytree`` of the generated site, the I/O floor for writing it.

Goal: seconds, not minutes, for 1,000 policies.

    .venv/bin/python bench/bench_report.py [--policies 1000] [--repeat 3]

``--rss SIZES`` (e.g. ``--rss 500,2000``) measures memory instead: for a corpus of each size,
every reading operation (the whole report, each export format, the feeds, ``changes --format
csv``) runs through the CLI in a fresh process, and its peak RSS, wall and CPU time are read
from ``os.wait4``; medians of ``--repeat``. With ``--against TREE`` (another checkout, e.g. the
session start), that tree's CLI runs the same operations on the same databases, interleaved with
this one's (both see the same machine load), and the ratios are printed. Goal: RSS that grows
far less than linearly with the number of policies (the reading side reads a batch of policies
at a time), time no worse.

    .venv/bin/python bench/bench_report.py --rss 500,2000 --repeat 3 --against ../old
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bench_store import WARC, load  # noqa: E402
from crawler.archive import IA_BASE  # noqa: E402
from crawler.export import export  # noqa: E402
from crawler.feeds import write_feeds  # noqa: E402
from crawler.items import FetchedCapture, Target  # noqa: E402
from crawler.pipelines import store_fetched  # noqa: E402
from crawler.reporting import slugify, write_report  # noqa: E402
from diffing import report as r  # noqa: E402
from diffing.analysis import TextAnalyser  # noqa: E402
from diffing.records import CaptureRef  # noqa: E402
from storage import Store, open_store  # noqa: E402
from storage.models import Capture, Change, Clause, Policy, PolicyUrl, Version  # noqa: E402


def build_base(store: Store) -> None:
    """The 130 real OTA captures stored and built into versions (bench_store's reading of them)."""
    rows = load()
    targets = {t.url: t for t in store.track(sorted({row[0] for row in rows}), IA_BASE)}
    for url, ts, body, ctype in rows:
        t = targets[url]
        store_fetched(
            store,
            FetchedCapture(
                Target(t.policy_id, t.url_id, url),
                CaptureRef(url, ts, "", 200),
                IA_BASE,
                "fetched",
                body=body,
                content_type=ctype or "",
            ),
            None,
        )
    analyser = TextAnalyser()
    for pid in store.dirty_policies():
        store.rebuild_versions(pid, analyser)


def _rows(conn: Any, model: Any, where: Any) -> list[dict[str, Any]]:
    return [dict(row._mapping) for row in conn.execute(select(model.__table__).where(where))]


def replicate(store: Store, target: int) -> int:
    """Copy the stored policies (rows only; blobs are shared) until there are ``target``."""
    with store.engine.begin() as conn:
        base = _rows(conn, Policy, Policy.id > 0)
        ids = [p["id"] for p in base]
        urls = _rows(conn, PolicyUrl, PolicyUrl.policy_id.in_(ids))
        caps = _rows(conn, Capture, Capture.policy_id.in_(ids))
        vers = _rows(conn, Version, Version.policy_id.in_(ids))
        chs = _rows(conn, Change, Change.policy_id.in_(ids))
        cls = _rows(conn, Clause, Clause.change_id.in_([c["id"] for c in chs]))
        n = len(base)
        step = {
            m: max(row["id"] for row in rows) + 1
            for m, rows in (
                (Policy, base),
                (PolicyUrl, urls),
                (Capture, caps),
                (Version, vers),
                (Change, chs),
                (Clause, cls),
            )
            if rows
        }
        copy = 0
        while n < target:
            copy += 1
            off = {m: s * copy for m, s in step.items()}

            def moved(row: dict[str, Any], **shift: int) -> dict[str, Any]:
                out = dict(row)
                for key, delta in shift.items():
                    if out.get(key) is not None:
                        out[key] += delta
                return out

            todo = base[: target - n]
            keep = {p["id"] for p in todo}
            conn.execute(
                insert(Policy),
                [
                    moved(p, id=off[Policy])
                    | {"key": f"{p['key']}?copy={copy}", "url": f"{p['url']}?copy={copy}"}
                    for p in todo
                ],
            )
            conn.execute(
                insert(PolicyUrl),
                [
                    moved(u, id=off[PolicyUrl], policy_id=off[Policy])
                    | {"url": f"{u['url']}?copy={copy}", "urlkey": f"{u['urlkey']}?copy={copy}"}
                    for u in urls
                    if u["policy_id"] in keep
                ],
            )
            conn.execute(
                insert(Capture),
                [
                    moved(c, id=off[Capture], policy_id=off[Policy], url_id=off[PolicyUrl])
                    for c in caps
                    if c["policy_id"] in keep
                ],
            )
            conn.execute(
                insert(Version),
                [
                    moved(
                        v,
                        id=off[Version],
                        policy_id=off[Policy],
                        first_capture_id=off[Capture],
                        last_capture_id=off[Capture],
                    )
                    for v in vers
                    if v["policy_id"] in keep
                ],
            )
            kept_changes = [c for c in chs if c["policy_id"] in keep]
            if kept_changes:
                conn.execute(
                    insert(Change),
                    [
                        moved(
                            c,
                            id=off[Change],
                            policy_id=off[Policy],
                            from_version_id=off[Version],
                            to_version_id=off[Version],
                        )
                        for c in kept_changes
                    ],
                )
                kept = {c["id"] for c in kept_changes}
                clause_rows = [
                    moved(c, id=off[Clause], change_id=off[Change])
                    for c in cls
                    if c["change_id"] in kept
                ]
                if clause_rows:
                    conn.execute(insert(Clause), clause_rows)
            n += len(todo)
    return n


def old_write_report(store: Store, out: Path) -> Path:
    """The baseline: ``crawler.reporting.write_report`` as it was before this issue."""

    def label(clause: dict[str, object]) -> str:
        sign = "+" if clause["op"] == 1 else "−"
        values = clause.get("values") or {}
        shown: list[str] = []
        if isinstance(values, dict):
            for vs in values.values():
                if isinstance(vs, list):
                    shown.extend(str(v) for v in vs)
        detail = ", ".join(shown[:4]) if shown else str(clause["sentence"])[:80]
        return f"{clause['category']}: {sign} {detail}"

    rows = []
    for s in store.summaries():
        slug = slugify(s.url, s.id)
        changes = store.changes(s.id)
        versions = store.versions(s.id)
        cats = sorted({cl["category"] for c in changes for cl in c.clauses})
        rows.append(
            r.PolicyRow(
                slug,
                s.url,
                s.versions,
                s.changes,
                s.captures,
                s.last_change,
                s.stated_date,
                cats,
                s.problems,
            )
        )
        pdir = out / slug
        pdir.mkdir(parents=True, exist_ok=True)
        ventries = [
            r.VersionEntry(
                v.seq,
                v.first_seen,
                v.last_seen,
                v.chars,
                v.stated_date,
                f"{IA_BASE}/web/{v.first_timestamp}id_/{v.first_url}",
            )
            for v in versions
        ]
        by_seq = {v.seq: v for v in versions}
        centries = [
            r.ChangeEntry(
                f"change-{c.to_seq}",
                c.from_seq,
                c.to_seq,
                c.kind,
                c.not_before,
                c.not_after,
                c.words_added,
                c.words_removed,
                c.flags,
                [label(cl) for cl in c.clauses],
            )
            for c in changes
        ]
        (pdir / "index.html").write_text(r.render_policy(s.url, ventries, centries), "utf-8")
        for i, ce in enumerate(centries):
            ops = store.change_ops(by_seq[ce.to_seq].id) or []
            page = r.render_change(
                s.url,
                ce,
                ops,
                ventries[ce.from_seq - 1].wayback_url,
                ventries[ce.to_seq - 1].wayback_url,
                centries[i - 1].slug if i > 0 else None,
                centries[i + 1].slug if i + 1 < len(centries) else None,
            )
            (pdir / f"{ce.slug}.html").write_text(page, encoding="utf-8")
    index = out / "index.html"
    index.write_text(r.render_index(rows, datetime.now(UTC)), encoding="utf-8")
    return index


def size_of(path: Path) -> tuple[int, int]:
    files = [p for p in path.rglob("*") if p.is_file()]
    return len(files), sum(p.stat().st_size for p in files)


def timed(fn: Callable[[], object], repeat: int) -> tuple[float, float]:
    """Median wall-clock and CPU seconds (CPU: what the machine's other load does not inflate)."""
    wall, cpu = [], []
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return statistics.median(wall), statistics.median(cpu)


RSS_TASKS = [
    ("report", ["report", "--out", "{OUT}"]),
    ("export seed-markdown", ["export", "--format", "seed-markdown", "--out", "{OUT}"]),
    ("export jsonl", ["export", "--format", "jsonl", "--out", "{OUT}"]),
    ("export csv", ["export", "--format", "csv", "--out", "{OUT}"]),
    ("feeds", ["feed", "--out", "{OUT}"]),
    ("changes --format csv", ["changes", "--format", "csv"]),
]


@dataclass(frozen=True, slots=True)
class Measured:
    rss_mb: float  # peak resident set of the process
    wall_s: float
    cpu_s: float  # user + system of the process


def measured_cli(tree: Path, args: list[str], work: Path) -> Measured:
    """Run ``policytrail ARGS`` from checkout ``tree`` in a fresh process (its stdout
    discarded) and read its peak RSS and CPU time from ``os.wait4``."""
    out = work / "out"
    shutil.rmtree(out, ignore_errors=True)
    argv = [a.replace("{OUT}", str(out)) for a in args]
    with (work / "stderr").open("w+b") as err:
        t0 = time.perf_counter()
        # -m from the tree's directory: that tree's package comes first on sys.path
        proc = subprocess.Popen(
            [sys.executable, "-m", "crawler.cli", *argv],
            cwd=tree,
            stdout=subprocess.DEVNULL,
            stderr=err,
        )
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            err.seek(0)
            raise SystemExit(f"{tree}: policytrail {' '.join(argv)} failed: {err.read()!r}")
    shutil.rmtree(out, ignore_errors=True)
    return Measured(usage.ru_maxrss / 1024, wall, usage.ru_utime + usage.ru_stime)


def rss_main(sizes: list[int], repeat: int, against: Path | None) -> int:
    trees = [("this", ROOT)] + ([("against", against.resolve())] if against else [])
    with tempfile.TemporaryDirectory(prefix="policytrail-bench-rss-") as tmp:
        work = Path(tmp)
        print(
            f"peak RSS, wall and CPU of each operation in a fresh process (CLI, SQLite), "
            f"median of {repeat}; this tree: {ROOT}"
            + (f"; against: {against.resolve()}" if against else "")
        )
        for size in sizes:
            db_file = work / f"synthetic-{size}.db"
            store = open_store(f"sqlite:///{db_file}")
            try:
                build_base(store)
                n = replicate(store, size)
                counts = store.counts()
            finally:
                store.close()
            db = ["--db", f"sqlite:///{db_file}"]
            print(
                f"\nSYNTHETIC corpus of {n} policies ({counts['versions']} versions, "
                f"{counts['changes']} changes)"
            )
            got: dict[tuple[str, str], list[Measured]] = {}
            for _ in range(repeat):
                for task, args in RSS_TASKS:
                    for label, tree in trees:  # interleaved: the same load for both
                        got.setdefault((task, label), []).append(
                            measured_cli(tree, [*args, *db], work)
                        )
            head = f"{'operation':<22} {'RSS MB':>8} {'wall s':>7} {'CPU s':>7}"
            if against:
                head += (
                    f" | {'against':>8} {'wall s':>7} {'CPU s':>7}"
                    f" | {'x RSS':>6} {'x wall':>6} {'x CPU':>6}"
                )
            print(head)
            for task, _ in RSS_TASKS:
                meds = {}
                for label, _tree in trees:
                    runs = got[(task, label)]
                    meds[label] = Measured(
                        statistics.median(m.rss_mb for m in runs),
                        statistics.median(m.wall_s for m in runs),
                        statistics.median(m.cpu_s for m in runs),
                    )
                ours = meds["this"]
                line = f"{task:<22} {ours.rss_mb:>8.0f} {ours.wall_s:>7.2f} {ours.cpu_s:>7.2f}"
                if against:
                    theirs = meds["against"]
                    line += (
                        f" | {theirs.rss_mb:>8.0f} {theirs.wall_s:>7.2f} {theirs.cpu_s:>7.2f}"
                        f" | {ours.rss_mb / theirs.rss_mb:>6.2f} "
                        f"{ours.wall_s / theirs.wall_s:>6.2f} {ours.cpu_s / theirs.cpu_s:>6.2f}"
                    )
                print(line, flush=True)
            db_file.unlink()
    return 0


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--policies", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument(
        "--rss",
        metavar="SIZES",
        help="measure peak RSS instead, at these corpus sizes (comma-separated policies)",
    )
    ap.add_argument(
        "--against",
        metavar="TREE",
        type=Path,
        help="with --rss: another checkout whose CLI runs the same operations, interleaved",
    )
    args = ap.parse_args()
    if not WARC.exists():
        print(f"missing {WARC}", file=sys.stderr)
        return 1
    if args.against is not None and not (args.against / "crawler" / "cli.py").exists():
        print(f"--against: {args.against} is no policytrail checkout", file=sys.stderr)
        return 1
    if args.rss:
        try:
            sizes = [int(x) for x in args.rss.split(",")]
        except ValueError:
            print(f"--rss: not a list of sizes: {args.rss!r}", file=sys.stderr)
            return 1
        return rss_main(sizes, args.repeat, args.against)
    with tempfile.TemporaryDirectory(prefix="policytrail-bench-report-") as tmp:
        work = Path(tmp)
        store = open_store(f"sqlite:///{work / 'synthetic.db'}")
        t0 = time.perf_counter()
        build_base(store)
        n = replicate(store, args.policies)
        counts = store.counts()
        print(
            f"SYNTHETIC corpus: {n} policies ({counts['versions']} versions, "
            f"{counts['changes']} changes, {counts['captures']} captures), copies of the 25 real "
            f"policies of ota-policies.warc.gz; built in {time.perf_counter() - t0:.1f} s"
        )

        def fresh(name: str) -> Path:
            d = work / name
            shutil.rmtree(d, ignore_errors=True)
            return d

        results: list[tuple[str, float, float, Path | None]] = []

        def run(name: str, fn: Callable[[Path], object], out_name: str, clean: bool = True) -> None:
            def once() -> object:
                return fn(fresh(out_name) if clean else work / out_name)

            wall, cpu = timed(once, args.repeat)
            results.append((name, wall, cpu, work / out_name))

        run("report (site, corpus, feeds)", lambda d: write_report(store, d), "site")
        run(
            "report again, nothing new (incremental)",
            lambda d: write_report(store, d),
            "site",
            clean=False,
        )
        run("feeds alone (global + per policy)", lambda d: write_feeds(store, d), "feeds")
        run("export seed-markdown (flat)", lambda d: export(store, d, "seed-markdown"), "seed")
        run("export jsonl", lambda d: export(store, d, "jsonl"), "jsonl")
        run("export csv", lambda d: export(store, d, "csv"), "csv")
        run("baseline: old write_report", lambda d: old_write_report(store, d), "old")
        site = work / "site"
        run("baseline: file copy of the site", lambda d: shutil.copytree(site, d), "copy")
        store.close()
        copy_s = results[-1][1]
        old_s = results[-2][1]
        print(f"\nmedian of {args.repeat} (1 process, SQLite); ratios of wall-clock time:")
        print(
            f"{'task':<42} {'wall s':>7} {'CPU s':>7} {'ms/policy':>10} {'files':>6} "
            f"{'MB':>6} {'x old':>6} {'x copy':>7}"
        )
        for name, wall, cpu, out in results:
            files, size = size_of(out) if out and out.exists() else (0, 0)
            print(
                f"{name:<42} {wall:>7.2f} {cpu:>7.2f} {wall / n * 1000:>10.2f} {files:>6} "
                f"{size / 1e6:>6.0f} {wall / old_s:>6.2f} {wall / copy_s:>7.1f}"
            )
        total = results[0][1] + results[3][1]
        print(
            f"\nreport (with feeds) + seed-markdown export for {n} policies: {total:.1f} s "
            f"wall (goal: seconds, not minutes)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
