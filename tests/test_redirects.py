"""Archived (captured) redirects: followed inside the archive only, chain recorded on the capture,
content at the end stored when it is still the policy, flagged when it leaves it.

Unit tests walk the real recorded archive.org redirect chains (../shared/data/ia-recorded) with the
crawler's plain functions. The end-to-end test crawls a real pywb serving a WARC built here: real
policy captures copied from ../shared/data/ota-policies, plus redirect records that are SYNTHETIC
(labelled so in the WARC: ``WARC-Source: synthetic redirect for policytrail tests``); every page
body in it is real archived HTML.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import select
from warcio.archiveiterator import ArchiveIterator
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from crawler.archive import make_archive
from crawler.triage import (
    Hop,
    Listing,
    PolicyDigests,
    classify_replay,
    leaves_policy,
    memento_timestamp,
    next_redirect,
    plan_listing,
)
from diffing.normalize import normalize
from diffing.records import CaptureRef
from storage import open_store
from storage.models import Capture, PolicyUrl
from tests.conftest import FAST, run_cli, shared_path
from tests.warcs import write_synthetic_response

IA = make_archive("https://web.archive.org")
PYWB = make_archive("http://127.0.0.1:9/web")


# ------------------------------------------------------------------------------------------------
# plain functions


def test_leaves_policy_rule() -> None:
    start = "https://www.meetic.fr/privacy"
    # same archive key: http -> https, www., trailing slash
    assert leaves_policy(start, "http://meetic.fr/privacy/", "stub") is None
    # a path that names a policy: the policy moved
    assert leaves_policy(start, "https://www.meetic.fr/pages/misc/privacy", "ok") is None
    assert leaves_policy(start, "https://www.meetic.fr/legal/datenschutz", "stub") is None
    # an address that says nothing, but whose text reads as a policy
    assert leaves_policy(start, "https://www.meetic.fr/legal/statement-7", "ok") is None
    # home pages, language home pages and non-policy pages have left the policy
    for home in (
        "https://www.meetic.fr/",
        "https://meetic.fr/index.php",
        "https://meetic.fr/fr-fr/",
    ):
        assert "home page" in (leaves_policy(start, home, "ok") or "")
    why = leaves_policy(start, "https://www.meetic.fr/login", "not-a-policy")
    assert why is not None and "not a policy (not-a-policy)" in why


def test_next_redirect_stays_inside_the_archive() -> None:
    hop = Hop("20230201000000", "https://a.org/privacy", 301)
    # pywb hands back the live Location: resolved to the target's id_ replay at the hop's time
    step = next_redirect(
        PYWB, [hop], "https://a.org/legal/privacy", "https://a.org/legal/privacy", hop.url
    )
    assert step.follow == "http://127.0.0.1:9/web/20230201000000id_/https://a.org/legal/privacy"
    # the Internet Archive already rewrote Location into its replay space: used as it is
    ia_loc = "https://web.archive.org/web/20230201000000id_/https://a.org/legal/privacy"
    step = next_redirect(IA, [hop], "https://a.org/legal/privacy", ia_loc, hop.url)
    assert step.follow == ia_loc
    # no Location, a loop, too many hops, the home page: stop, and say why
    assert next_redirect(PYWB, [hop], None, "", hop.url).stop == "no-location"
    back = Hop("20230201000000", "https://a.org/legal/privacy", 302)
    loop = next_redirect(PYWB, [hop, back], hop.url, hop.url, hop.url)
    assert loop.stop == "loop" and loop.follow is None and "-> https://a.org/privacy" in loop.reason
    many = [Hop("20230201000000", f"https://a.org/p{i}", 302) for i in range(4)]
    assert next_redirect(PYWB, many, "https://a.org/p9", "", hop.url, max_hops=3).stop == (
        "too-many-hops"
    )
    assert next_redirect(PYWB, many, "https://a.org/p9", "", hop.url, max_hops=4).follow
    assert next_redirect(PYWB, [hop], "https://a.org/", "", hop.url).stop == "leaves-policy"
    # discovery follows home-page redirects to other home pages
    assert next_redirect(PYWB, [hop], "https://a.org/", "", hop.url, policy=False).follow


def test_redirect_rows_are_fetched_one_by_one_not_shared_by_digest() -> None:
    empty = "3I42H3S6NNFQ2MSVX7XZKYAYSCX5QBYJ"  # every empty redirect body has this digest
    listing = Listing(PolicyDigests(stored={empty}))
    rows = [
        CaptureRef("http://a.org/p", "20200101000000", empty, 301),
        CaptureRef("http://a.org/p", "20210101000000", empty, 302),
        CaptureRef("https://a.org/p", "20210201000000", "REVISIT", None, is_revisit=True),
        CaptureRef("https://a.org/p", "20210301000000", "REVISIT", None, is_revisit=True),
    ]
    plan = plan_listing(listing, rows)
    assert [r.timestamp for r in plan.to_fetch] == [
        "20200101000000",
        "20210101000000",
        "20210201000000",
    ]
    assert not plan.known
    # the revisit turned out to replay a redirect: the row that waited is released, and later
    # rows with that digest are fetched too
    assert [r.timestamp for r in listing.release_redirect("REVISIT")] == ["20210301000000"]
    later = plan_listing(
        listing, [CaptureRef("https://a.org/p", "20220101000000", "REVISIT", None)]
    )
    assert [r.timestamp for r in later.to_fetch] == ["20220101000000"]


def test_memento_timestamp() -> None:
    headers = [("Memento-Datetime", "Wed, 08 Aug 2018 09:41:44 GMT")]
    assert memento_timestamp(headers, "x") == "20180808094144"
    assert memento_timestamp([("Memento-Datetime", "garbage")], "20200101000000") == (
        "20200101000000"
    )


def _cassette(name: str) -> dict[str, tuple[int, list[tuple[str, str]]]]:
    """Recorded archive.org interactions: request URL -> (status, headers)."""
    path = shared_path("data", "ia-recorded", "cassettes", name)
    data: dict[str, Any] = yaml.safe_load(path.read_text())
    out: dict[str, tuple[int, list[tuple[str, str]]]] = {}
    for it in data["interactions"]:
        resp = it["response"]
        headers = [(k, str(v)) for k, vs in resp["headers"].items() for v in vs]
        out[it["request"]["uri"]] = (int(resp["status"]["code"]), headers)
    return out


def walk_ia(name: str, start: str) -> tuple[list[Hop], str, str]:
    """Follow a recorded Internet Archive replay with the crawler's functions, the way the
    spider does: archive-internal redirects, then archived ones. Every URL asked for must be one
    archive.org was asked for when the cassette was recorded (so never the live web)."""
    recorded = _cassette(name)
    url, chain = start, []
    start_url = IA.original_from_replay(start)[1]  # type: ignore[index]
    for _ in range(20):
        assert url in recorded, f"the crawler asked for a URL archive.org was not asked: {url}"
        assert url.startswith("https://web.archive.org/web/") and "id_/" in url
        status, headers = recorded[url]
        outcome = classify_replay(IA, status, headers, url)
        if outcome.state == "archive-redirect":
            url = outcome.location or ""
            continue
        inside = IA.original_from_replay(url)
        assert inside is not None
        hop = Hop(memento_timestamp(headers, inside[0]), inside[1], status)
        chain.append(hop)
        if outcome.state != "redirect":
            return chain, outcome.state, ""
        location = next(v for k, v in headers if k.lower() == "location")
        step = next_redirect(IA, chain, outcome.redirect_to, location, start_url)
        if step.follow is None:
            return chain, "redirect", step.stop
        url = step.follow
    raise AssertionError("walk did not end")


def test_ia_recorded_redirect_is_followed_inside_the_archive() -> None:
    chain, state, _ = walk_ia(
        "test_get_memento_with_redirects.yaml",
        "https://web.archive.org/web/20180808094144id_/https://www.epa.gov/ghgreporting/san5779-factsheet",
    )
    assert state == "fetched"
    assert [h.status for h in chain] == [301, 200]
    assert chain[0].timestamp == "20180808094144"
    assert chain[1].url.endswith(
        "/proposed-rule-fact-sheet-greenhouse-gas-reporting-program-addition-global-warming"
    )
    assert chain[1].timestamp == "20180808104500"  # the exact capture the archive redirected to


def test_ia_recorded_path_based_redirect_ends_on_an_archived_404() -> None:
    chain, state, _ = walk_ia(
        "test_get_memento_with_path_based_redirects.yaml",
        "https://web.archive.org/web/20201027215555id_/"
        "https://www.whitehouse.gov/administration/eop/ostp/about/student/faqs",
    )
    assert state == "archived-error"
    assert [h.status for h in chain] == [301, 404]
    assert chain[1].url == "https://www.whitehouse.gov/ostp/about/student/faqs"


def test_ia_recorded_redirect_loop_is_detected() -> None:
    chain, state, stop = walk_ia(
        "test_get_memento_raises_for_mementos_that_redirect_in_a_loop.yaml",
        "https://web.archive.org/web/20200925075402id_/"
        "https://link.springer.com/article/10.1007/s00382-012-1331-2",
    )
    assert (state, stop) == ("redirect", "loop")
    article = "https://link.springer.com/article/10.1007/s00382-012-1331-2"
    assert [(h.url.split("?")[0], h.status) for h in chain] == [
        (article, 303),
        ("https://idp.springer.com/authorize", 302),  # which sends it back to the article
    ]


# ------------------------------------------------------------------------------------------------
# end to end against a real pywb


SYNTHETIC = "synthetic redirect for policytrail tests"
REAL_URLS = {
    "https://www.meetic.fr/pages/misc/privacy",
    "https://uk.match.com/pages/misc/privacy",
}
# (tracked URL, capture time, status, Location) — each record is labelled synthetic in the WARC
REDIRECTS = [
    # a moved policy, twice (same empty-body digest, different times -> different content)
    (
        "https://www.meetic.fr/privacy",
        "2023-02-01T00:00:00Z",
        301,
        "https://www.meetic.fr/pages/misc/privacy",
    ),
    (
        "https://www.meetic.fr/privacy",
        "2025-04-01T00:00:00Z",
        301,
        "https://www.meetic.fr/pages/misc/privacy",
    ),
    # two hops, a relative Location, archive-internal redirects between them
    ("https://www.meetic.fr/legal/privacy", "2023-02-10T00:00:00Z", 302, "/privacy"),
    # http -> https of the same policy (pywb itself skips such self-redirects)
    (
        "http://www.meetic.fr/pages/misc/privacy",
        "2023-03-01T00:00:00Z",
        301,
        "https://www.meetic.fr/pages/misc/privacy",
    ),
    # to the home page: leaves the policy (not fetched)
    ("https://uk.match.com/privacy", "2024-06-01T00:00:00Z", 301, "https://uk.match.com/"),
    # to a login page whose content is not a policy: leaves the policy
    (
        "https://uk.match.com/legal/privacy-old",
        "2024-06-01T00:00:00Z",
        302,
        "https://uk.match.com/login",
    ),
    # a loop
    ("https://hily.com/privacy", "2024-01-01T00:00:00Z", 302, "https://hily.com/privacy-policy"),
    ("https://hily.com/privacy-policy", "2024-01-01T00:00:00Z", 302, "https://hily.com/privacy"),
    # to a target that was never archived
    (
        "https://www.finya.de/privacy",
        "2024-06-04T00:00:00Z",
        301,
        "https://www.finya.de/datenschutz",
    ),
    # to an archived 404
    (
        "https://coffeemeetsbagel.com/privacy",
        "2022-02-01T00:00:00Z",
        301,
        "https://coffeemeetsbagel.com/privacy-policy",
    ),
] + [  # a chain longer than the hop limit
    (
        f"https://hily.com/legal/p{i}",
        "2024-02-01T00:00:00Z",
        302,
        f"https://hily.com/legal/p{i + 1}",
    )
    for i in range(8)
]
ARCHIVED_404 = [
    ("https://coffeemeetsbagel.com/privacy-policy", "2022-02-01T00:00:00Z"),
    ("https://coffeemeetsbagel.com/privacy-old", "2022-03-01T00:00:00Z"),
]
LOGIN_BODY_FROM = ("https://uk.match.com/pages/misc/privacy", "2024-04-24")  # real, not-a-policy
TRACKED = [
    "https://www.meetic.fr/privacy",
    "https://www.meetic.fr/legal/privacy",
    "https://www.meetic.fr/pages/misc/privacy",
    "https://uk.match.com/privacy",
    "https://uk.match.com/legal/privacy-old",
    "https://hily.com/privacy",
    "https://hily.com/legal/p0",
    "https://www.finya.de/privacy",
    "https://coffeemeetsbagel.com/privacy",
    "https://coffeemeetsbagel.com/privacy-old",
]


def build_warc(path: Path) -> dict[tuple[str, str], bytes]:
    """Write the test WARC; return the real bodies copied into it by (URL, date)."""
    source = shared_path("data", "ota-policies", "ota-policies.warc.gz")
    bodies: dict[tuple[str, str], bytes] = {}
    with source.open("rb") as src, path.open("wb") as out:
        w = WARCWriter(out, gzip=True)
        for rec in ArchiveIterator(src):
            uri = rec.rec_headers.get_header("WARC-Target-URI")
            if rec.rec_type == "response" and uri in REAL_URLS:
                body = rec.content_stream().read()
                date = rec.rec_headers.get_header("WARC-Date")
                bodies[(uri, date[:10])] = body
                http = StatusAndHeaders("200 OK", rec.http_headers.headers, protocol="HTTP/1.1")
                w.write_record(
                    w.create_warc_record(
                        uri,
                        "response",
                        payload=io.BytesIO(body),
                        http_headers=http,
                        warc_headers_dict={"WARC-Date": date},
                    )
                )

        def synthetic(
            url: str, date: str, status: str, headers: list[tuple[str, str]], body: bytes, note: str
        ) -> None:
            write_synthetic_response(
                w, url, date, status, headers, body, source=SYNTHETIC, note=note
            )

        reasons = {301: "Moved Permanently", 302: "Found"}
        for url, date, status, location in REDIRECTS:
            synthetic(
                url,
                date,
                f"{status} {reasons[status]}",
                [("Location", location)],
                b"",
                "redirect record crafted for the test",
            )
        for url, date in ARCHIVED_404:
            synthetic(
                url,
                date,
                "404 Not Found",
                [("Content-Type", "text/html")],
                b"",
                "archived 404 crafted for the test (empty body)",
            )
        login = bodies[LOGIN_BODY_FROM]
        synthetic(
            "https://uk.match.com/login",
            "2024-06-01T00:00:00Z",
            "200 OK",
            [("Content-Type", "text/html; charset=utf-8")],
            login,
            "real uk.match.com HTML of 2024-04-24 (not a policy page) placed at /login",
        )
    return bodies


@pytest.fixture(scope="module")
def crawled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    from crawler.localarchive import LocalArchive, LocalArchiveError

    work = tmp_path_factory.mktemp("redirects")
    warc = work / "redirects.warc.gz"
    bodies = build_warc(warc)
    urls = work / "urls.txt"
    urls.write_text("\n".join(TRACKED) + "\n")
    db = f"sqlite:///{work / 'redirects.db'}"
    archive = LocalArchive([warc], root=work / "pywb")
    try:
        base = archive.start()
    except LocalArchiveError as exc:
        pytest.fail(f"cannot start the pywb test archive: {exc}")
    try:
        first = run_cli("crawl", str(urls), "--archive", base, "--db", db, *FAST, cwd=work)
        second = run_cli("crawl", str(urls), "--archive", base, "--db", db, *FAST, cwd=work)
        yield {"db": db, "first": first, "second": second, "bodies": bodies}
    finally:
        archive.stop()


def captures(db: str, url: str) -> list[Capture]:
    store = open_store(db)
    try:
        with store.engine.connect() as conn:
            url_id = conn.execute(select(PolicyUrl.id).where(PolicyUrl.url == url)).scalar_one()
        from sqlalchemy.orm import Session

        with Session(store.engine) as s:
            return list(
                s.scalars(
                    select(Capture).where(Capture.url_id == url_id).order_by(Capture.timestamp)
                )
            )
    finally:
        store.close()


def text_of(db: str, cap: Capture) -> str:
    store = open_store(db)
    try:
        assert cap.text_id is not None
        return store.read_text(cap.text_id)
    finally:
        store.close()


def expected_text(bodies: dict[tuple[str, str], bytes], url: str, date: str) -> str:
    return normalize(bodies[(url, date)], url=url, content_type="text/html").text


def test_crawl_succeeds_and_counts_redirects(crawled: dict[str, Any]) -> None:
    first = crawled["first"]
    assert first.code == 0, first.err
    counts = {
        "followed": 5,  # meetic x2, the two-hop chain, the login page, the archived 404
        "hops": 13,  # requests for redirect targets: 2 + 2 + 1 (login) + 1 + 5 + 1 + 1
        "leaves-policy": 2,  # the home page (not fetched) and the login page
        "loop": 1,
        "too-many-hops": 1,
        "target-not-archived": 1,
    }
    line = ", ".join(f"{n} {kind}" for kind, n in sorted(counts.items()))
    assert f"; archived redirects: {line}" in first.out, first.out
    store = open_store(crawled["db"])
    try:
        run = store.runs()[-1]  # the first run: its row in the run history
        assert run.stats["redirects"] == counts
    finally:
        store.close()


def test_moved_policy_is_followed_at_each_capture_time(crawled: dict[str, Any]) -> None:
    db, bodies = crawled["db"], crawled["bodies"]
    early, late = captures(db, "https://www.meetic.fr/privacy")
    target = "https://www.meetic.fr/pages/misc/privacy"
    for cap in (early, late):
        assert cap.state == "fetched" and not cap.leaves_policy
        assert cap.redirect_to == target
        assert cap.redirect_chain is not None
        assert [h["status"] for h in cap.redirect_chain] == [301, 200]
        assert cap.redirect_chain[0] == {
            "timestamp": cap.timestamp,
            "url": "https://www.meetic.fr/privacy",
            "status": 301,
        }
    # the same redirect body (digest) led to different captures of the target
    assert early.redirect_chain[1]["timestamp"] == "20230120123259"  # type: ignore[index]
    assert late.redirect_chain[1]["timestamp"] == "20250303123311"  # type: ignore[index]
    assert text_of(db, early) == expected_text(bodies, target, "2023-01-20")
    assert text_of(db, late) == expected_text(bodies, target, "2025-03-03")
    store = open_store(db)
    try:
        pid = store.find_policy("https://www.meetic.fr/privacy")
        assert pid is not None
        assert len(store.versions(pid)) == 2  # both texts are versions of the moved policy
    finally:
        store.close()


def test_two_hop_chain_with_relative_location(crawled: dict[str, Any]) -> None:
    (cap,) = captures(crawled["db"], "https://www.meetic.fr/legal/privacy")
    assert cap.state == "fetched"
    chain = cap.redirect_chain or []
    assert [(h["url"], h["status"]) for h in chain] == [
        ("https://www.meetic.fr/legal/privacy", 302),
        ("https://www.meetic.fr/privacy", 301),
        ("https://www.meetic.fr/pages/misc/privacy", 200),
    ]
    assert text_of(crawled["db"], cap) == expected_text(
        crawled["bodies"], "https://www.meetic.fr/pages/misc/privacy", "2023-01-20"
    )


def test_redirect_to_home_or_non_policy_page_leaves_the_policy(crawled: dict[str, Any]) -> None:
    db = crawled["db"]
    (home,) = captures(db, "https://uk.match.com/privacy")
    assert home.state == "redirect" and home.leaves_policy
    assert home.redirect_to == "https://uk.match.com/" and home.snapshot_id is None
    assert home.error and "home page" in home.error
    (login,) = captures(db, "https://uk.match.com/legal/privacy-old")
    assert login.state == "redirect" and login.leaves_policy
    assert login.verdict == "not-a-policy" and login.redirect_to == "https://uk.match.com/login"
    assert [h["status"] for h in login.redirect_chain or []] == [302, 200]
    store = open_store(db)
    try:
        for url in ("https://uk.match.com/privacy", "https://uk.match.com/legal/privacy-old"):
            assert store.versions(store.find_policy(url) or 0) == []
    finally:
        store.close()


def test_loop_hop_limit_missing_target_and_archived_404(crawled: dict[str, Any]) -> None:
    db = crawled["db"]
    (loop,) = captures(db, "https://hily.com/privacy")
    assert loop.state == "redirect" and not loop.leaves_policy
    assert loop.error and "loop" in loop.error
    assert [h["url"] for h in loop.redirect_chain or []] == [
        "https://hily.com/privacy",
        "https://hily.com/privacy-policy",
    ]
    (long,) = captures(db, "https://hily.com/legal/p0")
    assert long.state == "redirect" and long.error and "more than 5" in long.error
    assert len(long.redirect_chain or []) == 6
    (missing,) = captures(db, "https://www.finya.de/privacy")
    assert missing.state == "redirect" and missing.error
    assert "not in the archive" in missing.error
    (gone,) = captures(db, "https://coffeemeetsbagel.com/privacy")
    assert gone.state == "archived-error" and gone.snapshot_id is None
    assert [h["status"] for h in gone.redirect_chain or []] == [301, 404]
    (direct,) = captures(db, "https://coffeemeetsbagel.com/privacy-old")
    assert direct.state == "archived-error" and direct.redirect_chain is None


def test_http_to_https_self_redirect_keeps_the_policy(crawled: dict[str, Any]) -> None:
    caps = captures(crawled["db"], "https://www.meetic.fr/pages/misc/privacy")
    (http,) = [c for c in caps if c.original_url.startswith("http://")]
    assert http.state in ("fetched", "duplicate") and not http.leaves_policy
    assert http.text_hash is not None


def test_second_run_refollows_nothing(crawled: dict[str, Any]) -> None:
    second = crawled["second"]
    assert second.code == 0, second.err
    assert " 0 fetched" in second.out and "0 versions stored" in second.out
