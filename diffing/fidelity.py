"""How faithful an extraction is to a reference text: the metric the normaliser's tests and its
benchmark share, so the two can never measure different things."""

from __future__ import annotations

import collections
import re

_WORD = re.compile(r"\w+")


def tokens(text: str) -> collections.Counter[str]:
    """Lowercase ``\\w+`` tokens as a multiset."""
    return collections.Counter(_WORD.findall(text.lower()))


def token_f1(ours: str, reference: str) -> float:
    """F1 of the token multisets of ``ours`` against ``reference`` (1.0 when both are empty)."""
    a, b = tokens(ours), tokens(reference)
    if not a or not b:
        return float(a == b)
    common = sum((a & b).values())
    if not common:
        return 0.0
    precision, recall = common / sum(a.values()), common / sum(b.values())
    return 2 * precision * recall / (precision + recall)


def reference_body(markdown: str) -> str:
    """A seed-format text without its header line and ``# title`` (the title is compared apart)."""
    lines = markdown.split("\n")
    if lines and lines[0].startswith("> *"):
        lines = lines[1:]
    while lines and not lines[0].strip():
        lines = lines[1:]
    if lines and lines[0].startswith("# "):
        lines = lines[1:]
    return "\n".join(lines)
