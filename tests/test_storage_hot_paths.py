"""The storage hot paths: statements built once, binary diff runs and clause spans packed
without a call per number, and a snapshot of an unchanged text compressed against the previous
snapshot alone. Each must give what the plain way gives."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
import zstandard
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from diffing.records import CaptureRef, Document, Verdict
from storage import StorageError, Store, open_store, varints
from storage import clauses as packing
from storage import repository as repo
from storage.blobs import pack
from storage.models import Blob, Capture, Policy
from storage.repository import FetchResult, decode_ops, pack_runs


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    s = open_store(db_url)
    yield s
    s.close()


def _doc(words: str) -> Document:
    return Document(
        words, "T", "en", "test", hashlib.sha256(words.encode()).hexdigest(), Verdict("ok")
    )


def _save(store: Store, url: str, ts: str, words: str, markup: str = "") -> None:
    t = store.track([url])[0]
    body = f"<html><body>{markup}<h1>Privacy</h1><p>{words}</p></body></html>".encode()
    ref = CaptureRef(url, ts, f"D{ts}{len(body)}", 200)
    store.save_fetch(
        FetchResult(t.policy_id, t.url_id, ref, "a", "fetched", body=body, document=_doc(words))
    )


class _Analyser:
    def stated_date(self, text: str) -> None:
        return None

    def compare(self, old: str, new: str, history: Sequence[str]) -> Any:
        from diffing.records import ChangeAnalysis, ChangeKind, DiffStats, TextDiff

        stats = DiffStats(len(new.split()), len(old.split()), 0.0)
        return TextDiff(((-1, old), (1, new)), stats), ChangeAnalysis(ChangeKind.SUBSTANTIVE)


def _words(n: int, tag: str = "") -> str:
    return " ".join(f"clause{i}{tag} about data sharing and retention" for i in range(n))


def test_mark_dirty_and_clean_still_flip_the_flag(store: Store) -> None:
    _save(store, "https://a.org/privacy", "20200101000000", _words(30))
    pid = store.track(["https://a.org/privacy"])[0].policy_id
    assert store.dirty_policies() == [pid]
    store.rebuild_versions(pid, _Analyser())
    assert store.dirty_policies() == []
    with store.engine.connect() as conn:
        assert conn.execute(select(Policy.needs_rebuild)).scalar() is False
    _save(store, "https://a.org/privacy", "20200201000000", _words(31))
    assert store.dirty_policies() == [pid]


def test_a_database_error_in_a_prebuilt_read_is_the_one_line_storage_error(
    tmp_path: Path,
) -> None:
    """A database error in a hot-path read (a statement built once) is named in one line."""
    import sqlite3

    db = tmp_path / "broken.db"
    store = open_store(f"sqlite:///{db}")
    _save(store, "https://a.org/privacy", "20200101000000", _words(30))
    store._blob_cache.clear()
    other = sqlite3.connect(db)  # another program damaged the schema
    other.execute("DROP TABLE blob")
    other.commit()
    other.close()
    try:
        with pytest.raises(StorageError, match=r"database error.*no such table: blob"):
            store.read_blob(1)
    finally:
        store.close()


# --- packing without a call per number ------------------------------------------------------


def _put_one_by_one(numbers: Sequence[int]) -> bytes:
    out = bytearray()
    for n in numbers:
        varints.put(n, out)
    return bytes(out)


NUMBERS = st.lists(
    st.one_of(st.integers(0, 300), st.integers(0, 40_000), st.integers(0, 2**64)), max_size=60
)


@settings(max_examples=300, deadline=None)
@given(NUMBERS)
def test_put_all_writes_what_put_writes_one_by_one(numbers: list[int]) -> None:
    out = bytearray(b"x")
    varints.put_all(numbers, out)
    assert bytes(out) == b"x" + _put_one_by_one(numbers)


def test_put_all_refuses_a_negative_number() -> None:
    with pytest.raises(varints.VarintError, match="negative"):
        varints.put_all([1, 200, -1], bytearray())


OPS = st.lists(
    st.tuples(st.sampled_from([-1, 0, 1]), st.text(max_size=200) | st.just("w" * 20_000)),
    max_size=40,
)


@settings(max_examples=200, deadline=None)
@given(OPS)
def test_pack_runs_writes_format_3_as_one_varint_per_op(ops: list[tuple[int, str]]) -> None:
    expected = bytes([repo.OPS_FORMAT_3]) + _put_one_by_one([len(t) * 3 + op + 1 for op, t in ops])
    assert pack_runs(ops) == expected
    old = "".join(t for op, t in ops if op != 1)
    new = "".join(t for op, t in ops if op != -1)
    assert decode_ops(pack_runs(ops), old, new) == [(op, t) for op, t in ops]


def _pack_spans_reference(spans: Sequence[tuple[int, int, dict[str, list[str]]]]) -> bytes:
    """Form 2 as session 4 wrote it: a call per number and a new compressor per row."""
    import json

    body = bytearray()
    varints.put(len(spans), body)
    values: list[list[object]] = []
    last_end = 0
    for i, (start, end, vals) in enumerate(spans):
        varints.put(start - last_end, body)
        varints.put(end - start, body)
        last_end = end
        if vals:
            values.append([i, vals])
    if values:
        body += json.dumps(values, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    z = zstandard.ZstdCompressor(level=packing.LEVEL, write_content_size=True).compress(body)
    return bytes([packing.ZSTD]) + z if len(z) < len(body) else bytes([packing.RAW]) + body


@st.composite
def _spans(draw: st.DrawFn) -> list[tuple[int, int, dict[str, list[str]]]]:
    out = []
    pos = 0
    for _ in range(draw(st.integers(0, 30))):
        start = pos + draw(st.integers(0, 20_000))
        pos = start + draw(st.integers(0, 500))
        vals = draw(st.sampled_from([{}, {}, {"party": ["Google", "Meta"]}, {"days": ["30"]}]))
        out.append((start, pos, vals))
    return out


@settings(max_examples=200, deadline=None)
@given(_spans())
def test_pack_spans_writes_what_it_wrote_with_a_fresh_compressor(
    spans: list[tuple[int, int, dict[str, list[str]]]],
) -> None:
    assert packing.pack_spans(spans) == _pack_spans_reference(spans)


def test_pack_spans_from_several_threads_at_once_gives_the_same_bytes() -> None:
    groups = [
        [(k * 100 + i * 7, k * 100 + i * 7 + 5, {"n": [str(i)]} if i % 3 else {}) for i in range(k)]
        for k in range(1, 60)
    ]
    expected = [_pack_spans_reference(g) for g in groups]
    found: list[list[bytes]] = []

    def work() -> None:
        found.append([packing.pack_spans(g) for g in groups for _ in range(5)][::5])

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert found == [expected] * 4


# --- a snapshot of an unchanged text ------------------------------------------------------


def test_snapshot_of_an_unchanged_text_is_packed_against_the_previous_snapshot_alone(
    store: Store,
) -> None:
    """Its words are in the previous snapshot already: the text is left out of its dictionary
    (less to load, no more bytes); a snapshot whose text changed keeps its text."""
    words = _words(400)
    url = "https://a.org/privacy"
    _save(store, url, "20200101000000", words, markup='<nav class="old">Home</nav>')
    _save(store, url, "20200201000000", words, markup='<nav class="new">Start</nav>')
    edited = words.replace("clause7 ", "section7 ")
    _save(store, url, "20200301000000", edited, markup='<nav class="new">Start</nav>')
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(Capture.text_id, Blob.id, Blob.base_id, Blob.extra_base_id, Blob.codec)
            .add_columns(Blob.data)
            .join(Blob, Blob.id == Capture.snapshot_id)
            .order_by(Capture.timestamp)
        ).all()
    (t1, s1, *_), (t2, s2, base2, extra2, codec2, data2), (t3, s3, base3, extra3, *_) = rows
    assert t1 == t2 != t3
    assert (base2, extra2, codec2) == (s1, None, "zstd-dict")
    assert (base3, extra3) == (s2, t3)  # a changed text stays in the dictionary
    first, second = store.read_blob(s1), store.read_blob(s2)
    with_text = pack(second, first, words.encode(), prefix_is_own=True).data
    assert len(data2) <= len(with_text)
    url_db = store.engine.url.render_as_string(hide_password=False)
    fresh = open_store(url_db)
    try:  # decoded from the database, without the cache
        assert fresh.read_blob(s2) == second and fresh.read_blob(s3) == store.read_blob(s3)
    finally:
        fresh.close()
