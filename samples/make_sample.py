"""Rebuild samples/ota-sample.warc.gz: a subset of ../shared/data/ota-policies (ODC-BY 1.0).

Run from the repository root: ``python samples/make_sample.py``. The subset keeps the awkward real
cases the tests and the demo rely on: a moved URL (badoo ``/privacy`` vs ``/privacy/``), a
JavaScript shell page (badoo before 2023-12), a 180-byte stub (hily), French and German policies.
"""

from __future__ import annotations

import sys
from pathlib import Path

from warcio.archiveiterator import ArchiveIterator
from warcio.warcwriter import WARCWriter

ROOT = Path(__file__).resolve().parent
SOURCE = ROOT.parent.parent / "shared" / "data" / "ota-policies" / "ota-policies.warc.gz"
URLS = [
    "https://badoo.com/privacy",
    "https://badoo.com/privacy/",
    "https://hily.com/privacypolicy",
    "https://opentermsarchive.org/en/privacy-policy",
    "https://help.thisislex.app/article/51-privacy-policy",
    "https://docviewer.zoosk.com/legal-privacy-en_eu.html",
    "https://uk.match.com/pages/misc/privacy",
    "https://coffeemeetsbagel.com/privacy-terms/",
    "https://www.finya.de/Legal/privacy/",
    "https://www.meetic.fr/pages/misc/privacy",
]


def main() -> int:
    if not SOURCE.exists():
        print(f"error: source WARC not found: {SOURCE}", file=sys.stderr)
        return 1
    out = ROOT / "ota-sample.warc.gz"
    kept = 0
    with SOURCE.open("rb") as src, out.open("wb") as dst:
        writer = WARCWriter(dst, gzip=True)
        for record in ArchiveIterator(src):
            uri = record.rec_headers.get_header("WARC-Target-URI")
            if record.rec_type == "warcinfo" or uri in URLS:
                writer.write_record(record)
                kept += record.rec_type == "response"
    print(f"wrote {out} with {kept} response records")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
