"""Deterministic word-level diff of two policy texts.

``diff_texts(old, new)`` is a pure function: its result depends on the two texts only, never on
a time limit or the speed of the machine. diff-match-patch's ``Diff_Timeout`` makes a char-level
diff give up ("delete everything, insert everything") on long real revisions, and without it a
char-level diff of a long revision can take minutes; a line-level diff is fast but marks whole
paragraphs changed for a one-word edit. So the diff here works in stages:

1. Both texts are cut into tokens (words, runs of spaces, runs of newlines, single punctuation
   marks); the tokens of each text join back to the text exactly. For alignment every run of
   spaces counts as one token and every run of newlines as another, so reflowed text still
   aligns word for word; differing runs become small whitespace edits afterwards.
2. Lines that occur exactly once in each text are matched (patience diff: the longest increasing
   run of such pairs) and become fixed anchors.
3. Between anchors, tokens are aligned recursively: common prefix and suffix; a small region
   goes to an exact diff (Myers' O(ND), or Hunt-Szymanski's LCS when a few tokens face a long
   run); a large one is split at tokens unique to both sides (patience again) or, failing that,
   at the longest common run around its rarest common token (histogram diff). A region whose
   words are mostly not shared at all is a rewrite and is replaced whole
   (``params["unrelated_regions"]``).
4. All of this is charged to a work budget fixed by the input sizes. A region that would exceed
   it is reported as deleted and inserted as a whole (``params["coarse_regions"]`` counts them),
   so a total rewrite stays fast and the output never depends on timing.
5. The token ops get a semantic cleanup (an equality no longer than the edits on both sides of
   it is folded into them, as in diff-match-patch, measured in characters) and edits are slid to
   the most natural boundary (blank line, line, sentence, word) with diff-match-patch's lossless
   cleanup, which never changes the texts.
"""

from __future__ import annotations

import bisect
import functools
import itertools
import json
import operator
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from typing import TypeVar

import diff_match_patch as _dmp_module
from diff_match_patch import diff_match_patch

from diffing.records import DiffStats, TextDiff

ALGORITHM = "policytrail-word-diff"
VERSION = 1

DELETE, EQUAL, INSERT = -1, 0, 1

# Every character falls into exactly one alternative, so the tokens of a text join back to it.
_TOKEN_RE = re.compile(r"\w+|\n+|[^\S\n]+|[^\w\s]")
_WORD_RE = re.compile(r"\w+")

# A region with at most this many token pairs (len(a) * len(b)) goes straight to the exact diff.
EXACT_AREA = 40_000
# Histogram splitting ignores tokens more frequent than this in the region (as git does).
HISTOGRAM_MAX_COUNT = 64
# The work budget: BUDGET_BASE + BUDGET_PER_TOKEN * (tokens in both texts). A unit is roughly one
# step of the Myers inner loop or one token scanned by a split.
BUDGET_BASE = 60_000
BUDGET_PER_TOKEN = 4
# A region of more than UNRELATED_MIN_AREA token pairs whose words are less than
# 1 / UNRELATED_RATIO shared (as multisets, whitespace left out) is a rewrite: it is deleted and
# inserted whole without looking for the scattered common words the cleanup would fold anyway.
UNRELATED_MIN_AREA = 400
UNRELATED_RATIO = 3
# ... unless it holds a run of at least this many tokens common to both (a kept heading).
UNRELATED_KEEP_RUN = 8
# Scanning a token to count or split costs this many times less than a Myers step.
SCAN_COST_DIVISOR = 4

Op = tuple[int, str]
_Run = tuple[int, int]  # (op, number of tokens)
_T = TypeVar("_T")
_DMP_VERSION = str(getattr(_dmp_module, "__version__", "unknown"))


def tokenize(text: str) -> list[str]:
    """The tokens of ``text``: words, runs of spaces, runs of newlines, single other characters."""
    return list(_tokens(text))


@functools.lru_cache(maxsize=4)
def _tokens(text: str) -> tuple[str, ...]:
    # a version is the new side of one diff and the old side of the next
    return tuple(_TOKEN_RE.findall(text))


def diff_texts(old: str, new: str) -> TextDiff:
    """A deterministic word-level diff from ``old`` to ``new``.

    ``ops`` follow diff-match-patch's convention (-1 delete, 0 equal, 1 insert); every op's text
    is a whole number of tokens except where the lossless cleanup slid an edit inside a run of
    whitespace. ``params`` names the algorithm, its version and parameters, and how many regions
    fell back to delete-and-insert because the work budget ran out.
    """
    old_tokens = _tokens(old)
    new_tokens = _tokens(new)
    budget = BUDGET_BASE + BUDGET_PER_TOKEN * (len(old_tokens) + len(new_tokens))
    aligner = _Aligner(old_tokens, new_tokens, budget)
    runs = aligner.run()
    ops = _runs_to_ops(runs, old_tokens, new_tokens)
    ops = _factor_whitespace(ops)
    ops = semantic_cleanup(ops)
    ops = _factor_whitespace(ops)
    ops = _lossless(ops)
    params: dict[str, object] = {
        "algorithm": ALGORITHM,
        "version": VERSION,
        "tokenizer": _TOKEN_RE.pattern,
        "anchors": "unique-lines,unique-tokens,histogram",
        "exact": "myers-token,hunt-szymanski",
        "whitespace": "runs-align,edits-factored",
        "exact_area": EXACT_AREA,
        "histogram_max_count": HISTOGRAM_MAX_COUNT,
        "work_budget": budget,
        "cleanup": "semantic-token,lossless",
        "diff_match_patch": _DMP_VERSION,  # its lossless cleanup is used as is
        "unrelated_min_area": UNRELATED_MIN_AREA,
        "unrelated_ratio": UNRELATED_RATIO,
        "unrelated_keep_run": UNRELATED_KEEP_RUN,
        "coarse_regions": aligner.coarse_regions,
        "unrelated_regions": aligner.unrelated_regions,
    }
    return TextDiff(ops=tuple(ops), stats=diff_stats(ops), params=params)


def diff_stats(ops: Sequence[Op]) -> DiffStats:
    """Words added and removed, and the share of words common to both texts (1.0 if both empty)."""
    # one findall per kind of op: a newline between op texts cannot join two words
    added, removed, common = (
        len(_WORD_RE.findall("\n".join(text for op, text in ops if op == kind)))
        for kind in (INSERT, DELETE, EQUAL)
    )
    total = 2 * common + added + removed
    similarity = 1.0 if total == 0 else round(2 * common / total, 6)
    return DiffStats(words_added=added, words_removed=removed, similarity=similarity)


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
_SENTENCE_END_RE = re.compile(r"[.!?…]+[\"'”’)\]]*(?=\s)")


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
    pos = 0
    for line in text.splitlines(keepends=True):
        _line_sentences(text, pos, pos + len(line.rstrip("\r\n")), spans)
        pos += len(line)
    return tuple(spans)


_LEAD_RE = re.compile(r"\s*(?:(?:[*+-]|#{1,6}|>|\d{1,3}[.)])\s+)*")
_NON_SPACE_RE = re.compile(r"\S")
_ALNUM_RE = re.compile(r"[^\W_]")  # what str.isalnum() accepts


def _line_sentences(text: str, start: int, end: int, spans: list[tuple[int, int]]) -> None:
    line = text[start:end]
    lead = _LEAD_RE.match(line)
    cursor = lead.end() if lead else 0
    for m in _SENTENCE_END_RE.finditer(line, cursor):
        stop = m.end()
        # the run of word characters and dots just before the stop (scanned backwards: a
        # search from the line start would make long lines quadratic)
        w = m.start()
        while w > 0 and (line[w - 1].isalnum() or line[w - 1] in "_."):
            w -= 1
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
    while s < e and text[s].isspace():
        s += 1
    while e > s and text[e - 1].isspace():
        e -= 1
    if e > s and _ALNUM_RE.search(text, s, e) is not None:
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
    removed = _touched(old, old_edits)
    added = _touched(new, new_edits)
    removed_keys = Counter(" ".join(old[s:e].split()) for s, e in removed)
    added_keys = Counter(" ".join(new[s:e].split()) for s, e in added)
    common = removed_keys & added_keys
    return _drop_common(new, added, common), _drop_common(old, removed, common)


def _touched(text: str, edits: list[tuple[int, int]]) -> list[Span]:
    out: list[Span] = []
    starts = [s for s, _ in edits]
    for s, e in _sentence_spans(text):
        # edits are sorted by start; look at those starting before the sentence ends
        k = bisect.bisect_left(starts, e)
        while k > 0:
            k -= 1
            es, ee = edits[k]
            if ee < s:
                break
            overlaps = es < e and ee > s
            inside = es == ee and s < es < e
            if overlaps or inside:
                out.append((s, e))
                break
    return out


def _drop_common(text: str, spans: list[Span], common: Counter[str]) -> list[Span]:
    left = Counter(common)
    out: list[Span] = []
    for s, e in spans:
        key = " ".join(text[s:e].split())
        if left[key] > 0:
            left[key] -= 1
        else:
            out.append((s, e))
    return out


# --- alignment -----------------------------------------------------------------------------


_NEWLINE, _SPACE = 0, 1  # the ids of the align keys of all newline runs, all space runs
assert _NEWLINE == 0  # _Aligner._lines relies on it


def _align_key(token: str) -> str:
    if token[0].isspace():
        return "\n" if "\n" in token else " "
    return token


class _Aligner:
    """Aligns two token sequences into runs of (op, token count) within a work budget."""

    def __init__(self, old_tokens: Sequence[str], new_tokens: Sequence[str], budget: int) -> None:
        # All runs of spaces align with each other, and all runs of newlines: a reflowed text
        # aligns word for word and the whitespace differences become small edits afterwards.
        ids: dict[str, int] = {"\n": _NEWLINE, " ": _SPACE}
        distinct = dict.fromkeys(itertools.chain(old_tokens, new_tokens))
        token_id = {t: ids.setdefault(_align_key(t), len(ids)) for t in distinct}
        self.a = [token_id[t] for t in old_tokens]
        self.b = [token_id[t] for t in new_tokens]
        self.blank = {_NEWLINE, _SPACE}
        self.budget = budget
        self.coarse_regions = 0
        self.unrelated_regions = 0
        self.runs: list[_Run] = []

    def run(self) -> list[_Run]:
        pi = pj = 0
        for ai, aj, bi, bj in self._line_anchors():
            self._align(pi, ai, pj, bi)
            self._emit(EQUAL, aj - ai)
            pi, pj = aj, bj
        self._align(pi, len(self.a), pj, len(self.b))
        return self.runs

    def _emit(self, op: int, n: int) -> None:
        if n <= 0:
            return
        if self.runs and self.runs[-1][0] == op:
            self.runs[-1] = (op, self.runs[-1][1] + n)
        else:
            self.runs.append((op, n))

    @staticmethod
    def _lines(seq: list[int]) -> list[tuple[tuple[int, ...], int, int]]:
        """(content key, start, end) of each line of a token sequence, newline tokens excluded."""
        # the positions of newline runs (id 0, the only id for which ``not`` is true)
        breaks = list(itertools.compress(itertools.count(), map(operator.not_, seq)))
        lines: list[tuple[tuple[int, ...], int, int]] = []
        start = 0
        for k in [*breaks, len(seq)]:
            if k > start:
                lines.append((tuple(seq[start:k]), start, k))
            start = k + 1
        return lines

    def _line_anchors(self) -> list[tuple[int, int, int, int]]:
        """Token spans (a_start, a_end, b_start, b_end) of lines unique to both texts, in order."""
        old_lines = self._lines(self.a)
        new_lines = self._lines(self.b)
        count_a = Counter(key for key, _, _ in old_lines)
        count_b = Counter(key for key, _, _ in new_lines)
        where_b = {key: (s, e) for key, s, e in new_lines if count_b[key] == 1}
        pairs: list[tuple[int, int, int, int]] = []
        for key, s, e in old_lines:
            if count_a[key] == 1 and key in where_b and not set(key) <= self.blank:
                bs, be = where_b[key]
                pairs.append((s, e, bs, be))
        return _longest_increasing(pairs, key=lambda p: p[2])

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
        if the budget does not allow one; emit nothing and return False if their words are
        mostly unrelated. Myers' O(ND) algorithm costs about (D/2)^2 steps with
        D >= |len(x) - len(y)|; where the token pairs that match are fewer than that (a few old
        words inside a long insertion), Hunt-Szymanski's LCS over the matching pairs is used."""
        if self.budget <= 0:
            self.coarse_regions += 1
            self._emit(DELETE, len(x))
            self._emit(INSERT, len(y))
            return True
        myers_floor = (abs(len(x) - len(y)) // 2 + 1) ** 2
        if len(x) * len(y) > UNRELATED_MIN_AREA or myers_floor > 1_000:
            count_x = Counter(x)
            count_y = Counter(y)
            self.budget -= (len(x) + len(y)) // SCAN_COST_DIVISOR
            if len(x) * len(y) > UNRELATED_MIN_AREA:
                blank = self.blank
                words_x = sum(c for t, c in count_x.items() if t not in blank)
                words_y = sum(c for t, c in count_y.items() if t not in blank)
                shared = sum(min(c, count_y[t]) for t, c in count_x.items() if t not in blank)
                if shared * UNRELATED_RATIO < (words_x + words_y) / 2:
                    return False
            pairs = sum(count_y[t] * c for t, c in count_x.items())
            if 2 * pairs < myers_floor:
                self.budget -= 2 * pairs
                if self.budget < 0:
                    self.coarse_regions += 1
                    self._emit(DELETE, len(x))
                    self._emit(INSERT, len(y))
                    return True
                for op, k in _lcs_runs(x, y):
                    self._emit(op, k)
                return True
        for op, k in _Myers(self, x, y).diff():
            self._emit(op, k)
        return True

    def _unique_splits(self, alo: int, ahi: int, blo: int, bhi: int) -> list[tuple[int, int, int]]:
        """(i, j, 1) for tokens occurring once in each side, longest increasing chain."""
        a, b = self.a, self.b
        self.budget -= ((ahi - alo) + (bhi - blo)) // SCAN_COST_DIVISOR
        count_a = Counter(a[alo:ahi])
        count_b = Counter(b[blo:bhi])
        where_b = {b[j]: j for j in range(blo, bhi) if count_b[b[j]] == 1}
        pairs = [
            (i, where_b[a[i]], 1)
            for i in range(alo, ahi)
            if count_a[a[i]] == 1 and a[i] in where_b and a[i] not in self.blank
        ]
        return _longest_increasing(pairs, key=lambda p: p[1])

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
            if cb == 0 or tok in self.blank or ca > HISTOGRAM_MAX_COUNT or cb > HISTOGRAM_MAX_COUNT:
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


def _lcs_runs(x: list[int], y: list[int]) -> list[_Run]:
    """A longest common subsequence of x and y as runs (Hunt-Szymanski: O((r + n) log n) for
    r matching pairs), for alignments where matches are rare."""
    where: dict[int, list[int]] = {}
    for j, tok in enumerate(y):
        where.setdefault(tok, []).append(j)
    thresholds: list[int] = []  # thresholds[k]: least j ending a common subsequence of k + 1
    links: list[tuple[int, int, object]] = []
    for i, tok in enumerate(x):
        for j in reversed(where.get(tok, ())):
            k = bisect.bisect_left(thresholds, j)
            node = (i, j, links[k - 1] if k else None)
            if k == len(thresholds):
                thresholds.append(j)
                links.append(node)
            elif j < thresholds[k]:
                thresholds[k] = j
                links[k] = node
    matches: list[tuple[int, int]] = []
    cur: object = links[-1] if links else None
    while cur is not None:
        assert isinstance(cur, tuple)
        matches.append((cur[0], cur[1]))
        cur = cur[2]
    matches.reverse()
    runs: list[_Run] = []
    pi = pj = 0
    for i, j in [*matches, (len(x), len(y))]:
        for op, k in ((DELETE, i - pi), (INSERT, j - pj), (EQUAL, 1 if i < len(x) else 0)):
            if k:
                runs.append((op, k))
        pi, pj = i + 1, j + 1
    return runs


class _Myers:
    """Myers' O(ND) diff over token ids (diff-match-patch's bisection, ported to lists), charged
    to the aligner's work budget instead of a clock."""

    def __init__(self, owner: _Aligner, x: list[int], y: list[int]) -> None:
        self.owner = owner
        self.x = x
        self.y = y

    def diff(self) -> list[_Run]:
        return self._main(self.x, self.y)

    def _main(self, x: list[int], y: list[int]) -> list[_Run]:
        if x == y:
            return [(EQUAL, len(x))] if x else []
        p = 0
        limit = min(len(x), len(y))
        while p < limit and x[p] == y[p]:
            p += 1
        s = 0
        limit -= p
        while s < limit and x[-1 - s] == y[-1 - s]:
            s += 1
        middle = self._compute(x[p : len(x) - s], y[p : len(y) - s])
        out: list[_Run] = [(EQUAL, p)] if p else []
        out.extend(middle)
        if s:
            out.append((EQUAL, s))
        return out

    def _compute(self, x: list[int], y: list[int]) -> list[_Run]:
        if not x:
            return [(INSERT, len(y))]
        if not y:
            return [(DELETE, len(x))]
        if len(x) == 1 or len(y) == 1:
            short, long_, op = (x, y, INSERT) if len(x) == 1 else (y, x, DELETE)
            if short[0] in long_:
                k = long_.index(short[0])
                runs = [(op, k), (EQUAL, 1), (op, len(long_) - k - 1)]
                return [r for r in runs if r[1] > 0]
            return [(DELETE, len(x)), (INSERT, len(y))]
        return self._bisect(x, y)

    def _bisect(self, x: list[int], y: list[int]) -> list[_Run]:
        owner = self.owner
        n, m = len(x), len(y)
        max_d = (n + m + 1) // 2
        v_offset = max_d
        v_length = 2 * max_d
        v1 = [-1] * v_length
        v1[v_offset + 1] = 0
        v2 = v1[:]
        delta = n - m
        front = delta % 2 != 0
        k1start = k1end = k2start = k2end = 0
        for d in range(max_d):
            owner.budget -= 2 * d + 2
            if owner.budget < 0:
                break
            for k1 in range(-d + k1start, d + 1 - k1end, 2):
                k1_offset = v_offset + k1
                if k1 == -d or (k1 != d and v1[k1_offset - 1] < v1[k1_offset + 1]):
                    x1 = v1[k1_offset + 1]
                else:
                    x1 = v1[k1_offset - 1] + 1
                y1 = x1 - k1
                while x1 < n and y1 < m and x[x1] == y[y1]:
                    x1 += 1
                    y1 += 1
                v1[k1_offset] = x1
                if x1 > n:
                    k1end += 2
                elif y1 > m:
                    k1start += 2
                elif front:
                    k2_offset = v_offset + delta - k1
                    if (
                        0 <= k2_offset < v_length
                        and v2[k2_offset] != -1
                        and x1 >= n - v2[k2_offset]
                    ):
                        return self._split(x, y, x1, y1)
            for k2 in range(-d + k2start, d + 1 - k2end, 2):
                k2_offset = v_offset + k2
                if k2 == -d or (k2 != d and v2[k2_offset - 1] < v2[k2_offset + 1]):
                    x2 = v2[k2_offset + 1]
                else:
                    x2 = v2[k2_offset - 1] + 1
                y2 = x2 - k2
                while x2 < n and y2 < m and x[-x2 - 1] == y[-y2 - 1]:
                    x2 += 1
                    y2 += 1
                v2[k2_offset] = x2
                if x2 > n:
                    k2end += 2
                elif y2 > m:
                    k2start += 2
                elif not front:
                    k1_offset = v_offset + delta - k2
                    if 0 <= k1_offset < v_length and v1[k1_offset] != -1:
                        x1 = v1[k1_offset]
                        y1 = v_offset + x1 - k1_offset
                        if x1 >= n - x2:
                            return self._split(x, y, x1, y1)
        if owner.budget < 0:
            owner.coarse_regions += 1
        return [(DELETE, n), (INSERT, m)]

    def _split(self, x: list[int], y: list[int], i: int, j: int) -> list[_Run]:
        return self._main(x[:i], y[:j]) + self._main(x[i:], y[j:])


# --- from runs to text ops, cleanup --------------------------------------------------------


def _runs_to_ops(
    runs: list[_Run], old_tokens: Sequence[str], new_tokens: Sequence[str]
) -> list[Op]:
    ops: list[Op] = []
    i = j = 0
    for op, n in runs:
        if op == EQUAL and old_tokens[i : i + n] == new_tokens[j : j + n]:
            ops.append((EQUAL, "".join(old_tokens[i : i + n])))
            i += n
            j += n
        elif op == EQUAL:
            # aligned tokens are equal up to the length of whitespace runs
            for k in range(n):
                t, u = old_tokens[i + k], new_tokens[j + k]
                if t == u:
                    ops.append((EQUAL, t))
                else:
                    ops += [(DELETE, t), (INSERT, u)]
            i += n
            j += n
        elif op == DELETE:
            ops.append((DELETE, "".join(old_tokens[i : i + n])))
            i += n
        else:
            ops.append((INSERT, "".join(new_tokens[j : j + n])))
            j += n
    return merge_ops(ops)


def merge_ops(ops: Iterable[Op]) -> list[Op]:
    """Drop empty ops, join neighbours of one kind, and within each run of edits put the
    deletion before the insertion. Texts are kept whole (no char-level factoring)."""
    out: list[Op] = []
    equal: list[str] = []
    dels: list[str] = []
    ins: list[str] = []

    def flush_edits() -> None:
        if dels:
            out.append((DELETE, "".join(dels)))
            dels.clear()
        if ins:
            out.append((INSERT, "".join(ins)))
            ins.clear()

    for op, text in ops:
        if not text:
            continue
        if op == EQUAL:
            if not equal:
                flush_edits()
            equal.append(text)
            continue
        if equal:
            out.append((EQUAL, "".join(equal)))
            equal.clear()
        (dels if op == DELETE else ins).append(text)
    if equal:
        out.append((EQUAL, "".join(equal)))
    flush_edits()
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


def semantic_cleanup(ops: Sequence[Op]) -> list[Op]:
    """Fold every equality that is no longer (in characters) than the edits on both sides of
    it into those edits, re-checking earlier equalities after each fold: diff-match-patch's
    first cleanup pass, done with a stack so it stays linear on a total rewrite, and without
    its char-level overlap factoring, so edits stay on token boundaries."""
    stack: list[str | _Edit] = []
    for op, text in merge_ops(ops):
        if op == EQUAL:
            stack.append(text)
            continue
        top = stack[-1] if stack else None
        if not isinstance(top, _Edit):
            top = _Edit()
            stack.append(top)
        top.add(op, text)
        while len(stack) >= 3:
            before, equality, after = stack[-3], stack[-2], stack[-1]
            if not (isinstance(before, _Edit) and isinstance(equality, str)):
                break
            assert isinstance(after, _Edit)
            n = len(equality)
            if n > max(before.dlen, before.ilen) or n > max(after.dlen, after.ilen):
                break
            before.absorb(equality, after)
            del stack[-2:]
    out: list[Op] = []
    for item in stack:
        if isinstance(item, str):
            out.append((EQUAL, item))
        else:
            out += [(DELETE, "".join(item.deleted)), (INSERT, "".join(item.inserted))]
    return merge_ops(out)


def _factor_whitespace(ops: list[Op]) -> list[Op]:
    """Where a run of whitespace replaces another ("\n\n\n" -> "\n\n", " " -> "  "), keep
    their common prefix and suffix as equal text: only the extra characters are edits."""
    out: list[Op] = []
    k = 0
    while k < len(ops):
        if (
            k + 1 < len(ops)
            and ops[k][0] == DELETE
            and ops[k + 1][0] == INSERT
            and ops[k][1].isspace()
            and ops[k + 1][1].isspace()
        ):
            d, i = ops[k][1], ops[k + 1][1]
            p = 0
            while p < min(len(d), len(i)) and d[p] == i[p]:
                p += 1
            s = 0
            while s < min(len(d), len(i)) - p and d[-1 - s] == i[-1 - s]:
                s += 1
            out += [(EQUAL, d[:p]), (DELETE, d[p : len(d) - s]), (INSERT, i[p : len(i) - s])]
            out.append((EQUAL, d[len(d) - s :]))
            k += 2
        else:
            out.append(ops[k])
            k += 1
    return merge_ops(out)


_DMP = diff_match_patch()


def _lossless(ops: list[Op]) -> list[Op]:
    """Slide single edits between equalities to the most natural boundary (texts unchanged)."""
    diffs = list(ops)
    _DMP.diff_cleanupSemanticLossless(diffs)
    return merge_ops(diffs)
