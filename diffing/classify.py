"""What a change between two versions of a policy is about.

``analyse_change(old, new, diff)`` gives the change a kind (checked in this order):

* ``whitespace``: the texts are equal once runs of whitespace are collapsed (also used, with the
  flag ``no-change``, for identical texts);
* ``punctuation``: equal once everything but letters and digits is dropped (markup, quotes,
  punctuation);
* ``reorder``: the same multiset of paragraphs, or of sentences, in another order;
* ``date-only``: equal once the stated-date phrases (``dates.stated_date_spans``) are masked;
* ``flip-flop``: the new text equals (up to whitespace) one of ``history``, earlier versions the
  caller chose to compare against;
* ``substantive``: anything else.

Changed sentences (``diff.changed_sentences``) become :class:`Clause` records with an OPP-115
category and values (``rules``). Flags: ``silent-edit`` (a substantive change or flip-flop while
the stated date stays the same), ``date-bumped-text-unchanged`` (only the stated date changed, to
another date), ``new-sharing-clause`` (an added sentence about third-party sharing),
``stated-date-added`` / ``stated-date-removed`` / ``stated-date-went-back``, ``no-change``.
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from collections.abc import Sequence
from datetime import date

from diffing.dates import stated_date, stated_date_spans
from diffing.diff import changed_sentence_spans, sentence_spans
from diffing.literals import fold, required_literals
from diffing.records import ChangeAnalysis, ChangeKind, Clause, TextDiff
from diffing.rules import CATEGORIES, CATEGORY_RULES, OTHER, THIRD_PARTY, VALUE_RULES

_WORD_RE = re.compile(r"\w+")
_DATE_MASK = "\x00stated-date\x00"

# Each rule with the literals one of which every match of it contains (diffing.literals): a
# sentence without them is not searched at all. This changes no result, it only skips searches
# that cannot succeed (most of them: a sentence matches a few of the ~40 rules).
# A pattern shared by a category rule and a value rule is searched once.
_PATTERNS: tuple[re.Pattern[str], ...] = tuple(
    dict.fromkeys([*(r.pattern for r in CATEGORY_RULES), *(r.pattern for r in VALUE_RULES)])
)
_PATTERN_FILTERS = tuple((p, required_literals(p)) for p in _PATTERNS)
_CATEGORY_INDEX = tuple((_PATTERNS.index(r.pattern), r) for r in CATEGORY_RULES)
_VALUE_INDEX = tuple((_PATTERNS.index(r.pattern), r) for r in VALUE_RULES)


def _matching_patterns(sentence: str, folded: str) -> list[bool]:
    """Whether each of ``_PATTERNS`` occurs in ``sentence``."""
    out: list[bool] = []
    for pattern, literals in _PATTERN_FILTERS:
        # literals.may_match, inlined: it runs ~35 times per sentence
        possible = True
        if literals is not None:
            for alternatives in literals:
                for lit in alternatives:
                    if lit in folded:
                        break
                else:
                    possible = False
                    break
        out.append(possible and pattern.search(sentence) is not None)
    return out


def split_sentences(text: str) -> list[str]:
    """The sentences of ``text``; every line break ends a sentence (see ``sentence_spans``)."""
    return [text[s:e] for s, e in sentence_spans(text)]


def matching_rules(sentence: str) -> list[str]:
    """Names of the category rules that match ``sentence``."""
    matched = _matching_patterns(sentence, fold(sentence))
    return [rule.name for k, rule in _CATEGORY_INDEX if matched[k]]


def extract_values(sentence: str) -> dict[str, list[str]]:
    """Values found in ``sentence`` by the value rules: {key: [distinct values, text order]}."""
    return _extract_values(sentence, _matching_patterns(sentence, fold(sentence)))


def _extract_values(sentence: str, matched: list[bool]) -> dict[str, list[str]]:
    values: dict[str, list[str]] = {}
    for k, rule in _VALUE_INDEX:
        if not matched[k]:
            continue  # no search hit, so no finditer hit either
        for m in rule.pattern.finditer(sentence):
            value = rule.canonical(m)
            if value is None:
                continue
            seen = values.setdefault(rule.key, [])
            if value not in seen:
                seen.append(value)
    return values


def classify_sentence(sentence: str) -> tuple[str, dict[str, list[str]]]:
    """(OPP-115 category, values) of one sentence."""
    category, values = _classify_cached(sentence)
    return category, {k: list(v) for k, v in values}


@functools.lru_cache(maxsize=1 << 16)
def _classify_cached(sentence: str) -> tuple[str, tuple[tuple[str, tuple[str, ...]], ...]]:
    # Real revisions re-add and re-remove the same sentences across versions and URLs; each
    # classification costs ~40 regex searches, so it is remembered.
    matched = _matching_patterns(sentence, fold(sentence))
    scores: dict[str, float] = {}
    for k, rule in _CATEGORY_INDEX:
        if matched[k]:
            scores[rule.category] = scores.get(rule.category, 0.0) + rule.weight
    category = OTHER
    best = 0.0
    for name in CATEGORIES:  # tie-break order
        if scores.get(name, 0.0) > best:
            category, best = name, scores[name]
    values = _extract_values(sentence, matched)
    return category, tuple((k, tuple(v)) for k, v in values.items())


def analyse_change(
    old: str, new: str, diff: TextDiff, *, history: Sequence[str] = ()
) -> ChangeAnalysis:
    """Kind, classified clauses, stated dates and flags of the change from ``old`` to ``new``.

    ``diff`` must be a diff from ``old`` to ``new`` (``diff.diff_texts``); ``history`` holds
    earlier versions (not ``old``) within whatever window the caller uses for flip-flops.
    """
    old_date = stated_date(old)
    new_date = stated_date(new)
    kind = change_kind(old, new, history=history)
    clauses: list[Clause] = []
    if kind in (ChangeKind.SUBSTANTIVE, ChangeKind.FLIP_FLOP, ChangeKind.DATE_ONLY):
        added, removed = changed_sentence_spans(old, new, diff)
        for op, text, spans in ((-1, old, removed), (1, new, added)):
            for start, end in spans:
                sentence = text[start:end]
                category, values = classify_sentence(sentence)
                clauses.append(Clause(op, sentence, category, values, start, end))
    flags = _flags(old, new, kind, old_date, new_date, clauses)
    return ChangeAnalysis(
        kind=kind,
        clauses=tuple(clauses),
        old_stated_date=old_date,
        new_stated_date=new_date,
        flags=flags,
    )


def change_kind(old: str, new: str, *, history: Sequence[str] = ()) -> ChangeKind:
    """The kind of change from ``old`` to ``new`` (see the module docstring for the order)."""
    # Each version is the new side of one change and the old side of the next: what is derived
    # from a single text is remembered for the last few texts (``_per_text``).
    old_ws, new_ws = _collapse(old), _collapse(new)
    if old_ws == new_ws:
        return ChangeKind.WHITESPACE
    if _words(old) == _words(new):
        return ChangeKind.PUNCTUATION
    if _reordered(old, new):
        return ChangeKind.REORDER
    old_masked = _mask_dates(old)
    if old_masked != old_ws and _collapsed_masked(old) == _collapsed_masked(new):
        return ChangeKind.DATE_ONLY
    if any(_collapse(h) == new_ws for h in history):
        return ChangeKind.FLIP_FLOP
    return ChangeKind.SUBSTANTIVE


_per_text = functools.lru_cache(maxsize=8)


@_per_text
def _collapse(text: str) -> str:
    return " ".join(text.split())


@_per_text
def _words(text: str) -> list[str]:
    return _WORD_RE.findall(text)


@_per_text
def _paragraphs(text: str) -> Counter[str]:
    return Counter(p for p in (" ".join(line.split()) for line in text.splitlines()) if p)


@_per_text
def _sentences(text: str) -> Counter[str]:
    return Counter(" ".join(s.split()) for s in split_sentences(text))


def _reordered(old: str, new: str) -> bool:
    return _paragraphs(old) == _paragraphs(new) or _sentences(old) == _sentences(new)


@_per_text
def _mask_dates(text: str) -> str:
    out: list[str] = []
    pos = 0
    for start, end in stated_date_spans(text):
        out += [text[pos:start], _DATE_MASK]
        pos = end
    out.append(text[pos:])
    return "".join(out)


@_per_text
def _collapsed_masked(text: str) -> str:
    return " ".join(_mask_dates(text).split())


def _flags(
    old: str,
    new: str,
    kind: ChangeKind,
    old_date: date | None,
    new_date: date | None,
    clauses: list[Clause],
) -> tuple[str, ...]:
    flags: list[str] = []
    if old == new:
        flags.append("no-change")
    if (
        kind in (ChangeKind.SUBSTANTIVE, ChangeKind.FLIP_FLOP)
        and old_date is not None
        and old_date == new_date
    ):
        flags.append("silent-edit")
    if kind is ChangeKind.DATE_ONLY and old_date != new_date:
        flags.append("date-bumped-text-unchanged")
    if any(c.op == 1 and c.category == THIRD_PARTY for c in clauses):
        flags.append("new-sharing-clause")
    if old_date is None and new_date is not None:
        flags.append("stated-date-added")
    elif old_date is not None and new_date is None:
        flags.append("stated-date-removed")
    elif old_date is not None and new_date is not None and new_date < old_date:
        flags.append("stated-date-went-back")
    return tuple(flags)
