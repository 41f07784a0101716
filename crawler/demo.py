"""``make demo``: serve the bundled sample archive with pywb on loopback, crawl the bundled URL
list into a fresh SQLite file, crawl again (incremental: nothing new to fetch), write the report."""

from __future__ import annotations

import subprocess
import sys
import time

from crawler.localarchive import ROOT, SAMPLE_URLS, SAMPLE_WARC, LocalArchive, LocalArchiveError

OUT = ROOT / "demo"


def policytrail(*args: str) -> None:
    cmd = [sys.executable, "-m", "crawler.cli", *args]
    result = subprocess.run(cmd, cwd=ROOT, check=False)
    if result.returncode != 0:
        raise SystemExit(
            f"demo: 'policytrail {' '.join(args)}' failed with code {result.returncode}"
        )


def main() -> int:
    OUT.mkdir(exist_ok=True)
    db_file = OUT / "policytrail.db"
    for stale in OUT.glob("policytrail.db*"):
        stale.unlink()
    db = f"sqlite:///{db_file}"
    started = time.monotonic()
    try:
        with LocalArchive([SAMPLE_WARC]) as archive:
            print(f"local archive (pywb) serving {SAMPLE_WARC.name} at {archive}")
            rates = ["--cdx-rate", "600", "--replay-rate", "40"]
            print("\n== first crawl ==", flush=True)
            policytrail("crawl", str(SAMPLE_URLS), "--archive", archive, "--db", db, *rates)
            print(
                "\n== second crawl (incremental: only captures newer than the last seen) ==",
                flush=True,
            )
            policytrail("crawl", str(SAMPLE_URLS), "--archive", archive, "--db", db, *rates)
    except LocalArchiveError as exc:
        print(f"demo: error: {exc}", file=sys.stderr)
        return 1
    print("\n== changes ==", flush=True)
    policytrail("changes", "--db", db)
    policytrail("report", "--out", str(OUT / "report"), "--db", db)
    print(f"\ndatabase: {db_file}\nreport:   {OUT / 'report' / 'index.html'}")
    print(f"demo finished in {time.monotonic() - started:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
