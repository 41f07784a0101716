"""Clause rows, packed: a change's changed sentences of one kind (added or removed) and one
category are a single row holding where each sentence is in the version text (stored anyway)
and the values found in it. Storing every sentence verbatim made clause rows the largest part of
the database (2.3 MB of 6 MB on the sample); as spans they take a few bytes per sentence.

Packed form 2 (written since migration 0004): a format byte, then
``varint(n) varint(gap) varint(length) ...`` for the ``n`` sentences, then, when some sentences
have values, the UTF-8 JSON ``[[i, {...}], ...]`` of those; the whole after the format byte is
zstd-compressed when that is smaller (format byte 3) and stored as is otherwise (format byte 2).
``gap`` is the start of a sentence minus the end of the one before (0 for the first), sentences
in text order. On the sample: 21% fewer bytes than form 1 (most rows are a few sentences, where
JSON keys and a zstd frame cost more than the spans).

Packed form 1 (migration 0003; still read): zstd-compressed JSON
``{"spans": [gap, length, ...], "values": [[i, {...}], ...]}``.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field

import zstandard

from storage import varints

# tiny payloads (a few hundred bytes): on the sample level 19 takes 3x the time of level 12
# (41 ms vs 14 ms for 538 rows) for 1.6% fewer bytes (87.8 vs 89.2 kB)
LEVEL = 12


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
    return pack_spans([(c.start, c.end, c.values) for c in clauses])


RAW, ZSTD = 2, 3  # format bytes of form 2 (a zstd frame starts with 0x28: form 1)
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
_local = threading.local()


def _compressor() -> zstandard.ZstdCompressor:
    """This thread's compressor for clause rows: a change packs dozens of tiny rows, and making
    a compressor costs as much as compressing one (a compressor serves one thread at a time;
    reusing it gives the same bytes)."""
    found: zstandard.ZstdCompressor | None = getattr(_local, "compressor", None)
    if found is None:
        found = _local.compressor = zstandard.ZstdCompressor(level=LEVEL, write_content_size=True)
    return found


def pack_spans(spans: Sequence[tuple[int, int, dict[str, list[str]]]]) -> bytes:
    """Pack (start, end, values) of the sentences of one group, given in text order (form 2)."""
    numbers = [len(spans)]
    values: list[list[object]] = []
    last_end = 0
    for i, (start, end, vals) in enumerate(spans):
        if start < last_end or end < start:
            raise ClauseFormatError(f"clause spans out of order: {start}..{end}")
        numbers += (start - last_end, end - start)
        last_end = end
        if vals:
            values.append([i, vals])
    body = bytearray()
    varints.put_all(numbers, body)
    if values:
        body += json.dumps(values, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    packed = _compressor().compress(body)
    if len(packed) < len(body):
        return bytes([ZSTD]) + packed
    return bytes([RAW]) + bytes(body)


def pack_spans_v1(spans: Sequence[tuple[int, int, dict[str, list[str]]]]) -> bytes:
    """Form 1 of :func:`pack_spans` (what migration 0003 wrote; 0004's downgrade writes it)."""
    flat: list[int] = []
    values: list[list[object]] = []
    last_end = 0
    for i, (start, end, vals) in enumerate(spans):
        if start < last_end or end < start:
            raise ClauseFormatError(f"clause spans out of order: {start}..{end}")
        flat += (start - last_end, end - start)
        last_end = end
        if vals:
            values.append([i, vals])
    body = json.dumps({"spans": flat, "values": values}, separators=(",", ":"))
    return zstandard.ZstdCompressor(level=LEVEL, write_content_size=True).compress(
        body.encode("utf-8")
    )


def unpack(data: bytes, op: int, category: str, text_length: int) -> list[SpanClause]:
    """The clauses of a packed group; ``text_length`` is the length of the text they are in."""
    return [SpanClause(op, category, a, b, v) for a, b, v in spans_of(data, text_length)]


def spans_of(data: bytes, text_length: int) -> list[tuple[int, int, dict[str, list[str]]]]:
    """(start, end, values) of each sentence of a packed group, in text order (what
    :func:`unpack` gives, without building objects: reports read every clause)."""
    if data[:1] in (b"\x02", b"\x03"):
        return _spans_of_v2(data, text_length)
    if data[:4] != _ZSTD_MAGIC:
        raise ClauseFormatError("packed clauses do not decode (unknown format)")
    try:
        body = json.loads(zstandard.ZstdDecompressor().decompress(data))
        spans = body["spans"]
        values = {int(i): v for i, v in body["values"]}
    except (zstandard.ZstdError, ValueError, KeyError, TypeError) as exc:
        raise ClauseFormatError(f"packed clauses do not decode ({exc})") from None
    return _place(spans, values, text_length)


def _spans_of_v2(data: bytes, text_length: int) -> list[tuple[int, int, dict[str, list[str]]]]:
    body = data[1:]
    if data[0] == ZSTD:
        try:
            body = zstandard.ZstdDecompressor().decompress(body)
        except zstandard.ZstdError as exc:
            raise ClauseFormatError(f"packed clauses do not decode ({exc})") from None
    spans: list[int] = []
    try:
        n, pos = varints.get(body, 0)
        if n > len(body):
            raise ClauseFormatError("packed clauses do not decode (impossible count)")
        for _ in range(2 * n):
            value, pos = varints.get(body, pos)
            spans.append(value)
    except varints.VarintError as exc:
        raise ClauseFormatError(f"packed clauses do not decode ({exc})") from None
    values: dict[int, dict[str, list[str]]] = {}
    if pos < len(body):
        try:
            values = {int(i): v for i, v in json.loads(body[pos:].decode("utf-8"))}
        except (ValueError, TypeError) as exc:
            raise ClauseFormatError(f"packed clauses do not decode ({exc})") from None
    return _place(spans, values, text_length)


def _place(
    spans: list[int], values: dict[int, dict[str, list[str]]], text_length: int
) -> list[tuple[int, int, dict[str, list[str]]]]:
    out: list[tuple[int, int, dict[str, list[str]]]] = []
    pos = 0
    try:
        for k in range(0, len(spans) - 1, 2):
            gap, length = int(spans[k]), int(spans[k + 1])
            start = pos + gap
            pos = start + length
            if gap < 0 or length < 0 or pos > text_length:
                raise ClauseFormatError("packed clauses do not fit their text")
            out.append((start, pos, values.get(k // 2) or {}))
    except (ValueError, TypeError) as exc:
        raise ClauseFormatError(f"packed clauses do not decode ({exc})") from None
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
