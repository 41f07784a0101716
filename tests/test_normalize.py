"""The normaliser on real archived pages (../shared/data) and on small synthetic cases."""

from __future__ import annotations

import codecs
import functools
import json
import os
import re
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from selectolax.lexbor import LexborHTMLParser

import diffing.normalize as normalize_module
from diffing.extract_rules import ExtractionRule, load_rules, parse_rules, rules_for
from diffing.fidelity import reference_body, token_f1
from diffing.normalize import (
    NORMALISER_VERSION,
    iter_warc_documents,
    normalize,
    seed_markdown,
    text_hash,
)
from diffing.records import Document, Verdict
from tests.conftest import SHARED, shared_path

CITP = SHARED / "data" / "citp-pairs"
OTA_WARC = SHARED / "data" / "ota-policies" / "ota-policies.warc.gz"
OTA_MANIFEST = SHARED / "data" / "ota-policies" / "manifest.jsonl"
GOLDEN = Path(__file__).resolve().parent / "golden" / "normalize"


def _shared(path: Path) -> Path:
    return shared_path(*path.relative_to(SHARED).parts)


# --------------------------------------------------------------------------------------------
# fidelity against the Princeton-Leuven corpus' own extraction of the same snapshots


def citp_rows() -> list[dict[str, object]]:
    manifest = _shared(CITP / "manifest.jsonl")
    return [json.loads(line) for line in manifest.read_text().splitlines() if line.strip()]


def citp_pair(row: dict[str, object]) -> tuple[bytes, str]:
    stem = CITP / str(row["domain"]) / str(row["archive_date"]).replace("-", "")
    return stem.with_suffix(".html").read_bytes(), stem.with_suffix(".md").read_text()


@functools.cache
def citp_scores() -> dict[str, float]:
    scores = {}
    for row in citp_rows():
        html, markdown = citp_pair(row)
        scores[str(row["domain"])] = token_f1(normalize(html).text, reference_body(markdown))
    return scores


SEED_DOMAINS = ["imlive.com", "softorino.com", "sopcast.org", "sostec.so", "vzochat.com"]


def test_seed_rows_are_the_five_seed_sites() -> None:
    assert sorted(str(r["domain"]) for r in citp_rows() if r["seed"]) == SEED_DOMAINS


@pytest.mark.parametrize("domain", SEED_DOMAINS)
def test_seed_site_fidelity(domain: str) -> None:
    assert citp_scores()[domain] >= 0.95


def test_mean_fidelity_at_least_trafilatura() -> None:
    # trafilatura (markdown, favor_recall) measures 0.969 mean on these 47 pairs
    scores = citp_scores()
    assert len(scores) == 47
    assert sum(scores.values()) / len(scores) >= 0.97
    assert min(scores.values()) >= 0.7


def test_sopcast_title_and_paragraphs() -> None:
    row = next(r for r in citp_rows() if r["domain"] == "sopcast.org")
    doc = normalize(citp_pair(row)[0])
    assert doc.title == "Disclaimer"
    assert doc.language == "en"
    assert doc.verdict is Verdict.OK
    assert "What do we use your information for?\n\n" in doc.text
    assert "* To personalize your experience\n* To improve our website\n" in doc.text
    assert "This privacy policy was last modified on 6/20/2009." in doc.text
    for chrome in ("Sign In", "My Sop", "Downloads", "adsbygoogle"):
        assert chrome not in doc.text


# --------------------------------------------------------------------------------------------
# Open Terms Archive captures


@functools.cache
def ota_documents() -> dict[tuple[str, str], Document]:
    return {(url, ts): doc for url, ts, doc in iter_warc_documents(_shared(OTA_WARC))}


@functools.cache
def ota_digests() -> dict[tuple[str, str], str]:
    rows = [json.loads(x) for x in _shared(OTA_MANIFEST).read_text().splitlines() if x.strip()]
    return {(r["url"], r["timestamp"]): r["sha1_b32"] for r in rows}


def ota(url_part: str, ts: str) -> Document:
    found = [d for (u, t), d in ota_documents().items() if url_part in u and t.startswith(ts)]
    assert len(found) == 1, (url_part, ts, len(found))
    return found[0]


def test_warc_yields_every_response() -> None:
    docs = ota_documents()
    assert len(docs) == 130
    assert set(docs) == set(ota_digests())
    assert all(re.fullmatch(r"\d{14}", ts) for _, ts in docs)
    assert all(d.normaliser_version == NORMALISER_VERSION for d in docs.values())


def test_hily_stub() -> None:
    doc = ota("hily.com", "20260822")
    assert doc.verdict is Verdict.STUB
    assert "sgcaptcha" in doc.verdict_reason


def test_badoo_javascript_shell() -> None:
    for url, ts in (("badoo.com/privacy/", "20231212"), ("badoo.com/privacy", "20231213")):
        doc = ota(url, ts)
        assert doc.verdict is Verdict.JS_SHELL, (url, ts)
        assert doc.verdict_reason
        assert doc.text  # non-ok documents keep their text
    assert ota("badoo.com/privacy/", "20211231").verdict is Verdict.OK


def test_policy_url_redirected_to_home_page_is_not_a_policy() -> None:
    for url, ts in (
        ("uk.match.com", "20240424"),
        ("meetic.fr", "20240501"),
        ("disonsdemain.fr", "20240501"),
        ("lovescout24.de", "20240501"),
    ):
        assert ota(url, ts).verdict is Verdict.NOT_POLICY, (url, ts)


def test_every_other_capture_is_ok() -> None:
    bad = {k: d.verdict for k, d in ota_documents().items() if d.verdict is not Verdict.OK}
    assert len(bad) == 7, bad


# chrome strings checked by hand in the raw HTML (navigation, footers, cookie banners, spam)
CHROME = [
    ("eharmony.co.uk", "20240101", ["Success Stories", "Dating Safety Tips", "Promo-Codes"]),
    ("finya.de", "20240604", ["Kostenlos registrieren", "Singles in Berlin", "Weitere Links"]),
    ("uptimerobot.com", "20260822", ["Open main menu", "Get started free"]),
    ("buffer.com", "20260822", ["Top navigation", "link-in-bio page in minutes"]),
    ("parship.fr", "20260822", ["Résilier votre contrat", "© 2026 Parship"]),
    ("christianmingle.com", "20250318", ["Advertise With Us", "Investor Relations"]),
    ("opentermsarchive.org", "20260422", ["Brand guidelines", "Press review"]),
    ("hily.com", "20241001", ["Single Women Dating", "#hilyshare"]),
    ("happn.fr", "20231213", ["Fast Payout Casino", "online casino"]),  # off-screen SEO spam
    ("mektoube.fr", "20241001", ["cookieyesID", "Toujours actif"]),  # CookieYes banner
]


@pytest.mark.parametrize(("url", "ts", "strings"), CHROME)
def test_no_site_chrome(url: str, ts: str, strings: list[str]) -> None:
    doc = ota(url, ts)
    for chrome in strings:
        assert chrome not in doc.text


POLICY_TEXT = [
    ("badoo.com/privacy/", "20211231", "Effective date. This Privacy Policy was last updated on"),
    ("coffeemeetsbagel.com/privacy-terms", "20220120", "##### Last Updated: May 27, 2021"),
    ("eharmony.co.uk", "20240101", "Version: October 17th 2023"),
    ("finya.de", "20240604", "Stand: Juni 2021"),
    ("christianmingle.com", "20220120", "Welcome to the ChristianMingle community!"),
    ("thisislex.app", "20230101", "Last updated September 19, 2022."),
    ("opencollective.com", "20250520", "Last Updated: 7 January 2019"),
]


@pytest.mark.parametrize(("url", "ts", "text"), POLICY_TEXT)
def test_policy_text_kept(url: str, ts: str, text: str) -> None:
    assert text in ota(url, ts).text


def test_cloudflare_email_obfuscation_decoded() -> None:
    doc = ota("christianmingle.com", "20250318")
    assert "dataprotection-EN@christianmingle.com" in doc.text
    assert "email protected" not in doc.text


# captures whose bytes differ (different digests) but whose policy text did not change
SAME_TEXT = [
    ("christianmingle.com", ["20220120", "20230101"]),
    ("christianmingle.com", ["20250318", "20251001"]),
    ("jdate.com", ["20220120", "20230701"]),
    ("docviewer.zoosk.com", ["20241025", "20250701", "20260101", "20260822"]),
    ("adopteunmec.com", ["20220125", "20220401", "20251206", "20260101", "20260701", "20260822"]),
    ("opentermsarchive.org", ["20250605", "20250926", "20251202", "20260114", "20260413"]),
    ("inshallah.com", ["20220120", "20240620", "20240621"]),
    ("opencollective.com", ["20250520", "20250701", "20251001"]),
    ("uptimerobot.com", ["20250523", "20250701"]),
    ("finya.de", ["20241002", "20250401", "20260402", "20260821"]),
]


@pytest.mark.parametrize(("url", "stamps"), SAME_TEXT)
def test_markup_only_changes_keep_the_hash(url: str, stamps: list[str]) -> None:
    docs = ota_documents()
    keys = [k for k in docs if url in k[0] and any(k[1].startswith(s) for s in stamps)]
    assert len(keys) == len(stamps)
    assert len({ota_digests()[k] for k in keys}) > 1  # the archived bytes did change
    assert len({docs[k].text_hash for k in keys}) == 1


def test_real_changes_change_the_hash() -> None:
    before = ota("coffeemeetsbagel.com/privacy-terms", "20220120")
    after = ota("coffeemeetsbagel.com/privacy-terms", "20220701")
    assert before.text_hash != after.text_hash
    assert "Last Updated: January 25, 2022" in after.text


# --------------------------------------------------------------------------------------------
# golden files: small attributed excerpts of real pages (see golden/normalize/SOURCES.md)


@pytest.mark.parametrize("name", sorted(p.stem for p in GOLDEN.glob("*.html")))
def test_golden(name: str) -> None:
    html = (GOLDEN / f"{name}.html").read_bytes()
    meta = json.loads((GOLDEN / f"{name}.json").read_text())
    doc = normalize(html, url=meta.get("url", ""), content_type=meta.get("content_type", ""))
    expected_path = GOLDEN / f"{name}.md"
    if os.environ.get("UPDATE_GOLDEN"):
        expected_path.write_text(doc.text + "\n")
    assert doc.text + "\n" == expected_path.read_text()
    assert doc.verdict.value == meta["verdict"]
    assert doc.title == meta["title"]


# --------------------------------------------------------------------------------------------
# the seed format


def test_seed_markdown_header_matches_seed_files() -> None:
    seeds = sorted(_shared(SHARED / "seeds").glob("*.txt"))
    assert len(seeds) == 5
    header_re = re.compile(
        r"> \*The following text is extracted and transformed from the (\S+) privacy policy that "
        r"was archived on (\d{4}-\d{2}-\d{2})\. Please check the \[original snapshot on the "
        r"Wayback Machine\]\((\S+)\) for the most accurate reproduction\.\*"
    )
    for seed in seeds:
        content = seed.read_text()
        header, blank, title_line, blank2, body = content.split("\n", 4)
        match = header_re.fullmatch(header)
        assert match, seed
        doc = Document(
            text=body.rstrip("\n"),
            title=title_line.removeprefix("# "),
            language="en",
            normaliser_version=NORMALISER_VERSION,
            text_hash=text_hash(body.rstrip("\n")),
        )
        out = seed_markdown(
            doc,
            site=match[1],
            archived_on=date.fromisoformat(match[2]),
            wayback_url=match[3],
        )
        assert out.split("\n", 4)[:4] == [header, blank, title_line, blank2]
        assert out == content.rstrip("\n") + "\n"


# --------------------------------------------------------------------------------------------
# synthetic cases: encodings, clean-up, markdown shape, bad input

POLICY = (
    "We collect personal data when you create an account, and we use cookies to remember "
    "your preferences. You may ask us to delete your data at any time by writing to us."
)


def page(body: str, head: str = "<title>Privacy Policy</title>") -> bytes:
    return f"<!doctype html><html><head>{head}</head><body>{body}</body></html>".encode()


def test_text_hash() -> None:
    assert text_hash("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert normalize(page(f"<p>{POLICY}</p>")).text_hash == text_hash(POLICY)


def test_markdown_shape() -> None:
    html = page(
        f"<h1>Privacy   Policy</h1><p>{POLICY}</p><h3>Your <b>rights</b></h3>"
        "<ul><li>Access</li><li>Deletion<ul><li>of <a href='/x'>photos</a></li></ul></li></ul>"
        "<ol start='3'><li>Third</li><li>Fourth</li></ol><p>Line one<br>line two<br><br>Next</p>"
    )
    assert normalize(html).text == (
        f"# Privacy Policy\n\n{POLICY}\n\n### Your rights\n\n"
        "* Access\n* Deletion\n  * of photos\n\n3. Third\n4. Fourth\n\nLine one\nline two\n\nNext"
    )


def test_characters_normalised() -> None:
    messy = (
        "<p>Data&nbsp;protec\u00adtion\u200b officer:\u2002caf\u0065\u0301 &amp; co\u00a0 ltd"
        "\t\n  here</p>"
    )
    doc = normalize(page(messy + f"<p>{POLICY}</p>"))
    assert doc.text.startswith("Data protection officer: caf\u00e9 & co ltd here\n\n")


@pytest.mark.parametrize(
    ("body", "content_type", "expected"),
    [
        (
            "<meta charset='windows-1252'><p>caf\u00e9 \u2019</p>".encode("cp1252"),
            "",
            "caf\u00e9 \u2019",
        ),
        ("<p>caf\u00e9</p>".encode("cp1252"), "text/html; charset=ISO-8859-1", "caf\u00e9"),
        (
            '<meta http-equiv="Content-Type" content="text/html; charset=Shift_JIS">'
            "<p>\u500b\u4eba\u60c5\u5831\u306e\u53d6\u6271\u3044</p>".encode("shift_jis"),
            "",
            "\u500b\u4eba\u60c5\u5831\u306e\u53d6\u6271\u3044",
        ),
        (
            "<p>\u0434\u0430\u043d\u043d\u044b\u0435</p>".encode("koi8-r"),
            "text/html; charset=koi8-r",
            "\u0434\u0430\u043d\u043d\u044b\u0435",
        ),
        ("\ufeff<p>caf\u00e9</p>".encode("utf-16-le"), "", "caf\u00e9"),
        (
            "<p>caf\u00e9</p>".encode(),
            "text/html; charset=windows-1252",
            "caf\u00e9",
        ),  # stale label
        (
            ("<p>" + "\u00e9t\u00e9 " * 40 + "</p>").encode("cp1252"),
            "",
            "\u00e9t\u00e9 \u00e9t\u00e9",
        ),
    ],
)
def test_encodings(body: bytes, content_type: str, expected: str) -> None:
    assert expected in normalize(body, content_type=content_type).text


def test_wayback_toolbar_and_chrome_removed() -> None:
    html = page(
        "<!-- BEGIN WAYBACK TOOLBAR INSERT --><div id='wm-ipp-base'><p>Wayback Machine "
        "captures of this page</p></div><!-- END WAYBACK TOOLBAR INSERT -->"
        "<header><a href='/'>Home</a> <a href='/blog'>Blog</a></header>"
        "<nav><ul><li><a href='/a'>About</a></li><li><a href='/b'>Pricing</a></li></ul></nav>"
        f"<main><h1>Privacy</h1><p>{POLICY}</p><p>{POLICY}</p></main>"
        "<div id='onetrust-banner-sdk'><p>We use cookies to improve your experience of our "
        "website. Accept all or manage your choices.</p></div>"
        "<div class='cookie-notice'>This site uses cookies. OK</div>"
        "<footer><p>\u00a9 2024 Example Inc. All rights reserved.</p></footer>"
        "<script>var csrf='a1b2c3';</script>"
    )
    assert normalize(html).text == f"# Privacy\n\n{POLICY}\n\n{POLICY}"


def test_cloudflare_email_synthetic() -> None:
    encoded = "3e5a4e517e5b465f534e525b105d5153"  # dpo@example.com, XOR key 0x3e
    html = page(
        f"<p>{POLICY} Write to <a href='/cdn-cgi/l/email-protection#{encoded}'>"
        "[email&#160;protected]</a> or <span class='__cf_email__' "
        f"data-cfemail='{encoded}'>[email&#160;protected]</span>.</p>"
    )
    assert normalize(html).text.endswith("Write to dpo@example.com or dpo@example.com.")


@pytest.mark.parametrize(
    ("body", "content_type", "verdict"),
    [
        (b"", "", Verdict.EMPTY),
        (b"   \n", "text/html", Verdict.EMPTY),
        (b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj", "application/pdf", Verdict.UNSUPPORTED),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "", Verdict.UNSUPPORTED),
        (bytes(range(256)) * 8, "", Verdict.UNSUPPORTED),
        (b"<p>privacy</p>", "image/gif", Verdict.UNSUPPORTED),
        (b"<html><body></body></html>", "", Verdict.EMPTY),
        (b"<html><body><p>Privacy policy</p><p>Contact us</p></body></html>", "", Verdict.STUB),
        (b"<<<</p><div <p>>>privacy &#xffffff; &bogus; <table><td>", "", Verdict.STUB),
        (
            page("<h1>404 Not Found</h1><p>The page you requested could not be found.</p>"),
            "",
            Verdict.ERROR_PAGE,
        ),
        (
            page(
                "<div id='root'></div><noscript>You need to enable JavaScript to run this "
                "app.</noscript>"
            ),
            "",
            Verdict.JS_SHELL,
        ),
        (
            page(f"<p>{' '.join(['Our recipes use fresh tomatoes and basil.'] * 30)}</p>"),
            "",
            Verdict.NOT_POLICY,
        ),
        (POLICY.encode() * 10, "text/plain", Verdict.OK),
    ],
)
def test_verdicts(body: bytes, content_type: str, verdict: Verdict) -> None:
    doc = normalize(body, content_type=content_type)
    assert doc.verdict is verdict, doc.verdict_reason
    assert (doc.verdict_reason == "") == (verdict is Verdict.OK)
    assert doc.text_hash == text_hash(doc.text)


def test_runaway_nesting_is_fast_and_keeps_text() -> None:
    body = ("<div><font><p>" + POLICY + "</p>") * 6000
    doc = normalize(body.encode())
    assert doc.verdict is Verdict.OK
    assert doc.text.count(POLICY) == 6000


# --------------------------------------------------------------------------------------------
# dated extraction rules

RULE_PAGE = page(
    "<div id='legacy'><p>Old layout text about personal data that we keep for you.</p></div>"
    f"<div class='policy'><p>{POLICY}</p><div class='toc'>Table of contents</div></div>"
    "<div class='extra'><p>Related: our terms of service, which also mention privacy.</p></div>"
)


def test_rules_select_and_remove() -> None:
    rule = ExtractionRule("example.com/privacy", select=(".policy",), remove=(".toc",))
    doc = normalize(RULE_PAGE, url="https://www.example.com/privacy", rules=[rule])
    assert doc.text == POLICY
    # not this URL: heuristics only
    other = normalize(RULE_PAGE, url="https://example.org/privacy", rules=[rule])
    assert "Old layout text" in other.text


def test_rules_are_dated() -> None:
    old = ExtractionRule("example.com", select=("#legacy",), valid_until=date(2020, 1, 1))
    new = ExtractionRule("example.com", select=(".policy",), valid_from=date(2020, 1, 1))
    when_old = datetime(2019, 6, 1, tzinfo=UTC)
    when_new = datetime(2021, 6, 1, tzinfo=UTC)
    assert rules_for("http://example.com/p", when_old, [old, new]) == [old]
    assert rules_for("http://example.com/p", when_new, [old, new]) == [new]
    assert rules_for("http://example.com/p", None, [old, new]) == [new]
    url = "http://example.com/p"
    assert normalize(RULE_PAGE, url=url, rules=[old, new], captured_at=when_old).text.startswith(
        "Old layout text"
    )
    assert normalize(RULE_PAGE, url=url, rules=[old, new], captured_at=when_new).text == (
        POLICY + "\n\nTable of contents"
    )


def test_rule_matching() -> None:
    rule = ExtractionRule("https://example.com/legal/")
    assert rule.matches_url("http://www.example.com/legal/privacy")
    assert rule.matches_url("https://eu.example.com/legal")
    assert not rule.matches_url("https://example.com/blog")
    assert not rule.matches_url("https://notexample.com/legal/privacy")
    with pytest.raises(ValueError):
        ExtractionRule("example.com", select=("div[",))
    with pytest.raises(ValueError):
        ExtractionRule("example.com", valid_from=date(2020, 1, 1), valid_until=date(2019, 1, 1))
    with pytest.raises(ValueError):
        ExtractionRule("")


def test_load_rules(tmp_path: Path) -> None:
    toml = tmp_path / "rules.toml"
    toml.write_text(
        '[[rule]]\npattern = "example.com/privacy"\nselect = ["main"]\nremove = ".ad"\n'
        "valid_until = 2021-06-01\n"
    )
    json_file = tmp_path / "rules.json"
    json_file.write_text(
        json.dumps(
            [
                {
                    "pattern": "example.com/privacy",
                    "select": ["main"],
                    "remove": [".ad"],
                    "valid_until": "2021-06-01",
                }
            ]
        )
    )
    expected = [
        ExtractionRule(
            "example.com/privacy", select=("main",), remove=(".ad",), valid_until=date(2021, 6, 1)
        )
    ]
    assert load_rules(toml) == expected
    assert load_rules(json_file) == expected
    with pytest.raises(ValueError):
        parse_rules([{"pattern": "example.com", "selector": "main"}])


# --------------------------------------------------------------------------------------------
# the shortcuts of the fast walk keep their promises


def test_printable_text_needs_no_whitespace_clean_up() -> None:
    # flush() skips collapsing whitespace when a buffer is printable and has no double space
    for code in range(0x110000):
        char = chr(code)
        if (char.isspace() and char != " ") or char in normalize_module._INVISIBLE + "\x00":
            assert not char.isprintable(), hex(code)


def test_tag_id_table_matches_tag_names() -> None:
    probe = LexborHTMLParser("")
    for tag_id, (kind, name) in normalize_module._KINDS_BY_TAG_ID.items():
        assert kind == normalize_module._kind(name)
        if not name.startswith("-"):
            node = probe.create_node(name)
            assert (node.tag_id, node.tag) == (tag_id, name)
    assert "span" in {name for _, name in normalize_module._KINDS_BY_TAG_ID.values()}
    # every flaggable element starts a block: a flag never turns an inline element into one
    assert normalize_module._FLAGGABLE <= normalize_module._BLOCKISH


def test_custom_and_unknown_elements_split_words() -> None:
    # <o:p> and custom elements get per-document tag ids and fall back to their names
    doc = normalize(page(f"<p>{POLICY}<o:p>alpha</o:p><my-widget>beta</my-widget>gamma</p>"))
    assert doc.text == f"{POLICY} alpha beta gamma"


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        ("navSection", ("nav", False)),
        ("Cookie-Banner main", ("Cookie-Banner", True)),
        ("SITE-FOOTER", ("site-footer", False)),
        ("content article-body", ("", False)),
        ("\u017fidebar nav", ("\u017fidebar", False)),  # non-ASCII: re.I's case folding (ſ ~ s)
        ("s\u212aip-link x", ("skip-link", False)),  # Kelvin sign ~ k
        ("ad-slot3 x", ("ad-slot3", True)),
    ],
)
def test_classify_names(names: str, expected: tuple[str, bool]) -> None:
    assert normalize_module._classify_names(names) == expected


def _reference_classify(names: str) -> tuple[str, bool]:
    names = re.sub(r"([a-z])([A-Z])", r"\1-\2", names)
    match = normalize_module._STRONG_CLASS.search(names)
    if match:
        return match.group(0).strip(" -_"), True
    match = normalize_module._WEAK_CLASS.search(names)
    if match:
        return match.group(0).strip(" -_").lower(), False
    return "", False


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [
                *("nav", "Nav", "menu", "MainMenu", "cookie", "Banner", "-", "_", " ", "x"),
                *("footer", "sidebar", "onetrust", "adsbygoogle", "SEARCH", "box", "2"),
                *("\u017f", "\u212a", "\u0130"),  # ſ, Kelvin sign, İ: re.I folds them
            ]
        ),
        min_size=1,
        max_size=8,
    ).map("".join)
)
def test_classify_names_matches_case_insensitive_reference(names: str) -> None:
    assert normalize_module._classify_names.__wrapped__(names) == _reference_classify(names)


def test_runaway_check_counts_tags_exactly() -> None:
    tail = "<p>" + POLICY + "</p>"
    for opener, flattened in (("<div>", True), ("<DIV class=x>", True), ("<p>", False)):
        html = opener * 3000 + tail
        assert (normalize_module._flatten_runaway_nesting(html) != html) is flattened, opener
    html = "<div>" * 2999 + tail  # one short of the limit
    assert normalize_module._flatten_runaway_nesting(html) is html


@settings(max_examples=200, deadline=None)
@given(
    st.integers(0, 9),
    st.integers(0, 3000),
    st.sampled_from(["a", "word", "x1"]),
    st.sampled_from(["", "404 Not Found"]),
)
def test_verdict_shortcut_agrees_with_full_counts(
    terms: int, words: int, word: str, title: str
) -> None:
    text = " ".join(["privacy"] * terms + [word] * words)[:7000]
    tree = LexborHTMLParser(text)
    full = normalize_module._verdict(text, title, text, tree)
    if normalize_module._plainly_policy(text[:6000]):
        assert full == (Verdict.OK, "")


@pytest.mark.parametrize(
    ("body", "content_type", "as_is"),
    [
        ("Ünïcödé <p>text</p>".encode(), "", True),
        ("Ünïcödé".encode(), "text/html; charset=iso-8859-1", True),  # stale label
        (codecs.BOM_UTF8 + "Ünïcödé".encode(), "", False),
        ("Ünïcödé".encode("cp1252"), "text/html; charset=windows-1252", False),
        ("Ünïcödé".encode("utf-16"), "", False),
        (b"plain ascii", "text/html; charset=utf-8", True),
    ],
)
def test_pages_parsed_from_their_own_bytes_decode_to_them(
    body: bytes, content_type: str, as_is: bool
) -> None:
    text, _, parsed_as_is = normalize_module._decode(body, content_type)
    assert parsed_as_is is as_is
    if parsed_as_is:
        assert text.encode("utf-8") == body


# --------------------------------------------------------------------------------------------
# the text-level shortcuts are the slow forms they replace, on any text

_FRAGMENTS = [
    *("privacy", "privacybeleid", "privacidad", "privacidade", "priv", "gdpr", "gdprivacy"),
    *("cookie", "cookies", "cookiesx", "personal", "personal data", "personal information"),
    *("persoonsgegevens", "personvern", "données personnelles", "donnees personnelles"),
    *("data protection", "datos personales", "dati personali", "dados pessoais", "terms"),
    *("隐私", "個人情報", "конфиденциальн", "p", "d", "c", "s", "x", " ", "-", "é", "_", "2"),
]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(_FRAGMENTS), max_size=20).map("".join))
def test_factored_policy_terms_match_like_their_alternation(text: str) -> None:
    plain = re.compile("|".join(normalize_module._POLICY_TERMS))
    factored = normalize_module._POLICY_WORDS
    assert [m.span() for m in factored.finditer(text)] == [m.span() for m in plain.finditer(text)]
    assert factored.pattern != plain.pattern  # it is factored


def test_factoring_keeps_order_where_an_alternative_is_empty() -> None:
    # "ab" then "a" then "abc": re takes "ab" at "abc", so "abc" must stay after the empty rest
    assert normalize_module._factored(["ab", "a", "abc"]) == "a(?:b||bc)"
    pattern = re.compile(normalize_module._factored(["ab", "a", "abc"]))
    assert pattern.match("abc").group(0) == "ab"  # type: ignore[union-attr]
    assert normalize_module._factored(["a[bc]", "ad"]) == "a(?:[bc]|d)"
    # a character under a quantifier is no head to group by
    assert normalize_module._factored(["ab?", "ac"]) == "a(?:b?|c)"
    for text in ("a", "ab", "ac", "abc", "xacab"):
        found = re.compile(normalize_module._factored(["ab?", "ac"])).findall(text)
        assert found == re.findall("ab?|ac", text)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.sampled_from(["word", "x", "é", "2", "_", " ", "  ", "-", ", ", "\n"]), max_size=900
    ).map("".join),
    st.integers(0, 3100),
)
def test_enough_words_counts_like_findall(text: str, end: int) -> None:
    counted = len(normalize_module._WORD.findall(text, 0, end)) >= 300
    assert (normalize_module._ENOUGH_WORDS.match(text, 0, end) is not None) is counted


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from("ab é ’\u00a0\n\t\u202f\u3000\u200b\x00"), max_size=60))
def test_squeezing_spaces_is_collapsing_printable_text(raw: str) -> None:
    # flush(): a printable buffer is squeezed; one that is printable once its no-break spaces,
    # line breaks and tabs are spaces is squeezed as that; anything else is collapsed
    spaced = raw.replace("\xa0", " ").replace("\n", " ").replace("\t", " ")
    spaced = spaced.replace("\u202f", " ")
    if spaced.isprintable():
        assert normalize_module._squeeze(spaced) == normalize_module._collapse(raw)
