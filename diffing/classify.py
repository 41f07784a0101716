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

import bisect
import functools
import itertools
import operator
import re
import threading
from collections import Counter, OrderedDict
from collections.abc import Iterable, Iterator, Sequence
from datetime import date

from diffing.dates import stated_date, stated_date_spans
from diffing.diff import changed_sentence_spans, new_text, old_text, sentence_spans
from diffing.literals import (
    KeywordIndex,
    Literals,
    fold,
    head_literals,
    required_literals,
)
from diffing.records import ChangeAnalysis, ChangeKind, Clause, TextDiff
from diffing.rules import CATEGORIES, CATEGORY_RULES, OTHER, THIRD_PARTY, VALUE_RULES

_WORD_RE = re.compile(r"\w+")
_DATE_MASK = "\x00stated-date\x00"

# Each rule with the literals one of which every match of it contains (diffing.literals): a
# sentence without them is not searched at all. This changes no result, it only skips searches
# that cannot succeed (most of them: a sentence matches a few of the ~40 rules). Which literals
# a sentence holds is found in one pass over it for all rules at once (``_INDEX``).
# A pattern shared by a category rule and a value rule is searched once.
_PATTERNS: tuple[re.Pattern[str], ...] = tuple(
    dict.fromkeys([*(r.pattern for r in CATEGORY_RULES), *(r.pattern for r in VALUE_RULES)])
)
# Single characters (".", "a") occur in nearly every sentence: as a literal they filter
# nothing, as a head they make a pattern be tried almost everywhere (measured on the OTA
# captures: a plain search is faster then). Such literal sets are left out of the prefilter and
# such patterns are searched the plain way; neither choice changes a result.
_MIN_LITERAL = 2
_MIN_HEAD = 2
_RARE = frozenset("@§")  # characters rare enough in prose to be worth a literal of their own


def _useful(literal: str) -> bool:
    return len(literal) >= _MIN_LITERAL or literal in _RARE


def _prefilter(pattern: re.Pattern[str]) -> Literals | None:
    # Dropping a set from the conjunction only weakens the (necessary) condition: still sound.
    cnf = tuple(a for a in required_literals(pattern) or () if all(map(_useful, a)))
    return cnf or None


def _heads(pattern: re.Pattern[str]) -> frozenset[str] | None:
    heads = head_literals(pattern)
    return (
        heads
        if heads is not None and all(len(h) >= _MIN_HEAD or h in _RARE for h in heads)
        else None
    )


_PATTERN_FILTERS = tuple((p, _prefilter(p)) for p in _PATTERNS)
_CATEGORY_INDEX = tuple((_PATTERNS.index(r.pattern), r) for r in CATEGORY_RULES)
_VALUE_INDEX = tuple((_PATTERNS.index(r.pattern), r) for r in VALUE_RULES)
# per pattern: the positions in CATEGORY_RULES of the rules that use it
_CATEGORY_RULES_OF = tuple(
    tuple(j for j, (kk, _) in enumerate(_CATEGORY_INDEX) if kk == k) for k in range(len(_PATTERNS))
)
_CATEGORY_ORDER = {name: n for n, name in enumerate(CATEGORIES)}
# Where a match can start (``literals.head_literals``): a pattern that may match is only tried
# at the positions where one of its heads occurs, not at every character (a table of 70 names
# costs ~0.1 ms a search when tried everywhere).
_HEADS = tuple(_heads(p) for p in _PATTERNS)
# Every literal and every head of every rule is found in one pass of one automaton over the
# folded sentence (``KeywordIndex``), or over many sentences at once (``_found_batch``): which
# literals a sentence holds, so which rules may match, and where each rule's heads occur.
_INDEX = KeywordIndex(
    {lit for _, cnf in _PATTERN_FILTERS for alternatives in cnf or () for lit in alternatives}
    | {h for heads in _HEADS if heads is not None for h in heads}
)
_KEY = {s: i for i, s in enumerate(_INDEX.strings)}
_BACK = _INDEX.back
# per pattern: its literal sets and its heads as sets of key numbers
_CNF_KEYS = tuple(
    None if cnf is None else tuple(frozenset(_KEY[lit] for lit in alt) for alt in cnf)
    for _, cnf in _PATTERN_FILTERS
)
_HEAD_KEYS = tuple(None if h is None else frozenset(_KEY[x] for x in h) for h in _HEADS)
# per key: the patterns whose first (most selective) literal set it satisfies; only those are
# looked at further
_CANDIDATES = tuple(
    frozenset(k for k, cnf in enumerate(_CNF_KEYS) if cnf is not None and i in cnf[0])
    for i in range(len(_INDEX.strings))
)
_UNFILTERED = frozenset(k for k, cnf in enumerate(_CNF_KEYS) if cnf is None)
_SEPARATOR = "\x00"  # between the sentences of a batch: no literal or head may hold it
if any(_SEPARATOR in s for s in _INDEX.strings):  # pragma: no cover - a rule's literal
    raise RuntimeError("diffing.classify: a rule literal holds the batch separator \\x00")

# the patterns that match a sentence, each with its first match, and for those with heads the
# sorted positions where one of their heads occurs (every match starts at one of them)
_Found = tuple[dict[int, re.Match[str]], dict[int, list[int]]]
# per pattern: its literal sets but the first (which ``_CANDIDATES`` checks), as key numbers
_REST_KEYS = tuple(() if cnf is None else cnf[1:] for cnf in _CNF_KEYS)
_hit_end = operator.itemgetter(0)
_hit_key = operator.itemgetter(1)


def _matching_patterns(sentence: str, folded: str) -> list[bool]:
    """Whether each of ``_PATTERNS`` occurs in ``sentence`` (``folded`` is its ``fold``)."""
    out = [False] * len(_PATTERNS)
    for k in _found(sentence, _INDEX.hits(folded), 0)[0]:
        out[k] = True
    return out


def _found_batch(sentences: Sequence[str]) -> list[_Found]:
    """``_found`` of each sentence, with one pass of the automaton over all of them: the folded
    sentences joined by ``_SEPARATOR``, the hits cut at the joins (hits come in text order)."""
    # fold works character by character and keeps lengths: the fold of the joined sentences
    # is the join of their folds, got in one call
    hits = _INDEX.hits(fold(_SEPARATOR.join(sentences)))
    ends = list(map(_hit_end, hits))
    out: list[_Found] = []
    lo = offset = 0
    bisect_left = bisect.bisect_left
    for sentence in sentences:
        end = offset + len(sentence)
        hi = bisect_left(ends, end, lo)  # the hits before the join
        out.append(
            _found(sentence, hits[lo:hi], offset) if hi > lo or _UNFILTERED else _NOTHING_FOUND
        )
        lo, offset = hi, end + 1
    return out


_NOTHING_FOUND: _Found = ({}, {})


def _found(sentence: str, hits: list[tuple[int, int]], offset: int) -> _Found:
    """The patterns that match ``sentence`` with their first matches, from the automaton's hits
    in it (``offset``: where it starts in the text that was scanned). Only the patterns whose
    literals all occur are searched, and those with heads only where a head occurs."""
    keys = set(map(_hit_key, hits))
    matches: dict[int, re.Match[str]] = {}
    starts: dict[int, list[int]] = {}
    for k in _UNFILTERED.union(*map(_CANDIDATES.__getitem__, keys)):
        rest, heads, match, search = _SCAN_INFO[k]
        # literals.may_match on the literals present (the first set holds already)
        for alternatives in rest:
            if keys.isdisjoint(alternatives):
                break
        else:
            if heads is None:
                m = search(sentence)
            else:
                present = heads & keys
                if len(present) == 1:  # one head: its hits are in text order already
                    (i,) = present
                    back = _BACK[i] + offset
                    positions = [end - back for end, j in hits if j == i]
                else:  # distinct heads never start at one position (none is a prefix of another)
                    positions = sorted([end - _BACK[j] - offset for end, j in hits if j in present])
                starts[k] = positions
                m = None
                for pos in positions:
                    m = match(sentence, pos)
                    if m is not None:
                        break
            if m is not None:
                matches[k] = m
    return matches, starts


# per pattern, what ``_found`` looks up: its literal sets but the first (which ``_CANDIDATES``
# checks) and its heads as key numbers, and its match and search methods
_SCAN_INFO = tuple(
    (rest, heads, p.match, p.search)
    for rest, heads, p in zip(_REST_KEYS, _HEAD_KEYS, _PATTERNS, strict=True)
)


def _matches(k: int, sentence: str, found: _Found) -> Iterator[re.Match[str]]:
    """``_PATTERNS[k].finditer(sentence)`` for a pattern that ``_found`` found matching: from
    the first match it found (the positions before it gave no match), then only at the
    positions of the pattern's heads that ``_found`` kept (every match starts at one)."""
    matches, starts = found
    if k not in starts:
        yield from _PATTERNS[k].finditer(sentence)
        return
    first = matches[k]
    yield first
    positions = starts[k]
    pos = first.end()
    match = _PATTERNS[k].match
    for start in positions[bisect.bisect_right(positions, first.start()) :]:
        if start < pos:
            continue
        m = match(sentence, start)
        if m is not None:
            yield m
            pos = m.end()


def split_sentences(text: str) -> list[str]:
    """The sentences of ``text``; every line break ends a sentence (see ``sentence_spans``)."""
    return [text[s:e] for s, e in sentence_spans(text)]


def matching_rules(sentence: str) -> list[str]:
    """Names of the category rules that match ``sentence``."""
    matched = _matching_patterns(sentence, fold(sentence))
    return [rule.name for k, rule in _CATEGORY_INDEX if matched[k]]


def extract_values(sentence: str) -> dict[str, list[str]]:
    """Values found in ``sentence`` by the value rules: {key: [distinct values, text order]}."""
    return _extract_values(sentence, _found(sentence, _INDEX.hits(fold(sentence)), 0))


def _extract_values(sentence: str, found: _Found) -> dict[str, list[str]]:
    matches = found[0]
    values: dict[str, list[str]] = {}
    for k, rule in _VALUE_INDEX:
        if k not in matches:
            continue  # no search hit, so no finditer hit either
        for m in _matches(k, sentence, found):
            value = rule.canonical(m)
            if value is None:
                continue
            seen = values.setdefault(rule.key, [])
            if value not in seen:
                seen.append(value)
    return values


def classify_sentence(sentence: str) -> tuple[str, dict[str, list[str]]]:
    """(OPP-115 category, values) of one sentence."""
    return _expand(_classified([sentence])[0])


def classify_sentences(sentences: Sequence[str]) -> list[tuple[str, dict[str, list[str]]]]:
    """``classify_sentence`` of each sentence; the ones not remembered are scanned in one pass."""
    return [_expand(c) for c in _classified(sentences)]


_Classified = tuple[str, tuple[tuple[str, tuple[str, ...]], ...]]
_OTHER: _Classified = (OTHER, ())  # no rule matches


def _expand(classified: _Classified) -> tuple[str, dict[str, list[str]]]:
    category, values = classified
    return category, {k: list(v) for k, v in values} if values else {}


class _Memo:
    """The classifications of the last ``maxsize`` sentences looked up. Real revisions re-add and
    re-remove the same sentences across versions and URLs, so they are remembered. Safe to share
    between threads, like the ``functools.lru_cache`` it replaces."""

    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        self._items: OrderedDict[str, _Classified] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, sentence: str) -> _Classified | None:
        return self.get_many([sentence]).get(sentence)

    def get_many(self, sentences: Iterable[str]) -> dict[str, _Classified]:
        """The remembered ones of ``sentences``, under one lock."""
        out: dict[str, _Classified] = {}
        with self._lock:
            items = self._items
            for sentence in sentences:
                found = items.get(sentence)
                if found is not None:
                    items.move_to_end(sentence)
                    out[sentence] = found
        return out

    def put(self, sentence: str, classified: _Classified) -> None:
        self.put_many([(sentence, classified)])

    def put_many(self, pairs: Iterable[tuple[str, _Classified]]) -> None:
        with self._lock:
            items = self._items
            for sentence, classified in pairs:
                items[sentence] = classified
                items.move_to_end(sentence)
            while len(items) > self.maxsize:
                items.popitem(last=False)

    def cache_clear(self) -> None:
        with self._lock:
            self._items.clear()


_MEMO = _Memo(1 << 16)


def _classified(sentences: Sequence[str]) -> list[_Classified]:
    distinct = dict.fromkeys(sentences)
    found = _MEMO.get_many(distinct)
    todo = [s for s in distinct if s not in found]
    new = [
        (sentence, _classify(sentence, scanned))
        for sentence, scanned in zip(todo, _found_batch(todo), strict=True)
    ]
    _MEMO.put_many(new)
    found.update(new)
    return [found[s] for s in sentences]


def _classify(sentence: str, found: _Found) -> _Classified:
    """(category, values) of a sentence from what ``_found`` found in it."""
    matches = found[0]
    if not matches:
        return _OTHER
    category = _category(frozenset(matches))
    if matches.keys().isdisjoint(_VALUE_PATTERNS):
        return category, ()
    values = _extract_values(sentence, found)
    return category, tuple((k, tuple(v)) for k, v in values.items())


_VALUE_PATTERNS = frozenset(k for k, _ in _VALUE_INDEX)


@functools.lru_cache(maxsize=4096)
def _category(matched: frozenset[int]) -> str:
    """The category of a sentence that matches the patterns ``matched`` (their positions in
    ``_PATTERNS``): a function of which patterns match, so remembered for each such set."""
    # the category rules of the matching patterns, summed in rule order
    found = sorted(j for k in matched for j in _CATEGORY_RULES_OF[k])
    scores: dict[str, float] = {}
    for j in found:
        rule = CATEGORY_RULES[j]
        scores[rule.category] = scores.get(rule.category, 0.0) + rule.weight
    category = OTHER
    best = 0.0
    for name in sorted(scores.keys() & _CATEGORY_ORDER.keys(), key=_CATEGORY_ORDER.__getitem__):
        if scores[name] > best:  # tie-break: the earlier in CATEGORIES
            category, best = name, scores[name]
    return category


def analyse_change(
    old: str, new: str, diff: TextDiff, *, history: Sequence[str] = ()
) -> ChangeAnalysis:
    """Kind, classified clauses, stated dates and flags of the change from ``old`` to ``new``.

    ``diff`` must be a diff from ``old`` to ``new`` (``diff.diff_texts``); ``history`` holds
    earlier versions (not ``old``) within whatever window the caller uses for flip-flops.
    """
    old_date = stated_date(old)
    new_date = stated_date(new)
    kind = _change_kind(old, new, history, diff)
    clauses: list[Clause] = []
    if kind in (ChangeKind.SUBSTANTIVE, ChangeKind.FLIP_FLOP, ChangeKind.DATE_ONLY):
        added, removed = changed_sentence_spans(old, new, diff)
        changed = [
            (op, text, start, end)
            for op, text, spans in ((-1, old, removed), (1, new, added))
            for start, end in spans
        ]
        sentences = [text[start:end] for _, text, start, end in changed]
        for (op, _, start, end), sentence, (category, values) in zip(
            changed, sentences, classify_sentences(sentences), strict=True
        ):
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
    return _change_kind(old, new, history, None)


def _change_kind(old: str, new: str, history: Sequence[str], diff: TextDiff | None) -> ChangeKind:
    # Each version is the new side of one change and the old side of the next: what is derived
    # from a single text is remembered for the last few texts (``_per_text``). Before two texts
    # are collapsed and compared, a few character counts (``_probes``) rule most pairs out.
    if _probes(old) == _probes(new) and _collapse(old) == _collapse(new):
        return ChangeKind.WHITESPACE
    if diff is None or _same_letters(old, new, diff):
        if _words(old) == _words(new):
            return ChangeKind.PUNCTUATION
        if _reordered(old, new):
            return ChangeKind.REORDER
    if (
        _masked_probes(old) == _masked_probes(new)
        and _mask_dates(old) != _collapse(old)
        and _solid_masked(old) == _solid_masked(new)  # cheap, from cached values
        and _collapsed_masked(old) == _collapsed_masked(new)
    ):
        return ChangeKind.DATE_ONLY
    probes = _probes(new)
    if any(_probes(h) == probes and _collapse(h) == _collapse(new) for h in history):
        return ChangeKind.FLIP_FLOP
    return ChangeKind.SUBSTANTIVE


_LETTER_RE = re.compile(r"[^\W\d_]")  # letters: word characters but digits and "_"


def _same_letters(old: str, new: str, diff: TextDiff) -> bool:
    """False only if ``old`` and ``new`` hold different multisets of letters, which rules out a
    punctuation-only change (same words) and a reorder (same paragraphs, or same sentences: a
    sentence loses only whitespace, list marks -- digits and symbols -- and letterless lines:
    this relies on ``diff.sentence_spans`` dropping nothing else, which the tests check).

    The texts share the diff's equal parts, so it is enough to compare the letters deleted
    with those inserted: a look at the edits instead of two passes over whole policies. Only
    for a diff that rebuilds both texts; for any other the answer is True (check in full)."""
    if old_text(diff.ops) != old or new_text(diff.ops) != new:
        return True
    if _probes(old) != _probes(new):
        return False  # the probes are letters: the texts, so the edits, hold other letters
    deleted = "".join(text for op, text in diff.ops if op < 0)
    inserted = "".join(text for op, text in diff.ops if op > 0)
    # a count per distinct letter (str.count, in C) instead of a Counter of every character
    return all(
        deleted.count(c) == inserted.count(c)
        for c in set(deleted) | set(inserted)
        if _LETTER_RE.match(c)
    )


_per_text = functools.lru_cache(maxsize=8)


@_per_text
def _collapse(text: str) -> str:
    return " ".join(text.split())


# Letters outside ``_DATE_MASK`` whose counts in a text (``str.count``, in C: ~0.1 ms for a
# policy, a fifth of a collapse) are necessary conditions of the kinds' tests: texts equal once
# whitespace is collapsed, or once their date phrases are masked too, hold as many of each;
# texts whose letters differ are no punctuation change or reorder.
_PROBES = "oin"
if set(_PROBES) & set(_DATE_MASK):  # pragma: no cover - a changed constant
    raise RuntimeError("diffing.classify: a probe letter occurs in the date mask")


@_per_text
def _probes(text: str) -> tuple[int, ...]:
    return tuple(map(text.count, _PROBES))


@_per_text
def _masked_probes(text: str) -> tuple[int, ...]:
    """``_probes(_mask_dates(text))``: the probes outside the stated-date phrases."""
    spans = stated_date_spans(text)
    if any(end > start for (_, end), (start, _) in itertools.pairwise(spans)):
        return _probes(_mask_dates(text))  # overlapping phrases: count the masked text itself
    return tuple(
        n - sum(text.count(c, start, end) for start, end in spans)
        for c, n in zip(_PROBES, _probes(text), strict=True)
    )


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


def _solid(text: str) -> int:
    """How many characters of ``text`` are not whitespace (``str.split``'s notion)."""
    collapsed = _collapse(text)  # remembered: the whitespace test computed it
    return len(collapsed) - collapsed.count(" ")


def _solid_masked(text: str) -> int:
    """``_solid(_mask_dates(text))``, without collapsing the masked text: two texts whose
    counts differ also differ once collapsed, so their comparison is not needed."""
    spans = stated_date_spans(text)
    if any(end > start for (_, end), (start, _) in itertools.pairwise(spans)):
        masked = _collapsed_masked(text)  # overlapping phrases: count the masked text itself
        return len(masked) - masked.count(" ")
    hidden = sum(end - start - sum(map(str.isspace, text[start:end])) for start, end in spans)
    return _solid(text) - hidden + len(_DATE_MASK) * len(spans)


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
