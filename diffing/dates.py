"""The date a policy states for itself: "Last updated: June 20, 2009", "Stand: 01.05.2021" ...

``stated_date(text)`` finds a trigger phrase (last updated / modified / revised, effective date,
effective as of, and the German, French, Spanish, Italian, Dutch and Portuguese equivalents)
followed, after at most a few connecting words and punctuation, by a date in one of the usual
forms: ``6/20/2009``, ``June 20, 2009``, ``20 June 2009``, ``20th of June 2009``,
``20.06.2009``, ``2009-06-20``, ``1er janvier 2020``, ``20 de junio de 2009``, ``Mai 2018``.

Numeric dates: ``.`` separates day.month.year; with ``/`` or ``-`` a first number above 12 is a
day, a second above 12 is a day, and an ambiguous pair is month/day after an English trigger and
day/month after any other. Two-digit years are 19xx from 70 up, else 20xx. A month without a day
is the 1st of that month. Pure function, no locale dependence.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass
from datetime import date

from diffing import literals

_MONTHS: dict[str, int] = {}
for _number, _names in enumerate(
    [
        "january jan januar jänner janvier janv enero ene gennaio genn januari janeiro",
        "february feb februar février fevrier févr fevr febrero febbraio febbr februari "
        "fevereiro fev",
        "march mar märz maerz mars marzo maart março marco",
        "april apr avril avr abril aprile",
        "may mai mayo maggio mei maio",
        "june jun juni juin junio giugno giu junho",
        "july jul juli juillet juil julio luglio lug julho",
        "august aug août aout agosto ago augustus",
        "september sep sept septembre septiembre setiembre settembre sett setembro set",
        "october oct oktober okt octobre octubre ottobre ott outubro out",
        "november nov novembre noviembre novembro",
        "december dec dezember dez décembre decembre déc diciembre dic dicembre dezembro",
    ],
    start=1,
):
    for _name in _names.split():
        _MONTHS[_name] = _number

_MONTH = "|".join(sorted((re.escape(m) for m in _MONTHS), key=lambda m: (-len(m), m)))
_ORD = r"(?:st|nd|rd|th|er|re|e|º|°|ª|\.)?"
_DATE = (
    rf"(?P<iso>(?P<iy>(?:19|20)\d\d)[-/.](?P<im>\d{{1,2}})[-/.](?P<id>\d{{1,2}}))(?!\d)"
    rf"|(?P<num>(?P<n1>\d{{1,2}})(?P<sep>[./-])(?P<n2>\d{{1,2}})(?P=sep)(?P<n3>\d{{4}}|\d\d))(?!\d)"
    rf"|(?P<mdy>(?P<m1>{_MONTH})\.?\s+(?P<d1>\d{{1,2}}){_ORD},?\s+(?P<y1>\d{{4}}))"
    rf"|(?P<dmy>(?P<d2>\d{{1,2}}){_ORD}\s*(?:of\s+|de\s+)?(?P<m2>{_MONTH})\.?,?\s*"
    rf"(?:of\s+|de\s+|del\s+)?(?P<y2>\d{{4}}))"
    rf"|(?P<my>(?P<m3>{_MONTH})\.?,?\s+(?:of\s+|de\s+|del\s+)?(?P<y3>\d{{4}}))"
)

# Trigger phrases; ``strong`` ones name the policy's date outright, weak ones ("updated",
# "effective", "en vigueur") only count when no strong one is followed by a date.
_STRONG_TRIGGERS = {
    "en": [
        r"(?:date\s+(?:of\s+)?)?last\s+(?:updated|modified|revised|amended|changed|reviewed)",
        r"last\s+(?:update|revision|modification|amendment|change)",
        r"effective\s+date",
        r"date\s+effective",
        r"(?:policy\s+)?effective\s+(?:as\s+of|from|since)",
        r"(?:revision|version|publication)\s+date",
        r"date\s+of\s+(?:last\s+)?(?:revision|update|modification)",
        r"updated\s+as\s+of",
        r"in\s+effect\s+(?:as\s+of|from|since)",
        r"in\s+force\s+(?:as\s+of|from|since)",
        r"(?:applies|applicable|valid)\s+(?:as\s+of|from|since)",
    ],
    "de": [
        r"stand",
        r"zuletzt\s+(?:aktualisiert|geändert|überarbeitet|bearbeitet)",
        r"letzte\s+(?:aktualisierung|änderung|überarbeitung)",
        r"aktualisiert\s+am",
        r"gültig\s+(?:ab|seit)",
        r"gelten\s+ab",
        r"gilt\s+ab",
        r"in\s+kraft\s+(?:seit|ab|getreten\s+am)",
        r"datum\s+des\s+inkrafttretens",
        r"(?:version|fassung)\s+vom",
    ],
    "fr": [
        r"(?:date\s+de\s+(?:la\s+)?)?dernière\s+(?:mise\s+à\s+jour|modification|révision)",
        r"mise?\s+à\s+jour\s+(?:pour\s+la\s+dernière\s+fois\s+)?le",
        r"(?:s['’]applique|applicable|valable)\s+(?:à\s+partir|à\s+compter)\s+d[eu]",
        r"date\s+d['’]entrée\s+en\s+vigueur",
        r"en\s+vigueur\s+(?:à\s+compter\s+du|à\s+partir\s+du|depuis\s+le|le|au)",
        r"modifiée?\s+le",
        r"(?:version|politique)\s+du",
    ],
    "es": [
        r"(?:fecha\s+de\s+(?:la\s+)?)?última\s+(?:actualización|modificación|revisión)",
        r"actualizad[oa]\s+(?:el|a|en)",
        r"fecha\s+de\s+(?:entrada\s+en\s+vigor|vigencia|actualización)",
        r"(?:vigente|en\s+vigor)\s+(?:desde|a\s+partir\s+del?)",
    ],
    "it": [
        r"(?:data\s+(?:dell['’])?)?ultimo\s+aggiornamento",
        r"ultima\s+(?:modifica|revisione)",
        r"aggiornat[oa]\s+(?:il|al)",
        r"data\s+di\s+(?:entrata\s+in\s+vigore|decorrenza)",
        r"(?:in\s+vigore|valid[oa]|efficace)\s+dal",
    ],
    "nl": [
        r"laatst\s+(?:bijgewerkt|gewijzigd|herzien|aangepast)",
        r"laatste\s+(?:update|wijziging|herziening|aanpassing)",
        r"(?:bijgewerkt|gewijzigd)\s+op",
        r"ingangsdatum",
        r"van\s+kracht\s+(?:vanaf|sinds|per|met\s+ingang\s+van)",
        r"met\s+ingang\s+van",
        r"versie\s+van",
    ],
    "pt": [
        r"(?:data\s+da\s+)?última\s+(?:atualização|actualização|modificação|revisão|alteração)",
        r"(?:atualizad|actualizad|modificad|revisad)[oa]\s+em",
        r"data\s+de\s+(?:vigência|entrada\s+em\s+vigor|atualização)",
        r"(?:em\s+vigor|vigente)\s+(?:desde|a\s+partir\s+de)",
    ],
}
_WEAK_TRIGGERS = {
    "en": [r"updated", r"revised", r"modified", r"effective", r"amended", r"version"],
    "fr": [r"en\s+vigueur", r"mise?\s+à\s+jour"],
    "de": [r"aktualisiert", r"geändert"],
    "es": [r"actualizad[oa]", r"vigencia"],
    "it": [r"aggiornat[oa]"],
    "nl": [r"bijgewerkt", r"gewijzigd"],
    "pt": [r"atualizad[oa]", r"vigência"],
}

# Between a trigger and its date: punctuation, markdown or html emphasis, and a few words.
_GAP = r"(?:[\s*_:.,\-–—()\[\]|>#]|</?\w{1,6}>)*"
_FILLER = (
    r"(?:(?:on|as\s+of|of|from|at|is|was|le|du|au|am|vom|ab|seit|el|del|de|a|il|al|dal|op|per|"
    r"em|since|a\s+partir\s+de|à\s+partir\s+du|à\s+compter\s+du|this\s+(?:policy|notice)|date)"
    rf"\b{_GAP})"
)


def _trigger_group(triggers: dict[str, list[str]], strength: str) -> str:
    parts = []
    for lang, patterns in triggers.items():
        alternatives = "|".join(sorted(patterns, key=len, reverse=True))
        parts.append(rf"(?P<{strength}_{lang}>{alternatives})")
    return "|".join(parts)


# A phrase starts at a word start: not after a word character or a hyphen.
_STATED_NOT_AFTER = r"[\w-]"
_STATED_RE = re.compile(
    rf"(?<!{_STATED_NOT_AFTER})(?:{_trigger_group(_STRONG_TRIGGERS, 'strong')}|"
    rf"{_trigger_group(_WEAK_TRIGGERS, 'weak')})"
    rf"\b{_GAP}{_FILLER}{{0,3}}(?P<date>{_DATE})(?![\w/])",
    re.IGNORECASE,
)


# A change log line: "*August 15, 2023:* Updated list of sub-processors." (weak, English).
_DATE_FIRST_RE = re.compile(
    rf"(?<![\w/.-])(?P<date>{_DATE})[\s*_:.,)\]–—-]{{1,6}}(?:last\s+)?(?:updated|revised|modified)\b",
    re.IGNORECASE,
)

_TRIGGER_GROUPS = [f"strong_{lang}" for lang in _STRONG_TRIGGERS] + [
    f"weak_{lang}" for lang in _WEAK_TRIGGERS
]


_DATE_FIRST_KEYWORD = re.compile(r"(?:last\s+)?(?:updated|revised|modified)\b", re.IGNORECASE)
_DATE_FIRST_WINDOW = 80  # a date and its separator before the keyword fit in this many chars


# Where a match can start (diffing.literals): a long text is only tried at those positions,
# which gives the same matches as scanning every position, several times faster.
# ``_STATED_HEADS`` ends each head at a ``\s`` (for ``literals.finditer``); the scan below uses
# ``_STATED_KEYS``, which go on past it.
_STATED_HEADS = literals.head_literals(_STATED_RE)
_DATE_FIRST_KEYWORD_HEADS = literals.head_literals(_DATE_FIRST_KEYWORD)

# Where a stated-date phrase can start: where the folded text holds one of the heads of
# ``_STATED_RE`` (``literals.head_literals``; a ``\s`` in a trigger gives one head per space
# character, so "in" followed by a space, not every "in" inside a word), found with the
# date-first keyword's heads in one pass of an Aho-Corasick automaton (``literals.KeywordIndex``)
# over the folded text. The full pattern is then tried at those places only: every match starts
# at one of them, so the matches are those of a search at every position.
_STATED_KEYS = literals.head_literals(_STATED_RE, spaces=True, limit=1024)
_TRIGGER_INDEX = literals.KeywordIndex(
    (_STATED_KEYS or set()) | (_DATE_FIRST_KEYWORD_HEADS or set())
)
_IS_STATED_KEY = tuple(s in (_STATED_KEYS or ()) for s in _TRIGGER_INDEX.strings)
_IS_KEYWORD_KEY = tuple(s in (_DATE_FIRST_KEYWORD_HEADS or ()) for s in _TRIGGER_INDEX.strings)


# Before the full pattern (re.IGNORECASE: its ~80 trigger alternatives are each entered), a
# position must start a whole trigger phrase in the folded text, not after a word character or
# a hyphen: the same test on folded text, which is faster. A trigger matches a text iff it
# matches its fold (re.IGNORECASE), and where a fold leaves ``\w`` (Greek iota) its ``\b`` lets
# more positions through, never fewer; a character outside ``_STATED_NOT_AFTER`` folds to one
# outside it too (the tests check both): the positions let through hold every match start.
# Triggers written in folded characters only (all of them today) match a folded text without
# re.IGNORECASE, which is faster: a character of the text folds to one of theirs iff it is
# that character.
_TRIGGERS = "|".join(
    p for table in (_STRONG_TRIGGERS, _WEAK_TRIGGERS) for ps in table.values() for p in ps
)
_TRIGGER_AT = re.compile(
    rf"(?<!{_STATED_NOT_AFTER})(?:{_TRIGGERS})\b"
    if literals.fold(_TRIGGERS) == _TRIGGERS
    else rf"(?<!{_STATED_NOT_AFTER})(?i:(?:{_TRIGGERS})\b)"
)


def _starts(folded: str) -> tuple[list[int], list[int]]:
    """Sorted positions of ``folded`` where a head of ``_STATED_RE`` occurs, and where one of
    ``_DATE_FIRST_KEYWORD`` does, from one pass of the automaton (a position may come twice:
    the second try there changes nothing)."""
    back = _TRIGGER_INDEX.back
    hits = _TRIGGER_INDEX.hits(folded)
    stated = sorted([end - back[i] for end, i in hits if _IS_STATED_KEY[i]])
    keyword = sorted([end - back[i] for end, i in hits if _IS_KEYWORD_KEY[i]])
    return stated, keyword


def _stated_matches(text: str, folded: str) -> list[re.Match[str]]:
    """``_STATED_RE.finditer(text)``, tried only where a head occurs (``folded``: its fold)."""
    return _stated_matches_at(text, folded, _starts(folded)[0])


def _stated_matches_at(text: str, folded: str, starts: list[int]) -> list[re.Match[str]]:
    if _STATED_KEYS is None:  # pragma: no cover - heads not derived: search everywhere
        return list(_STATED_RE.finditer(text))
    out: list[re.Match[str]] = []
    pos = 0
    match = _STATED_RE.match
    trigger = _TRIGGER_AT.match
    for start in starts:
        if start < pos or trigger(folded, start) is None:
            continue
        m = match(text, start)
        if m is not None:
            out.append(m)
            pos = m.end()
    return out


def _date_first_matches(text: str, starts: list[int]) -> list[tuple[re.Match[str], int]]:
    """``_DATE_FIRST_RE`` matches, found from the cheap keyword backwards (``starts``: where
    the keyword's heads occur): scanning the whole text with a pattern that starts with a date
    costs ~18 ms on a 35k-char policy, this ~1 ms."""
    out: list[tuple[re.Match[str], int]] = []
    last_end = -1
    keywords = (
        _DATE_FIRST_KEYWORD.finditer(text)
        if _DATE_FIRST_KEYWORD_HEADS is None  # pragma: no cover - heads not derived
        else _keyword_matches(text, starts)
    )
    for k in keywords:
        offset = max(0, k.start() - _DATE_FIRST_WINDOW)
        window = text[offset : k.end()]
        for m in _DATE_FIRST_RE.finditer(window):
            if offset + m.end() != k.end() or offset + m.start() <= last_end:
                continue
            if m.start() == 0 and offset > 0 and re.match(r"[\w/.-]", text[offset - 1]):
                continue  # the window cut a longer token: not a date start
            out.append((m, offset))
            last_end = offset + m.end()
    return out


def _keyword_matches(text: str, starts: list[int]) -> list[re.Match[str]]:
    """``_DATE_FIRST_KEYWORD.finditer(text)``, tried only at ``starts``."""
    out: list[re.Match[str]] = []
    pos = 0
    for start in starts:
        if start < pos:
            continue
        m = _DATE_FIRST_KEYWORD.match(text, start)
        if m is not None:
            out.append(m)
            pos = m.end()
    return out


@dataclass(frozen=True, slots=True)
class StatedDate:
    """One stated-date phrase found in a text."""

    value: date
    start: int  # char span of the whole phrase, trigger to date
    end: int
    strong: bool
    language: str  # the language of the trigger phrase


def find_stated_dates(text: str) -> list[StatedDate]:
    """Every trigger-and-date phrase in ``text`` that names a real date, in text order."""
    return list(_find_stated_dates(text))


@functools.lru_cache(maxsize=64)
def _find_stated_dates(text: str) -> tuple[StatedDate, ...]:
    # a version's text is scanned for its stated date, then again as the old and the new side of
    # its changes: remember the last few (~12 ms each on a 35k-char policy)
    found: list[StatedDate] = []
    folded = literals.fold(text)
    stated_starts, keyword_starts = _starts(folded)
    for m in _stated_matches_at(text, folded, stated_starts):
        trigger = next(name for name in _TRIGGER_GROUPS if m.group(name))
        strength, language = trigger.split("_", 1)
        value = _parse_date(m, english=language == "en")
        if value is not None:
            found.append(StatedDate(value, m.start(), m.end(), strength == "strong", language))
    for m, offset in _date_first_matches(text, keyword_starts):
        value = _parse_date(m, english=True)
        start, end = offset + m.start(), offset + m.end()
        if value is not None and not any(f.start <= start < f.end for f in found):
            found.append(StatedDate(value, start, end, False, "en"))
    found.sort(key=lambda f: f.start)
    return tuple(found)


def stated_date(text: str) -> date | None:
    """The date the policy states for itself: the first date after a strong trigger ("last
    updated", "Stand", "dernière mise à jour" ...), else after a weak one ("updated")."""
    found = find_stated_dates(text)
    for item in found:
        if item.strong:
            return item.value
    return found[0].value if found else None


def stated_date_spans(text: str) -> list[tuple[int, int]]:
    """Char spans of all stated-date phrases (trigger through date), in text order."""
    return [(item.start, item.end) for item in find_stated_dates(text)]


def _month(name: str) -> int:
    key = name.lower().rstrip(".")
    if key in _MONTHS:
        return _MONTHS[key]
    folded = "".join(
        c for c in unicodedata.normalize("NFD", key) if unicodedata.category(c) != "Mn"
    )
    return _MONTHS.get(folded, 0)


def _year(text: str) -> int:
    year = int(text)
    if len(text) == 2:
        year += 1900 if year >= 70 else 2000
    return year


def _parse_date(m: re.Match[str], *, english: bool) -> date | None:
    g = m.group
    if g("iso"):
        y, mo, d = int(g("iy")), int(g("im")), int(g("id"))
    elif g("num"):
        a, b, y = int(g("n1")), int(g("n2")), _year(g("n3"))
        if g("sep") == "." or a > 12:
            d, mo = a, b
        elif b > 12 or english:
            mo, d = a, b
        else:
            d, mo = a, b
    elif g("mdy"):
        mo, d, y = _month(g("m1")), int(g("d1")), int(g("y1"))
    elif g("dmy"):
        d, mo, y = int(g("d2")), _month(g("m2")), int(g("y2"))
    else:
        mo, d, y = _month(g("m3")), 1, int(g("y3"))
    if not 1990 <= y <= 2100:
        return None
    try:
        return date(y, mo, d)
    except ValueError:
        return None
