"""Benchmark of diffing.diff.diff_texts against diff-match-patch (char level and line mode).

    .venv/bin/python bench/bench_diff.py [--repeats 5] [--char-timeout 20] [--char-cache F]
                                         [--no-char] [--max-pairs N] [--compare FILE]
                                         [--store-pairs N]

1. Worst case: a 100k-character total rewrite (random policy words; two unrelated real
   policies) and heavy scattered edits (20% / 40% of the words of a 100k-character text
   replaced at random), median milliseconds over ``--repeats`` runs, beside dmp's line mode
   and dmp's char mode with its default 1 s timeout (which gives up: delete-all/insert-all).
2. Real revisions: consecutive distinct captures of each policy in the Open Terms Archive WARC
   in ../shared (text by a quick trafilatura extraction, a bench helper only). For each pair:
   our time and edit size (characters deleted + inserted), dmp line mode's, and unbounded
   char-level dmp's (Diff_Timeout = 0, no line pre-pass) run in a subprocess that is killed
   after ``--char-timeout`` seconds; its raw edit size is the minimum any diff can reach.
   Ratios are ours / char-level. ``--char-cache`` keeps char-level results between runs.
3. ``--compare FILE`` runs another version of ``diffing/diff.py`` (e.g. the committed one,
   ``git show HEAD:diffing/diff.py > /tmp/old_diff.py``) side by side as "before".
4. ``--store-pairs N``: the diff stage of the store, cold. The OTA captures are normalised as the
   store does (``diffing.normalize``), and each policy's successive distinct versions paired
   (the pairs the store diffs); then ``diff_texts`` on every pair, in order, and
   ``changed_sentence_spans`` on each result, in a fresh interpreter each time (cold caches, as
   a store run is), N times, ours and ``--compare``'s interleaved: median CPU seconds and ratio.
   Only this section runs when it is given.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import random
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from functools import partial
from itertools import groupby, pairwise
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from diff_match_patch import diff_match_patch  # noqa: E402

from diffing.diff import diff_texts, edit_size  # noqa: E402

SHARED = Path(os.environ.get("POLICYTRAIL_SHARED") or ROOT.parent / "shared")
WARC = SHARED / "data" / "ota-policies" / "ota-policies.warc.gz"

_CHAR_DIFF = r"""
import json, sys, time
from diff_match_patch import diff_match_patch
old, new = json.load(sys.stdin)
dmp = diff_match_patch()
dmp.Diff_Timeout = 0
start = time.perf_counter()
ops = dmp.diff_main(old, new, False)
seconds = time.perf_counter() - start
raw = sum(len(t) for op, t in ops if op)
dmp.diff_cleanupSemantic(ops)
print(json.dumps({"seconds": seconds, "raw": raw,
                  "semantic": sum(len(t) for op, t in ops if op)}))
"""


def _median_ms(fn: Callable[[], object], repeats: int) -> float:
    """Median wall-clock milliseconds of ``repeats`` calls."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def _median_cpu_ms(fn: Callable[[], object], repeats: int) -> float:
    """Median CPU milliseconds of ``repeats`` calls (steadier on a shared machine)."""
    times = []
    for _ in range(repeats):
        start = time.process_time()
        fn()
        times.append((time.process_time() - start) * 1000)
    return statistics.median(times)


def _line_mode(old: str, new: str) -> list[tuple[int, str]]:
    dmp = diff_match_patch()
    dmp.Diff_Timeout = 0
    a, b, lines = dmp.diff_linesToChars(old, new)
    ops: list[tuple[int, str]] = dmp.diff_main(a, b, False)
    dmp.diff_charsToLines(ops, lines)
    return ops


def _char_default_timeout(old: str, new: str) -> list[tuple[int, str]]:
    dmp = diff_match_patch()  # Diff_Timeout = 1.0, as most callers leave it
    ops: list[tuple[int, str]] = dmp.diff_main(old, new, False)
    return ops


def _char_unbounded(old: str, new: str, timeout: float) -> dict[str, float] | None:
    try:
        proc = subprocess.run(
            [sys.executable, "-c", _CHAR_DIFF],
            input=json.dumps([old, new]),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=True,
        )
    except subprocess.TimeoutExpired:
        return None
    result: dict[str, float] = json.loads(proc.stdout)
    return result


def _extract_texts() -> list[tuple[str, str, str]]:
    import trafilatura
    from warcio.archiveiterator import ArchiveIterator

    if not WARC.exists():
        sys.exit(f"missing {WARC}: the benchmark needs ../shared beside the repository")
    out = []
    with WARC.open("rb") as fh:
        for rec in ArchiveIterator(fh):
            if rec.rec_type != "response":
                continue
            html = rec.content_stream().read().decode("utf-8", "replace")
            text = trafilatura.extract(html, output_format="markdown", favor_recall=True) or ""
            out.append(
                (
                    rec.rec_headers.get_header("WARC-Target-URI"),
                    rec.rec_headers.get_header("WARC-Date"),
                    text,
                )
            )
    out.sort(key=lambda t: (t[0], t[1]))
    return out


def _random_text(rng: random.Random, words: list[str], size: int) -> str:
    parts: list[str] = []
    total = 0
    while total < size:
        para = " ".join(rng.choice(words) for _ in range(rng.randint(15, 80)))
        parts.append(para)
        total += len(para) + 2
    return "\n\n".join(parts)[:size]


def _scatter(rng: random.Random, words: list[str], text: str, share: float) -> str:
    """``text`` with ``share`` of its words, chosen at random, replaced by random words."""
    out = []
    for token in re.split(r"(\s+)", text):
        if token and not token.isspace() and rng.random() < share:
            token = rng.choice(words)
        out.append(token)
    return "".join(out)


def _load_module(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location("before_diff", path)
    if spec is None or spec.loader is None:
        sys.exit(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _ops_of(result: object) -> list[tuple[int, str]]:
    ops: list[tuple[int, str]] = list(getattr(result, "ops"))  # noqa: B009 (any TextDiff)
    return ops


def worst_case(texts: list[tuple[str, str, str]], repeats: int, before: ModuleType | None) -> None:
    words = " ".join(t for _, _, t in texts).split()
    rng = random.Random(1)
    english = [t for u, _, t in texts if "christianmingle" in u or "eharmony" in u]
    others = [t for u, _, t in texts if "buffer.com" in u or "zoosk" in u]
    base = _random_text(rng, words, 100_000)
    cases = {
        "random policy words": (base, _random_text(rng, words, 100_000)),
        "unrelated policies": ("\n\n".join(english)[:100_000], "\n\n".join(others)[:100_000]),
        "scattered 20% words": (base, _scatter(rng, words, base, 0.2)),
        "scattered 40% words": (base, _scatter(rng, words, base, 0.4)),
    }
    print("== worst case: 100,000-character rewrites and scattered edits, median of", repeats)
    print("   (ms: wall clock; cpu: CPU ms; edit: characters deleted + inserted; goal <= 100 ms)")
    head = f"{'case':22} {'ours ms':>8} {'ours cpu':>8}"
    if before:
        head += f" {'before cpu':>10}"
    head += f" {'line ms':>8} {'char(1s) ms':>11}  {'ours edit':>9}"
    if before:
        head += f" {'before edit':>11}"
    print(head + f" {'line edit':>9} {'char(1s) edit':>13}")
    for name, (old, new) in cases.items():
        ours = _median_ms(partial(diff_texts, old, new), repeats)
        ours_cpu = _median_cpu_ms(partial(diff_texts, old, new), repeats)
        line = _median_ms(partial(_line_mode, old, new), repeats)
        start = time.perf_counter()
        char_ops = _char_default_timeout(old, new)
        char_ms = (time.perf_counter() - start) * 1000
        result = diff_texts(old, new)
        row = f"{name:22} {ours:8.1f} {ours_cpu:8.1f}"
        if before:
            row += f" {_median_cpu_ms(partial(before.diff_texts, old, new), repeats):10.1f}"
        row += f" {line:8.1f} {char_ms:11.0f}  {edit_size(result.ops):9}"
        if before:
            row += f" {edit_size(_ops_of(before.diff_texts(old, new))):11}"
        print(
            f"{row} {edit_size(_line_mode(old, new)):9} {edit_size(char_ops):13}"
            f"   coarse={result.params['coarse_regions']}"
            f" unrelated={result.params['unrelated_regions']}"
        )
    print()


def real_revisions(
    texts: list[tuple[str, str, str]],
    repeats: int,
    char_timeout: float,
    cache_path: Path | None,
    max_pairs: int | None,
    run_char: bool,
    before: ModuleType | None,
) -> None:
    cache: dict[str, dict[str, float] | None] = {}
    if cache_path and cache_path.exists():
        cache = json.loads(cache_path.read_text())
    pairs = []
    for url, group in groupby(texts, key=lambda t: t[0]):
        caps = list(group)
        for (_, d1, a), (_, d2, b) in pairwise(caps):
            if a and b and a != b:
                pairs.append((url, d1, d2, a, b))
    if max_pairs:
        pairs = pairs[:max_pairs]
    print(f"== real revisions: {len(pairs)} consecutive distinct captures, median of {repeats}")
    print("   (times in CPU ms; edit sizes in characters; o/char = ours / unbounded char-level)")
    header = (
        f"{'policy':38} {'from':10} {'chars':>7} {'ours ms':>8}"
        + (f" {'bef ms':>7}" if before else "")
        + f" {'line ms':>8} {'char s':>7} {'ours':>7}"
        + (f" {'before':>7}" if before else "")
        + f" {'line':>7} {'char':>7} {'o/char':>6}"
        + (f" {'b/char':>6}" if before else "")
        + f" {'o/semc':>6} {'line/c':>6}"
    )
    print(header)
    ratios: list[float] = []
    before_ratios: list[float] = []
    sums = {"ours": 0, "before": 0, "char": 0, "semantic": 0, "line": 0}
    times: dict[str, list[float]] = {"ours": [], "before": [], "line": []}
    for url, d1, d2, a, b in pairs:
        result = diff_texts(a, b)
        ours_ms = _median_cpu_ms(partial(diff_texts, a, b), repeats)
        line_ops = _line_mode(a, b)
        line_ms = _median_cpu_ms(partial(_line_mode, a, b), repeats)
        times["ours"].append(ours_ms)
        times["line"].append(line_ms)
        before_edit = before_ms = 0.0
        if before:
            before_edit = edit_size(_ops_of(before.diff_texts(a, b)))
            before_ms = _median_cpu_ms(partial(before.diff_texts, a, b), repeats)
            times["before"].append(before_ms)
        key = f"{url} {d1} {d2}"
        if run_char and key not in cache:
            cache[key] = _char_unbounded(a, b, char_timeout)
            if cache_path:
                cache_path.write_text(json.dumps(cache, indent=1))
        char = cache.get(key) if run_char else None
        if char is not None and "raw" not in char:
            char = None  # a timed-out entry
        ours_edit, line_edit = edit_size(result.ops), edit_size(line_ops)
        name = url.split("//", 1)[1][:38]
        row = f"{name:38} {d1[:10]} {len(a) + len(b):7} {ours_ms:8.1f}"
        if before:
            row += f" {before_ms:7.1f}"
        row += f" {line_ms:8.1f}"
        if char:
            raw = max(1, int(char["raw"]))
            ratio = ours_edit / raw
            ratios.append(ratio)
            sums["ours"] += ours_edit
            sums["before"] += int(before_edit)
            sums["char"] += int(char["raw"])
            sums["semantic"] += int(char["semantic"])
            sums["line"] += line_edit
            row += f" {char['seconds']:7.1f} {ours_edit:7}"
            if before:
                row += f" {int(before_edit):7}"
                before_ratios.append(before_edit / raw)
            row += f" {line_edit:7} {int(char['raw']):7} {ratio:6.2f}"
            if before:
                row += f" {before_edit / raw:6.2f}"
            print(f"{row} {ours_edit / max(1, char['semantic']):6.2f} {line_edit / raw:6.2f}")
        else:
            status = "(not run)" if not run_char else f">{char_timeout:.0f}s"
            row += f" {status:>7} {ours_edit:7}"
            if before:
                row += f" {int(before_edit):7}"
            print(f"{row} {line_edit:7}")
    print()
    for name, values in times.items():
        if values:
            print(
                f"{name:6} time per pair: median {statistics.median(values):.1f} ms, "
                f"max {max(values):.1f} ms, total {sum(values):.0f} ms"
            )
    if ratios:
        print(
            f"pairs where unbounded char-level dmp finished: {len(ratios)} (goal: edit size"
            " within 1.1x of it)"
        )
        rows = [("ours", sums["ours"], ratios)]
        if before:
            rows.append(("before", sums["before"], before_ratios))
        for name, total, rs in rows:
            within = sum(1 for r in rs if r <= 1.1)
            print(
                f"  {name:6} edit size / char: total {total / sums['char']:.3f}, median"
                f" {statistics.median(rs):.3f}, worst {max(rs):.2f}, within 1.1x:"
                f" {within}/{len(rs)}"
            )
        print(
            f"  ours vs char-level after its semantic cleanup: total "
            f"{sums['ours'] / sums['semantic']:.3f}; dmp line mode vs char: total "
            f"{sums['line'] / sums['char']:.2f}"
        )


_COLD_PAIRS = r"""
import importlib.util, pickle, sys, time
spec = importlib.util.spec_from_file_location("cold_diff", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
with open(sys.argv[2], "rb") as fh:
    pairs = pickle.load(fh)
start = time.process_time()
diffs = [module.diff_texts(a, b) for a, b in pairs]
middle = time.process_time()
for (a, b), d in zip(pairs, diffs):
    module.changed_sentence_spans(a, b, d)
print(middle - start, time.process_time() - middle)
"""


def _store_pairs() -> list[tuple[str, str]]:
    """Successive distinct normalised versions of each policy in the OTA WARC, as the store
    pairs them."""
    from bench.bench_store import load
    from diffing.normalize import normalize

    by_url: dict[str, list[tuple[str, str]]] = {}
    for url, stamp, body, content_type in load():
        text = normalize(body, url=url, content_type=content_type).text
        by_url.setdefault(url, []).append((stamp, text))
    pairs = []
    for versions in by_url.values():
        previous = None
        for _, text in sorted(versions):
            if previous is not None and text != previous:
                pairs.append((previous, text))
            if previous is None or text != previous:
                previous = text
    return pairs


def store_pairs_cold(runs: int, before: Path | None) -> None:
    import pickle
    import tempfile

    pairs = _store_pairs()
    files = {"ours": ROOT / "diffing" / "diff.py"}
    if before:
        files["before"] = before
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in files}
    with tempfile.NamedTemporaryFile(suffix=".pkl") as fh:
        pickle.dump(pairs, fh)
        fh.flush()
        for _ in range(runs):
            for name, path in files.items():
                out = subprocess.run(
                    [sys.executable, "-c", _COLD_PAIRS, str(path), fh.name],
                    capture_output=True,
                    text=True,
                    check=True,
                    cwd=ROOT,
                ).stdout.split()
                times[name].append((float(out[0]), float(out[1])))
    print(f"== store pairs, cold: {len(pairs)} pairs, median of {runs} fresh interpreters (CPU s)")
    medians = {}
    for name, values in times.items():
        diff_s = statistics.median(d for d, _ in values)
        spans_s = statistics.median(s for _, s in values)
        total = statistics.median(d + s for d, s in values)
        medians[name] = (diff_s, spans_s, total)
        print(
            f"{name:7} diff_texts {diff_s:.3f}  changed_sentence_spans {spans_s:.3f}"
            f"  total {total:.3f}"
        )
    if before:
        ratios = [b / o for o, b in zip(medians["ours"], medians["before"], strict=True)]
        print("before / ours:  " + "  ".join(f"{r:.2f}x" for r in ratios))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--char-timeout", type=float, default=20.0)
    parser.add_argument("--char-cache", type=Path, default=None)
    parser.add_argument("--no-char", action="store_true", help="skip unbounded char-level dmp")
    parser.add_argument("--max-pairs", type=int, default=None)
    parser.add_argument(
        "--compare", type=Path, default=None, help="another diffing/diff.py to run as 'before'"
    )
    parser.add_argument(
        "--store-pairs",
        type=int,
        default=0,
        metavar="N",
        help="only time the store's pairs cold, N fresh interpreters each",
    )
    args = parser.parse_args()
    if args.store_pairs:
        store_pairs_cold(args.store_pairs, args.compare)
        return
    before = _load_module(args.compare) if args.compare else None
    texts = _extract_texts()
    worst_case(texts, args.repeats, before)
    real_revisions(
        texts,
        args.repeats,
        args.char_timeout,
        args.char_cache,
        args.max_pairs,
        not args.no_char,
        before,
    )


if __name__ == "__main__":
    main()
