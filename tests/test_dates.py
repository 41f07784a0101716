"""Stated-date extraction (diffing.dates)."""

from __future__ import annotations

import json
from datetime import date

import pytest

from diffing.dates import find_stated_dates, stated_date, stated_date_spans
from tests.conftest import shared_path as _shared


def test_seed_000_stated_date() -> None:
    seed = sorted(_shared("seeds").glob("000_*.txt"))[0]
    text = seed.read_text(encoding="utf-8")
    assert stated_date(text) == date(2009, 6, 20)
    (span,) = stated_date_spans(text)
    assert text[span[0] : span[1]] == "last modified on 6/20/2009"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # English, the forms of the issue
        ("This privacy policy was last modified on 6/20/2009.", date(2009, 6, 20)),
        ("Last updated: June 20, 2009", date(2009, 6, 20)),
        ("Last Updated: 20 June 2009", date(2009, 6, 20)),
        ("Last revised 20.06.2009", date(2009, 6, 20)),
        ("Updated on 2009-06-20.", date(2009, 6, 20)),
        ("Effective as of June 20th, 2009", date(2009, 6, 20)),
        ("Effective Date: Nov 08, 2023", date(2023, 11, 8)),
        ("**Effective Date:** 15 December, 2021", date(2021, 12, 15)),
        ("*Last updated February 23, 2022.*", date(2022, 2, 23)),
        ("Last Updated: November 13th 2025", date(2025, 11, 13)),
        ("updated 20th of June 2009", date(2009, 6, 20)),
        ("This Privacy Policy was last updated on: August 18, 2005", date(2005, 8, 18)),
        ("This Privacy Policy applies from 29/04/2022.", date(2022, 4, 29)),
        ("Version: 11.05.2021", date(2021, 5, 11)),
        ("effective 6/20/09", date(2009, 6, 20)),
        ("- *August 15, 2023:* Updated list of sub-processors.", date(2023, 8, 15)),
        # German
        ("Stand: 20.06.2009", date(2009, 6, 20)),
        ("Stand: Juni 2021", date(2021, 6, 1)),
        ("zuletzt aktualisiert am 1. Januar 2020", date(2020, 1, 1)),
        ("Diese Datenschutzbestimmungen gelten ab 10.08.2024.", date(2024, 8, 10)),
        ("<u>In Kraft getreten am:</u> 25. Mai 2018", date(2018, 5, 25)),
        # French
        ("Dernière mise à jour : 04.05.2021", date(2021, 5, 4)),
        ("Politique mise à jour le 1er janvier 2020.", date(2020, 1, 1)),
        ("<u>DATE D’ENTRÉE EN VIGUEUR</u> : 25 mai 2018", date(2018, 5, 25)),
        ("mise à jour pour la dernière fois le 5 novembre 2024.", date(2024, 11, 5)),
        ("Cette politique s’applique à partir de 29/04/2022.", date(2022, 4, 29)),
        ("En vigueur : 24 juin 2026", date(2026, 6, 24)),
        # Spanish, Italian, Dutch, Portuguese
        ("Última actualización: 20 de junio de 2009", date(2009, 6, 20)),
        ("Fecha de entrada en vigor: 3 de septiembre de 2020", date(2020, 9, 3)),
        ("Ultimo aggiornamento: 20 giugno 2009", date(2009, 6, 20)),
        ("In vigore dal 1° marzo 2021", date(2021, 3, 1)),
        ("Laatst bijgewerkt op 20 juni 2009", date(2009, 6, 20)),
        ("Ingangsdatum: 1 mei 2022", date(2022, 5, 1)),
        ("Última atualização: 20 de junho de 2009", date(2009, 6, 20)),
        ("Atualizado em 5 de março de 2023", date(2023, 3, 5)),
    ],
)
def test_stated_date_forms(text: str, expected: date) -> None:
    assert stated_date(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "We collect your date of birth.",
        "When we change this Policy, we will modify the “Last Updated” date above.",
        "Last updated: sometime in spring",
        "Last updated: 31/02/2020",  # no such day
        "Last updated: 1/1/1850",  # implausible year
        "We were founded on June 20, 2009.",  # a date without a trigger
        "Loi du 6 janvier 1978 modifiée par la loi du 6 août 2004",
    ],
)
def test_no_stated_date(text: str) -> None:
    assert stated_date(text) is None


def test_ambiguous_numeric_dates_follow_the_trigger_language() -> None:
    assert stated_date("Last updated 01/02/2020") == date(2020, 1, 2)  # US month/day
    assert stated_date("Stand: 01/02/2020") == date(2020, 2, 1)  # day/month elsewhere
    assert stated_date("Last updated 13/02/2020") == date(2020, 2, 13)  # unambiguous


def test_strong_trigger_wins_over_an_earlier_weak_one() -> None:
    text = "The GDPR became effective on May 25, 2018.\n\nLast updated: January 3, 2025"
    assert stated_date(text) == date(2025, 1, 3)
    assert [f.strong for f in find_stated_dates(text)] == [False, True]


def test_first_strong_trigger_wins() -> None:
    text = "Last revised on January 3, 2025.\n\nEffective Date: March 1, 2025"
    assert stated_date(text) == date(2025, 1, 3)
    assert len(stated_date_spans(text)) == 2


def test_spans_cover_the_whole_phrase() -> None:
    text = "Intro.\n\n**Last updated:** June 20, 2009\n\nBody."
    (span,) = stated_date_spans(text)
    assert text[span[0] : span[1]] == "Last updated:** June 20, 2009"


def test_real_captures_from_the_ota_warc() -> None:
    """Stated dates of real captures, extracted by a quick test helper from the shared WARC."""
    import trafilatura
    from warcio.archiveiterator import ArchiveIterator

    expected = {
        ("https://www.parship.fr/privacypolicy/", "2024-10-01T00:34:12Z"): date(2024, 9, 18),
        ("https://fruitz.io/privacy/en", "2024-07-17T18:32:21Z"): date(2024, 7, 16),
        ("https://www.finya.de/Legal/privacy/", "2025-10-02T00:32:25Z"): date(2021, 5, 1),
        ("https://badoo.com/privacy", "2025-04-01T00:32:14Z"): date(2024, 11, 5),
        ("https://hily.com/privacypolicy", "2023-01-30T12:32:39Z"): date(2021, 12, 15),
    }
    warc = _shared("data", "ota-policies", "ota-policies.warc.gz")
    found: dict[tuple[str, str], date | None] = {}
    with warc.open("rb") as fh:
        for rec in ArchiveIterator(fh):
            if rec.rec_type != "response":
                continue
            key = (
                rec.rec_headers.get_header("WARC-Target-URI"),
                rec.rec_headers.get_header("WARC-Date"),
            )
            if key in expected:
                html = rec.content_stream().read().decode("utf-8", "replace")
                text = trafilatura.extract(html, output_format="markdown", favor_recall=True)
                found[key] = stated_date(text or "")
    assert found == expected


def test_citp_reference_texts() -> None:
    """The Princeton corpus' own markdown of real policies states these dates."""
    manifest = _shared("data", "citp-pairs", "manifest.jsonl")
    domains = {json.loads(line)["domain"] for line in manifest.read_text().splitlines()}
    expected = {
        "boodigo.com": date(2014, 10, 29),
        "chacha.com": date(2014, 6, 10),
        "kidsdomain.com": date(2006, 2, 14),
        "sopcast.org": date(2009, 6, 20),
        "xtreemhost.com": date(2008, 11, 9),
        "amahi.org": None,
    }
    assert set(expected) <= domains
    for domain, value in expected.items():
        (md,) = _shared("data", "citp-pairs", domain).glob("*.md")
        assert stated_date(md.read_text(encoding="utf-8")) == value, domain
