"""``make bench``: run every benchmark, one after the other (each prints its own medians and
ratios against its named baseline)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHES = [
    "bench_normalize.py",
    "bench_diff.py",
    "bench_store.py",
    "bench_crawl.py",
    "bench_report.py",
    "bench_scale.py",
]


def main() -> int:
    failed = 0
    for name in BENCHES:
        print(f"\n===== {name} =====", flush=True)
        failed += subprocess.run([sys.executable, str(HERE / name)], check=False).returncode != 0
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
