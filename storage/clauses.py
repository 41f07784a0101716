"""Clause rows, packed: a change's changed sentences of one kind (added or removed) and one
category are a single row holding where each sentence is in the version text (stored anyway)
and the values found in it. Storing every sentence verbatim made clause rows the largest part of
the database (2.3 MB of 6 MB on the sample); as spans they take a few bytes per sentence.

Packed form: zstd-compressed JSON ``{"spans": [gap, length, ...], "values": [[i, {...}], ...]}``
where ``gap`` is the start of a sentence minus the end of the one before (0 for the first),
sentences in text order, and ``values`` lists only the sentences that have some.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field

import zstandard

LEVEL = 19  # tiny payloads: the highest level costs microseconds


class ClauseFormatError(ValueError):
    """A packed clause row that does not decode, or does not fit its text."""


@dataclass(frozen=True, slots=True)
class SpanClause:
    """One changed sentence as stored: ``text[start:end]`` of its version text."""

    op: int
    category: str
    start: int
    end: int
    values: dict[str, list[str]] = field(default_factory=dict)


def pack(clauses: Sequence[SpanClause]) -> bytes:
    """Pack the clauses of one (op, category) group, given in text order."""
    spans: list[int] = []
    values: list[list[object]] = []
    last_end = 0
    for i, c in enumerate(clauses):
        if c.start < last_end or c.end < c.start:
            raise ClauseFormatError(f"clause spans out of order: {c.start}..{c.end}")
        spans += [c.start - last_end, c.end - c.start]
        last_end = c.end
        if c.values:
            values.append([i, c.values])
    body = json.dumps({"spans": spans, "values": values}, separators=(",", ":"))
    return zstandard.ZstdCompressor(level=LEVEL, write_content_size=True).compress(
        body.encode("utf-8")
    )


def unpack(data: bytes, op: int, category: str, text_length: int) -> list[SpanClause]:
    """The clauses of a packed group; ``text_length`` is the length of the text they are in."""
    try:
        body = json.loads(zstandard.ZstdDecompressor().decompress(data))
        spans = [int(x) for x in body["spans"]]
        values = {int(i): v for i, v in body["values"]}
    except (zstandard.ZstdError, ValueError, KeyError, TypeError) as exc:
        raise ClauseFormatError(f"packed clauses do not decode ({exc})") from None
    out: list[SpanClause] = []
    pos = 0
    for k in range(0, len(spans) - 1, 2):
        start = pos + spans[k]
        end = start + spans[k + 1]
        if spans[k] < 0 or spans[k + 1] < 0 or end > text_length:
            raise ClauseFormatError("packed clauses do not fit their text")
        out.append(SpanClause(op, category, start, end, values.get(k // 2, {})))
        pos = end
    return out


def locate(text: str, sentences: Sequence[str]) -> list[tuple[int, int]] | None:
    """Spans of ``sentences`` found in ``text`` in order, each after the one before; None if
    one is not there (for clauses that came without their spans)."""
    out: list[tuple[int, int]] = []
    pos = 0
    for sentence in sentences:
        at = text.find(sentence, pos)
        if at < 0 or not sentence:
            return None
        out.append((at, at + len(sentence)))
        pos = at + len(sentence)
    return out
