"""The text stages bundled for the version builder: stated date, diff, change analysis."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from diffing.classify import analyse_change
from diffing.dates import stated_date
from diffing.diff import diff_texts
from diffing.records import ChangeAnalysis, TextDiff


class TextAnalyser:
    """Implements ``storage.repository.Analyser`` with policytrail's own differ and rules."""

    def stated_date(self, text: str) -> date | None:
        return stated_date(text)

    def compare(
        self, old: str, new: str, history: Sequence[str] = ()
    ) -> tuple[TextDiff, ChangeAnalysis]:
        diff = diff_texts(old, new)
        return diff, analyse_change(old, new, diff, history=history)
