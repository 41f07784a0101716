"""Properties of the differ that hold for any pair of texts (Hypothesis)."""

from __future__ import annotations

import re
from collections import Counter

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from diffing import diff as differ
from diffing.diff import (
    changed_sentences,
    diff_texts,
    new_text,
    old_text,
    ops_from_json,
    ops_to_json,
    semantic_cleanup,
    tokenize,
)

# Texts built from a small policy-like vocabulary so that old and new share words, plus
# arbitrary unicode text for the edge cases.
_WORDS = st.sampled_from(
    [
        "we",
        "collect",
        "share",
        "your",
        "data",
        "with",
        "partners",
        "cookies",
        "the",
        "and",
        "2009",
        "6/20",
        "Last",
        "updated",
        ".",
        ",",
        "“",
        "”",
        "é",
        "ß",
        "**",
        "#",
        "*",
        "-",
    ]
)
_SEPARATORS = st.sampled_from([" ", " ", " ", "  ", "\n", "\n\n", "\n\n\n", "\t", "\u00a0", ""])
_POLICY_TEXT = st.lists(st.tuples(_WORDS, _SEPARATORS), max_size=60).map(
    lambda pairs: "".join(w + s for w, s in pairs)
)
_TEXT = st.one_of(_POLICY_TEXT, st.text(max_size=200))

_SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@_SETTINGS
@given(_TEXT, _TEXT)
def test_diff_rebuilds_both_texts(old: str, new: str) -> None:
    result = diff_texts(old, new)
    assert old_text(result.ops) == old
    assert new_text(result.ops) == new
    assert all(text for _, text in result.ops), "no empty ops"
    assert all(op in (-1, 0, 1) for op, _ in result.ops)
    # no two neighbours of the same kind, and a deletion never follows its insertion
    for (op1, _), (op2, _) in zip(result.ops, result.ops[1:], strict=False):
        assert op1 != op2
        assert not (op1 == 1 and op2 == -1)


@_SETTINGS
@given(_TEXT)
def test_identical_texts_have_no_changes(text: str) -> None:
    result = diff_texts(text, text)
    assert all(op == 0 for op, _ in result.ops)
    assert result.stats.words_added == result.stats.words_removed == 0
    assert result.stats.similarity == 1.0
    assert changed_sentences(text, text, result) == ([], [])


@_SETTINGS
@given(_TEXT, _TEXT)
def test_diff_is_deterministic(old: str, new: str) -> None:
    first = diff_texts(old, new)
    second = diff_texts(old, new)
    assert first == second
    assert ops_from_json(ops_to_json(first.ops)) == first.ops


@_SETTINGS
@given(_TEXT, _TEXT)
def test_stats_are_consistent(old: str, new: str) -> None:
    result = diff_texts(old, new)
    assert 0.0 <= result.stats.similarity <= 1.0
    reverse = diff_texts(new, old)
    assert old_text(reverse.ops) == new and new_text(reverse.ops) == old


_WORD = re.compile(r"\w+")

# Documents made of lines: short lines that repeat (never unique, so never anchors), and long
# paragraphs (over the 2,000 characters at which a changed region is checked for a rewrite
# before it is tokenized), some sharing their words and some not.
_LONG_EN = " ".join(["we collect and share your data with partners"] * 50)
_LONG_FR = " ".join(["nous collectons et partageons vos données"] * 55)
_LONG_MIX = " ".join(["we share vos données with nos partners"] * 60)
_LINES = st.sampled_from(["Contact", "", "We share data.", "* item", _LONG_EN, _LONG_FR, _LONG_MIX])
# a section: a heading (unique unless drawn twice: an anchor) and a few lines
_SECTION = st.tuples(st.sampled_from(["# A", "# B", "# C", "# D"]), st.lists(_LINES, max_size=5))
_DOCUMENT = st.lists(_SECTION, max_size=6).map(
    lambda sections: "\n".join(line for head, body in sections for line in (head, *body))
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_DOCUMENT, _DOCUMENT)
def test_documents_of_repeated_lines_and_long_paragraphs_rebuild(old: str, new: str) -> None:
    result = diff_texts(old, new)
    assert old_text(result.ops) == old
    assert new_text(result.ops) == new
    assert all(text for _, text in result.ops)


@_SETTINGS
@given(_TEXT, _TEXT)
def test_stats_count_whole_words_of_both_texts(old: str, new: str) -> None:
    # the stats are taken before the character refinement: every word of the old text is
    # either common or removed, every word of the new text common or added
    stats = diff_texts(old, new).stats
    words_old, words_new = len(_WORD.findall(old)), len(_WORD.findall(new))
    assert 0 <= stats.words_removed <= words_old
    assert 0 <= stats.words_added <= words_new
    assert words_old - stats.words_removed == words_new - stats.words_added
    common = words_old - stats.words_removed
    total = 2 * common + stats.words_added + stats.words_removed
    assert stats.similarity == (1.0 if total == 0 else round(2 * common / total, 6))


@_SETTINGS
@given(_TEXT)
def test_tokens_join_back(text: str) -> None:
    assert "".join(tokenize(text)) == text


@_SETTINGS
@given(_TEXT)
def test_tokens_are_a_word_or_mark_and_the_whitespace_after_it(text: str) -> None:
    tokens = tokenize(text)
    for k, token in enumerate(tokens):
        core = token.rstrip()
        assert k == 0 or core, "only the leading whitespace is a token of its own"
        assert not core or len(core) == 1 or _WORD.fullmatch(core), token


def _reference_refine(deleted: str, inserted: str) -> list[tuple[int, str]]:
    """Version 2's character refinement, written out op by op: every char equality shorter
    than REFINE_MIN_EQUAL becomes a deletion and an insertion, then the semantic cleanup with
    REFINE_FOLD_FACTOR folds the rest (version 3 does this on positions only)."""
    out: list[tuple[int, str]] = []
    for tag, i1, i2, j1, j2 in differ._opcodes(deleted, inserted):
        if tag != "equal":
            out += [(-1, deleted[i1:i2]), (1, inserted[j1:j2])]
        elif i2 - i1 < differ.REFINE_MIN_EQUAL:
            out += [(-1, deleted[i1:i2]), (1, deleted[i1:i2])]
        else:
            out.append((0, deleted[i1:i2]))
    return semantic_cleanup(out, differ.REFINE_FOLD_FACTOR)


_SHORT = st.text(alphabet="abcde \n", max_size=40)


@settings(max_examples=500, deadline=None)
@given(_SHORT, _SHORT)
def test_refinement_on_positions_matches_the_op_by_op_cleanup(deleted: str, inserted: str) -> None:
    refined = differ._refine_pair(deleted, inserted)
    expected = _reference_refine(deleted, inserted)
    if refined is None:  # kept whole: the reference keeps no equality either
        assert all(op != 0 for op, _ in expected), expected
    else:
        assert refined == expected


@_SETTINGS
@given(st.lists(st.integers(0, 6)), st.lists(st.integers(0, 6)))
def test_shared_is_the_multiset_intersection(a: list[int], b: list[int]) -> None:
    assert differ._shared(Counter(a), Counter(b)) == (Counter(a) & Counter(b)).total()


# Texts of sentences, lines and list marks, with every kind of line break str.splitlines knows
# and the stops, abbreviations and quotes the sentence splitter looks at.
_SENTENCE_PARTS = st.sampled_from(
    [
        *("We", "we", "share", "Data", "e.g.", "Inc.", "U.S.", "A.", "x", "2024", "é", "_"),
        *(". ", "! ", "? ", "… ", '." ', ".) ", ".", " ", "  ", "\t", "\u00a0"),
        *("\n", "\n\n", "\r\n", "\r", "\u2028", "\x85", "\x0c", "\x1e"),
        *("- ", "* ", "1. ", "## ", "> ", "\n- ", "\n1) "),
    ]
)
_SENTENCE_TEXT = st.one_of(
    st.lists(_SENTENCE_PARTS, max_size=50).map("".join), st.text(max_size=80)
)


def _touched_everywhere(text: str, edits: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The sentences of the whole of ``text`` that an edit overlaps or that an insertion point
    falls strictly inside."""
    return [
        (s, e)
        for s, e in differ.sentence_spans(text)
        if any((es < e and ee > s) or (es == ee and s < es < e) for es, ee in edits)
    ]


def _reference_changed_spans(
    old: str, new: str, ops: tuple[tuple[int, str], ...]
) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """changed_sentence_spans as its docstring defines it, over every sentence of both texts
    (version 3 splits only the lines the edits reach)."""
    old_edits: list[tuple[int, int]] = []
    new_edits: list[tuple[int, int]] = []
    i = j = 0
    for op, text in ops:
        if op == -1:
            old_edits.append((i, i + len(text)))
            new_edits.append((j, j))
            i += len(text)
        elif op == 1:
            new_edits.append((j, j + len(text)))
            old_edits.append((i, i))
            j += len(text)
        else:
            i += len(text)
            j += len(text)
    removed = _touched_everywhere(old, old_edits)
    added = _touched_everywhere(new, new_edits)
    common = Counter(" ".join(old[s:e].split()) for s, e in removed) & Counter(
        " ".join(new[s:e].split()) for s, e in added
    )

    def drop(text: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
        left = Counter(common)
        out = []
        for s, e in spans:
            key = " ".join(text[s:e].split())
            if left[key] > 0:
                left[key] -= 1
            else:
                out.append((s, e))
        return out

    return drop(new, added), drop(old, removed)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_SENTENCE_TEXT, _SENTENCE_TEXT)
def test_changed_sentence_spans_match_splitting_the_whole_texts(old: str, new: str) -> None:
    result = diff_texts(old, new)
    expected = _reference_changed_spans(old, new, result.ops)
    assert differ.changed_sentence_spans(old, new, result) == expected
    differ._LINE_SPANS.clear()  # the same from cold
    assert differ.changed_sentence_spans(old, new, result) == expected


@settings(max_examples=300, deadline=None)
@given(_SENTENCE_TEXT)
def test_sentence_spans_are_those_of_each_line(text: str) -> None:
    # the per-line cache of spans gives what splitting each line in place gives
    spans: list[tuple[int, int]] = []
    pos = 0
    for line in text.splitlines(keepends=True):
        differ._line_sentences(text, pos, pos + len(line.rstrip("\r\n")), spans)
        pos += len(line)
    assert differ.sentence_spans(text) == spans


@settings(max_examples=500, deadline=None)
@given(st.one_of(st.text(), _SENTENCE_TEXT, st.text(alphabet=differ._WIDE_NON_WORD + "aé’œ ")))
def test_count_words_is_the_number_of_regex_words(text: str) -> None:
    assert differ._count_words(text) == len(_WORD.findall(text))


def test_wide_punctuation_replaced_by_spaces_holds_no_word_character() -> None:
    assert not any(_WORD.match(ch) for ch in differ._WIDE_NON_WORD)
    assert all(ch > "\xff" for ch in differ._WIDE_NON_WORD)


def _reference_semantic_cleanup(ops: list[tuple[int, str]], factor: int) -> list[tuple[int, str]]:
    """Version 3's semantic cleanup as first written: _fold tried after every run of edits."""
    stack: list[str | differ._Edit] = []
    equal: list[str] = []
    top: differ._Edit | None = None
    for op, text in ops:
        if not text:
            continue
        if op == 0:
            if top is not None:
                if len(stack) >= 3:
                    differ._fold(stack, factor)
                top = None
            equal.append(text)
            continue
        if top is None:
            if equal:
                stack.append("".join(equal))
                equal = []
            top = differ._Edit()
            stack.append(top)
        top.add(op, text)
    if top is not None:
        differ._fold(stack, factor)
    if equal:
        stack.append("".join(equal))
    out: list[tuple[int, str]] = []
    for item in stack:
        if isinstance(item, str):
            out.append((0, item))
            continue
        if item.dlen:
            out.append((-1, "".join(item.deleted)))
        if item.ilen:
            out.append((1, "".join(item.inserted)))
    return out


_OPS = st.lists(st.tuples(st.sampled_from([-1, 0, 1]), st.text(alphabet="ab ", max_size=6)))


@settings(max_examples=500, deadline=None)
@given(_OPS, st.sampled_from([1, 2, 3]))
def test_semantic_cleanup_matches_folding_after_every_run(
    ops: list[tuple[int, str]], factor: int
) -> None:
    assert semantic_cleanup(ops, factor) == _reference_semantic_cleanup(ops, factor)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(0, 30), max_size=60), st.lists(st.integers(0, 30), max_size=60))
def test_unique_splits_pair_the_tokens_once_on_each_side(a: list[int], b: list[int]) -> None:
    aligner = differ._Aligner(10**6)
    aligner.a, aligner.b = a, b
    count_a, count_b = Counter(a), Counter(b)
    where_b = {t: j for j, t in enumerate(b) if count_b[t] == 1}
    pairs = [
        (i, where_b[t], 1)
        for i, t in enumerate(a)
        if count_a[t] == 1 and t in where_b and t != differ._BLANK
    ]
    expected = differ._longest_increasing(pairs, key=lambda p: p[1])
    assert aligner._unique_splits(0, len(a), 0, len(b)) == expected
