"""Deterministic word-level diff of two policy texts.

``diff_texts(old, new)`` is a pure function: its result depends on the two texts only, never on
a time limit or the speed of the machine. diff-match-patch's ``Diff_Timeout`` makes a char-level
diff give up ("delete everything, insert everything") on long real revisions, and without it a
char-level diff of a long revision can take minutes; a line-level diff is fast but marks whole
paragraphs changed for a one-word edit. So the diff here works in stages:

1. Lines. Both texts are cut into lines. Non-blank lines that occur exactly once in each text are
   matched (patience diff: the longest increasing run of such pairs) and become fixed anchors;
   between anchors, common leading and trailing lines are equal too. Only what is left, the
   changed regions, is looked at word by word, so the cost follows the size of the change
   rather than the size of the texts.
2. Tokens. A long changed region whose two sides share few words or few pairs of successive
   words is a rewrite and is replaced whole (``params["unrelated_regions"]``). Any other
   changed region is cut into tokens (each word, and each other character, with the
   whitespace after it) that join back to it exactly. Tokens align by their word alone,
   whatever whitespace follows it, so reflowed text still aligns word for word; differing
   whitespace becomes small edits afterwards, and where it differs just before an edit it
   goes with the edit ("foo bar" -> "foo, bar" inserts the comma only).
3. Token alignment, recursively: lines unique to both sides of the region (equal up to their
   whitespace) first, then common prefix and suffix; a region of at most ``EXACT_AREA`` token
   pairs goes to an exact diff (a longest common subsequence by rapidfuzz's bit-parallel LCS,
   C++, a pure function of its input); a larger one is split at tokens unique to both sides
   (patience again) or, failing that, at the longest common run around its rarest common
   token (histogram diff). A region whose words are
   mostly not shared at all is a rewrite and is replaced whole (``params["unrelated_regions"]``).
4. All of this is charged to a work budget fixed by the input sizes. A region that would exceed
   it (or ``EXACT_MAX_AREA``, the memory cap of the exact diff) is reported as deleted and
   inserted as a whole (``params["coarse_regions"]`` counts them), so a total rewrite stays fast
   and the output never depends on timing.
5. The token ops get a semantic cleanup (an equality no longer than the edits on both sides of
   it is folded into them, as in diff-match-patch, measured in characters). The word counts of
   the stats are taken here, on whole words.
6. Character refinement: each replacement left (a deletion next to an insertion, at most
   ``REFINE_MAX_CHARS`` on each side) is diffed again character by character (exact LCS);
   character equalities shorter than ``REFINE_MIN_EQUAL`` are folded back into the edits, and
   so is every equality not at least ``REFINE_FOLD_FACTOR`` times shorter than the edits on
   both sides of it. So "2023" -> "2024" marks one digit, "Platform" -> "platform" one letter
   and "déléguée" -> "délégué" one deleted "e", while "February" -> "September" or a reworded
   sentence stays one readable replacement instead of being shredded into letters. A run of
   whitespace replaced by another keeps their common start and end as equal text.
7. Edits are slid to the most natural boundary (blank line, line, sentence, word) with
   diff-match-patch's lossless cleanup, which never changes the texts.
"""

from __future__ import annotations

import bisect
import codecs
import functools
import itertools
import json
import operator
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from typing import TypeVar, cast

import diff_match_patch as _dmp_module
import rapidfuzz
from diff_match_patch import diff_match_patch
from rapidfuzz.distance import Indel, LCSseq

from diffing.records import DiffStats, TextDiff

ALGORITHM = "policytrail-word-diff"
# 1: token-level Myers under a work budget. 2: line anchors first, rapidfuzz LCS core, character
# refinement of replacements. 3: tokens carry the whitespace after them (half as many tokens to
# align). The ops format is unchanged: ops of every version still read.
VERSION = 3

DELETE, EQUAL, INSERT = -1, 0, 1

# A token is a word or a single other character with the whitespace after it; only a text's
# leading whitespace is a token of its own. Every character falls into exactly one token, so
# the tokens of a text join back to it.
_TOKEN_RE = re.compile(r"\s+|(?:\w+|[^\w\s])\s*")
_WORD_RE = re.compile(r"\w+")
# _TOKEN_RE's tokens, its branches tried in the order of how common they are: each starts with a
# different kind of character (word, other mark, whitespace), so the tokens are the same
_TOKENS = re.compile(r"\w+\s*|[^\w\s]\s*|\s+").findall

# A region with at most this many token pairs (len(a) * len(b)) goes straight to the exact diff.
EXACT_AREA = 4_000_000
# The exact diff never runs on more token pairs than this (its bit matrix takes area / 8 bytes).
EXACT_MAX_AREA = 64_000_000
# An exact diff of area A costs A // EXACT_COST_DIVISOR budget units (64 token pairs are one
# machine word of the bit-parallel LCS; a unit is roughly one token scanned by a split in Python).
EXACT_COST_DIVISOR = 1024
# Histogram splitting ignores tokens more frequent than this in the region (as git does).
HISTOGRAM_MAX_COUNT = 64
# The work budget: BUDGET_BASE + BUDGET_PER_CHAR * (characters in both texts).
BUDGET_BASE = 60_000
BUDGET_PER_CHAR = 1
# A region of more than UNRELATED_MIN_AREA token pairs whose words are less than
# 1 / UNRELATED_RATIO shared (as multisets, whitespace left out) is a rewrite: it is deleted and
# inserted whole without looking for the scattered common words the cleanup would fold anyway.
UNRELATED_MIN_AREA = 400
UNRELATED_RATIO = 3
# A changed region of lines, each side at least UNRELATED_MIN_CHARS long, is a rewrite if less
# than 1 / UNRELATED_PAIR_RATIO of its pairs of successive words are shared; checked before it
# is tokenized.
UNRELATED_MIN_CHARS = 2_000
UNRELATED_PAIR_RATIO = 6
# ... unless it holds a run of at least this many tokens common to both (a kept heading).
UNRELATED_KEEP_RUN = 8
# Scanning a token to count or split costs this many times less than a budget unit.
SCAN_COST_DIVISOR = 4
# Character refinement: replacements with at most this many characters on each side ...
REFINE_MAX_CHARS = 2_000
# ... keep character equalities of at least this length ...
REFINE_MIN_EQUAL = 3
# ... that are at least this many times shorter than the edits on both sides of them.
REFINE_FOLD_FACTOR = 3

Op = tuple[int, str]
_Run = tuple[int, int]  # (op, number of tokens)
_Pair = tuple[int, int]
_T = TypeVar("_T")
_DMP_VERSION = str(getattr(_dmp_module, "__version__", "unknown"))
_RAPIDFUZZ_VERSION = str(rapidfuzz.__version__)


def tokenize(text: str) -> list[str]:
    """The tokens of ``text``: each word, and each other single character, with the whitespace
    that follows it (and the leading whitespace of ``text`` as a token of its own)."""
    return _TOKENS(text)


def diff_texts(old: str, new: str) -> TextDiff:
    """A deterministic word-level diff from ``old`` to ``new``.

    ``ops`` follow diff-match-patch's convention (-1 delete, 0 equal, 1 insert). Edits are whole
    tokens except inside a replacement refined character by character (step 6 above) and where
    the lossless cleanup slid an edit inside a run of whitespace. ``params`` names the
    algorithm, its version and parameters, and how many regions fell back to delete-and-insert.
    """
    budget = BUDGET_BASE + BUDGET_PER_CHAR * (len(old) + len(new))
    aligner = _Aligner(budget)
    old_lines = _lines(old)
    new_lines = _lines(new)
    ops = _align_texts(old_lines, new_lines, aligner)
    ops = semantic_cleanup(ops)
    stats = _stats(ops, old, new)
    ops = refine_chars(ops)
    ops = _lossless(ops)
    params: dict[str, object] = {
        "algorithm": ALGORITHM,
        "version": VERSION,
        "tokenizer": _TOKEN_RE.pattern,
        "anchors": "unique-lines,region-lines,unique-tokens,histogram,rewrite-word-pairs",
        "exact": "lcs-bit-parallel",
        "rapidfuzz": _RAPIDFUZZ_VERSION,
        "whitespace": "trails-token,aligns-any,edits-factored",
        "exact_area": EXACT_AREA,
        "exact_max_area": EXACT_MAX_AREA,
        "exact_cost_divisor": EXACT_COST_DIVISOR,
        "histogram_max_count": HISTOGRAM_MAX_COUNT,
        "work_budget": budget,
        "cleanup": "semantic-token,refine-chars,lossless",
        "refine_max_chars": REFINE_MAX_CHARS,
        "refine_min_equal": REFINE_MIN_EQUAL,
        "refine_fold_factor": REFINE_FOLD_FACTOR,
        "diff_match_patch": _DMP_VERSION,  # its lossless cleanup is used as is
        "unrelated_min_area": UNRELATED_MIN_AREA,
        "unrelated_ratio": UNRELATED_RATIO,
        "unrelated_keep_run": UNRELATED_KEEP_RUN,
        "unrelated_min_chars": UNRELATED_MIN_CHARS,
        "unrelated_pair_ratio": UNRELATED_PAIR_RATIO,
        "coarse_regions": aligner.coarse_regions,
        "unrelated_regions": aligner.unrelated_regions,
    }
    return TextDiff(ops=tuple(ops), stats=stats, params=params)


def diff_stats(ops: Sequence[Op]) -> DiffStats:
    """Words added and removed, and the share of words common to both texts (1.0 if both empty).

    Counted on the ops as given: for the stats of :func:`diff_texts` (counted before the
    character refinement, on whole words) use ``diff_texts(...).stats``."""
    # one findall per kind of op: a newline between op texts cannot join two words
    added, removed, common = (
        _count_words("\n".join(text for op, text in ops if op == kind))
        for kind in (INSERT, DELETE, EQUAL)
    )
    return _make_stats(added, removed, common)


# Each Latin-1 character as a byte: "a" if it is a word character (``\w``), else a space.
_LATIN1_WORD_BYTES = bytes(ord("a") if _WORD_RE.match(chr(c)) else ord(" ") for c in range(256))
# Characters beyond Latin-1 that policies use often, none of them a word character: replaced by
# a space, they leave the runs of word characters as they were.
_WIDE_NON_WORD = "’“”–—•●„‘…"


# An encoding error handler that writes each character beyond Latin-1 as "a" if it is a word
# character, else as a space: then the runs of word bytes of any text are its words.
_AS_WORD_BYTES = "policytrail-word-bytes"


def _as_word_bytes(err: UnicodeError) -> tuple[str, int]:
    if not isinstance(err, UnicodeEncodeError):
        raise err
    chunk = err.object[err.start : err.end]
    return "".join(["a" if c.isalnum() or c == "_" else " " for c in chunk]), err.end


codecs.register_error(_AS_WORD_BYTES, _as_word_bytes)


def _count_words(text: str) -> int:
    """``len(_WORD_RE.findall(text))``, a few times faster: the runs of word bytes once each
    character is a byte, a word byte or a space (the common wide punctuation is made a space
    first, so that the error handler is seldom called)."""
    try:
        data = text.encode("latin-1")
    except UnicodeEncodeError:
        for ch in _WIDE_NON_WORD:
            text = text.replace(ch, " ")
        data = text.encode("latin-1", _AS_WORD_BYTES)
    return len(data.translate(_LATIN1_WORD_BYTES).split())


def _make_stats(added: int, removed: int, common: int) -> DiffStats:
    total = 2 * common + added + removed
    similarity = 1.0 if total == 0 else round(2 * common / total, 6)
    return DiffStats(words_added=added, words_removed=removed, similarity=similarity)


# Word counts of lines seen lately: successive versions of a policy share most of their lines,
# so counting the words of a version costs a dictionary look-up per line. Speed only: the count
# of a line is the same whether it comes from here or from the regex.
_LINE_WORDS: dict[str, int] = {}
_LINE_WORDS_MAX = 50_000


@functools.lru_cache(maxsize=8)
def _text_words(text: str) -> int:
    """The number of words of ``text``, as the sum of those of its lines (a line break is no
    word character). The lines not counted lately are counted all together, with no Python
    call per line (as :func:`_count_words` does, without its wide punctuation step)."""
    lines = _lines(text)
    counts = list(map(_LINE_WORDS.get, lines))
    if None not in counts:
        return sum(cast(list[int], counts))
    new = list(itertools.compress(lines, map(operator.is_, counts, itertools.repeat(None))))
    found = list(
        map(
            len,
            map(
                bytes.split,
                map(
                    bytes.translate,
                    map(
                        str.encode,
                        new,
                        itertools.repeat("latin-1"),
                        itertools.repeat(_AS_WORD_BYTES),
                    ),
                    itertools.repeat(_LATIN1_WORD_BYTES),
                ),
            ),
        )
    )
    if len(_LINE_WORDS) + len(new) > _LINE_WORDS_MAX:
        _LINE_WORDS.clear()
    _LINE_WORDS.update(zip(new, found, strict=True))
    return sum(filter(None, counts)) + sum(found)


def _stats(ops: Sequence[Op], old: str, new: str) -> DiffStats:
    """:func:`diff_stats` of token-level ops, where no word is split between two ops: the words
    of each text are counted line by line (most lines were counted in the previous version, and
    the text itself, as the new side of the previous diff), so only the shorter of the deleted
    and the equal text needs a scan."""
    words_old = _text_words(old)
    words_new = _text_words(new)
    deleted = [text for op, text in ops if op == DELETE]
    equal = [text for op, text in ops if op == EQUAL]
    if sum(map(len, deleted)) <= sum(map(len, equal)):
        removed = _count_words("\n".join(deleted))
        common = words_old - removed
    else:
        common = _count_words("\n".join(equal))
        removed = words_old - common
    return _make_stats(words_new - common, removed, common)


def old_text(ops: Iterable[Op]) -> str:
    """The old text a diff was made from."""
    return "".join(text for op, text in ops if op <= 0)


def new_text(ops: Iterable[Op]) -> str:
    """The new text a diff was made from."""
    return "".join(text for op, text in ops if op >= 0)


def edit_size(ops: Iterable[Op]) -> int:
    """Characters deleted plus characters inserted."""
    return sum(len(text) for op, text in ops if op != EQUAL)


def ops_to_json(ops: Iterable[Op]) -> str:
    """Compact JSON for ops: ``[[op, text], ...]`` without spaces, non-ASCII kept as is."""
    return json.dumps([[op, text] for op, text in ops], ensure_ascii=False, separators=(",", ":"))


def ops_from_json(s: str) -> tuple[Op, ...]:
    """The ops serialised by :func:`ops_to_json`; raises ``ValueError`` on anything else."""
    data = json.loads(s)
    items = data if isinstance(data, list) else [data]
    ops: list[Op] = []
    for item in items:
        if not _is_op(item):
            raise ValueError(f"not a diff op: {item!r}")
        ops.append((int(item[0]), item[1]))
    return tuple(ops)


def _is_op(item: object) -> bool:
    return (
        isinstance(item, list)
        and len(item) == 2
        and type(item[0]) is int
        and item[0] in (DELETE, EQUAL, INSERT)
        and isinstance(item[1], str)
    )


# --- sentences -----------------------------------------------------------------------------

_ABBREVIATIONS = frozenset(
    {
        *("e.g", "i.e", "etc", "inc", "ltd", "co", "corp", "llc", "gmbh", "mr", "mrs", "ms"),
        *("dr", "st", "no", "vs", "approx", "art", "sec", "para", "fig", "cf", "u.s", "u.k"),
        *("e.u", "p.o", "z.b", "bzw", "usw", "ca", "vgl", "nr", "abs", "s.a", "sr", "jr"),
        *("jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec"),
    }
)
# A run of stops . ! ? … (and closing quotes) before whitespace, looked for in the line with
# each stop written "." (the same matches): a pattern that starts with one literal character is
# scanned for several times faster than one that starts with a set of them.
_SENTENCE_END_RE = re.compile(r"\.\.*[\"'”’)\]]*(?=\s)")


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """Char spans of the sentences of ``text``, whitespace and bullet marks trimmed.

    Lines are never joined: a newline ends a sentence (markdown paragraphs, bullets, headings).
    Inside a line a sentence ends at ``. ! ?`` followed by whitespace, unless the word before
    the stop is a known abbreviation, a single letter or the next text starts in lower case.
    """
    return list(_sentence_spans(text))


@functools.lru_cache(maxsize=8)
def _sentence_spans(text: str) -> tuple[tuple[int, int], ...]:
    # a version's text is split when it is the new side of a change, again as the old side of
    # the next, and by the change-kind checks: remember the last few
    spans: list[tuple[int, int]] = []
    for pos, line in zip(_line_starts(text)[:-1], _bare_lines(text), strict=True):
        spans += [(pos + s, pos + e) for s, e in _line_split(line)[0]]
    return tuple(spans)


# Sentence spans of lines seen lately, relative to the line start, and the key of each sentence
# (its words joined by single spaces: :func:`changed_sentence_spans` compares sentences by it):
# successive versions of a policy share most of their lines. Speed only: the spans and keys of
# a line depend on the line alone.
_LINE_SPANS: dict[str, tuple[tuple[tuple[int, int], ...], tuple[str, ...]]] = {}
_LINE_SPANS_MAX = 50_000


def _line_split(line: str) -> tuple[tuple[tuple[int, int], ...], tuple[str, ...]]:
    """The sentence spans of one ``line`` (without its line end) and the key of each."""
    got = _LINE_SPANS.get(line)
    if got is None:
        if len(_LINE_SPANS) >= _LINE_SPANS_MAX:
            _LINE_SPANS.clear()
        found: list[tuple[int, int]] = []
        _line_sentences(line, 0, len(line), found)
        keys = tuple([" ".join(line[s:e].split()) for s, e in found])
        got = _LINE_SPANS[line] = (tuple(found), keys)
    return got


_LEAD_RE = re.compile(r"\s*(?:(?:[*+-]|#{1,6}|>|\d{1,3}[.)])\s+)*")
_NON_SPACE_RE = re.compile(r"\S")
_ALNUM_RE = re.compile(r"[^\W_]")  # what str.isalnum() accepts
_WORD_OR_DOT_RUN_RE = re.compile(r"[\w.]*")  # characters that are alphanumeric, "_" or "."


def _line_sentences(text: str, start: int, end: int, spans: list[tuple[int, int]]) -> None:
    line = text[start:end]
    lead = _LEAD_RE.match(line)
    cursor = lead.end() if lead else 0
    back = ""  # the line reversed, once it has a stop
    dotted = line.replace("!", ".").replace("?", ".").replace("…", ".")
    for m in _SENTENCE_END_RE.finditer(dotted, cursor):
        stop = m.end()
        # the run of word characters and dots just before the stop: matched forwards in the
        # reversed line (a search from the line start would make long lines quadratic)
        if not back:
            back = line[::-1]
        w = m.start()
        run = cast(re.Match[str], _WORD_OR_DOT_RUN_RE.match(back, len(line) - w))  # maybe empty
        w -= run.end() - run.start()
        word = line[w : m.start()].lower()
        if word.rstrip(".") in _ABBREVIATIONS or (len(word) == 1 and word.isalpha()):
            continue
        nxt = _NON_SPACE_RE.search(line, stop)
        if nxt is not None and nxt.group().islower():
            continue
        _add_span(text, start + cursor, start + stop, spans)
        cursor = stop
    _add_span(text, start + cursor, end, spans)


def _add_span(text: str, s: int, e: int, spans: list[tuple[int, int]]) -> None:
    """Add text[s:e] without its leading and trailing whitespace, if it holds a letter or digit
    (one is never whitespace: so it is looked for before trimming)."""
    if _ALNUM_RE.search(text, s, e) is None:
        return
    if text[s].isspace():
        s = cast(re.Match[str], _NON_SPACE_RE.search(text, s, e)).start()
    while text[e - 1].isspace():  # stops at text[s] at the latest
        e -= 1
    spans.append((s, e))


def changed_sentences(old: str, new: str, diff: TextDiff) -> tuple[list[str], list[str]]:
    """(added, removed): whole sentences of ``new`` / ``old`` touched by an insert / delete.

    A sentence counts as touched if an edit overlaps it or falls strictly inside it (a word
    inserted into an old sentence makes the old sentence "removed" and the new one "added").
    A sentence that is both removed and added, up to whitespace, is left out of both (it moved
    or only its surroundings changed). Order follows the texts; duplicates are kept.
    """
    added, removed = changed_sentence_spans(old, new, diff)
    return [new[s:e] for s, e in added], [old[s:e] for s, e in removed]


Span = tuple[int, int]


def changed_sentence_spans(old: str, new: str, diff: TextDiff) -> tuple[list[Span], list[Span]]:
    """The char spans, in ``new`` and in ``old``, of the sentences :func:`changed_sentences`
    gives (a store keeps these instead of the sentences: both texts are stored anyway)."""
    old_edits: list[tuple[int, int]] = []
    new_edits: list[tuple[int, int]] = []
    i = j = 0
    for op, text in diff.ops:
        n = len(text)
        if op == EQUAL:
            i += n
            j += n
        elif op == DELETE:
            old_edits.append((i, i + n))
            new_edits.append((j, j))
            i += n
        else:
            new_edits.append((j, j + n))
            old_edits.append((i, i))
            j += n
    removed, removed_keys = _touched(old, old_edits)
    added, added_keys = _touched(new, new_edits)
    if not removed or not added:  # no sentence can be both
        return added, removed
    common = Counter(removed_keys) & Counter(added_keys)
    if not common:
        return added, removed
    return _drop_common(added, added_keys, common), _drop_common(removed, removed_keys, common)


# What is derived from the lines of a text is remembered for the last few texts: a version is
# the new side of one diff and the old side of the next. The line strings kept are hashed once,
# so looking them up in the per-line caches again costs no pass over their characters.


@functools.lru_cache(maxsize=8)
def _lines(text: str) -> tuple[str, ...]:
    """The lines of ``text`` with their line ends, as ``str.splitlines`` cuts them."""
    return tuple(text.splitlines(keepends=True))


@functools.lru_cache(maxsize=8)
def _bare_lines(text: str) -> tuple[str, ...]:
    """The lines of ``text`` without their ``\\r`` and ``\\n`` line ends."""
    return tuple(map(str.rstrip, _lines(text), itertools.repeat("\r\n")))


@functools.lru_cache(maxsize=8)
def _line_starts(text: str) -> list[int]:
    """The offset of each line of ``text`` (as ``str.splitlines`` cuts it), then ``len(text)``."""
    return [0, *itertools.accumulate(map(len, _lines(text)))]


def _touched(text: str, edits: list[tuple[int, int]]) -> tuple[list[Span], list[str]]:
    """The spans of the sentences of ``text`` that an edit overlaps or falls strictly inside,
    in text order, and their keys. A sentence never crosses a line end, so only the lines an
    edit reaches are split: the result is the same as testing every sentence of the whole
    text."""
    out: list[Span] = []
    out_keys: list[str] = []
    # Edits come from ops: sorted, and each ends where the next starts or before. So the first
    # edit ending after a sentence starts is the only one to look at: it touches the sentence
    # if it starts before the sentence ends (overlapping it, or an insertion point inside it).
    starts = [s for s, _ in edits]
    ends = [e for _, e in edits]
    n_edits = len(edits)
    line_starts = _line_starts(text)
    bare = _bare_lines(text)
    n_lines = len(line_starts) - 1
    done = 0  # the lines before this one are looked at already ...
    done_pos = 0  # ... and this is where it starts
    for es, ee in edits:  # sorted by start
        if es < done_pos and ee <= done_pos:
            continue
        first = bisect.bisect_right(line_starts, es) - 1
        last = bisect.bisect_right(line_starts, ee - 1) - 1 if ee > es else first
        for n in range(max(first, done), min(last + 1, n_lines)):
            ls, le = line_starts[n], line_starts[n + 1]
            spans, keys = _line_split(bare[n])
            if es <= ls and le <= ee:  # a line inside this edit: it touches every sentence
                out += [(ls + rs, ls + re_) for rs, re_ in spans]
                out_keys += keys
                continue
            for (rs, re_), key in zip(spans, keys, strict=True):
                s = ls + rs
                k = bisect.bisect_right(ends, s)
                if k < n_edits and starts[k] < ls + re_:
                    out.append((s, ls + re_))
                    out_keys.append(key)
        if last + 1 > done:
            done = last + 1
            done_pos = line_starts[min(done, n_lines)]
    return out, out_keys


def _drop_common(spans: list[Span], keys: list[str], common: Counter[str]) -> list[Span]:
    """``spans`` but the first ``common[key]`` of those with each key."""
    left = Counter(common)
    out: list[Span] = []
    for (s, e), key in zip(spans, keys, strict=True):
        if left[key] > 0:
            left[key] -= 1
        else:
            out.append((s, e))
    return out


# --- alignment -----------------------------------------------------------------------------


_BLANK = 0  # the id of the align key of every whitespace-only token


_NO_KEY = frozenset({""})  # the key of a blank line


def _align_texts(old_lines: Sequence[str], new_lines: Sequence[str], aligner: _Aligner) -> list[Op]:
    """Token-level ops from ``old`` to ``new`` (given as lines with their line ends): unique
    non-blank lines anchor, common lines around them are equal, the rest goes to ``aligner``."""
    if not old_lines or not new_lines:  # what the alignment would give (empties are dropped)
        return [(DELETE, "".join(old_lines)), (INSERT, "".join(new_lines))]
    # each line's id: its number in order of first occurrence (no Python loop over the lines)
    ids = dict(zip(dict.fromkeys(itertools.chain(old_lines, new_lines)), itertools.count()))
    x = list(map(ids.__getitem__, old_lines))
    y = list(map(ids.__getitem__, new_lines))
    ops: list[Op] = []
    n, m = len(x), len(y)

    def region(alo: int, ahi: int, blo: int, bhi: int) -> None:
        p = 0
        while alo + p < ahi and blo + p < bhi and x[alo + p] == y[blo + p]:
            p += 1
        s = 0
        while ahi - s > alo + p and bhi - s > blo + p and x[ahi - 1 - s] == y[bhi - 1 - s]:
            s += 1
        if p:
            ops.append((EQUAL, "".join(old_lines[alo : alo + p])))
        if alo + p < ahi - s or blo + p < bhi - s:
            old_part = "".join(old_lines[alo + p : ahi - s])
            new_part = "".join(new_lines[blo + p : bhi - s])
            # a side left empty: what aligning it would give, at no cost
            if not old_part or not new_part or aligner.unrelated_texts(old_part, new_part):
                ops.extend(((DELETE, old_part), (INSERT, new_part)))
            else:
                _align_region(old_lines[alo + p : ahi - s], new_lines[blo + p : bhi - s])
        if s:
            ops.append((EQUAL, "".join(old_lines[ahi - s : ahi])))

    def _align_region(a_lines: Sequence[str], b_lines: Sequence[str]) -> None:
        # lines unique to both sides of the region, equal up to their whitespace, anchor
        # a line's key: its words joined by single spaces (no Python call per line)
        keys_a = list(map(" ".join, map(str.split, a_lines)))
        keys_b = list(map(" ".join, map(str.split, b_lines)))
        pi = pj = 0
        for i, j in [*_unique_pairs(keys_a, keys_b, _NO_KEY), (len(a_lines), len(b_lines))]:
            if i > pi or j > pj:
                segment(a_lines[pi:i], b_lines[pj:j])
            if i < len(a_lines):
                if a_lines[i] == b_lines[j]:
                    ops.append((EQUAL, a_lines[i]))
                else:
                    segment(a_lines[i : i + 1], b_lines[j : j + 1])
            pi, pj = i + 1, j + 1

    def segment(a_lines: Sequence[str], b_lines: Sequence[str]) -> None:
        old_tokens = _TOKENS("".join(a_lines))
        new_tokens = _TOKENS("".join(b_lines))
        runs = aligner.align(old_tokens, new_tokens)
        _runs_to_ops(runs, old_tokens, new_tokens, ops)

    # common leading and trailing lines first: the anchors are looked for in between only
    p = 0
    while p < n and p < m and x[p] == y[p]:
        p += 1
    s = 0
    while s < n - p and s < m - p and x[n - 1 - s] == y[m - 1 - s]:
        s += 1
    if p:
        ops.append((EQUAL, "".join(old_lines[:p])))
    pi, pj = p, p
    pairs: list[_Pair] = []
    if p < n - s and p < m - s:  # else no line is in both: no anchor
        blank = set(itertools.compress(ids.values(), map(str.isspace, ids)))
        pairs = _unique_pairs(x[p : n - s], y[p : m - s], blank)
    for i, j in pairs:
        i, j = i + p, j + p
        if i > pi or j > pj:
            region(pi, i, pj, j)
        ops.append((EQUAL, old_lines[i]))
        pi, pj = i + 1, j + 1
    region(pi, n - s, pj, m - s)
    if s:
        ops.append((EQUAL, "".join(old_lines[n - s :])))
    return ops  # not merged: the semantic cleanup merges them


_H = TypeVar("_H", int, str)
_K = TypeVar("_K")


def _unique_pairs(x: Sequence[_H], y: Sequence[_H], skip: Iterable[_H]) -> list[_Pair]:
    """(i, j) of the items occurring once in x and once in y (and not in ``skip``), the longest
    chain increasing on both sides (patience diff). Found without a Python loop over the
    items: with ``compress`` over the counts, and the index of each item in y (the last one:
    the only one, for an item once in y)."""
    count_a = Counter(x)
    count_b = Counter(y)
    once = set(itertools.compress(count_a, map(operator.eq, count_a.values(), _ONES)))
    once.intersection_update(itertools.compress(count_b, map(operator.eq, count_b.values(), _ONES)))
    once.difference_update(skip)
    if not once:
        return []
    where_b = dict(zip(y, range(len(y)), strict=True))
    idx = list(itertools.compress(range(len(x)), map(once.__contains__, x)))
    pairs = list(zip(idx, map(where_b.__getitem__, map(x.__getitem__, idx)), strict=True))
    return _longest_increasing(pairs, key=operator.itemgetter(1))


_ONES = itertools.repeat(1)  # endless: for map(operator.eq, counts, _ONES)


def _shared(a: Counter[_K], b: Counter[_K]) -> int:
    """The size of the intersection of two multisets (``(a & b).total()``, without a Python
    loop over the items of ``a``)."""
    common = a.keys() & b.keys()
    return sum(map(min, map(a.__getitem__, common), map(b.__getitem__, common)))


class _Aligner:
    """Aligns token sequences into runs of (op, token count) within a work budget shared by all
    the regions of one diff."""

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self.coarse_regions = 0
        self.unrelated_regions = 0
        self.a: list[int] = []
        self.b: list[int] = []
        self.runs: list[_Run] = []

    def unrelated_texts(self, old: str, new: str) -> bool:
        """Whether two long changed regions share so few words, or so few pairs of successive
        words (split at whitespace, as multisets), that they are a rewrite, replaced whole
        before they are even tokenized. Word pairs too: rewritten paragraphs still share many
        of their frequent words ("the", "of", "your") but few of their word pairs. Regions
        sharing three quarters of their words are edits, whatever their word pairs."""
        if len(old) < UNRELATED_MIN_CHARS or len(new) < UNRELATED_MIN_CHARS:
            return False
        a = old.split()
        b = new.split()
        half = (len(a) + len(b)) / 2
        self.budget -= (len(a) + len(b)) // SCAN_COST_DIVISOR
        shared_words = _shared(Counter(a), Counter(b))
        if shared_words >= 0.75 * half:  # most words kept: an edit, not a rewrite
            return False
        if (
            shared_words * UNRELATED_RATIO < half
            or _shared(Counter(itertools.pairwise(a)), Counter(itertools.pairwise(b)))
            * UNRELATED_PAIR_RATIO
            < half
        ):
            self.unrelated_regions += 1
            return True
        return False

    def align(self, old_tokens: Sequence[str], new_tokens: Sequence[str]) -> list[_Run]:
        # Tokens with one align key align: the same word or mark, whatever whitespace follows
        # (reflowed text aligns word for word). The key is the token without its whitespace;
        # it gets a small int id (numbered afresh for each call in order of first occurrence,
        # _BLANK for whitespace alone), all without a Python loop over the tokens.
        tokens = list(dict.fromkeys(itertools.chain(old_tokens, new_tokens)))
        keys = list(map(str.rstrip, tokens))
        key_id = dict(zip(dict.fromkeys(keys), itertools.count(1)))
        key_id[""] = _BLANK
        token_id = dict(zip(tokens, map(key_id.__getitem__, keys), strict=True))
        self.a = list(map(token_id.__getitem__, old_tokens))
        self.b = list(map(token_id.__getitem__, new_tokens))
        self.runs = []
        self._align(0, len(self.a), 0, len(self.b))
        return self.runs

    def _emit(self, op: int, n: int) -> None:
        if n <= 0:
            return
        if self.runs and self.runs[-1][0] == op:
            self.runs[-1] = (op, self.runs[-1][1] + n)
        else:
            self.runs.append((op, n))

    def _align(self, alo: int, ahi: int, blo: int, bhi: int) -> None:
        """Emit runs aligning a[alo:ahi] with b[blo:bhi]; an explicit stack keeps depth flat."""
        a, b = self.a, self.b
        stack: list[tuple[int, int, int, int, int]] = [(0, alo, ahi, blo, bhi)]
        while stack:
            kind, alo, ahi, blo, bhi = stack.pop()
            if kind == 1:  # a deferred equal run of ``ahi`` tokens
                self._emit(EQUAL, ahi)
                continue
            p = 0
            while alo + p < ahi and blo + p < bhi and a[alo + p] == b[blo + p]:
                p += 1
            self._emit(EQUAL, p)
            alo += p
            blo += p
            s = 0
            while ahi - s > alo and bhi - s > blo and a[ahi - 1 - s] == b[bhi - 1 - s]:
                s += 1
            ahi -= s
            bhi -= s
            if s:
                stack.append((1, 0, s, 0, 0))
            n, m = ahi - alo, bhi - blo
            if n == 0 or m == 0:
                self._emit(DELETE, n)
                self._emit(INSERT, m)
                continue
            splits: list[tuple[int, int, int]] = []
            if n * m > EXACT_AREA and self.budget > 0:
                splits = self._unique_splits(alo, ahi, blo, bhi) or self._histogram_split(
                    alo, ahi, blo, bhi
                )
            if not splits:
                if self._exact(a[alo:ahi], b[blo:bhi]):
                    continue
                # mostly unrelated words: keep only a long run common to both, if there is one
                splits = self._histogram_split(alo, ahi, blo, bhi)
                if not splits or splits[0][2] < UNRELATED_KEEP_RUN:
                    self.unrelated_regions += 1
                    self._emit(DELETE, n)
                    self._emit(INSERT, m)
                    continue
            # push right-to-left so the leftmost piece is handled first
            pieces: list[tuple[int, int, int, int, int]] = []
            pi, pj = alo, blo
            for i, j, k in splits:
                pieces.append((0, pi, i, pj, j))
                pieces.append((1, 0, k, 0, 0))
                pi, pj = i + k, j + k
            pieces.append((0, pi, ahi, pj, bhi))
            stack.extend(reversed(pieces))

    def _exact(self, x: list[int], y: list[int]) -> bool:
        """Emit a minimal alignment of x and y (no common prefix or suffix), or delete-and-insert
        if the budget or ``EXACT_MAX_AREA`` does not allow one; emit nothing and return False if
        their words are mostly unrelated."""
        area = len(x) * len(y)
        if area > UNRELATED_MIN_AREA:
            self.budget -= (len(x) + len(y)) // SCAN_COST_DIVISOR
            # the words (tokens other than whitespace) both share, as multisets: a longest
            # common subsequence of the two sorted sequences (C++, like the exact diff)
            blank_x, blank_y = x.count(_BLANK), y.count(_BLANK)
            words_x, words_y = len(x) - blank_x, len(y) - blank_y
            half = (words_x + words_y) / 2
            # they share at most the words of the shorter side: if that is too few, so is
            # the exact count (the sides of a pure insertion, or of a few words against a page)
            if min(words_x, words_y) * UNRELATED_RATIO < half:
                return False
            shared = LCSseq.similarity(sorted(x), sorted(y)) - min(blank_x, blank_y)
            if shared * UNRELATED_RATIO < half:
                return False
        self.budget -= area // EXACT_COST_DIVISOR + 1
        if self.budget < 0 or area > EXACT_MAX_AREA:
            self.coarse_regions += 1
            self._emit(DELETE, len(x))
            self._emit(INSERT, len(y))
            return True
        runs = self.runs  # appended as _emit would, without a call per run
        for op, k in _lcs_runs(x, y):
            if runs and runs[-1][0] == op:
                runs[-1] = (op, runs[-1][1] + k)
            else:
                runs.append((op, k))
        return True

    def _unique_splits(self, alo: int, ahi: int, blo: int, bhi: int) -> list[tuple[int, int, int]]:
        """(i, j, 1) for tokens occurring once in each side, longest increasing chain."""
        a, b = self.a, self.b
        self.budget -= ((ahi - alo) + (bhi - blo)) // SCAN_COST_DIVISOR
        count_a = Counter(a[alo:ahi])
        count_b = Counter(b[blo:bhi])
        # the tokens once in each side (not whitespace), found without a loop over the tokens
        once = {t for t, c in count_a.items() if c == 1}
        once.intersection_update(t for t, c in count_b.items() if c == 1)
        once.discard(_BLANK)
        where_b = {t: j for j, t in enumerate(b[blo:bhi], blo) if t in once}
        pairs = [(i, where_b[t], 1) for i, t in enumerate(a[alo:ahi], alo) if t in once]
        return _longest_increasing(pairs, key=operator.itemgetter(1))

    def _histogram_split(
        self, alo: int, ahi: int, blo: int, bhi: int
    ) -> list[tuple[int, int, int]]:
        """The longest common run through an occurrence of the rarest token common to both."""
        a, b = self.a, self.b
        self.budget -= ((ahi - alo) + (bhi - blo)) // SCAN_COST_DIVISOR
        count_a = Counter(a[alo:ahi])
        count_b = Counter(b[blo:bhi])
        best_tok, best_cost = -1, 0
        for tok, ca in count_a.items():
            cb = count_b.get(tok, 0)
            if cb == 0 or tok == _BLANK or ca > HISTOGRAM_MAX_COUNT or cb > HISTOGRAM_MAX_COUNT:
                continue
            cost = ca * cb
            if best_tok < 0 or cost < best_cost or (cost == best_cost and tok < best_tok):
                best_tok, best_cost = tok, cost
        if best_tok < 0:
            return []
        a_pos = [i for i in range(alo, ahi) if a[i] == best_tok]
        b_pos = [j for j in range(blo, bhi) if b[j] == best_tok]
        best = (0, 0, 0)
        for i in a_pos:
            for j in b_pos:
                s = 0
                while i - s > alo and j - s > blo and a[i - s - 1] == b[j - s - 1]:
                    s += 1
                e = 1
                while i + e < ahi and j + e < bhi and a[i + e] == b[j + e]:
                    e += 1
                self.budget -= s + e
                if s + e > best[2]:
                    best = (i - s, j - s, s + e)
        return [best]


def _longest_increasing(items: list[_T], key: Callable[[_T], int]) -> list[_T]:
    """The longest subsequence of ``items`` (already increasing in their first field) whose
    ``key`` also increases (patience sorting); the result depends on the input only."""
    keys = list(map(key, items))
    if all(map(operator.lt, keys, itertools.islice(keys, 1, None))):
        return list(items)  # the usual case (nothing moved): they all are that subsequence
    get = key
    tails: list[int] = []  # key of the last item of the best chain of each length
    tail_idx: list[int] = []
    prev: list[int] = [-1] * len(items)
    for n, item in enumerate(items):
        k = get(item)
        pos = bisect.bisect_left(tails, k)
        if pos == len(tails):
            tails.append(k)
            tail_idx.append(n)
        else:
            tails[pos] = k
            tail_idx[pos] = n
        prev[n] = tail_idx[pos - 1] if pos > 0 else -1
    out: list[_T] = []
    n = tail_idx[-1] if tail_idx else -1
    while n >= 0:
        out.append(items[n])
        n = prev[n]
    out.reverse()
    return out


_Opcode = tuple[str, int, int, int, int]  # tag, i1, i2, j1, j2 as in difflib


def _opcodes(x: Sequence[int] | str, y: Sequence[int] | str) -> list[_Opcode]:
    """rapidfuzz's Indel opcodes of x and y (an LCS: Hyyro's bit-parallel algorithm in C++).

    Sequences are passed as small int ids, never as lists of strings: rapidfuzz compares list
    items by ``hash()``, which for strings changes from one process to the next."""
    return cast(list[_Opcode], Indel.opcodes(x, y).as_list())


def _lcs_runs(x: list[int], y: list[int]) -> list[_Run]:
    """A longest common subsequence of x and y as runs, none empty (a pure function of x and
    y)."""
    runs: list[_Run] = []
    for tag, i1, i2, j1, j2 in _opcodes(x, y):
        if tag == "equal":
            if i2 > i1:
                runs.append((EQUAL, i2 - i1))
            continue
        if i2 > i1:
            runs.append((DELETE, i2 - i1))
        if j2 > j1:
            runs.append((INSERT, j2 - j1))
    return runs


# --- from runs to text ops, cleanup --------------------------------------------------------


def _runs_to_ops(
    runs: list[_Run], old_tokens: Sequence[str], new_tokens: Sequence[str], ops: list[Op]
) -> None:
    """Append the text ops of ``runs`` to ``ops`` (not merged: the semantic cleanup merges
    them all, so how an equality is cut into ops does not matter).
    Aligned tokens have the same word but maybe not the same whitespace after it; where they
    differ just before a run of edits, the whitespace goes with the edits ("foo bar" ->
    "foo, bar": the space is kept and the comma inserted)."""
    i = j = k = 0
    pend_d = pend_i = ""  # the differing whitespace of the last aligned pair before edits
    while k < len(runs):
        op, n = runs[k]
        k += 1
        if op == EQUAL:
            olds, news = old_tokens[i : i + n], new_tokens[j : j + n]
            i += n
            j += n
            if olds == news:
                ops.append((EQUAL, "".join(olds)))
                continue
            last = n - 1 if k < len(runs) else -1  # the last pair, if edits follow
            # the pairs whose whitespace differs, found without a loop over all the pairs; the
            # same tokens between them go out as one equality (the cleanup joins them anyway)
            start = 0
            for idx in itertools.compress(range(n), map(operator.ne, olds, news)):
                if idx > start:
                    ops.append((EQUAL, "".join(olds[start:idx])))
                t, u = olds[idx], news[idx]
                core = t.rstrip()
                ops.append((EQUAL, core))
                if idx == last:
                    pend_d, pend_i = t[len(core) :], u[len(core) :]
                else:
                    _whitespace_ops(t[len(core) :], u[len(core) :], ops)
                start = idx + 1
            if start < n:
                ops.append((EQUAL, "".join(olds[start:])))
            continue
        # a block of edits between two equal runs
        di = dj = 0
        if op == DELETE:
            di = n
        else:
            dj = n
        while k < len(runs) and runs[k][0] != EQUAL:
            if runs[k][0] == DELETE:
                di += runs[k][1]
            else:
                dj += runs[k][1]
            k += 1
        d = pend_d + "".join(old_tokens[i : i + di])
        e = pend_i + "".join(new_tokens[j : j + dj])
        pend_d = pend_i = ""
        _edit_ops(d, e, ops)
        i += di
        j += dj


def _whitespace_ops(d: str, i: str, ops: list[Op]) -> None:
    """A run of whitespace replacing another ("\n\n\n" -> "\n\n", " " -> "  "): their common
    prefix and suffix are equal text, only the extra characters are edits."""
    prefix, d, i, suffix = _common_ends(d, i)
    ops += [(EQUAL, prefix), (DELETE, d), (INSERT, i), (EQUAL, suffix)]


def _edit_ops(d: str, i: str, ops: list[Op]) -> None:
    """The ops of text ``d`` replaced by ``i`` (whole tokens). Tokens carry the whitespace after
    them, so the whitespace both start or end with is kept as equal text, as a diff of bare
    words would keep it ("red " -> "green ")."""
    if not d or not i:
        ops += [(DELETE, d), (INSERT, i)]
        return
    short = min(len(d), len(i))
    p = 0
    while p < short and d[p] == i[p] and d[p].isspace():
        p += 1
    s = 0
    while s < short - p and d[-1 - s] == i[-1 - s] and d[-1 - s].isspace():
        s += 1
    if p:
        ops.append((EQUAL, d[:p]))
    ops += [(DELETE, d[p : len(d) - s]), (INSERT, i[p : len(i) - s])]
    if s:
        ops.append((EQUAL, d[len(d) - s :]))


def merge_ops(ops: Iterable[Op]) -> list[Op]:
    """Drop empty ops, join neighbours of one kind, and within each run of edits put the
    deletion before the insertion. Texts are kept whole (no char-level factoring)."""
    out: list[Op] = []
    equal: list[str] = []
    dels: list[str] = []
    ins: list[str] = []
    for op, text in ops:
        if not text:
            continue
        if op == EQUAL:
            if dels:
                out.append((DELETE, "".join(dels)))
                dels = []
            if ins:
                out.append((INSERT, "".join(ins)))
                ins = []
            equal.append(text)
            continue
        if equal:
            out.append((EQUAL, "".join(equal)))
            equal = []
        if op == DELETE:
            dels.append(text)
        else:
            ins.append(text)
    if equal:
        out.append((EQUAL, "".join(equal)))
    if dels:
        out.append((DELETE, "".join(dels)))
    if ins:
        out.append((INSERT, "".join(ins)))
    return out


class _Edit:
    """A run of edits being built by :func:`semantic_cleanup`."""

    __slots__ = ("deleted", "dlen", "ilen", "inserted")

    def __init__(self) -> None:
        self.deleted: list[str] = []
        self.inserted: list[str] = []
        self.dlen = 0
        self.ilen = 0

    def add(self, op: int, text: str) -> None:
        if op != INSERT:
            self.deleted.append(text)
            self.dlen += len(text)
        if op != DELETE:
            self.inserted.append(text)
            self.ilen += len(text)

    def absorb(self, equality: str, after: _Edit) -> None:
        self.add(EQUAL, equality)  # an equality folded in: deleted and inserted again
        self.deleted += after.deleted
        self.inserted += after.inserted
        self.dlen += after.dlen
        self.ilen += after.ilen


def semantic_cleanup(ops: Iterable[Op], factor: int = 1) -> list[Op]:
    """Fold every equality that is no longer (in characters) than the edits on both sides of
    it into those edits, re-checking earlier equalities after each fold: diff-match-patch's
    first cleanup pass, done with a stack so it stays linear on a total rewrite, and without
    its char-level overlap factoring, so edits stay on token boundaries. With ``factor`` k an
    equality is folded only if k times its length is no longer than those edits. The ops need
    not be merged: the result is (as :func:`merge_ops` leaves it)."""
    stack: list[str | _Edit] = []
    equal: list[str] = []
    top: _Edit | None = None
    prev: _Edit | None = None  # the run of edits before the equality before ``top``, if any
    eq_len = 0  # the length of that equality
    for op, text in ops:
        if not text:
            continue
        if op == EQUAL:
            if top is not None:  # a run of edits ends: fold what it allows
                if prev is not None:
                    n = factor * eq_len  # _fold's first test, without a call when it fails
                    if not ((n > prev.dlen and n > prev.ilen) or (n > top.dlen and n > top.ilen)):
                        _fold(stack, factor)
                        top = cast(_Edit, stack[-1])
                prev = top
                top = None
            equal.append(text)
            continue
        if top is None:
            if equal:
                joined = "".join(equal)
                stack.append(joined)
                eq_len = len(joined)
                equal = []
            top = _Edit()
            stack.append(top)
        if op == DELETE:
            top.deleted.append(text)
            top.dlen += len(text)
        else:
            top.inserted.append(text)
            top.ilen += len(text)
    if top is not None:
        _fold(stack, factor)
    if equal:
        stack.append("".join(equal))
    # equalities and runs of edits alternate on the stack
    out: list[Op] = []
    for item in stack:
        if isinstance(item, str):
            out.append((EQUAL, item))
            continue
        if item.dlen:
            out.append((DELETE, "".join(item.deleted)))
        if item.ilen:
            out.append((INSERT, "".join(item.inserted)))
    return out


def _fold(stack: list[str | _Edit], factor: int) -> None:
    """Fold the equalities at the top of ``stack`` (edit, equality, edit, ...) while they are
    short enough. Sizes only grow, so checking once a run of edits is complete folds what
    checking after each of its edits would."""
    while len(stack) >= 3:
        before, equality, after = stack[-3], stack[-2], stack[-1]
        assert isinstance(before, _Edit) and isinstance(equality, str)
        assert isinstance(after, _Edit)
        n = factor * len(equality)
        if (n > before.dlen and n > before.ilen) or (n > after.dlen and n > after.ilen):
            return
        before.absorb(equality, after)
        del stack[-2:]


_DMP = diff_match_patch()


def _lossless(ops: list[Op]) -> list[Op]:
    """Slide single edits between equalities to the most natural boundary (texts unchanged).

    diff-match-patch's pass looks at each single edit between two equalities in turn. It is
    walked here the same way, but only an edit that can slide (it ends as the equality before
    it ends, or starts as the one after it starts) is handed to it, as the slice of those three
    ops: any other it would leave as it is, after scoring its one position in pure Python."""
    diffs = list(ops)
    p = 1
    while p < len(diffs) - 1:
        if diffs[p - 1][0] == EQUAL and diffs[p + 1][0] == EQUAL:
            before, edit, after = diffs[p - 1][1], diffs[p][1], diffs[p + 1][1]
            if edit and ((before and before[-1] == edit[-1]) or (after and after[0] == edit[0])):
                part = diffs[p - 1 : p + 2]
                _DMP.diff_cleanupSemanticLossless(part)
                diffs[p - 1 : p + 2] = part
                p -= 3 - len(part)  # as dmp steps back over each equality it empties
        p += 1
    if len(diffs) == len(ops):
        return diffs
    # It deletes the equalities it empties, which can leave edits side by side: they are merged
    # as merge_ops would (no op is empty, and no two equalities meet), run by run.
    kinds = list(map(operator.itemgetter(0), diffs))
    both_edits = itertools.compress(itertools.count(), map(operator.and_, kinds, kinds[1:]))
    out: list[Op] = []
    done = 0  # diffs[:done] are in ``out``
    for k in both_edits:  # diffs[k] and diffs[k + 1] are edits
        if k + 1 < done:
            continue  # in the run just merged
        end = k + 2
        while end < len(diffs) and kinds[end]:
            end += 1
        out += diffs[done:k]
        out += merge_ops(diffs[k:end])
        done = end
    out += diffs[done:]
    return out


def refine_chars(ops: Sequence[Op]) -> list[Op]:
    """Diff each replacement (a deletion followed by an insertion, at most ``REFINE_MAX_CHARS``
    on each side) again character by character: an exact LCS, then character equalities shorter
    than ``REFINE_MIN_EQUAL`` are folded back into the edits, and a semantic cleanup folds
    those not ``REFINE_FOLD_FACTOR`` times shorter than the edits around them. Where a run of
    whitespace replaces another ("\n\n\n" -> "\n\n", " " -> "  "), their common prefix and
    suffix are kept as equal text first."""
    out: list[Op] = []
    k = 0
    n = len(ops)
    while k < n:
        op, text = ops[k]
        if op != DELETE or k + 1 == n or ops[k + 1][0] != INSERT:
            if op == EQUAL and out and out[-1][0] == EQUAL:  # after a refined pair
                out[-1] = (EQUAL, out[-1][1] + text)
            else:
                out.append(ops[k])
            k += 1
            continue
        inserted = ops[k + 1][1]
        k += 2
        if text.isspace() and inserted.isspace():
            prefix, text, inserted, suffix = _common_ends(text, inserted)
            pieces = [(EQUAL, prefix), (DELETE, text), (INSERT, inserted), (EQUAL, suffix)]
            if text and inserted:
                pieces[1:3] = _refine_pair(text, inserted) or pieces[1:3]
        else:
            refined = _refine_pair(text, inserted)
            if refined is None:  # the usual case
                out += ops[k - 2 : k]
                continue
            pieces = refined
        for piece in pieces:
            if not piece[1]:
                continue
            if piece[0] == EQUAL and out and out[-1][0] == EQUAL:
                out[-1] = (EQUAL, out[-1][1] + piece[1])
            else:
                out.append(piece)
    return out


def _common_ends(d: str, i: str) -> tuple[str, str, str, str]:
    """(common prefix, rest of d, rest of i, common suffix) of d and i."""
    p = 0
    short = min(len(d), len(i))
    while p < short and d[p] == i[p]:
        p += 1
    s = 0
    while s < short - p and d[-1 - s] == i[-1 - s]:
        s += 1
    return d[:p], d[p : len(d) - s], i[p : len(i) - s], d[len(d) - s :]


def _refine_pair(deleted: str, inserted: str) -> list[Op] | None:
    """The refined ops of a replacement, merged; None to keep it as it is.

    The character equalities of at least ``REFINE_MIN_EQUAL`` are kept; the semantic cleanup
    (factor ``REFINE_FOLD_FACTOR``) then works on their positions only: the edit between two
    kept equalities is whatever lies between them in each text."""
    short, long = sorted((len(deleted), len(inserted)))
    if short < REFINE_MIN_EQUAL or long > REFINE_MAX_CHARS:
        return None  # too long to refine, or no equality long enough to keep can fit
    kept = [
        (i1, i2, j1, j2)
        for tag, i1, i2, j1, j2 in _opcodes(deleted, inserted)
        if tag == "equal" and i2 - i1 >= REFINE_MIN_EQUAL
    ]
    if not kept:
        return None  # the usual case: nothing common worth showing
    stack: list[tuple[int, int, int, int]] = []
    end = (len(deleted), len(deleted), len(inserted), len(inserted))
    for nxt in [*kept, end]:
        # the equality on top of the stack has its edit after it now: fold while allowed
        i1, j1 = nxt[0], nxt[2]
        while stack:
            t1, t2, u1, u2 = stack[-1]
            p2, q2 = (stack[-2][1], stack[-2][3]) if len(stack) > 1 else (0, 0)
            before, after = max(t1 - p2, u1 - q2), max(i1 - t2, j1 - u2)
            n = REFINE_FOLD_FACTOR * (t2 - t1)
            if before == 0 or after == 0 or n > before or n > after:
                break
            stack.pop()
        stack.append(nxt)
    out: list[Op] = []
    pi = pj = 0
    for i1, i2, j1, _ in stack:
        if i1 > pi:
            out.append((DELETE, deleted[pi:i1]))
        if j1 > pj:
            out.append((INSERT, inserted[pj:j1]))
        if i2 > i1:
            out.append((EQUAL, deleted[i1:i2]))
        pi, pj = i2, j1 + (i2 - i1)
    return out
