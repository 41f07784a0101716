"""Literal prefilters (diffing.literals): they may only skip searches that cannot succeed."""

from __future__ import annotations

import re
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from diffing import classify, dates, literals
from diffing.rules import CATEGORY_RULES, VALUE_RULES
from tests.conftest import SHARED

_SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# every code point but the surrogates, which a str cannot hold alone
_ALL = "".join(chr(c) for c in range(sys.maxunicode + 1) if not 0xD800 <= c <= 0xDFFF)


def _derived() -> list[literals.Literals | None]:
    return [literals.required_literals(p) for p in classify._PATTERNS]


def _literal_chars() -> set[str]:
    chars: set[str] = set()
    for cnf in _derived():
        for alternatives in cnf or ():
            for lit in alternatives:
                chars.update(lit)
    for heads in (dates._STATED_HEADS, dates._DATE_FIRST_KEYWORD_HEADS):
        for h in heads or ():
            chars.update(h)
    return chars


def test_fold_keeps_length_and_matches_re_ignorecase() -> None:
    """Whatever character ``re.IGNORECASE`` lets a pattern literal match folds to the fold of
    that literal: checked against ``re`` itself over every code point."""
    assert len(literals.fold(_ALL)) == len(_ALL)
    folded_all = literals.fold(_ALL)
    chars = _literal_chars()
    assert len(chars) > 30  # the rules and the date triggers give many
    for c in sorted(chars):
        target = literals.fold(c)
        for rx in (re.compile(re.escape(c), re.IGNORECASE), re.compile(f"[{re.escape(c)}]", re.I)):
            for m in rx.finditer(_ALL):
                assert folded_all[m.start()] == target, (c, m.group())


def test_every_rule_gets_a_prefilter() -> None:
    derived = _derived()
    assert all(cnf is not None for cnf in derived), [
        p.pattern[:60] for p, cnf in zip(classify._PATTERNS, derived, strict=True) if cnf is None
    ]
    assert dates._STATED_HEADS is not None
    keyword_heads = dates._DATE_FIRST_KEYWORD_HEADS
    assert keyword_heads == frozenset({"last", "upda", "revi", "modi"})


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        (r"\bfoo(?:bar|baz)\d+", (frozenset({"foobar", "foobaz"}),)),
        (r"share[sd]?\s+with", (frozenset({"share"}), frozenset({"with"}))),
        (r"(?:a|b)?\w+", None),  # no literal is certain
        (r"x*", None),
        (r"(?-i:GDPR)|data\s+protection", (frozenset({"gdpr", "protection"}),)),
    ],
)
def test_required_literals(pattern: str, expected: literals.Literals | None) -> None:
    got = literals.required_literals(re.compile(pattern, re.IGNORECASE))
    assert (None if got is None else set(got)) == (None if expected is None else set(expected))


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        (r"(?<!\w)(?:ab|cd)ef", {"abef", "cdef"}),
        (r"(?:last\s+)?updated", {"last", "upda"}),
        (r"x?", None),  # can match the empty string
        (r"\d+ days", None),
    ],
)
def test_head_literals(pattern: str, expected: set[str] | None) -> None:
    got = literals.head_literals(re.compile(pattern, re.IGNORECASE))
    assert (None if got is None else set(got)) == expected


# words the rules look for, in several cases and with Unicode look-alikes re.I treats as equal
_WORDS = [
    "we",
    "us",
    "our",
    "collect",
    "share",
    "third",
    "parties",
    "partners",
    "advertisers",
    "Google",
    "analytics",
    "sell",
    "sold",
    "not",
    "never",
    "opt",
    "out",
    "cookies",
    "retain",
    "days",
    "years",
    "secure",
    "encrypt",
    "children",
    "California",
    "residents",
    "policy",
    "changes",
    "notify",
    "Do",
    "Not",
    "Track",
    "DNT",
    "GDPR",
    "CCPA",
    "privacy@example.com",
    "contact",
    "us",
    "law",
    "enforcement",
    "affiliates",
    "your",
    "information",
    "delete",
    "access",
    "right",
    "ſell",
    "ſhare",
    "Kookies",
    "İnformation",
    "ınformation",
    "COOKİES",
    "WE",
    "SHARE",
    "GOOGLE",
    "ANALYTICS",
    "partager",
    "partenaires",
    "Dritte",
    "weitergeben",
    "terceros",
    "compartir",
]
_SENTENCE = st.lists(
    st.one_of(st.sampled_from(_WORDS), st.text(alphabet="aeiorst .,;:-@()'’", max_size=6)),
    max_size=30,
).map(" ".join)


@_SETTINGS
@given(_SENTENCE)
def test_prefilter_never_changes_which_rules_match(sentence: str) -> None:
    expected = [p.search(sentence) is not None for p in classify._PATTERNS]
    assert classify._matching_patterns(sentence, literals.fold(sentence)) == expected


def test_prefilter_on_every_sentence_of_the_seeds() -> None:
    seeds = sorted((SHARED / "seeds").glob("*.txt"))
    if not seeds:
        pytest.fail(f"shared test data missing: {SHARED / 'seeds'}")
    patterns = {r.pattern for r in CATEGORY_RULES} | {r.pattern for r in VALUE_RULES}
    for path in seeds:
        for sentence in classify.split_sentences(path.read_text(encoding="utf-8")):
            expected = [p.search(sentence) is not None for p in classify._PATTERNS]
            assert classify._matching_patterns(sentence, literals.fold(sentence)) == expected
    assert patterns == set(classify._PATTERNS)  # every rule's pattern is searched


_DATE_WORDS = [
    "Last",
    "updated",
    "Effective",
    "date",
    "as",
    "of",
    "Stand:",
    "zuletzt",
    "aktualisiert",
    "dernière",
    "mise",
    "à",
    "jour",
    "le",
    "última",
    "actualización",
    "in",
    "effect",
    "since",
    "ingangsdatum",
    "LAST",
    "UPDATED",
    "ſtand",
    "İn",
    "effect",
    "June",
    "20,",
    "2009",
    "6/20/2009",
    "20.06.2009",
    "2021-05-01",
    "1er",
    "janvier",
    "2020",
    "Mai",
    "2018",
    "*",
    ":",
    "-",
    "|",
]
_TEXT = st.lists(
    st.one_of(st.sampled_from(_DATE_WORDS), st.sampled_from([" ", "\n", "-", "x", "é"])),
    max_size=60,
).map(" ".join)


@_SETTINGS
@given(_TEXT)
def test_head_finditer_gives_the_matches_of_finditer(text: str) -> None:
    for rx, heads in (
        (dates._STATED_RE, dates._STATED_HEADS),
        (dates._DATE_FIRST_KEYWORD, dates._DATE_FIRST_KEYWORD_HEADS),
    ):
        expected = [m.span() for m in rx.finditer(text)]
        assert [m.span() for m in literals.finditer(rx, text, heads)] == expected
