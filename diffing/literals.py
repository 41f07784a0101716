"""Sound literal prefilters for regular expressions: skip a regex search that cannot succeed.

The classifier runs ~40 patterns over every changed sentence and the stated-date finder scans
whole policies; most searches find nothing. Here a pattern's parse tree gives

* :func:`required_literals`: strings one of which every match contains, so a sentence whose
  :func:`fold` contains none of them needs no search at all;
* :func:`head_literals`: strings one of which every match starts with, so a long text is only
  tried where one occurs (:func:`finditer`), instead of at every character.

Both are *necessary* conditions derived from the pattern itself, so using them never changes a
result, only skips work: a literal in the pattern matches a character of the text only if their
folds are equal (:func:`fold` reproduces ``re.IGNORECASE``'s notion of equal characters; the
tests check it against ``re`` for every code point). Anything the derivation does not understand
yields ``None``: no prefilter, the pattern always runs. The parse tree comes from the standard
library's own parser (``re._parser``); without it there are no prefilters either.
"""

from __future__ import annotations

import functools
import importlib
import re
from collections.abc import Iterable, Iterator
from typing import Any

try:  # the regex parser and case tables of CPython's ``re`` (3.11+)
    _parser: Any = importlib.import_module("re._parser")
    _c: Any = importlib.import_module("re._constants")
    _extra_cases: dict[int, tuple[int, ...]] = importlib.import_module("re._casefix")._EXTRA_CASES
except (ImportError, AttributeError):  # pragma: no cover - another Python implementation
    _parser = _c = None
    _extra_cases = {}

# An Aho-Corasick automaton in C (pyahocorasick, no type hints of its own): every occurrence of
# every string of a set in one pass over a text (:class:`KeywordIndex`), without a regex attempt
# at each position.
_aho: Any = importlib.import_module("ahocorasick")

MAX_SET = 64  # the most alternative strings a derived set may hold
MAX_BRANCH_SET = 256  # ... when they come from one alternation (a table of names)


def _fix_table() -> dict[int, int]:
    # characters that re.IGNORECASE treats as equal although their lower cases differ
    # (s / long s, the Greek sigmas, ...): all map to the smallest of their class
    table: dict[int, int] = {}
    for cp, others in _extra_cases.items():
        rep = min((cp, *others))
        for member in (cp, *others):
            if member != rep:
                table[member] = rep
    return table


_FIX = _fix_table()
_FIX_RE = re.compile("[" + re.escape("".join(map(chr, sorted(_FIX)))) + "]") if _FIX else None
_DOTTED_CAPITAL_I = "\u0130"  # the one character whose str.lower() is two characters long


def fold(text: str) -> str:
    """``text`` with every character replaced by a representative of its ``re.IGNORECASE``
    class. Same length as ``text``, so positions carry over."""
    if text.isascii():
        return text.lower()
    if _DOTTED_CAPITAL_I in text:
        text = text.replace(_DOTTED_CAPITAL_I, "i")
    lowered = text.lower()
    if _FIX_RE is not None and _FIX_RE.search(lowered):
        return lowered.translate(_FIX)  # slow per-character mapping, rarely needed
    return lowered


def _cross(left: Iterable[str], right: Iterable[str], limit: int) -> set[str] | None:
    out = {a + b for a in left for b in right}
    return out if len(out) <= limit else None


def _exact_seq(items: Iterable[tuple[Any, Any]], spaces: bool = False) -> set[str] | None:
    """Every text the sequence can match, folded, if they are few (else None)."""
    out: set[str] | None = {""}
    for op, av in items:
        e = _exact(op, av, spaces)
        if e is None or out is None:
            return None
        out = _cross(out, e, MAX_SET)
    return out


# Every character ``\s`` matches in a str pattern (``str.isspace``; the tests check both).
SPACES = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006"
    "\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)


def _exact(op: Any, av: Any, spaces: bool = False) -> set[str] | None:
    r"""Every text the item can match, folded, if they are few (else None); with ``spaces``,
    ``\s`` counts as the set of its characters (each folds to itself)."""
    c = _c
    if op is c.LITERAL:
        return {fold(chr(av))}
    if spaces and op is c.IN and av == [(c.CATEGORY, c.CATEGORY_SPACE)]:
        return set(SPACES)
    if op is c.IN:
        chars: set[str] = set()
        for member_op, member in av:
            if member_op is not c.LITERAL:
                return None  # a range, a category, a negation
            chars.add(fold(chr(member)))
        return chars if len(chars) <= 16 else None
    if op in (c.AT, c.ASSERT, c.ASSERT_NOT):
        return {""}  # zero width
    if op is c.SUBPATTERN:
        return _exact_seq(av[-1], spaces)
    if op is getattr(c, "ATOMIC_GROUP", None):
        return _exact_seq(av, spaces)
    if op is c.BRANCH:
        out: set[str] = set()
        for alt in av[1]:
            e = _exact_seq(alt, spaces)
            if e is None:
                return None
            out |= e
        return out if len(out) <= MAX_SET else None
    if op in _repeats():
        lo, hi, sub = av
        if hi > 3:
            return None
        body = _exact_seq(sub, spaces)
        if body is None:
            return None
        total: set[str] = set()
        power: set[str] | None = {""}
        for k in range(hi + 1):
            if power is None:
                return None
            if k >= lo:
                total |= power
            power = _cross(power, body, MAX_SET) if k < hi else power
        return total if len(total) <= MAX_SET else None
    return None


def _repeats() -> tuple[Any, ...]:
    c = _c
    return tuple(
        x for x in (c.MAX_REPEAT, c.MIN_REPEAT, getattr(c, "POSSESSIVE_REPEAT", None)) if x
    )


def _minimal(strings: set[str]) -> frozenset[str]:
    """Drop strings that contain another one of the set: "contains one of" stays the same."""
    ordered = sorted(strings, key=len)
    kept: list[str] = []
    for s in ordered:
        if not any(k in s for k in kept):
            kept.append(s)
    return frozenset(kept)


def _score(s: frozenset[str]) -> tuple[int, int]:
    return (min(map(len, s)), -len(s))  # longer and fewer strings: more selective


def _best(cnf: list[frozenset[str]]) -> frozenset[str] | None:
    return max(cnf, key=_score) if cnf else None


def _required_seq(items: Iterable[tuple[Any, Any]]) -> list[frozenset[str]]:
    """Sets of folded strings such that every match contains one string of each set."""
    cnf: list[frozenset[str]] = []

    def close(run: set[str]) -> None:
        if "" not in run:
            cnf.append(_minimal(run))

    run: set[str] = {""}
    for op, av in items:
        e = _exact(op, av)
        if e is not None:
            joined = _cross(run, e, MAX_SET)
            if joined is not None:
                run = joined
                continue
            close(run)
            run = set(e)
            continue
        close(run)
        run = {""}
        cnf += _required(op, av)
    close(run)
    return cnf


def _required(op: Any, av: Any) -> list[frozenset[str]]:
    c = _c
    if op is c.SUBPATTERN:
        return _required_seq(av[-1])
    if op is getattr(c, "ATOMIC_GROUP", None):
        return _required_seq(av)
    if op is c.BRANCH:
        out: set[str] = set()
        for alt in av[1]:
            best = _best(_required_seq(alt))
            if best is None:
                return []
            out |= best
        return [_minimal(out)] if len(out) <= MAX_BRANCH_SET else []
    if op in _repeats() and av[0] >= 1:
        return _required_seq(av[2])
    return []


def _parse(pattern: re.Pattern[str]) -> list[tuple[Any, Any]] | None:
    if _parser is None or not isinstance(pattern.pattern, str):
        return None
    if pattern.flags & (re.LOCALE | re.ASCII):
        return None  # fold() models re's Unicode case rules only
    try:
        return list(_parser.parse(pattern.pattern, pattern.flags))
    except Exception:  # pragma: no cover - a parser of another Python version
        return None


Literals = tuple[frozenset[str], ...]


def required_literals(pattern: re.Pattern[str], most: int = 3) -> Literals | None:
    """Sets of folded strings such that the fold of every match of ``pattern`` contains a
    string of each set (the ``most`` most selective sets), or None when none is known."""
    items = _parse(pattern)
    if items is None:
        return None
    cnf = sorted(set(_required_seq(items)), key=_score, reverse=True)[:most]
    return tuple(cnf) or None


def may_match(literals: Literals | None, folded: str) -> bool:
    """False only if no match is possible: ``folded`` (see :func:`fold`) lacks every string of
    one of the sets."""
    if literals is None:
        return True
    for alternatives in literals:  # plain loops: ~2x faster than all(any(...)) here
        for lit in alternatives:
            if lit in folded:
                break
        else:
            return False
    return True


def _heads(
    items: list[tuple[Any, Any]], k: int, limit: int, spaces: bool = False
) -> set[str] | None:
    """Folded strings of length <= k one of which every match of ``items`` starts with."""
    if not items:
        return {""}
    c = _c
    (op, av), rest = items[0], items[1:]
    e = _exact(op, av, spaces)
    if e is not None:
        out: set[str] = set()
        tails: set[str] | None = None
        for s in e:
            if len(s) >= k:
                out.add(s[:k])
                continue
            if tails is None:
                tails = _heads(rest, k, limit, spaces)
            if tails is None:
                out.add(s)  # the match starts with s, whatever follows
            else:
                out |= {(s + t)[:k] for t in tails}
        return out if len(out) <= limit else None
    if op is c.SUBPATTERN:
        return _heads([*av[-1], *rest], k, limit, spaces)
    if op is getattr(c, "ATOMIC_GROUP", None):
        return _heads([*av, *rest], k, limit, spaces)
    if op is c.BRANCH:
        union: set[str] = set()
        for alt in av[1]:
            h = _heads([*alt, *rest], k, limit, spaces)
            if h is None:
                return None
            union |= h
        return union if len(union) <= limit else None
    if op in _repeats():
        lo, _hi, sub = av
        first = _heads(list(sub), k, limit, spaces)
        if first is None:
            return None
        if lo >= 1:
            return first
        skipped = _heads(rest, k, limit, spaces)
        if skipped is None:
            return None
        both = first | skipped
        return both if len(both) <= limit else None
    return None


def head_literals(
    pattern: re.Pattern[str], k: int = 4, *, spaces: bool = False, limit: int = MAX_BRANCH_SET
) -> frozenset[str] | None:
    r"""Folded strings (at most ``k`` characters, at most ``limit`` of them) one of which the
    fold of every match of ``pattern`` starts with, or None when no such set is known (or it
    holds ""). With ``spaces``, a ``\s`` stands for each of its characters instead of ending
    the heads: "in" + each space rather than "in", which occurs inside many more words."""
    items = _parse(pattern)
    if items is None:
        return None
    found = _heads(items, k, limit, spaces)
    if not found or "" in found:
        return None
    return _minimal_heads(found)


def _minimal_heads(heads: set[str]) -> frozenset[str]:
    """Drop heads that start with another head: "starts with one of" stays the same."""
    kept: set[str] = set()
    for h in sorted(heads, key=len):  # a head's proper prefixes come before it
        if not any(h[:n] in kept for n in range(1, len(h))):
            kept.add(h)
    return frozenset(kept)


def trie_pattern(strings: Iterable[str]) -> str:
    """A regex (no flags) matching, where one of ``strings`` starts, the longest of them that
    starts there: a trie of the strings, so each position costs a few character tests, not one
    test per string. Every shorter string starting at the same place is a prefix of that one."""
    trie: dict[str, Any] = {}
    for s in strings:
        if not s:
            raise ValueError("trie_pattern: the empty string matches everywhere")
        node = trie
        for ch in s:
            node = node.setdefault(ch, {})
        node[""] = {}  # the end of a string

    def emit(node: dict[str, Any]) -> str:
        alts = [re.escape(ch) + emit(sub) for ch, sub in sorted(node.items()) if ch]
        if not alts:
            return ""
        body = alts[0] if len(alts) == 1 else "(?:" + "|".join(alts) + ")"
        # the branches start with distinct characters, so at most one can match; a greedy "?"
        # tries the longer strings first and falls back to the one ending here
        return f"(?:{body})?" if "" in node else body

    return emit(trie)


class LiteralScanner:
    """Which of a fixed set of folded strings occur in a folded text, and where, in one regex
    pass over the text (instead of one ``str.find`` or ``in`` per string)."""

    def __init__(self, strings: Iterable[str], not_after: str = "") -> None:
        """``not_after``: a regex character class; only positions not preceded by one of its
        characters count (in the folded text, so only for a class whose folds stay outside it:
        see ``tests/test_diff_literals.py``)."""
        self.strings: tuple[str, ...] = tuple(sorted(set(strings)))
        # a zero-width lookahead is tried at every position: overlapping occurrences are found
        guard = f"(?<!{not_after})" if not_after else ""
        trie = trie_pattern(self.strings) if self.strings else ""
        self._re = re.compile(f"{guard}(?=({trie}))") if self.strings else None
        # the longest string found at a position implies every string that is a prefix of it
        self._prefixes = {
            s: frozenset(t for t in self.strings if s.startswith(t)) for s in self.strings
        }

    def present(self, folded: str) -> set[str]:
        """The strings that occur in ``folded``."""
        out: set[str] = set()
        if self._re is None:
            return out
        prefixes = self._prefixes
        for longest in self.found(folded):
            out |= prefixes[longest]
        return out

    def found(self, folded: str) -> set[str]:
        """The longest string starting at each position where one starts: the others found
        there are its prefixes (``prefixes``)."""
        if self._re is None:
            return set()
        return set(self._re.findall(folded))

    def prefixes(self, string: str) -> frozenset[str]:
        """The strings of the set that are prefixes of ``string`` (one of them), itself too."""
        return self._prefixes[string]

    def starts(self, folded: str) -> list[int]:
        """Sorted positions of ``folded`` where one of the strings occurs."""
        if self._re is None:
            return []
        return [m.start() for m in self._re.finditer(folded)]


class KeywordIndex:
    """Every occurrence of each of a fixed set of folded strings in a folded text, overlapping
    ones too, in one pass of an Aho-Corasick automaton: the same positions a
    :class:`LiteralScanner` finds, without a regex attempt at every character."""

    def __init__(self, strings: Iterable[str]) -> None:
        self.strings: tuple[str, ...] = tuple(sorted(set(strings)))
        if "" in self.strings:
            raise ValueError("KeywordIndex: the empty string occurs everywhere")
        # hits() gives where an occurrence ends: minus back[i], where it starts
        self.back: tuple[int, ...] = tuple(len(s) - 1 for s in self.strings)
        self._automaton: Any = None
        if self.strings:
            self._automaton = _aho.Automaton()
            for i, s in enumerate(self.strings):
                self._automaton.add_word(s, i)
            self._automaton.make_automaton()

    def hits(self, folded: str) -> list[tuple[int, int]]:
        """``(end, i)`` for every occurrence of ``strings[i]`` in ``folded``, ``end`` the index
        of its last character, ordered by ``end``."""
        if self._automaton is None:
            return []
        return list(self._automaton.iter(folded))

    def starts(self, folded: str) -> list[int]:
        """Sorted positions of ``folded`` where one of the strings occurs."""
        back = self.back
        return sorted({end - back[i] for end, i in self.hits(folded)})


@functools.lru_cache(maxsize=32)
def _scanner(strings: frozenset[str], not_after: str) -> LiteralScanner:
    return LiteralScanner(strings, not_after)


def candidate_starts(heads: frozenset[str], folded: str, not_after: str = "") -> list[int]:
    """Sorted positions of ``folded`` where one of ``heads`` occurs (and, with ``not_after``,
    that are not preceded by a character of that class: see ``LiteralScanner``)."""
    if len(heads) <= 4 and not not_after:  # a few str.find calls beat a regex pass
        found: set[int] = set()
        for h in heads:
            i = folded.find(h)
            while i >= 0:
                found.add(i)
                i = folded.find(h, i + 1)
        return sorted(found)
    return _scanner(heads, not_after).starts(folded)


def finditer(
    pattern: re.Pattern[str],
    text: str,
    heads: frozenset[str] | None,
    folded: str | None = None,
    not_after: str = "",
) -> Iterator[re.Match[str]]:
    """The matches ``pattern.finditer(text)`` gives, tried only where a head occurs. The
    pattern must not match the empty string (``head_literals`` is None for such a pattern).
    ``not_after``: the pattern starts with the lookbehind ``(?<!not_after)``."""
    if heads is None:
        yield from pattern.finditer(text)
        return
    pos = 0
    folded = fold(text) if folded is None else folded
    for start in candidate_starts(heads, folded, not_after):
        if start < pos:
            continue
        m = pattern.match(text, start)
        if m is not None:
            yield m
            pos = m.end()
