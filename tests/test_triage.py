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


def _at(ts: str, status: int | None = 200) -> CaptureRef:
    return CaptureRef("https://a.org/p", ts, f"D{ts}", status)


def test_semiannual_sampling_picks_nearest_to_april_and_october() -> None:
    from crawler.triage import Sampling, sample

    rows = [
        _at("20190115000000"),
        _at("20190320000000"),
        _at("20190410000000", 404),
        _at("20190601000000"),
        _at("20190801000000"),
        _at("20191005000000"),
        _at("20191230000000"),
        _at("20200101000000"),
    ]
    picked = [r.timestamp for r in sample(rows, Sampling.SEMIANNUAL)]
    # 2019-04-10 is nearer to 1 April but an error page; 2020-01-01 is alone in its half-year
    assert picked == ["20190320000000", "20191005000000", "20200101000000"]
    # a half-year already stored is not sampled again by a later, incremental listing
    later = sample(rows, Sampling.SEMIANNUAL, covered=["20190501000000"])
    assert [r.timestamp for r in later] == ["20191005000000", "20200101000000"]


def test_monthly_sampling_takes_first_of_each_month_and_all_keeps_everything() -> None:
    from crawler.triage import Sampling, sample

    rows = [
        _at("20190131000000"),
        _at("20190102000000"),
        _at("20190215000000"),
        _at("20190216000000"),
    ]
    assert [r.timestamp for r in sample(rows, Sampling.MONTHLY)] == [
        "20190102000000",
        "20190215000000",
    ]
    assert sample(rows, Sampling.ALL) == rows


def test_yearly_sample_and_period_labels() -> None:
    from crawler.triage import Sampling, period_label, sample

    rows = [ref(ts, ts) for ts in ("20200105000000", "20200601000000", "20210301000000")]
    assert [r.timestamp for r in sample(rows, Sampling.YEARLY)] == [
        "20200105000000",
        "20210301000000",
    ]
    assert period_label(Sampling.YEARLY, "20200601000000") == "2020"
    assert period_label(Sampling.SEMIANNUAL, "20200701000000") == "2020-H2"
    assert period_label(Sampling.MONTHLY, "20200701000000") == "2020-07"
