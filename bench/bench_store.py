"""Storage benchmark on ../shared/data/ota-policies (130 real captures of 25 policies).

End to end on one core, through the crawler's own pipeline functions: normalise + store every
capture, then build versions (stated date, diff, classify) for every policy. Reports versions per
second (goal >= 50/s) and database bytes as a share of raw HTML bytes (goal <= 5%), side by side
with the baseline of storing the same blobs with plain zstd (no previous-version dictionary).

    .venv/bin/python bench/bench_store.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
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


def load() -> list[tuple[str, str, bytes, str]]:
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


def run_once(rows: list[tuple[str, str, bytes, str]]) -> dict[str, float]:
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
            )
        analyser = TextAnalyser()
        versions = 0
        for pid in store.dirty_policies():
            versions += store.rebuild_versions(pid, analyser).versions_added
        cpu = time.process_time() - t0
        with store.engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
            conn.exec_driver_sql("VACUUM")
        with store.engine.connect() as conn:
            blob_bytes: dict[str, int] = {
                str(kind): int(n)
                for kind, n in conn.execute(
                    select(Blob.kind, func.sum(func.length(Blob.data))).group_by(Blob.kind)
                ).all()
            }
        plain = 0
        cctx = zstandard.ZstdCompressor(level=LEVEL)
        with store.engine.connect() as conn:
            for (blob_id,) in conn.execute(select(Blob.id)):
                data = store.read_blob(blob_id)
                plain += len(cctx.compress(data))
        store.close()
        db_bytes = db_file.stat().st_size
    raw = sum(len(r[2]) for r in rows)
    return {
        "cpu_s": cpu,
        "versions": versions,
        "db_bytes": db_bytes,
        "raw": raw,
        "snapshot": blob_bytes.get("snapshot", 0),
        "text": blob_bytes.get("text", 0),
        "ops": blob_bytes.get("ops", 0),
        "plain_blobs": plain,
        "our_blobs": sum(blob_bytes.values()),
    }


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    if not WARC.exists():
        print(f"missing {WARC}", file=sys.stderr)
        return 1
    rows = load()
    runs = [run_once(rows) for _ in range(args.repeat)]
    med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    n = len(rows)
    print(
        f"captures: {n}, raw HTML: {med['raw'] / 1e6:.2f} MB, versions built: {med['versions']:.0f}"
    )
    print(
        f"end to end (normalise+store+diff+classify), CPU s, median of {args.repeat}: "
        f"{med['cpu_s']:.2f} s -> {med['versions'] / med['cpu_s']:.1f} versions/s, "
        f"{n / med['cpu_s']:.1f} captures/s (goal >= 50 versions/s)"
    )
    print(
        f"database file: {med['db_bytes'] / 1e6:.2f} MB = "
        f"{med['db_bytes'] / med['raw']:.2%} of raw HTML (goal <= 5%)"
    )
    print(
        f"  snapshots {med['snapshot'] / 1e6:.2f} MB, texts {med['text'] / 1e6:.3f} MB, "
        f"diff ops {med['ops'] / 1e6:.3f} MB"
    )
    print(
        f"blobs, ours (zstd, previous version as dictionary): {med['our_blobs'] / 1e6:.2f} MB; "
        f"baseline plain zstd-{LEVEL}: {med['plain_blobs'] / 1e6:.2f} MB; "
        f"ratio {med['our_blobs'] / med['plain_blobs']:.2f}x"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
