"""Benchmark the normaliser against trafilatura (markdown mode) on the shared real pages.

    python bench/bench_normalize.py [--repeat 3] [--shared ../shared]

Prints, from one run over the same pages: median ms/page of both extractors and their ratio; the
token-F1 table against the Princeton-Leuven reference markdown (citp-pairs); and how many
consecutive Open Terms Archive captures of a URL each extractor gives the same text.
Not a test: timings depend on the machine.
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import trafilatura  # noqa: E402
from warcio.archiveiterator import ArchiveIterator  # noqa: E402

from diffing.fidelity import reference_body, token_f1  # noqa: E402
from diffing.normalize import decode_html, normalize  # noqa: E402


def trafilatura_markdown(body: bytes, content_type: str = "") -> str:
    # trafilatura's best settings on these pages: markdown, formatting, favor_recall
    html, _ = decode_html(body, content_type)
    out = trafilatura.extract(
        html, output_format="markdown", include_formatting=True, favor_recall=True
    )
    return out or ""


def ours(body: bytes, content_type: str = "") -> str:
    return normalize(body, content_type=content_type).text


def timed(
    fn: Callable[[bytes, str], str], body: bytes, ctype: str, repeat: int
) -> tuple[float, str]:
    best, out = float("inf"), ""
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn(body, ctype)
        best = min(best, time.perf_counter() - start)
    return best * 1000, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=REPO.parent / "shared")
    parser.add_argument("--repeat", type=int, default=3, help="runs per page; the fastest counts")
    args = parser.parse_args()
    citp = args.shared / "data" / "citp-pairs"
    warc = args.shared / "data" / "ota-policies" / "ota-policies.warc.gz"

    pages: list[tuple[str, bytes, str]] = []  # (name, body, content type)
    references: dict[str, tuple[str, bool]] = {}
    for line in (citp / "manifest.jsonl").read_text().splitlines():
        row = json.loads(line)
        stem = citp / row["domain"] / row["archive_date"].replace("-", "")
        pages.append((row["domain"], stem.with_suffix(".html").read_bytes(), ""))
        references[row["domain"]] = (stem.with_suffix(".md").read_text(), row["seed"])
    ota_keys: list[tuple[str, str]] = []
    with open(warc, "rb") as stream:
        for record in ArchiveIterator(stream):
            if record.rec_type != "response":
                continue
            url = record.rec_headers.get_header("WARC-Target-URI")
            stamp = record.rec_headers.get_header("WARC-Date")
            ctype = record.http_headers.get_header("Content-Type") if record.http_headers else ""
            pages.append((f"{url} {stamp}", record.content_stream().read(), ctype or ""))
            ota_keys.append((url, f"{url} {stamp}"))

    ms_ours, ms_traf = [], []
    text_ours, text_traf = {}, {}
    for name, body, ctype in pages:
        t_ours, text_ours[name] = timed(ours, body, ctype, args.repeat)
        t_traf, text_traf[name] = timed(trafilatura_markdown, body, ctype, args.repeat)
        ms_ours.append(t_ours)
        ms_traf.append(t_traf)

    med_ours, med_traf = statistics.median(ms_ours), statistics.median(ms_traf)
    print(f"pages: {len(pages)} ({len(references)} citp-pairs + {len(ota_keys)} OTA captures)")
    print(f"median ms/page  normalise: {med_ours:7.2f}   trafilatura-markdown: {med_traf:7.2f}")
    print(f"ratio normalise/trafilatura: {med_ours / med_traf:.3f}  (target <= 0.333)")
    print(
        f"total s         normalise: {sum(ms_ours) / 1000:7.2f}   "
        f"trafilatura-markdown: {sum(ms_traf) / 1000:7.2f}"
    )

    print("\ntoken F1 against the citp reference markdown (lowercase \\w+ multisets)")
    print(f"{'domain':28} {'seed':4} {'normalise':>9} {'trafilat.':>9}")
    f_ours, f_traf, seeds = [], [], []
    for domain, (markdown, seed) in sorted(references.items()):
        ref = reference_body(markdown)
        a, b = token_f1(text_ours[domain], ref), token_f1(text_traf[domain], ref)
        f_ours.append(a)
        f_traf.append(b)
        if seed:
            seeds.append((domain, a, b))
        print(f"{domain:28} {'*' if seed else '':4} {a:9.3f} {b:9.3f}")
    print(f"{'mean':33} {statistics.mean(f_ours):9.4f} {statistics.mean(f_traf):9.4f}")
    print(f"{'worst':33} {min(f_ours):9.4f} {min(f_traf):9.4f}")
    print(
        f"{'seed sites worst':33} {min(s[1] for s in seeds):9.4f} {min(s[2] for s in seeds):9.4f}"
    )

    same_ours = same_traf = pairs = 0
    for (url_a, key_a), (url_b, key_b) in itertools.pairwise(ota_keys):
        if url_a != url_b:
            continue
        pairs += 1
        same_ours += text_ours[key_a] == text_ours[key_b]
        same_traf += text_traf[key_a] == text_traf[key_b]
    print(
        f"\nOTA consecutive captures of one URL: {pairs}; identical text: "
        f"normalise {same_ours}, trafilatura {same_traf}"
    )


if __name__ == "__main__":
    main()
