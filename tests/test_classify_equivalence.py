"""The classifier's shortcuts change no result (diffing.classify): each sentence's category and
values, and each change's kind, equal what the rules and the kind definitions give computed the
plain way, with no prefilter, automaton, memo or count."""

from __future__ import annotations

import itertools
from collections import Counter

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from diffing import classify, dates, literals
from diffing.diff import diff_texts
from diffing.records import ChangeKind
from diffing.rules import CATEGORIES, CATEGORY_RULES, OTHER, VALUE_RULES
from tests.test_classify import _DATED, _MARKDOWN, RULE_EXAMPLES

_SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _plain_classification(sentence: str) -> tuple[str, dict[str, list[str]]]:
    """Every rule searched in full: the definition in diffing.rules."""
    scores: dict[str, float] = {}
    for rule in CATEGORY_RULES:
        if rule.pattern.search(sentence):
            scores[rule.category] = scores.get(rule.category, 0.0) + rule.weight
    category, best = OTHER, 0.0
    for name in CATEGORIES:
        if scores.get(name, 0.0) > best:
            category, best = name, scores[name]
    values: dict[str, list[str]] = {}
    for value_rule in VALUE_RULES:
        for m in value_rule.pattern.finditer(sentence):
            value = value_rule.canonical(m)
            if value is not None and value not in values.setdefault(value_rule.key, []):
                values[value_rule.key].append(value)
    return category, values


_RULE_WORDS = sorted(
    {w for pair in RULE_EXAMPLES.values() for text in pair for w in text.split()}
    | {"Google", "GDPR", "CCPA", "privacy@example.com", "30", "days", "ſell", "İnformation"}
)
_SENTENCE = st.lists(
    st.one_of(st.sampled_from(_RULE_WORDS), st.text(alphabet="aeiorst .,;:-@()'’", max_size=5)),
    max_size=25,
).map(" ".join)


@_SETTINGS
@given(st.lists(_SENTENCE | st.sampled_from(["", "\x00", "We sell\x00data."]), max_size=6))
def test_classification_is_the_plain_one(sentences: list[str]) -> None:
    """A batch (one automaton pass, patterns tried at their heads only, the first match reused
    for the values, categories remembered per set of matching patterns) gives each sentence
    the category and values of every rule searched in full."""
    classify._MEMO.cache_clear()
    expected = [_plain_classification(s) for s in sentences]
    assert classify.classify_sentences(sentences) == expected
    assert [classify.classify_sentence(s) for s in sentences] == expected  # now remembered
    assert [classify.extract_values(s) for s in sentences] == [v for _, v in expected]


def test_every_rule_example_is_classified_the_plain_way() -> None:
    sentences = [s for pair in RULE_EXAMPLES.values() for s in pair]
    classify._MEMO.cache_clear()
    assert classify.classify_sentences(sentences) == [_plain_classification(s) for s in sentences]


@_SETTINGS
@given(_SENTENCE)
def test_matches_from_the_first_give_finditer(sentence: str) -> None:
    """Values start from the first match the scan found, then go on as finditer does."""
    found = classify._found(sentence, classify._INDEX.hits(literals.fold(sentence)), 0)
    for k in found[0]:
        expected = [m.span() for m in classify._PATTERNS[k].finditer(sentence)]
        assert [m.span() for m in classify._matches(k, sentence, found)] == expected


def test_memo_batches_keep_the_most_recent() -> None:
    memo = classify._Memo(3)
    other: classify._Classified = (OTHER, ())
    memo.put_many([("a", other), ("b", other), ("c", other)])
    assert memo.get_many(["a", "x"]) == {"a": other}  # "a" used last: "b" goes first
    memo.put_many([("d", other), ("e", other)])
    assert memo.get("b") is None and memo.get("c") is None
    assert set(memo.get_many(["a", "d", "e"])) == {"a", "d", "e"}
    memo.cache_clear()
    assert memo.get("a") is None


def _plain_kind(old: str, new: str, history: list[str]) -> ChangeKind:
    """The kinds in their order, each test on whole texts (the module docstring)."""

    def collapse(text: str) -> str:
        return " ".join(text.split())

    def masked(text: str) -> str:
        return classify._mask_dates(text)

    if collapse(old) == collapse(new):
        return ChangeKind.WHITESPACE
    if classify._WORD_RE.findall(old) == classify._WORD_RE.findall(new):
        return ChangeKind.PUNCTUATION
    paragraphs = [
        Counter(p for p in (collapse(line) for line in t.splitlines()) if p) for t in (old, new)
    ]
    sentences = [Counter(collapse(s) for s in classify.split_sentences(t)) for t in (old, new)]
    if paragraphs[0] == paragraphs[1] or sentences[0] == sentences[1]:
        return ChangeKind.REORDER
    if masked(old) != collapse(old) and collapse(masked(old)) == collapse(masked(new)):
        return ChangeKind.DATE_ONLY
    if any(collapse(h) == collapse(new) for h in history):
        return ChangeKind.FLIP_FLOP
    return ChangeKind.SUBSTANTIVE


_TEXT = _MARKDOWN | _DATED


def _variants(text: str) -> list[str]:
    """Texts one kind away: more whitespace, other punctuation, lines swapped, a date moved."""
    lines = text.split("\n")
    return [
        text.replace(" ", "  ").replace("\n", " \n"),
        text.replace(".", ";").replace("*", ""),
        "\n".join(reversed(lines)),
        text.replace("June 1, 2020", "July 2, 2021").replace("2021-05-01", "2022-06-02"),
        text.replace("o", "0", 1),
    ]


@_SETTINGS
@given(_TEXT, _TEXT, st.integers(0, 4), st.booleans())
@example("We collect data.", "We  collect data.", 0, False)
@example("Last updated: June 1, 2020\n\nWe do.", "", 3, False)
@example("We collect data.\n\nWe never sell it.", "We collect data.\n\nWe sell it.", 0, True)
def test_change_kind_is_the_plain_one(old: str, other: str, pick: int, flip: bool) -> None:
    """The counts that rule tests out first (``_probes``, ``_masked_probes``), and the diff's
    letters, never change a kind: every pair gets the kind of the plain definitions, with
    the diff, with a diff of other texts, and without one."""
    new = _variants(old)[pick] if other == "" or pick % 2 else other
    history = [old, new] if flip else [other]
    for a, b in ((old, new), (new, old)):
        expected = _plain_kind(a, b, history)
        assert classify._change_kind(a, b, history, diff_texts(a, b)) == expected
        assert classify._change_kind(a, b, history, diff_texts(b, a + "x")) == expected
        assert classify.change_kind(a, b, history=history) == expected


@_SETTINGS
@given(_DATED)
@example("Last updated: June 1, 2020 Last updated: June 2, 2020")
def test_masked_probes_count_the_masked_text(text: str) -> None:
    masked = classify._mask_dates(text)
    assert classify._masked_probes(text) == tuple(masked.count(c) for c in classify._PROBES)
    assert classify._probes(text) == tuple(text.count(c) for c in classify._PROBES)


def test_probes_are_letters_outside_the_mask() -> None:
    """What the shortcuts rely on: a probe is a letter (so a punctuation change or reorder
    keeps its count) that no date mask adds."""
    assert all(classify._LETTER_RE.match(c) for c in classify._PROBES)
    assert not set(classify._PROBES) & set(classify._DATE_MASK)


def test_overlapping_date_phrases_are_counted_on_the_masked_text() -> None:
    """A date-first phrase may start before a stated one it overlaps: the probes then count
    the masked text itself (``_mask_dates`` joins what lies between the phrases)."""
    for text in (
        "June 1, 2020 updated on June 2, 2020 - in force since 2021-05-01, revised",
        "*August 15, 2023:* Updated: August 16, 2023. Updated list.",
    ):
        spans = dates.stated_date_spans(text)
        masked = classify._mask_dates(text)
        assert classify._masked_probes(text) == tuple(masked.count(c) for c in classify._PROBES)
        assert any(e > s for (_, e), (s, _) in itertools.pairwise(spans))  # they overlap
