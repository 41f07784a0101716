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
from diffing.diff import changed_sentences, sentence_spans
from diffing.records import ChangeAnalysis, ChangeKind, Clause, TextDiff
from diffing.rules import CATEGORIES, CATEGORY_RULES, OTHER, THIRD_PARTY, VALUE_RULES

_WORD_RE = re.compile(r"\w+")
_DATE_MASK = "\x00stated-date\x00"


def split_sentences(text: str) -> list[str]:
    """The sentences of ``text``; every line break ends a sentence (see ``sentence_spans``)."""
    return [text[s:e] for s, e in sentence_spans(text)]


def matching_rules(sentence: str) -> list[str]:
    """Names of the category rules that match ``sentence``."""
    return [rule.name for rule in CATEGORY_RULES if rule.pattern.search(sentence)]


def extract_values(sentence: str) -> dict[str, list[str]]:
    """Values found in ``sentence`` by the value rules: {key: [distinct values, text order]}."""
    values: dict[str, list[str]] = {}
    for rule in VALUE_RULES:
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
    scores: dict[str, float] = {}
    for rule in CATEGORY_RULES:
        if rule.pattern.search(sentence):
            scores[rule.category] = scores.get(rule.category, 0.0) + rule.weight
    category = OTHER
    best = 0.0
    for name in CATEGORIES:  # tie-break order
        if scores.get(name, 0.0) > best:
            category, best = name, scores[name]
    values = extract_values(sentence)
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
        added, removed = changed_sentences(old, new, diff)
        for op, sentences in ((-1, removed), (1, added)):
            for sentence in sentences:
                category, values = classify_sentence(sentence)
                clauses.append(Clause(op=op, sentence=sentence, category=category, values=values))
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
    old_ws, new_ws = _collapse(old), _collapse(new)
    if old_ws == new_ws:
        return ChangeKind.WHITESPACE
    if _words(old) == _words(new):
        return ChangeKind.PUNCTUATION
    if _reordered(old, new):
        return ChangeKind.REORDER
    old_masked, new_masked = _mask_dates(old), _mask_dates(new)
    if old_masked != old_ws and _collapse(old_masked) == _collapse(new_masked):
        return ChangeKind.DATE_ONLY
    if any(_collapse(h) == new_ws for h in history):
        return ChangeKind.FLIP_FLOP
    return ChangeKind.SUBSTANTIVE


def _collapse(text: str) -> str:
    return " ".join(text.split())


def _words(text: str) -> list[str]:
    return _WORD_RE.findall(text)


def _reordered(old: str, new: str) -> bool:
    def paragraphs(text: str) -> Counter[str]:
        return Counter(p for p in (_collapse(line) for line in text.splitlines()) if p)

    def sentences(text: str) -> Counter[str]:
        return Counter(_collapse(s) for s in split_sentences(text))

    return paragraphs(old) == paragraphs(new) or sentences(old) == sentences(new)


def _mask_dates(text: str) -> str:
    out: list[str] = []
    pos = 0
    for start, end in stated_date_spans(text):
        out += [text[pos:start], _DATE_MASK]
        pos = end
    out.append(text[pos:])
    return "".join(out)


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
