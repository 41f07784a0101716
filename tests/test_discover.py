"""Discovery of a site's privacy-policy URL over time from its archived home pages.

Link scoring runs over real archived HTML: the Princeton-Leuven corpus pages
(../shared/data/citp-pairs) and the Open Terms Archive captures (../shared/data/ota-policies). The
end-to-end test serves, with a real pywb, home-page records that are SYNTHETIC placements (labelled
in the WARC): each one's body is a real page of the same site captured on that date, whose header
and footer navigation is the site's own.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
from warcio.archiveiterator import ArchiveIterator
from warcio.warcwriter import WARCWriter

from crawler.discover import (
    Finding,
    PolicyLink,
    SiteHistory,
    append_to_url_file,
    clean_link,
    home_url,
    is_site_root,
    page_links,
    path_names_policy,
    policy_links,
    registrable_domain,
    same_site,
    track_site,
    urlkey_or_none,
)
from storage import open_store
from storage.keys import BadUrl, urlkey
from tests.conftest import FAST, run_cli, shared_path
from tests.warcs import write_synthetic_response

MEKTOUBE = "https://www.mektoube.fr/charte-vie-privee"
OTA = "https://opentermsarchive.org/en/privacy-policy"


def ota_pages(*urls: str) -> dict[tuple[str, str], bytes]:
    """Real captures from ../shared/data/ota-policies: (URL, WARC-Date) -> body."""
    out: dict[tuple[str, str], bytes] = {}
    with shared_path("data", "ota-policies", "ota-policies.warc.gz").open("rb") as fh:
        for rec in ArchiveIterator(fh):
            uri = rec.rec_headers.get_header("WARC-Target-URI")
            if rec.rec_type == "response" and uri in urls:
                out[(uri, rec.rec_headers.get_header("WARC-Date"))] = rec.content_stream().read()
    return out


# ------------------------------------------------------------------------------------------------
# link scoring on real pages


def test_citp_pages_best_link_is_the_policy_itself_whenever_the_page_links_to_it() -> None:
    root = shared_path("data", "citp-pairs")
    rows = [json.loads(line) for line in (root / "manifest.jsonl").read_text().splitlines()]
    assert len(rows) == 47
    self_linked = found_self = 0
    for r in rows:
        page_url = unquote(r["wayback_url"].split("id_/", 1)[1])
        html = (root / r["domain"] / (r["archive_date"].replace("-", "") + ".html")).read_bytes()
        links = policy_links(html, page_url)
        for link in links:
            assert same_site(link.url, page_url), f"{r['domain']}: off-site link {link.url}"
        if any(urlkey_or_none(u) == urlkey(page_url) for u, _ in page_links(html, page_url)):
            self_linked += 1
            best = links[0] if links else None
            assert best is not None and urlkey(best.url) == urlkey(page_url), (
                f"{r['domain']}: best link {best} is not the page's own URL {page_url}"
            )
            found_self += 1
    # measured: 36 of the 47 pages link to themselves (the others have no privacy nav link)
    assert self_linked >= 30 and found_self == self_linked


def test_a_moved_policy_link_over_time_on_real_pages() -> None:
    url = "https://www.mektoube.fr/charte-vie-privee"
    pages = ota_pages(url)
    best = {date[:10]: policy_links(body, url)[0] for (_, date), body in pages.items()}
    assert best["2022-01-20"].url == MEKTOUBE and best["2022-01-20"].text == "Vie privée"
    assert best["2024-01-01"].url == "https://www.mektoube.fr/politique-de-confidentialite"
    assert best["2024-10-01"].url == "https://www.mektoube.fr/privacy-policy"
    # third-party policies linked from a policy (paybox, Google, AWS) are never candidates
    for links in (policy_links(b, url) for b in pages.values()):
        assert all("mektoube.fr" in link.url for link in links)


def test_languages_and_side_links_on_real_pages() -> None:
    finya = "https://www.finya.de/Legal/privacy/"
    adopte = "https://www.adopteunmec.com/sensitive/"
    hily = "https://hily.com/privacypolicy"
    pages = ota_pages(finya, adopte, OTA, hily)

    def first(url: str) -> PolicyLink:
        body = next(b for (u, _), b in sorted(pages.items()) if u == url)
        return policy_links(body, url)[0]

    assert first(finya).text.startswith("Datenschutz")  # German
    assert first(adopte).url == "https://www.adopteunmec.com/sensitive"  # French link text
    ota_best = first(OTA)  # the English "Privacy policy" beats the "FR" language switch
    assert ota_best.url == "https://opentermsarchive.org/en/privacy-policy/"
    assert not any(
        "google.com" in link.url for b in pages.values() for link in policy_links(b, hily)
    )


def test_score_rules() -> None:
    page = "https://www.example.co.uk/"
    links = policy_links(
        b"""<html><body><a href="/">Home</a><a href="mailto:privacy@example.co.uk">Privacy</a>
        <a href="/privacy-policy">Privacy Policy</a><a href="/ccpa">California Privacy Rights</a>
        <a href="/account/privacy-settings">Privacy settings</a>
        <a href="https://shop.example.co.uk/privacy?utm_source=footer#top">Privacy</a>
        <a href="https://other.co.uk/privacy">Privacy Policy</a>
        <a href="/login?ReturnUrl=%2Fprivacy">Log in</a></body></html>""",
        page,
    )
    # crafted markup for the rules only (no policy text): best first, side links below
    assert [link.url for link in links][:2] == [
        "https://www.example.co.uk/privacy-policy",
        "https://shop.example.co.uk/privacy",
    ]
    assert all("other.co.uk" not in link.url and "login" not in link.url for link in links)
    assert registrable_domain("help.thisislex.app") == "thisislex.app"
    assert registrable_domain("www.eharmony.co.uk") == "eharmony.co.uk"
    assert clean_link("https://a.org/p/?ref=footer&lang=de#x") == "https://a.org/p/?lang=de"


def test_home_and_policy_paths() -> None:
    for home in (
        "https://a.org",
        "https://a.org/",
        "https://a.org/index.html",
        "https://a.org/en/",
        "https://a.org/fr-fr",
    ):
        assert is_site_root(home), home
    for not_home in ("https://a.org/login", "https://a.org/?p=privacy", "https://a.org/en/legal"):
        assert not is_site_root(not_home), not_home
    assert path_names_policy("https://a.org/legal/datenschutzerklaerung")
    assert path_names_policy("https://a.org/politique-de-confidentialit%C3%A9")
    assert path_names_policy("https://a.org/index.php?page=privacypolicy")
    assert not path_names_policy("https://a.org/login?next=/privacy")
    assert home_url("example.com") == "https://example.com/"
    assert home_url("http://example.com/en/") == "http://example.com/en/"
    with pytest.raises(BadUrl):
        home_url("not a domain")


# ------------------------------------------------------------------------------------------------
# recording


def test_track_site_keeps_one_identity_for_a_moved_policy(db_url: str, tmp_path: Path) -> None:
    store = open_store(db_url)
    try:
        (pre,) = store.track([OTA])
        history = SiteHistory(
            "mektoube.fr",
            [
                Finding(
                    "mektoube.fr",
                    "2022",
                    "20220120000000",
                    "https://www.mektoube.fr/",
                    (PolicyLink(MEKTOUBE, "Vie privée", 10),),
                ),
                Finding(
                    "mektoube.fr",
                    "2024",
                    "20240101000000",
                    "https://www.mektoube.fr/",
                    (PolicyLink("https://www.mektoube.fr/privacy-policy", "p", 10),),
                ),
                Finding(
                    "mektoube.fr",
                    "2023",
                    "20230101000000",
                    "https://www.mektoube.fr/",
                    (PolicyLink(MEKTOUBE + "/", "Vie privée", 10),),
                ),  # same key as 2022
                Finding(
                    "mektoube.fr",
                    "2025",
                    "20250101000000",
                    "https://www.mektoube.fr/",
                    error="timeout",
                ),
            ],
        )
        assert history.urls == [MEKTOUBE, "https://www.mektoube.fr/privacy-policy"]
        tracked = track_site(store, history)
        assert [t.added for t in tracked] == [True, True]
        assert len({t.policy_id for t in tracked}) == 1 and tracked[0].policy_id != pre.policy_id
        assert store.find_policy("https://www.mektoube.fr/privacy-policy") == tracked[0].policy_id
        again = track_site(store, history)  # idempotent
        assert [(t.policy_id, t.added) for t in again] == [(tracked[0].policy_id, False)] * 2
        # a site whose later URL is tracked already: the earlier one joins that policy
        ota = SiteHistory(
            "opentermsarchive.org",
            [
                Finding(
                    "o",
                    "2020",
                    "20200101000000",
                    "https://opentermsarchive.org/",
                    (PolicyLink("https://opentermsarchive.org/privacy", "Privacy", 10),),
                ),
                Finding(
                    "o",
                    "2025",
                    "20250101000000",
                    "https://opentermsarchive.org/",
                    (PolicyLink(OTA + "/", "Privacy policy", 15),),
                ),
            ],
        )
        assert {t.policy_id for t in track_site(store, ota)} == {pre.policy_id}
    finally:
        store.close()


def test_append_to_url_file(tmp_path: Path) -> None:
    f = tmp_path / "urls.txt"
    f.write_text("# mine\nhttps://www.mektoube.fr/charte-vie-privee/")  # no final newline
    added = append_to_url_file(f, [MEKTOUBE, "https://www.mektoube.fr/privacy-policy"], "found")
    assert added == ["https://www.mektoube.fr/privacy-policy"]
    assert f.read_text().splitlines()[-2:] == ["# found", "https://www.mektoube.fr/privacy-policy"]
    assert append_to_url_file(f, added, "again") == []


# ------------------------------------------------------------------------------------------------
# end to end: `policytrail discover` against a real pywb

SYNTHETIC = "synthetic home-page placement for policytrail tests"


def build_home_warc(path: Path) -> None:
    pages = ota_pages(MEKTOUBE, OTA)
    with path.open("wb") as out:
        w = WARCWriter(out, gzip=True)

        def record(
            url: str, date: str, status: str, headers: list[tuple[str, str]], body: bytes, note: str
        ) -> None:
            write_synthetic_response(
                w, url, date, status, headers, body, source=SYNTHETIC, note=note
            )

        html = [("Content-Type", "text/html; charset=utf-8")]
        for (url, date), body in sorted(pages.items()):
            home = (
                "https://www.mektoube.fr/" if "mektoube" in url else "https://opentermsarchive.org/"
            )
            record(home, date, "200 OK", html, body, f"body: the real capture of {url} on {date}")
        # the home page of 2021 is an archived redirect from http://mektoube.fr/ to the www home
        record(
            "http://mektoube.fr/",
            "2021-06-01T00:00:00Z",
            "301 Moved Permanently",
            [("Location", "https://www.mektoube.fr/")],
            b"",
            "redirect record crafted for the test",
        )


@pytest.fixture(scope="module")
def discovered(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    from crawler.localarchive import LocalArchive, LocalArchiveError

    work = tmp_path_factory.mktemp("discover")
    warc = work / "homes.warc.gz"
    build_home_warc(warc)
    db = f"sqlite:///{work / 'discover.db'}"
    urls = work / "urls.txt"
    urls.write_text(OTA + "\n")
    archive = LocalArchive([warc], root=work / "pywb")
    try:
        base = archive.start()
    except LocalArchiveError as exc:
        pytest.fail(f"cannot start the pywb test archive: {exc}")
    try:
        pre = run_cli("crawl", str(urls), "--archive", base, "--db", db, *FAST, cwd=work)
        assert pre.code == 0, pre.err  # tracks the OTA policy (its page is not in this WARC)
        result = run_cli(
            "discover",
            "mektoube.fr",
            "opentermsarchive.org",
            "example.org",
            "--archive",
            base,
            "--db",
            db,
            "--add-to",
            str(urls),
            *FAST,
            cwd=work,
        )
        semi = run_cli(
            "discover",
            "mektoube.fr",
            "--sample",
            "semiannual",
            "--from",
            "2024",
            "--to",
            "2024",
            "--archive",
            base,
            "--db",
            db,
            *FAST,
            cwd=work,
        )
        none = run_cli("discover", "example.org", "--archive", base, "--db", db, *FAST, cwd=work)
        yield {"db": db, "urls": urls, "result": result, "semi": semi, "none": none}
    finally:
        archive.stop()


def test_discover_finds_the_policy_url_per_year(discovered: dict[str, Any]) -> None:
    r = discovered["result"]
    assert r.code == 0, r.err
    mek = r.out.split("mektoube.fr:")[1].split("opentermsarchive.org:")[0]
    assert [ln.split()[2] for ln in mek.splitlines() if ln.startswith("  20")] == [
        MEKTOUBE,
        MEKTOUBE,
        MEKTOUBE,
        "https://www.mektoube.fr/politique-de-confidentialite",
        "https://www.mektoube.fr/privacy-policy",
        "https://www.mektoube.fr/privacy-policy",
    ]
    assert "example.org: 0 home-page captures listed" in r.out


def test_discovered_urls_are_one_policy_and_join_tracked_ones(discovered: dict[str, Any]) -> None:
    store = open_store(discovered["db"])
    try:
        ids = {
            store.find_policy(u)
            for u in (
                MEKTOUBE,
                "https://www.mektoube.fr/politique-de-confidentialite",
                "https://www.mektoube.fr/privacy-policy",
            )
        }
        assert len(ids) == 1 and None not in ids
        # the OTA policy found on its home page is the one the crawl tracked: no new policy
        assert store.counts()["policies"] == 2
    finally:
        store.close()
    text = discovered["urls"].read_text().splitlines()
    assert text[0] == OTA
    assert [u for u in text[1:] if not u.startswith("#")] == [
        MEKTOUBE,
        "https://www.mektoube.fr/politique-de-confidentialite",
        "https://www.mektoube.fr/privacy-policy",
    ]


def test_discover_semiannual_window_and_nothing_found(discovered: dict[str, Any]) -> None:
    semi = discovered["semi"]
    assert semi.code == 0, semi.err
    rows = [ln.split() for ln in semi.out.splitlines() if ln.startswith("  20")]
    assert [(r[0], r[2]) for r in rows] == [
        ("2024-H1", "https://www.mektoube.fr/politique-de-confidentialite"),
        ("2024-H2", "https://www.mektoube.fr/privacy-policy"),
    ]
    none = discovered["none"]
    assert none.code == 1 and none.err.strip() == (
        "policytrail: error: no privacy-policy link found in the archived home pages"
    )


def test_discover_spider_lets_the_internet_archive_sample_by_year() -> None:
    import asyncio
    from urllib.parse import parse_qs, urlsplit

    from crawler.spiders.discover import DiscoverSpider

    def first_query(archive: str, sample: str) -> dict[str, list[str]]:
        spider = DiscoverSpider(domains=["mektoube.fr"], archive=archive, sample=sample)

        async def requests() -> list[Any]:
            return [r async for r in spider.start()]

        (request,) = asyncio.run(requests())
        return parse_qs(urlsplit(request.url).query)

    ia = first_query("https://web.archive.org", "yearly")
    assert ia["url"] == ["https://mektoube.fr/"] and ia["collapse"] == ["timestamp:4"]
    assert ia["filter"] == ["statuscode:[23].."]
    assert "collapse" not in first_query("https://web.archive.org", "semiannual")
    assert "collapse" not in first_query("http://127.0.0.1:9/web", "yearly")  # pywb samples here
