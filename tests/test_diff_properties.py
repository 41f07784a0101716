"""Properties of the differ that hold for any pair of texts (Hypothesis)."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from diffing.diff import (
    changed_sentences,
    diff_texts,
    new_text,
    old_text,
    ops_from_json,
    ops_to_json,
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


@_SETTINGS
@given(_TEXT)
def test_tokens_join_back(text: str) -> None:
    assert "".join(tokenize(text)) == text
