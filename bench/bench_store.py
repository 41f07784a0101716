"""Storage benchmark on ../shared/data/ota-policies (130 real captures of 25 policies).

End to end on one core, through the crawler's own pipeline functions: normalise + store every
capture, then build versions (stated date, diff, classify) for every policy. Reports versions per
second (goal >= 50/s) and database bytes as a share of raw HTML bytes (goal <= 5%), with the
database's bytes broken down by table (SQLite's dbstat) and blob kind, side by side with the
baseline of storing the same blobs with plain zstd (no dictionary), and with three bounds of what
lossless compression of the raw HTML alone reaches (computed here, once, from the same bytes):
each URL's captures as one solid zstd-19 stream with long-distance matching, the same with xz -9e,
and the whole corpus as one zstd-19 long-distance stream. Snapshots (raw HTML, stored) are shown
apart from the derived data (texts, diffs, rows, indexes, page slack).

Both snapshot modes run side by side (``--snapshots keep``, the default, and ``none``: texts
only), each repetition of each in a fresh interpreter; the figures above are ``keep``'s, then
the share of raw HTML of both and the derived data broken down by what it holds.

Each repetition runs in a fresh interpreter, so no in-process cache (classified sentences,
stated dates, tokenised texts) carries over from one repetition to the next: the figure is the
cold cost of building a database from scratch.

    .venv/bin/python -m bench.bench_store [--repeat 3] [--no-bounds] [--against OTHER_CHECKOUT]

With ``--against``, another checkout (an older commit: ``git worktree add ../old COMMIT``) runs
interleaved with this one, so both see the same machine load; their CPU medians and ratio are
printed side by side (this machine's CPU time drifts ±20% from one minute to the next).
"""

from __future__ import annotations

import argparse
import json
import lzma
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import zstandard
from sqlalchemy import func, select
from warcio.archiveiterator import ArchiveIterator

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from crawler.items import FetchedCapture, Target  # noqa: E402
from crawler.pipelines import store_fetched  # noqa: E402
from diffing.analysis import TextAnalyser  # noqa: E402
from diffing.records import CaptureRef  # noqa: E402
from storage import open_store  # noqa: E402
from storage.blobs import LEVEL  # noqa: E402
from storage.models import Blob  # noqa: E402

WARC = ROOT.parent / "shared" / "data" / "ota-policies" / "ota-policies.warc.gz"

Row = tuple[str, str, bytes, str]


def load() -> list[Row]:
    rows = []
    with WARC.open("rb") as fh:
        for rec in ArchiveIterator(fh):
            if rec.rec_type != "response":
                continue
            ts = rec.rec_headers.get_header("WARC-Date")
            stamp = ts.replace("-", "").replace(":", "").replace("T", "").replace("Z", "")
            rows.append(
                (
                    rec.rec_headers.get_header("WARC-Target-URI"),
                    stamp,
                    rec.content_stream().read(),
                    rec.http_headers.get_header("Content-Type"),
                )
            )
    return rows


def run_once(rows: list[Row], snapshots: str = "keep") -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        db_file = Path(tmp) / "bench.db"
        store = open_store(f"sqlite:///{db_file}")
        targets = {t.url: t for t in store.track(sorted({r[0] for r in rows}))}
        t0 = time.process_time()
        for url, ts, body, ctype in rows:
            t = targets[url]
            store_fetched(
                store,
                FetchedCapture(
                    Target(t.policy_id, t.url_id, url),
                    CaptureRef(url, ts, "", 200),
                    "bench",
                    "fetched",
                    body=body,
                    content_type=ctype or "",
                ),
                None,
                snapshots,
            )
        t1 = time.process_time()
        analyser = TextAnalyser()
        versions = 0
        for pid in store.dirty_policies():
            versions += store.rebuild_versions(pid, analyser).versions_added
        t2 = time.process_time()
        with store.engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
            conn.exec_driver_sql("VACUUM")
        out: dict[str, float] = {}
        with store.engine.connect() as conn:
            for kind, n in conn.execute(
                select(Blob.kind, func.sum(func.length(Blob.data))).group_by(Blob.kind)
            ).all():
                out[f"blob_data:{kind}"] = int(n)
            # whole pages per table and index, headers and slack included
            for name, n in conn.exec_driver_sql(
                "SELECT name, SUM(pgsize) FROM dbstat GROUP BY name"
            ).all():
                out[f"table:{name}"] = int(n)
        plain = 0
        cctx = zstandard.ZstdCompressor(level=LEVEL)
        with store.engine.connect() as conn:
            for (blob_id,) in conn.execute(select(Blob.id)):
                plain += len(cctx.compress(store.read_blob(blob_id)))
        store.close()
        db_bytes = db_file.stat().st_size
    raw = sum(len(r[2]) for r in rows)
    out.update(
        cpu_s=t2 - t0,
        store_s=t1 - t0,
        build_s=t2 - t1,
        versions=versions,
        db_bytes=db_bytes,
        raw=raw,
        plain_blobs=plain,
    )
    return out


def solid_bounds(rows: list[Row]) -> dict[str, int]:
    """Bytes of the raw HTML compressed losslessly as solid streams (capture-time order)."""
    by_url: dict[str, list[tuple[str, bytes]]] = {}
    for url, ts, body, _ctype in rows:
        by_url.setdefault(url, []).append((ts, body))
    streams = [b"".join(body for _ts, body in sorted(v)) for _url, v in sorted(by_url.items())]
    params = zstandard.ZstdCompressionParameters.from_level(19, window_log=27, enable_ldm=True)
    ldm = zstandard.ZstdCompressor(compression_params=params)
    return {
        "solid zstd-19 --long per URL": sum(len(ldm.compress(b)) for b in streams),
        "solid xz -9e per URL": sum(
            len(lzma.compress(b, preset=9 | lzma.PRESET_EXTREME)) for b in streams
        ),
        "whole corpus, one zstd-19 --long stream": len(ldm.compress(b"".join(streams))),
    }


def _fmt(n: float) -> str:
    return f"{n / 1e6:.3f} MB"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--one", action="store_true", help="one run in this process, JSON out")
    ap.add_argument("--snapshots", choices=["keep", "none"], default="keep", help="with --one")
    ap.add_argument(
        "--no-bounds", action="store_true", help="skip the solid-compression bounds (~30 s)"
    )
    ap.add_argument(
        "--against",
        metavar="TREE",
        type=Path,
        help="another checkout of policytrail (e.g. `git worktree add ../old COMMIT`): its "
        "keep-mode runs interleave with these, CPU medians and ratio printed side by side",
    )
    args = ap.parse_args()
    if args.against is not None and not (args.against / "bench" / "bench_store.py").exists():
        print(f"--against: {args.against} is no policytrail checkout", file=sys.stderr)
        return 1
    if not WARC.exists():
        print(f"missing {WARC}", file=sys.stderr)
        return 1
    rows = load()
    if args.one:
        print(json.dumps(run_once(rows, args.snapshots)))
        return 0
    by_mode: dict[str, list[dict[str, float]]] = {"keep": [], "none": []}
    against: list[dict[str, float]] = []
    for _ in range(args.repeat):
        for mode, runs in by_mode.items():  # interleaved: both modes see the same load
            runs.append(_one(ROOT, mode))
        if args.against is not None:  # ... and the other checkout too
            against.append(_one(args.against.resolve(), "keep"))
    meds = {}
    for mode, runs in by_mode.items():
        keys = set().union(*runs)
        meds[mode] = {k: statistics.median(r.get(k, 0) for r in runs) for k in keys}
    med = meds["keep"]
    n = len(rows)
    raw = med["raw"]
    print(f"captures: {n}, raw HTML: {raw / 1e6:.2f} MB, versions built: {med['versions']:.0f}")
    print(
        f"end to end (normalise+store+diff+classify), CPU s, median of {args.repeat} cold runs: "
        f"{med['cpu_s']:.2f} s -> {med['versions'] / med['cpu_s']:.1f} versions/s, "
        f"{n / med['cpu_s']:.1f} captures/s (goal >= 50 versions/s)"
    )
    print(
        f"  normalise + store captures {med['store_s']:.2f} s, "
        f"build versions (dates, diff, classify, store) {med['build_s']:.2f} s"
    )
    print(
        f"database file: {med['db_bytes'] / 1e6:.2f} MB = {med['db_bytes'] / raw:.2%} of raw HTML"
        " (goal <= 5%)"
    )
    tables = sorted(
        ((k.split(":", 1)[1], v) for k, v in med.items() if k.startswith("table:")),
        key=lambda kv: -kv[1],
    )
    print("  by table and index (whole pages): " + ", ".join(f"{k} {_fmt(v)}" for k, v in tables))
    blob_kinds = {k.split(":", 1)[1]: v for k, v in med.items() if k.startswith("blob_data:")}
    print(
        "  blob bytes: "
        + ", ".join(f"{k} {_fmt(v)} ({v / raw:.2%})" for k, v in sorted(blob_kinds.items()))
    )
    rest = med["db_bytes"] - sum(blob_kinds.values())
    print(f"  everything but blob bytes: {_fmt(rest)} ({rest / raw:.2%} of raw HTML)")
    snapshots = blob_kinds.get("snapshot", 0)
    derived = med["db_bytes"] - snapshots
    print(
        f"  snapshots (raw HTML): {_fmt(snapshots)} ({snapshots / raw:.2%}); derived data (texts, "
        f"diffs, rows, indexes, slack): {_fmt(derived)} ({derived / raw:.2%} of raw HTML)"
    )
    if not args.no_bounds:
        print("raw HTML alone, compressed losslessly (bounds for the snapshots, not stored):")
        for name, n_bytes in solid_bounds(rows).items():
            print(
                f"  {name}: {_fmt(n_bytes)} = {n_bytes / raw:.2%} of raw HTML; our snapshots "
                f"{snapshots / n_bytes:.2f}x of it"
            )
    ours = sum(blob_kinds.values())
    print(
        f"blobs, ours: {_fmt(ours)}; baseline plain zstd-{LEVEL} of the same bytes: "
        f"{_fmt(med['plain_blobs'])}; ratio {ours / med['plain_blobs']:.2f}x"
    )
    print_modes(meds, raw, args.repeat)
    if against:
        print_against(args.against, against, by_mode["keep"])
    return 0


def _one(tree: Path, mode: str) -> dict[str, float]:
    """One cold run (a fresh interpreter) of ``tree``'s bench, its figures."""
    proc = subprocess.run(
        [sys.executable, "-m", "bench.bench_store", "--one", "--snapshots", mode],
        cwd=tree,
        env={**os.environ, "PYTHONPATH": str(tree)},
        capture_output=True,
        text=True,
        check=True,
    )
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def print_against(tree: Path, theirs: list[dict[str, float]], ours: list[dict[str, float]]) -> None:
    """CPU of the two checkouts' interleaved keep-mode runs, side by side."""
    a = statistics.median(r["cpu_s"] for r in theirs)
    b = statistics.median(r["cpu_s"] for r in ours)
    print(f"side by side with {tree} (keep mode, {len(ours)} interleaved cold runs each):")
    for name, runs, med in ((str(tree), theirs, a), ("this checkout", ours, b)):
        each = ", ".join(f"{r['cpu_s']:.2f}" for r in runs)
        print(
            f"  {name}: CPU median {med:.2f} s (runs {each})"
            f" -> {runs[0]['versions'] / med:.1f} versions/s"
        )
    print(f"  this checkout / {tree}: {b / a:.2f}x the CPU ({a / b:.2f}x as fast)")


def derived_parts(med: dict[str, float]) -> dict[str, float]:
    """The database's bytes other than snapshot bytes, by what they hold (whole pages)."""
    tables = {k.split(":", 1)[1]: v for k, v in med.items() if k.startswith("table:")}
    blob_bytes = {k.split(":", 1)[1]: v for k, v in med.items() if k.startswith("blob_data:")}
    parts = {
        "texts": blob_bytes.get("text", 0),
        "diff ops": blob_bytes.get("ops", 0),
        "blob rows (headers, hashes, page slack)": tables.pop("blob", 0) - sum(blob_bytes.values()),
    }
    groups = {
        "clauses": ("clause", "ix_clause_", "sqlite_autoindex_clause_"),
        "changes": ("change", "ix_change_", "sqlite_autoindex_change_", "diff_params"),
        "captures": ("capture", "ix_capture_", "sqlite_autoindex_capture_"),
        "versions": ("version", "sqlite_autoindex_version_"),
        "blob hash index": ("sqlite_autoindex_blob_",),
    }
    for name, prefixes in groups.items():
        parts[name] = sum(v for t, v in tables.items() if t.startswith(prefixes))
    derived = med["db_bytes"] - blob_bytes.get("snapshot", 0)
    parts["schema, small tables, free pages"] = derived - sum(parts.values())
    return parts


def print_modes(meds: dict[str, dict[str, float]], raw: float, repeat: int) -> None:
    keep, none = meds["keep"], meds["none"]
    print(f"snapshot modes side by side (median of {repeat} cold runs each):")
    for mode, med in meds.items():
        snaps = med.get("blob_data:snapshot", 0)
        print(
            f"  --snapshots {mode}: database {_fmt(med['db_bytes'])} = "
            f"{med['db_bytes'] / raw:.2%} of raw HTML (snapshot bytes {_fmt(snaps)}), "
            f"CPU {med['cpu_s']:.2f} s"
        )
    goal = 0.05 * raw
    print(
        f"  none vs the 5% goal: {_fmt(none['db_bytes'])} of {_fmt(goal)} allowed, margin "
        f"{_fmt(goal - none['db_bytes'])} ({1 - none['db_bytes'] / goal:.1%} of the allowance)"
    )
    dk, dn = derived_parts(keep), derived_parts(none)
    print(
        f"  derived data (all but snapshot bytes), keep | none: {_fmt(sum(dk.values()))} | "
        f"{_fmt(sum(dn.values()))} ({sum(dn.values()) / raw:.2%} of raw HTML), of which:"
    )
    for name in dk:
        print(f"    {name}: {_fmt(dk[name])} | {_fmt(dn[name])} ({dn[name] / raw:.2%})")


if __name__ == "__main__":
    raise SystemExit(main())
