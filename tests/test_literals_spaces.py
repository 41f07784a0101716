"""Heads that look past a ``\\s`` (diffing.literals ``spaces=True``) and the batch fold: sound, so
the stated-date scan and the classifier's batch keep every match."""

from __future__ import annotations

import re
import sys

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from diffing import classify, dates, literals

_SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
_ALL = "".join(chr(c) for c in range(sys.maxunicode + 1) if not 0xD800 <= c <= 0xDFFF)


def test_spaces_are_what_backslash_s_matches() -> None:
    """``SPACES`` is exactly the set of characters ``\\s`` matches (and ``str.isspace``), so a
    head "in" + each of them covers every "in\\s" a pattern can match."""
    by_re = {c for c in re.findall(r"\s", _ALL)}
    by_re_ignorecase = {c for c in re.findall(r"\s", _ALL, re.IGNORECASE)}
    assert set(literals.SPACES) == by_re == by_re_ignorecase == {c for c in _ALL if c.isspace()}
    assert len(literals.SPACES) == len(set(literals.SPACES))
    assert literals.fold(literals.SPACES) == literals.SPACES  # spaces fold to themselves


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        (r"in\s+effect", {"in" + s for s in literals.SPACES}),
        (r"stand|in\s+force", {"stan"} | {"in" + s for s in literals.SPACES}),
        (r"(?:last\s+)?updated", {"upda"} | {"last"}),  # 4 characters come before the space
        (r"a\s?b", {"ab"} | {"a" + s + "b" for s in literals.SPACES}),
        (r"x\s*", None),  # the empty tail: "x" alone is a head, and it is kept
    ],
)
def test_head_literals_with_spaces(pattern: str, expected: set[str] | None) -> None:
    got = literals.head_literals(re.compile(pattern, re.IGNORECASE), spaces=True, limit=1024)
    if pattern == r"x\s*":
        assert got == frozenset({"x"})
        return
    assert got == expected


def test_head_literals_limit() -> None:
    """More spaces than ``limit`` allows heads: the heads end before the space, as without
    ``spaces``; more heads than that: none at all (the pattern is searched everywhere)."""
    rx = re.compile(r"in\s+effect")
    assert literals.head_literals(rx, spaces=True) is not None  # 29 <= 256
    assert literals.head_literals(rx, spaces=True, limit=10) == frozenset({"in"})
    assert literals.head_literals(rx) == frozenset({"in"})  # without spaces: the old heads
    table = re.compile("|".join(f"{chr(97 + n)}x" for n in range(20)))  # 20 first letters
    assert literals.head_literals(table, spaces=True, limit=10) is None


def _minimal_slow(heads: set[str]) -> frozenset[str]:
    kept: list[str] = []
    for h in sorted(heads, key=len):
        if not any(h.startswith(p) for p in kept):
            kept.append(h)
    return frozenset(kept)


@_SETTINGS
@given(st.sets(st.text(alphabet="ab c", min_size=1, max_size=4), max_size=30))
def test_minimal_heads_keeps_the_shortest(heads: set[str]) -> None:
    assert literals._minimal_heads(heads) == _minimal_slow(heads)


_WORDS = [
    *("Last", "updated", "in", "effect", "force", "since", "en", "vigueur", "em", "vigor", "le"),
    *("met", "ingang", "van", "mise", "à", "jour", "Stand:", "ſtand", "İn", "LAST", "UPDATED"),
    *("June", "20,", "2009", "6/20/2009", "20.06.2009", "2021-05-01", "1er", "janvier", "2020"),
    *("*", ":", "-", "|", "x", "é", "ι", "Ι"),
]
# every kind of space between the words, not only " " and "\n"
_GAPS = st.sampled_from(["", " ", "\n", "\xa0", "\u2003", "\u3000", "\t", "\u2028", "  ", " \xa0"])
_SPACED_TEXT = st.lists(st.tuples(st.sampled_from(_WORDS), _GAPS), max_size=40).map(
    lambda parts: "".join(word + gap for word, gap in parts)
)


@_SETTINGS
@given(_SPACED_TEXT)
@example("In\u2003effect since\xa02021-05-01")
@example("en\u3000vigueur le 1er janvier 2020; xen vigueur le 2 janvier 2020")
@example("Last\u2028updated: June 20, 2009")
def test_stated_matches_with_any_space(text: str) -> None:
    """The automaton's heads end in each kind of space: whatever space a text holds between
    trigger words, the matches are those of a search at every position."""
    expected = [m.span() for m in dates._STATED_RE.finditer(text)]
    folded = literals.fold(text)
    assert [m.span() for m in dates._stated_matches(text, folded)] == expected
    keyword = dates._starts(folded)[1]
    assert [m.span() for m in dates._keyword_matches(text, keyword)] == [
        m.span() for m in dates._DATE_FIRST_KEYWORD.finditer(text)
    ]


def test_stated_keys_are_derived_and_cover_the_keyword() -> None:
    """The automaton holds the date-first keyword's heads, and the space-ended stated heads
    instead of the bare short words ("in", "en") that occur inside so many words."""
    assert dates._STATED_KEYS is not None
    assert dates._DATE_FIRST_KEYWORD_HEADS is not None
    strings = set(dates._TRIGGER_INDEX.strings)
    assert strings >= dates._DATE_FIRST_KEYWORD_HEADS
    assert "in" not in strings and "in " in strings and "in\u3000" in strings


_SENTENCES = st.lists(
    st.text(alphabet="aIİıſσΣςΩ \x00.K\u212aSs’", max_size=12)
    | st.sampled_from(["ΣΑΣ", "İnformation", "", "\x00", "OΣ.", "ΌΣΟΣ σ"]),
    max_size=8,
)


@_SETTINGS
@given(_SENTENCES)
@example(["ΟΣ", "Σ"])  # a final sigma at a sentence end, and at the start of the next
def test_fold_of_joined_sentences_is_the_join_of_their_folds(sentences: list[str]) -> None:
    """What the classifier's batch relies on: one fold of the joined sentences."""
    sep = classify._SEPARATOR
    assert literals.fold(sep.join(sentences)) == sep.join(map(literals.fold, sentences))
    assert all(len(literals.fold(s)) == len(s) for s in sentences)
