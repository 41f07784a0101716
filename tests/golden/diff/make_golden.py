"""Regenerate the golden diff cases from the Open Terms Archive WARC in ../shared.

    .venv/bin/python tests/golden/diff/make_golden.py          # excerpts + expected ops
    .venv/bin/python tests/golden/diff/make_golden.py --ops    # only re-record expected ops

Excerpts are cut from real consecutive captures: text is extracted with trafilatura (a test
helper only; policytrail's own normaliser is diffing/normalize.py), the two texts are diffed,
and a few paragraphs around the first changes are kept. Review every changed ``expected.json``
by eye before committing it.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
sys.path.insert(0, str(ROOT))

from diffing.diff import diff_texts  # noqa: E402

WARC = ROOT.parent / "shared" / "data" / "ota-policies" / "ota-policies.warc.gz"

# name: (url, old capture, new capture, what the case shows)
CASES = {
    "lex-date-and-wording": (
        "https://help.thisislex.app/article/51-privacy-policy",
        "2022-06-28T09:29:35Z",
        "2023-01-01T00:33:22Z",
        "a new stated date and reworded sentences",
    ),
    "parship-fr-small-edit": (
        "https://www.parship.fr/privacypolicy/",
        "2024-01-01T00:33:24Z",
        "2024-10-01T00:34:12Z",
        "French policy: date bump plus a word-level edit",
    ),
    "uptimerobot-list-additions": (
        "https://uptimerobot.com/privacy/",
        "2025-07-01T00:30:18Z",
        "2025-10-21T12:30:19Z",
        "sub-processor list grows",
    ),
    "fruitz-reflowed-whitespace": (
        "https://fruitz.io/privacy/en",
        "2024-05-31T12:32:17Z",
        "2024-07-17T18:32:21Z",
        "every space doubled by a new PDF export, plus a date change",
    ),
    "disonsdemain-blank-lines": (
        "https://www.disonsdemain.fr/pages/misc/privacy",
        "2022-08-26T18:32:20Z",
        "2022-11-21T18:32:18Z",
        "only blank lines between paragraphs change",
    ),
    "badoo-rewritten-paragraphs": (
        "https://badoo.com/privacy/",
        "2021-12-31T13:57:00Z",
        "2022-10-01T00:32:04Z",
        "paragraphs rewritten in place",
    ),
}


def _texts() -> dict[tuple[str, str], str]:
    import trafilatura
    from warcio.archiveiterator import ArchiveIterator

    wanted = {(url, when) for url, a, b, _ in CASES.values() for when in (a, b)}
    out: dict[tuple[str, str], str] = {}
    with WARC.open("rb") as fh:
        for rec in ArchiveIterator(fh):
            if rec.rec_type != "response":
                continue
            headers = rec.rec_headers
            key = (headers.get_header("WARC-Target-URI"), headers.get_header("WARC-Date"))
            if key in wanted:
                html = rec.content_stream().read().decode("utf-8", "replace")
                text = trafilatura.extract(html, output_format="markdown", favor_recall=True)
                out[key] = text or ""
    return out


def _excerpt(old: str, new: str, limit: int = 2500) -> tuple[str, str]:
    """Paragraph-aligned excerpts of old and new around their first changes."""
    ops = diff_texts(old, new).ops
    first = next(k for k, (op, _) in enumerate(ops) if op != 0)
    # start: the last paragraph break of the equal text before the first change, with context
    o_parts: list[str] = []
    n_parts: list[str] = []
    if first > 0:
        before = ops[first - 1][1]
        cut = before.rfind("\n", 0, max(0, len(before) - 300))
        keep = before[cut + 1 :] if cut >= 0 else before
        o_parts.append(keep)
        n_parts.append(keep)
    size = 0
    for op, text in ops[first:]:
        if op == 0 and size + len(text) >= limit:
            cut = text.find("\n", max(0, min(len(text), limit - size)))
            if cut >= 0:
                o_parts.append(text[: cut + 1])
                n_parts.append(text[: cut + 1])
                break
        if op <= 0:
            o_parts.append(text)
        if op >= 0:
            n_parts.append(text)
        size += len(text)
    return "".join(o_parts), "".join(n_parts)


def main() -> None:
    ops_only = "--ops" in sys.argv
    texts = {} if ops_only else _texts()
    for name, (url, a, b, note) in CASES.items():
        case = HERE / name
        case.mkdir(exist_ok=True)
        if not ops_only:
            old, new = _excerpt(texts[(url, a)], texts[(url, b)])
            (case / "old.md").write_text(old, encoding="utf-8")
            (case / "new.md").write_text(new, encoding="utf-8")
            meta = {"url": url, "old_capture": a, "new_capture": b, "shows": note}
            (case / "source.json").write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")
        old = (case / "old.md").read_text(encoding="utf-8")
        new = (case / "new.md").read_text(encoding="utf-8")
        ops = diff_texts(old, new).ops
        lines = ",\n".join(json.dumps([op, text], ensure_ascii=False) for op, text in ops)
        (case / "expected.json").write_text(f"[\n{lines}\n]\n", encoding="utf-8")
        print(name, len(old), len(new), sum(1 for op, _ in ops if op))


if __name__ == "__main__":
    main()
