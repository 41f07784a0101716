"""Benchmark the normaliser against trafilatura (markdown mode) on the shared real pages.

    python bench/bench_normalize.py [--repeat 3] [--shared ../shared]
    python bench/bench_normalize.py --against OLD_NORMALIZE.py [--passes 7]

Prints, from one run over the same pages: median ms/page of both extractors and their ratio; the
token-F1 table against the Princeton-Leuven reference markdown (citp-pairs); and how many
consecutive Open Terms Archive captures of a URL each extractor gives the same text.

``--against`` instead times this normaliser against another version of ``diffing/normalize.py``
(e.g. ``git show HEAD:diffing/normalize.py > /tmp/head_normalize.py``) on the 130 Open Terms
Archive captures: CPU seconds per pass over all of them, the two versions interleaved, median of
``--passes``, and whether every returned document is identical.
Not a test: timings depend on the machine.
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import importlib.util
import itertools
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

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


def load_module(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location("baseline_normalize", path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def against(baseline_path: Path, warc: Path, passes: int) -> None:
    """CPU s per pass over the OTA captures, this normaliser and a baseline file interleaved."""
    import diffing.normalize as current

    baseline = load_module(baseline_path)
    rows = []
    with open(warc, "rb") as stream:
        for record in ArchiveIterator(stream):
            if record.rec_type == "response":
                url = record.rec_headers.get_header("WARC-Target-URI") or ""
                ctype = (
                    record.http_headers.get_header("Content-Type") if record.http_headers else ""
                )
                rows.append((url, record.content_stream().read(), ctype or ""))
    versions = {"baseline": baseline, "current": current}
    seconds: dict[str, list[float]] = {name: [] for name in versions}
    docs: dict[str, list[tuple[object, ...]]] = {}
    for _ in range(passes):
        for name, module in versions.items():
            gc.collect()
            start = time.process_time()
            out = [module.normalize(body, url=url, content_type=ctype) for url, body, ctype in rows]
            seconds[name].append(time.process_time() - start)
            docs[name] = [dataclasses.astuple(doc) for doc in out]
    base, cur = statistics.median(seconds["baseline"]), statistics.median(seconds["current"])
    same = sum(a == b for a, b in zip(docs["baseline"], docs["current"], strict=True))
    print(f"{len(rows)} OTA captures, CPU s per pass, median of {passes} (interleaved)")
    print(f"baseline {baseline_path}: {base:.3f}   current: {cur:.3f}   ratio {cur / base:.2f}")
    for name, values in seconds.items():
        print(f"  {name:8} passes: " + " ".join(f"{v:.3f}" for v in values))
    print(f"identical documents: {same} of {len(rows)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=REPO.parent / "shared")
    parser.add_argument("--repeat", type=int, default=3, help="runs per page; the fastest counts")
    parser.add_argument(
        "--against", type=Path, help="time against this other version of diffing/normalize.py"
    )
    parser.add_argument("--passes", type=int, default=7, help="passes with --against")
    args = parser.parse_args()
    citp = args.shared / "data" / "citp-pairs"
    warc = args.shared / "data" / "ota-policies" / "ota-policies.warc.gz"
    if args.against is not None:
        against(args.against, warc, args.passes)
        return

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
