"""The pure parts of the report: clause labels, derived flags, the aligned side-by-side diff,
folding, corpus statistics and the SVG plots (well-formed, escaped)."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import UTC, date, datetime
from html import unescape

from hypothesis import given
from hypothesis import strategies as st

from diffing import plots
from diffing import report as r
from diffing.diff import diff_texts

SVG = "{http://www.w3.org/2000/svg}"


def dt(y: int, m: int, d: int = 1) -> datetime:
    return datetime(y, m, d, tzinfo=UTC)


def strip_tags(html: str) -> str:
    return unescape(re.sub(r"<[^>]+>", "", html))


def test_clause_labels_name_the_values_that_changed() -> None:
    clauses = [
        {
            "op": 1,
            "category": "Third Party Sharing/Collection",
            "sentence": "We share data with advertising partners.",
            "values": {"partner_types": ["advertising partners"]},
        },
        {
            "op": 1,
            "category": "Third Party Sharing/Collection",
            "sentence": "We share data with Google and advertising partners.",
            "values": {"third_parties": ["Google"], "partner_types": ["advertising partners"]},
        },
        {"op": -1, "category": "Data Retention", "sentence": "We keep it.", "values": {}},
        {"op": -1, "category": "Data Retention", "sentence": "Forever.", "values": {}},
        {"op": 1, "category": "Other", "sentence": "Hello.", "values": {}},
    ]
    assert r.clause_labels(clauses) == [
        "Data Retention: − 2 sentences",
        "Third Party Sharing: + advertising partners, Google",
        "Other: + 1 sentence",
    ]
    many = [
        {"op": 1, "category": "User Choice/Control", "sentence": "s", "values": {"laws": [x]}}
        for x in "ABCDEFG"
    ]
    assert r.clause_labels(many) == ["User Choice/Control: + A, B, C, D, E and 2 more"]


def test_stale_date_flag() -> None:
    before = dt(2023, 6, 1)
    # the new text states a date before a capture that still showed the old text
    assert r.change_flags("substantive", [], date(2023, 1, 1), before) == ["stale-date"]
    assert r.change_flags("substantive", [], date(2023, 6, 2), before) == []
    assert r.change_flags("whitespace", [], date(2023, 1, 1), before) == []
    assert r.change_flags("substantive", [], None, before) == []
    # an unchanged date is a silent edit already, not flagged twice
    assert r.change_flags("substantive", ["silent-edit"], date(2020, 1, 1), before) == [
        "silent-edit"
    ]


texts = st.lists(
    st.sampled_from(["alpha", "beta", "<b>", "&amp;", "x\ny", "\n", "\n\n", " ", "ü"]),
    max_size=30,
).map("".join)


@given(texts, texts)
def test_side_by_side_rebuilds_both_texts(old: str, new: str) -> None:
    ops = list(diff_texts(old, new).ops)
    rows = r._aligned_rows(ops)
    left = "\n".join(strip_tags(a) for a, _, _ in rows)
    right = "\n".join(strip_tags(b) for _, b, _ in rows)
    # every row is one line of each text (empty lines dropped); deleted/inserted text keeps
    # its own line breaks inside the cell
    assert [x for x in left.split("\n") if x] == [x for x in old.split("\n") if x]
    assert [x for x in right.split("\n") if x] == [x for x in new.split("\n") if x]


def test_side_by_side_shows_changed_paragraphs_with_context() -> None:
    old = "\n\n".join(f"Paragraph {i} says the same thing." for i in range(20))
    new = old.replace("Paragraph 10 says", "Paragraph 10 now says")
    html = r.render_side_by_side(list(diff_texts(old, new).ops))
    assert html.count("<tr class=changed>") == 1
    assert "<ins>now </ins>" in html or "<ins>now</ins>" in html
    assert "Paragraph 9 " in html and "Paragraph 11 " in html  # one paragraph of context
    assert "Paragraph 3 " not in html
    assert "⋯ 9 unchanged paragraphs" in html and "⋯ 8 unchanged paragraphs" in html


def test_inline_diff_escapes_and_folds_long_unchanged_text() -> None:
    old = "<script>alert(1)</script> " + "unchanged words " * 200 + "end."
    new = old.replace("end.", "the end.")
    html = r.render_inline(list(diff_texts(old, new).ops), context=100)
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<details class=fold><summary>" in html
    # folding hides nothing: without the fold labels and the deletions, the page is the new text
    shown = re.sub(r"<summary>.*?</summary>|<del>.*?</del>", "", html, flags=re.S)
    assert strip_tags(shown) == new
    old2 = "keep this. " * 100 + "drop me. " + "and this. " * 100
    html2 = r.render_inline(list(diff_texts(old2, old2.replace("drop me. ", "")).ops))
    assert strip_tags(re.sub(r"<summary>.*?</summary>|<del>.*?</del>", "", html2)) == (
        old2.replace("drop me. ", "")
    )


def test_safe_href_lets_only_http_out() -> None:
    assert r.safe_href("https://web.archive.org/web/1id_/http://a.org/?a=1&b=2") == (
        "https://web.archive.org/web/1id_/http://a.org/?a=1&amp;b=2"
    )
    for bad in ["javascript:alert(1)", " JavaScript:alert(1)", "data:text/html,x", "vbscript:x"]:
        assert r.safe_href(bad) == "#"
    assert 'href="#"' in r.out_link("javascript:alert(1)", "x")


def test_every_page_carries_the_csp_and_the_feed_link() -> None:
    html = r.page("a <b>", "body", feed="feed.atom")
    assert f'content="{r.CSP}"' in html and "default-src 'none'" in r.CSP
    assert "<title>a &lt;b&gt;</title>" in html
    assert '<link rel="alternate" type="application/atom+xml"' in html


def test_corpus_stats_per_half_year() -> None:
    def v(first: datetime, last: datetime, words: int, gdpr: bool = False) -> r.VersionFacts:
        return r.VersionFacts(first, last, words, gdpr, False)

    versions = {
        1: [v(dt(2020, 2), dt(2020, 3), 100), v(dt(2020, 9), dt(2021, 3), 300, gdpr=True)],
        2: [v(dt(2020, 5), dt(2021, 5), 1000, gdpr=True)],
        3: [v(dt(2021, 8), dt(2021, 8), 50)],  # first seen later
    }
    changes = [(dt(2020, 9), True), (dt(2020, 10), False), (dt(2021, 8), False)]
    stats = {s.label: s for s in r.corpus_stats(versions, changes)}
    assert list(stats) == ["2020-H1", "2020-H2", "2021-H1", "2021-H2"]
    assert stats["2020-H1"].policies == 2 and stats["2020-H1"].median_words == 550
    assert stats["2020-H1"].gdpr_share == 0.5
    assert stats["2020-H2"].median_words == 650 and stats["2020-H2"].gdpr_share == 1.0
    assert stats["2020-H2"].changes == 2 and stats["2020-H2"].sharing_share == 0.5
    # policy 1 was last seen in March 2021, policy 2 in May: both still count in 2021-H1
    assert stats["2021-H1"].policies == 2 and stats["2021-H1"].sharing_share is None
    # in 2021-H2 only policy 3 was observed
    assert stats["2021-H2"].policies == 1 and stats["2021-H2"].median_words == 50
    assert r.corpus_stats({}, []) == []


def test_plots_are_well_formed_svg_with_escaped_labels() -> None:
    points = [
        plots.LengthPoint(dt(2020, 1), dt(2020, 5), 1000, "v1 <script>"),
        plots.LengthPoint(dt(2020, 6), dt(2022, 1), 2500, "v2"),
    ]
    marks = [plots.ChangeMark(dt(2020, 6), date(2019, 12, 1), "a & b", "change-2.html", True)]
    svg = plots.timeline_svg(points, marks)
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg"
    assert "<script>" not in svg and "v1 &lt;script&gt;" in svg
    (link,) = root.iter(f"{SVG}a")
    assert link.get("href") == "change-2.html"
    # the stated date (before the first version) is inside the plot
    assert all(float(x) >= 0 for x in re.findall(r'cx="([-\d.]+)"', svg))
    chart = plots.line_chart_svg(
        "t",
        ["2020-H1", "2020-H2", "2021-H1"],
        [plots.Series("GDPR", [0.5, None, 1.0])],
        percent=True,
    )
    croot = ET.fromstring(chart)
    (path,) = [p for p in croot.iter(f"{SVG}path") if p.get("class") == "series"]
    assert path.get("d", "").count("M") == 2  # the gap breaks the line
    bars = ET.fromstring(plots.bar_chart_svg("t", ["a", "b"], [0.25, None], ["1 of 4", ""]))
    assert len([b for b in bars.iter(f"{SVG}rect") if b.get("class") == "bar"]) == 1
    assert ET.fromstring(plots.timeline_svg([], [])).tag == f"{SVG}svg"
