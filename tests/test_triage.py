"""Deciding what to fetch, and what a replayed response is."""

from __future__ import annotations

from crawler.archive import make_archive
from crawler.triage import Listing, PolicyDigests, classify_replay, plan_listing
from diffing.records import CaptureRef

PYWB = make_archive("http://127.0.0.1:9/web")
IA = make_archive("https://web.archive.org")
MEMENTO = ("Memento-Datetime", "Sat, 01 Oct 2022 00:32:04 GMT")


def ref(ts: str, digest: str, url: str = "https://a.org/p") -> CaptureRef:
    return CaptureRef(url, ts, digest, 200)


def test_one_fetch_per_digest_and_known_digests_not_fetched() -> None:
    listing = Listing(PolicyDigests(stored={"OLD"}), stored_timestamps={"20200101000000"})
    plan = plan_listing(
        listing,
        [
            ref("20200101000000", "OLD"),  # stored already
            ref("20200201000000", "OLD"),  # same digest as stored content
            ref("20200301000000", "NEW"),
            ref("20200401000000", "NEW"),  # waits for the fetch of the one above
            ref("20200401000000", "NEW"),  # the index repeats rows
            ref("20200501000000", "ABA"),
        ],
    )
    assert [r.timestamp for r in plan.to_fetch] == ["20200301000000", "20200501000000"]
    assert [r.timestamp for r in plan.known] == ["20200201000000"]
    assert plan.already_stored == 1
    assert [r.timestamp for r in listing.finish("NEW")] == ["20200401000000"]
    later = plan_listing(listing, [ref("20200601000000", "NEW")])  # a later CDX page
    assert not later.to_fetch and [r.timestamp for r in later.known] == ["20200601000000"]


def test_digests_are_shared_by_urls_of_one_policy() -> None:
    shared = PolicyDigests()
    a, b = Listing(shared), Listing(shared)
    assert len(plan_listing(a, [ref("20200101000000", "D", "https://a.org/p")]).to_fetch) == 1
    plan_b = plan_listing(b, [ref("20200102000000", "D", "https://a.org/p/")])
    assert not plan_b.to_fetch  # waits for the fetch through the other URL
    assert [r.url for r in a.finish("D")] == ["https://a.org/p/"]


def test_classify_archived_and_live_responses() -> None:
    url = "http://127.0.0.1:9/web/20221001003204id_/https://a.org/p"
    assert (
        classify_replay(PYWB, 200, [MEMENTO, ("Content-Type", "text/html")], url).state == "fetched"
    )
    archived_404 = classify_replay(PYWB, 404, [MEMENTO], url)
    assert archived_404.state == "archived-error"
    live_404 = classify_replay(PYWB, 404, [("Content-Type", "text/html")], url)
    assert live_404.state == "failed" and live_404.error_kind == "http-404"


def test_classify_redirects() -> None:
    url = "http://127.0.0.1:9/web/20230101000000id_/https://a.org/p"
    exact = classify_replay(
        PYWB, 307, [("Location", "/web/20221001003204id_/https://a.org/p")], url
    )
    assert exact.state == "archive-redirect"
    assert exact.location == "http://127.0.0.1:9/web/20221001003204id_/https://a.org/p"
    archived = classify_replay(
        PYWB, 301, [MEMENTO, ("Location", "https://a.org/legal/privacy")], url
    )
    assert archived.state == "redirect" and archived.redirect_to == "https://a.org/legal/privacy"
    ia_url = "https://web.archive.org/web/20200101000000id_/http://a.org/p"
    ia = classify_replay(
        IA,
        302,
        [MEMENTO, ("Location", "https://web.archive.org/web/20200101000000id_/http://a.org/new")],
        ia_url,
    )
    assert ia.state == "redirect" and ia.redirect_to == "http://a.org/new"
    live_web = classify_replay(PYWB, 302, [("Location", "https://a.org/elsewhere")], url)
    assert live_web.state == "failed" and live_web.error_kind == "redirect-outside-archive"
