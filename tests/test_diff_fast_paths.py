"""The differ's fast paths give what the straightforward code they replace gives.

Each reference below is the plain version of a step (as the differ did it before it was made
faster); Hypothesis checks the fast one against it on text and op shapes that reach the cases
the fast path treats apart (lines without stops, stops of each kind, emptied equalities, moved
anchors, text beyond Latin-1, empty sides).
"""

from __future__ import annotations

import bisect
import re
from collections import Counter
from collections.abc import Callable, Container

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from diffing import diff as differ
from diffing.diff import diff_texts, merge_ops, new_text, old_text
from tests.test_diff import spy_on_align
from tests.test_diff_properties import _OPS, _SENTENCE_TEXT, _TEXT

_SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
_WORD = re.compile(r"\w+")

# --- tokens ------------------------------------------------------------------------------------


@_SETTINGS
@given(st.one_of(_TEXT, _SENTENCE_TEXT, st.text()))
def test_tokens_are_those_of_the_published_tokenizer_pattern(text: str) -> None:
    # params["tokenizer"] names _TOKEN_RE; the differ runs an equivalent pattern
    assert differ.tokenize(text) == differ._TOKEN_RE.findall(text)
    assert differ._TOKENS(text) == differ._TOKEN_RE.findall(text)


# --- sentences ---------------------------------------------------------------------------------

_REFERENCE_END_RE = re.compile(r"[.!?…]+[\"'”’)\]]*(?=\s)")


def _reference_line_sentences(line: str) -> list[tuple[int, int]]:
    """Sentence spans of one line as first written: the stops found with a character set, the
    word before each scanned backwards, each span trimmed character by character."""
    spans: list[tuple[int, int]] = []

    def add(s: int, e: int) -> None:
        while s < e and line[s].isspace():
            s += 1
        while e > s and line[e - 1].isspace():
            e -= 1
        if e > s and any(c.isalnum() for c in line[s:e]):
            spans.append((s, e))

    lead = differ._LEAD_RE.match(line)
    cursor = lead.end() if lead else 0
    for m in _REFERENCE_END_RE.finditer(line, cursor):
        stop = m.end()
        w = m.start()
        while w > 0 and (line[w - 1].isalnum() or line[w - 1] in "_."):
            w -= 1
        word = line[w : m.start()].lower()
        if word.rstrip(".") in differ._ABBREVIATIONS or (len(word) == 1 and word.isalpha()):
            continue
        nxt = re.compile(r"\S").search(line, stop)
        if nxt is not None and nxt.group().islower():
            continue
        add(cursor, stop)
        cursor = stop
    add(cursor, len(line))
    return spans


_LINE = st.one_of(
    _SENTENCE_TEXT.map(lambda t: t.splitlines()[0] if t.splitlines() else t),
    st.text(alphabet="aZ_.!?…\"'”’)] \t\u00a0ß1é", max_size=60),
)


@settings(max_examples=600, deadline=None)
@given(_LINE)
@example("Done?! Yes… “Quoted.” Inc. x. U.S. e.g. 2.5 Next")
@example("  - 1. Item.  \t")
def test_line_sentences_match_the_plain_splitter(line: str) -> None:
    spans: list[tuple[int, int]] = []
    differ._line_sentences(line, 0, len(line), spans)
    assert spans == _reference_line_sentences(line)


@settings(max_examples=300, deadline=None)
@given(_SENTENCE_TEXT)
def test_cached_sentence_keys_are_the_sentences_words(text: str) -> None:
    differ._LINE_SPANS.clear()
    for line in text.splitlines():
        spans, keys = differ._line_split(line)
        assert keys == tuple(" ".join(line[s:e].split()) for s, e in spans)


def test_whitespace_and_word_classes_agree_with_str_methods() -> None:
    # the fast paths lean on re's \w being str.isalnum() or "_", and \s being str.isspace()
    word, space = re.compile(r"\w"), re.compile(r"\s")
    for code in range(0x110000):
        c = chr(code)
        assert bool(word.match(c)) == (c.isalnum() or c == "_"), hex(code)
        assert bool(space.match(c)) == c.isspace(), hex(code)


# --- word counts -------------------------------------------------------------------------------


@_SETTINGS
@given(st.one_of(_TEXT, _SENTENCE_TEXT, st.text(alphabet="ab œ’\n\u2028аб😉_", max_size=80)))
def test_text_words_counted_line_by_line_are_the_regex_words(text: str) -> None:
    differ._LINE_WORDS.clear()
    differ._text_words.cache_clear()
    assert differ._text_words(text) == len(_WORD.findall(text))
    differ._text_words.cache_clear()  # again with every line's count remembered
    assert differ._text_words(text) == len(_WORD.findall(text))


# --- lossless cleanup --------------------------------------------------------------------------


def _reference_lossless(ops: list[tuple[int, str]]) -> list[tuple[int, str]]:
    """diff-match-patch's pass over the whole list, then a merge of the whole list."""
    diffs = list(ops)
    differ._DMP.diff_cleanupSemanticLossless(diffs)
    return diffs if len(diffs) == len(ops) else merge_ops(diffs)


_SLIDING_OPS = st.lists(
    st.tuples(st.sampled_from([-1, 0, 1]), st.text(alphabet="ab \n.", min_size=1, max_size=5)),
    max_size=30,
)


@settings(max_examples=800, deadline=None)
@given(st.one_of(_OPS, _SLIDING_OPS))
@example([(0, "a "), (1, "b a "), (0, "x")])  # the equality before the edit is emptied
@example([(0, "x"), (-1, " a"), (0, " a"), (1, "b")])  # the one after it
def test_lossless_walk_matches_the_whole_list_pass(ops: list[tuple[int, str]]) -> None:
    merged = merge_ops(ops)  # as the differ hands them over: merged, none empty
    assert differ._lossless(merged) == _reference_lossless(merged)


def test_an_emptied_equality_leaves_merged_edits() -> None:
    ops = [(0, "x"), (-1, " a"), (0, " a"), (1, "b")]
    reference = _reference_lossless(ops)
    assert len(reference) < len(ops)  # this case does empty an equality
    assert differ._lossless(ops) == reference


# --- anchors -----------------------------------------------------------------------------------


def _reference_unique_pairs(
    x: list[int], y: list[int], skip: Container[int]
) -> list[tuple[int, int]]:
    count_a, count_b = Counter(x), Counter(y)
    where_b = {v: j for j, v in enumerate(y) if count_b[v] == 1}
    pairs = [
        (i, where_b[v])
        for i, v in enumerate(x)
        if count_a[v] == 1 and v in where_b and v not in skip
    ]
    return _reference_longest_increasing(pairs, key=lambda p: p[1])


def _reference_longest_increasing(
    items: list[tuple[int, int]], key: Callable[[tuple[int, int]], int]
) -> list[tuple[int, int]]:
    """Patience sorting, with no shortcut for an already increasing input."""
    tails: list[int] = []
    tail_idx: list[int] = []
    prev = [-1] * len(items)
    for n, item in enumerate(items):
        pos = bisect.bisect_left(tails, key(item))
        if pos == len(tails):
            tails.append(key(item))
            tail_idx.append(n)
        else:
            tails[pos] = key(item)
            tail_idx[pos] = n
        prev[n] = tail_idx[pos - 1] if pos > 0 else -1
    out = []
    n = tail_idx[-1] if tail_idx else -1
    while n >= 0:
        out.append(items[n])
        n = prev[n]
    return out[::-1]


@settings(max_examples=500, deadline=None)
@given(
    st.lists(st.integers(0, 40), max_size=60),
    st.lists(st.integers(0, 40), max_size=60),
    st.sets(st.integers(0, 40), max_size=3),
)
def test_unique_pairs_match_the_plain_patience_anchors(
    x: list[int], y: list[int], skip: set[int]
) -> None:
    assert differ._unique_pairs(x, y, skip) == _reference_unique_pairs(x, y, skip)


@settings(max_examples=300, deadline=None)
@given(st.permutations(list(range(12))), st.integers(0, 12))
def test_longest_increasing_with_and_without_moves(order: list[int], keep: int) -> None:
    # a prefix already in order (the usual case: nothing moved), then maybe some moves
    keys = sorted(order[:keep]) + order[keep:]
    items = list(enumerate(keys))
    key = lambda p: p[1]  # noqa: E731
    assert differ._longest_increasing(items, key) == _reference_longest_increasing(items, key)


# --- empty sides -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "edits"),
    [
        ("A policy.\nSecond line.\n", "", [(-1, "A policy.\nSecond line.\n")]),
        ("", "A policy.\n", [(1, "A policy.\n")]),
        # lines inserted between two anchors: a region with nothing on the old side
        ("# A\nkept\n# B\n", "# A\nkept\nnew one\nnew two\n# B\n", [(1, "new one\nnew two\n")]),
        ("# A\nold one\nold two\n# B\n", "# A\n# B\n", [(-1, "old one\nold two\n")]),
    ],
)
def test_an_empty_side_is_not_tokenized(
    monkeypatch: pytest.MonkeyPatch, old: str, new: str, edits: list[tuple[int, str]]
) -> None:
    calls = spy_on_align(monkeypatch)
    result = diff_texts(old, new)
    assert calls == []
    assert [(op, t) for op, t in result.ops if op] == edits
    assert old_text(result.ops) == old and new_text(result.ops) == new
