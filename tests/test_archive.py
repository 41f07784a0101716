"""Archive dialects: CDX URLs, CDX parsing (pywb NDJSON, IA text with resume keys), replay URLs."""

from __future__ import annotations

import contextlib
import gzip
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml

from crawler.archive import (
    ArchiveError,
    CdxQuery,
    Dialect,
    make_archive,
    parse_cdx,
    redirect_target,
)
from tests.conftest import shared_path


def test_make_archive_guesses_dialect() -> None:
    assert make_archive("https://web.archive.org").dialect is Dialect.IA
    assert make_archive("https://web.archive.org/web/").base == "https://web.archive.org"
    pywb = make_archive("http://127.0.0.1:8080/web/")
    assert pywb.dialect is Dialect.PYWB and pywb.base == "http://127.0.0.1:8080/web"
    assert make_archive("http://archive.example.org", "pywb").dialect is Dialect.PYWB


@pytest.mark.parametrize("bad", ["", "ftp://x", "web.archive.org", "http://"])
def test_make_archive_rejects_bad_base(bad: str) -> None:
    with pytest.raises(ArchiveError):
        make_archive(bad)


def test_make_archive_rejects_unknown_dialect() -> None:
    with pytest.raises(ArchiveError, match="dialect"):
        make_archive("http://x.org/web", "heritrix")


def test_replay_urls() -> None:
    ia = make_archive("https://web.archive.org")
    assert ia.replay_url("20090620201434", "http://www.amahi.org/privacy") == (
        "https://web.archive.org/web/20090620201434id_/http://www.amahi.org/privacy"
    )
    pw = make_archive("http://127.0.0.1:9/web")
    assert pw.replay_url("20220101000000", "https://a.org/p") == (
        "http://127.0.0.1:9/web/20220101000000id_/https://a.org/p"
    )
    assert pw.original_from_replay("http://127.0.0.1:9/web/20220101000000id_/https://a.org/p") == (
        "20220101000000",
        "https://a.org/p",
    )
    assert pw.original_from_replay("http://elsewhere/web/2022id_/x") is None


def test_ia_cdx_url_asks_for_fields_and_resume_key() -> None:
    ia = make_archive("https://web.archive.org")
    url = ia.cdx_url(
        CdxQuery(
            "example.com/privacy", from_ts="2019", to_ts="2020", resume_key="com%2Cexample+2019"
        )
    )
    q = parse_qs(urlsplit(url).query)
    assert urlsplit(url).path == "/cdx/search/cdx"
    assert q["showResumeKey"] == ["true"]
    assert q["fl"] == ["urlkey,timestamp,original,mimetype,statuscode,digest,length"]
    assert q["from"] == ["2019"] and q["to"] == ["2020"]
    assert q["resumeKey"] == ["com%2Cexample+2019"]  # sent back exactly as received


def test_cdx_query_validates_parameters() -> None:
    with pytest.raises(ArchiveError):
        CdxQuery("a.org", from_ts="20x9")
    with pytest.raises(ArchiveError):
        CdxQuery("a.org", filters=("nosuchfield:x",))


def _cassette_bodies(name: str) -> list[tuple[str, bytes]]:
    data = yaml.safe_load(shared_path("data", "ia-recorded", "cassettes", name).read_text())
    out = []
    for it in data["interactions"]:
        body = it["response"]["body"]["string"]
        raw = body.encode() if isinstance(body, str) else body
        with contextlib.suppress(OSError):
            raw = gzip.decompress(raw)
        out.append((it["request"]["uri"], raw))
    return out


def test_parse_ia_multipage_cdx_with_resume_keys() -> None:
    ia = make_archive("https://web.archive.org")
    pages = [parse_cdx(ia, body) for _, body in _cassette_bodies("test_search_multipage.yaml")]
    assert pages[0].resume_key == "com%2Ccnn%29%2F+2001041400593%3A"
    assert pages[-1].resume_key is None
    assert all(p.resume_key for p in pages[:-1])
    first = pages[0].records[0]
    assert first.urlkey == "com,cnn)/" and len(first.timestamp) == 14
    assert first.status == 200 and len(first.digest) == 32
    redirects = [r for p in pages for r in p.records if r.status == 302]
    assert redirects, "the recorded cnn.com listing has captured 302s"


def test_parse_ia_malformed_lines_are_skipped_not_fatal() -> None:
    ia = make_archive("https://web.archive.org")
    body = shared_path("data", "ia-recorded", "cdx-files", "malformed_cdx.txt").read_bytes()
    page = parse_cdx(ia, body)
    assert page.skipped, "malformed lines must be reported"
    assert all(len(r.timestamp) == 14 and " " not in r.url for r in page.records)
    assert not any(r.url == "some/not/even/url/thing" for r in page.records)
    bad_ts = parse_cdx(
        ia, shared_path("data", "ia-recorded", "cdx-files", "bad_timestamp_cdx.txt").read_bytes()
    )
    # impossible timestamps (month 00, day 00) are real captures: kept, clamped to a valid time
    stamps = {r.timestamp: r.captured_at for r in bad_ts.records}
    assert stamps["20000012170449"].month == 1 and stamps["20000012170449"].day == 12
    assert stamps["20000800241623"].day == 1 and stamps["20000800241623"].month == 8
    zero = parse_cdx(
        ia, shared_path("data", "ia-recorded", "cdx-files", "zero_length_cdx.txt").read_bytes()
    )
    assert all(r.length is None or r.length >= 0 for r in zero.records)


def test_parse_ia_revisit_rows() -> None:
    ia = make_archive("https://web.archive.org")
    page = parse_cdx(ia, b"com,a)/ 20200101000000 http://a.com/ warc/revisit - ABCDEF 500\n")
    (rec,) = page.records
    assert rec.is_revisit and rec.status is None and rec.digest == "ABCDEF"


def test_parse_pywb_ndjson() -> None:
    pw = make_archive("http://127.0.0.1:9/web")
    body = (
        b'{"urlkey": "com,badoo)/privacy", "timestamp": "20211231135700", '
        b'"url": "https://badoo.com/privacy/", "mime": "text/html", "status": "200", '
        b'"digest": "V22RGWC6PPUPWGAAEUQLY3YJ6LAJWWZF", "length": "82857"}\n'
        b"not json\n"
    )
    page = parse_cdx(pw, body)
    (rec,) = page.records
    assert rec.url == "https://badoo.com/privacy/" and rec.status == 200 and rec.length == 82857
    assert len(page.skipped) == 1


def test_redirect_target_ia_rewritten_and_pywb_raw() -> None:
    ia = make_archive("https://web.archive.org")
    replay = "https://web.archive.org/web/20200101000000id_/http://a.com/privacy"
    assert redirect_target(ia, "/web/20200101000001id_/http://a.com/legal/privacy", replay) == (
        "http://a.com/legal/privacy"
    )
    pw = make_archive("http://127.0.0.1:9/web")
    assert redirect_target(pw, "https://a.com/new", "http://127.0.0.1:9/web/2020id_/x") == (
        "https://a.com/new"
    )
    assert redirect_target(pw, "javascript:alert(1)", "http://127.0.0.1:9/web/2020id_/x") is None


def test_redirect_target_relative_location_is_relative_to_the_captured_page() -> None:
    pw = make_archive("http://127.0.0.1:9/web")
    replay = "http://127.0.0.1:9/web/20230210000000id_/https://www.meetic.fr/legal/privacy"
    # pywb hands back the archived Location as it was: relative to the page, not to the replay
    assert redirect_target(pw, "/privacy", replay) == "https://www.meetic.fr/privacy"
    assert redirect_target(pw, "../misc/p", replay) == "https://www.meetic.fr/misc/p"


def test_collapse_is_sent_to_the_internet_archive_only_and_validated() -> None:
    q = CdxQuery("https://mektoube.fr/", collapse="timestamp:4", filters=("statuscode:[23]..",))
    ia = parse_qs(urlsplit(make_archive("https://web.archive.org").cdx_url(q)).query)
    assert ia["collapse"] == ["timestamp:4"] and ia["filter"] == ["statuscode:[23].."]
    pw = parse_qs(urlsplit(make_archive("http://127.0.0.1:9/web").cdx_url(q)).query)
    assert "collapse" not in pw  # pywb has none: the discovery spider samples what it lists
    with pytest.raises(ArchiveError, match="collapse"):
        CdxQuery("https://mektoube.fr/", collapse="timestamp:4&x=1")
