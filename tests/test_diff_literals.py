"""Literal prefilters (diffing.literals): they may only skip searches that cannot succeed."""

from __future__ import annotations

import re
import sys

import pytest
from hypothesis import HealthCheck, example, given, settings
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


def test_fold_never_turns_a_character_into_a_word_character() -> None:
    """``not_after`` guards run on folded text: a character the pattern's lookbehind accepts
    (not a word character or a hyphen) must not fold into one it rejects."""
    folded_all = literals.fold(_ALL)
    guard = re.compile(dates._STATED_NOT_AFTER)
    wrong = [
        c for c, f in zip(_ALL, folded_all, strict=True) if guard.match(f) and not guard.match(c)
    ]
    assert wrong == []


_SCAN_STRINGS = ["a", "ab", "abc", "b", "bc", "c-d", "zz", "ſt"]


@_SETTINGS
@given(st.text(alphabet="abcdz-ſt x", max_size=40))
def test_literal_scanner_finds_every_occurrence(text: str) -> None:
    """Strings that overlap or are prefixes of each other are all found, at every position."""
    scanner = literals.LiteralScanner(_SCAN_STRINGS)
    assert scanner.present(text) == {s for s in _SCAN_STRINGS if s in text}
    starts = sorted({i for s in _SCAN_STRINGS for i in range(len(text)) if text.startswith(s, i)})
    assert scanner.starts(text) == starts
    guarded = literals.LiteralScanner(_SCAN_STRINGS, not_after=r"[\w-]")
    assert guarded.starts(text) == [
        i for i in starts if i == 0 or not re.match(r"[\w-]", text[i - 1])
    ]


def test_candidate_starts_cache_is_keyed_by_guard() -> None:
    """The same heads with and without a ``not_after`` guard are two different scanners."""
    heads = frozenset({"ab", "bc", "xa", "zz", "q"})  # more than 4: the regex scanner
    text = "ab xab zab -ab bc"
    assert literals.candidate_starts(heads, text) == [0, 3, 4, 8, 12, 15]
    assert literals.candidate_starts(heads, text, r"[\w-]") == [0, 3, 15]
    assert literals.candidate_starts(heads, text) == [0, 3, 4, 8, 12, 15]


def test_trie_pattern_rejects_the_empty_string() -> None:
    with pytest.raises(ValueError, match="empty string"):
        literals.trie_pattern(["a", ""])


@_SETTINGS
@given(_TEXT)
def test_guarded_finditer_gives_the_matches_of_finditer(text: str) -> None:
    expected = [m.span() for m in dates._STATED_RE.finditer(text)]
    got = literals.finditer(dates._STATED_RE, text, dates._STATED_HEADS, None, r"[\w-]")
    assert [m.span() for m in got] == expected


@_SETTINGS
@given(st.text(alphabet="abcdz-ſt x\x00", max_size=40))
def test_keyword_index_finds_every_occurrence(text: str) -> None:
    """Every occurrence of every string, overlapping ones and prefixes of others too, in the
    order of where they end: the positions a LiteralScanner finds."""
    index = literals.KeywordIndex(_SCAN_STRINGS)
    expected = sorted(
        (i + len(s) - 1, index.strings.index(s))
        for s in _SCAN_STRINGS
        for i in range(len(text))
        if text.startswith(s, i)
    )
    hits = index.hits(text)
    assert sorted(hits) == expected
    assert [end for end, _ in hits] == sorted(end for end, _ in hits)
    assert index.starts(text) == literals.LiteralScanner(_SCAN_STRINGS).starts(text)


def test_keyword_index_rejects_the_empty_string_and_may_be_empty() -> None:
    with pytest.raises(ValueError, match="empty string"):
        literals.KeywordIndex(["a", ""])
    assert literals.KeywordIndex([]).hits("abc") == []


@_SETTINGS
@given(st.lists(_SENTENCE | st.sampled_from(["", "\x00", "we\x00us", "Ωmega ſtays"]), max_size=8))
def test_batch_scan_gives_the_scan_of_each_sentence(sentences: list[str]) -> None:
    """One pass over the sentences joined: the hits cut at the joins give each sentence's own
    scan, whatever the sentences hold (even the separator)."""

    def spans(found: classify._Found) -> tuple[dict[int, tuple[int, int]], dict[int, list[int]]]:
        return {k: m.span() for k, m in found[0].items()}, found[1]

    expected = [
        spans(classify._found(s, classify._INDEX.hits(literals.fold(s)), 0)) for s in sentences
    ]
    assert list(map(spans, classify._found_batch(sentences))) == expected


_JOINED_DATE_TEXT = st.lists(
    st.tuples(
        st.sampled_from(_DATE_WORDS), st.sampled_from(["", " ", "\n", "ι", "Ι", "-", "x", ". "])
    ),
    max_size=40,
).map(lambda parts: "".join(word + gap for word, gap in parts))


@_SETTINGS
@given(_TEXT | _JOINED_DATE_TEXT)
@example("Last updated: June 20, 2009")  # a phrase at position 0, with no character before it
@example("Stand: 01.05.2021 -Stand: 02.05.2021 xStand: 03.05.2021")
@example("In effect since 2021-05-01. Updatedι 6/20/2009, updated 6/21/2009")
def test_stated_scan_gives_the_matches_of_finditer(text: str) -> None:
    """Stated-date phrases are tried only where the folded text has a trigger at a word start
    (Greek iota leaves \\w when folded): the same matches as a search at every position."""
    expected = [m.span() for m in dates._STATED_RE.finditer(text)]
    got = dates._stated_matches(text, literals.fold(text))
    assert [m.span() for m in got] == expected
