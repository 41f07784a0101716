"""The Internet Archive dialect against real recorded archive.org answers (tests/iaserver.py).

One crawl with ``--dialect ia`` of URLs whose answers the recordings hold: a CDX listing of 15
pages chained by resume keys (cnn.com, April-May 2001), captured redirects (absolute, path-based,
scheme-relative, through IA's own inexact-timestamp redirects), a redirect loop, an archived 429
page, a blocked site, an ordinary memento, and the recorded malformed and bad-timestamp CDX files.
Every answer the recordings lack is stitched and labelled by the server (see its docstring).
"""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from crawler.archive import make_archive, parse_cdx
from crawler.triage import classify_replay
from storage import open_store
from storage.models import Capture, PolicyUrl
from tests.conftest import FAST, Result, run_cli, shared_path
from tests.iaserver import IAServer, Logged

pytestmark = pytest.mark.e2e

CNN = "http://www.cnn.com/"
GHG = "https://www.epa.gov/ghgreporting/san5779-factsheet"
CLIMATE = "https://www.epa.gov/climatechange"
WHITEHOUSE = "https://www.whitehouse.gov/administration/eop/ostp/about/student/faqs"
CENSUS = "https://www.census.gov/geography/gss-initiative.html"
SPRINGER = "https://link.springer.com/article/10.1007/s00382-012-1331-2"
REDDIT = "http://www.reddit.com/r/PokemonGiveaway"
BLOCKED = "https://nationalpost.com/health"
BIRDS = "https://www.fws.gov/birds/"
EPA_HOME = "https://www.epa.gov/"
USATODAY = "http://www.usatoday.com/2000/century/tech/004.htm"
URLS = [CNN, GHG, CLIMATE, WHITEHOUSE, CENSUS, SPRINGER, REDDIT, BLOCKED, BIRDS, EPA_HOME, USATODAY]


def recorded_root() -> Path:
    return shared_path("data", "ia-recorded")


def cassette(name: str) -> list[dict[str, Any]]:
    data = yaml.safe_load((recorded_root() / "cassettes" / name).read_text())
    return list(data["interactions"])


def body_of(interaction: dict[str, Any]) -> bytes:
    raw: bytes = interaction["response"]["body"]["string"]
    return gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw


@dataclass
class Crawl:
    result: Result
    run: dict[str, Any]
    captures: dict[str, list[dict[str, Any]]]  # URL -> its stored captures
    log: list[Logged]
    versions: dict[str, int]


@pytest.fixture(scope="module")
def crawl(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Crawl]:
    work = tmp_path_factory.mktemp("ia")
    urls = work / "urls.txt"
    urls.write_text("\n".join(URLS) + "\n")
    db = f"sqlite:///{work / 'ia.db'}"
    server = IAServer(
        recorded_root(),
        cdx_files={EPA_HOME: "malformed_cdx.txt", USATODAY: "bad_timestamp_cdx.txt"},
        live_429=[(r"/cdx/search/cdx\?url=http%3A%2F%2Fwww\.cnn\.com.*resumeKey=", 1)],
    )
    base = server.start()
    try:
        result = run_cli(
            "crawl", str(urls), "--archive", base, "--dialect", "ia", "--db", db,
            "--backoff", "1", *FAST, cwd=work,
        )  # fmt: skip
    finally:
        server.stop()
    store = open_store(db)
    try:
        run = store.runs(1)[0]
        with Session(store.engine) as s:
            rows = s.execute(
                select(PolicyUrl.url, Capture).join(PolicyUrl, PolicyUrl.id == Capture.url_id)
            ).all()
        captures: dict[str, list[dict[str, Any]]] = {}
        for url, c in rows:
            captures.setdefault(url, []).append(
                {
                    "timestamp": c.timestamp,
                    "state": c.state,
                    "error": c.error,
                    "text_hash": c.text_hash,
                    "redirect_to": c.redirect_to,
                    "chain": c.redirect_chain,
                    "length": c.length,
                }
            )
        versions = {}
        for url in URLS:
            pid = store.find_policy(url)
            versions[url] = len(store.versions(pid)) if pid is not None else 0
        yield Crawl(result, {"status": run.status, **run.stats}, captures, server.log, versions)
    finally:
        store.close()


def only(crawl: Crawl, url: str) -> dict[str, Any]:
    (capture,) = crawl.captures[url]
    return capture


def test_the_crawl_finishes_and_names_what_went_wrong(crawl: Crawl) -> None:
    assert crawl.result.code == 0, crawl.result.err
    assert "Traceback" not in crawl.result.err
    assert crawl.run["status"] == "partial"
    errors = crawl.run["errors"]
    assert errors.get("blocked") == 1
    assert "cdx" not in errors  # a blocked site is not an unreachable archive


def test_cdx_pages_with_resume_keys_are_all_consumed(crawl: Crawl) -> None:
    pages = cassette("test_search_multipage.yaml")
    served = [e for e in crawl.log if e.source == "test_search_multipage.yaml"]
    keys = [parse_qs(urlsplit(e.path).query).get("resumeKey", [""])[0] for e in served]
    recorded = [
        parse_qs(urlsplit(p["request"]["uri"]).query).get("resumeKey", [""])[0] for p in pages
    ]
    assert keys == recorded, "every page once, in the order the resume keys chain them"
    rows = [
        line.split(" ")
        for p in pages
        for line in body_of(p).decode().splitlines()
        if line.count(" ") == 6
    ]
    assert len(rows) == 350  # IA repeats rows within and across pages
    stored = {c["timestamp"] for c in crawl.captures[CNN]}
    assert stored == {r[1] for r in rows}
    assert len(crawl.captures[CNN]) == len(stored), "a repeated row is stored once"


def test_a_live_429_pauses_the_endpoint_then_asks_again(crawl: Crawl) -> None:
    (i,) = [n for n, e in enumerate(crawl.log) if e.source == "stitched-429"]
    refused = crawl.log[i]
    again = [e for e in crawl.log[i + 1 :] if e.path == refused.path]
    assert [e.status for e in again] == [200]
    assert "pausing the 'cdx' endpoint" in crawl.result.err
    assert "(2/3)" not in crawl.result.err  # the archived 429 page below did not count


def test_an_archived_429_page_is_an_archived_error_not_a_rate_limit(crawl: Crawl) -> None:
    capture = only(crawl, REDDIT)
    assert capture["state"] == "archived-error"
    assert "429" in (capture["error"] or "")
    assert capture["text_hash"] is None and crawl.versions[REDDIT] == 0


@pytest.mark.parametrize(
    ("url", "hops", "last_status"),
    [
        # 301 memento -> IA's own 302 to the exact capture -> 200 memento
        (GHG, [GHG, "https://www.epa.gov/ghgreporting/proposed-rule-fact-sheet"], 200),
        # IA's Location is path-based (/web/...): 301 -> IA's 302 -> an archived 404
        (WHITEHOUSE, [WHITEHOUSE, "https://www.whitehouse.gov/ostp/about/student/faqs"], 404),
        # IA's Location is scheme-relative (//web.archive.org/...)
        (CENSUS, [CENSUS, "https://www.census.gov/geo/gssi/"], 404),
        (CLIMATE, [CLIMATE, "https://www.epa.gov/sites/production/files/signpost/cc.html"], 200),
    ],
    ids=["absolute", "path-based", "scheme-relative", "to-a-file"],
)
def test_captured_redirects_are_followed_inside_the_archive(
    crawl: Crawl, url: str, hops: list[str], last_status: int
) -> None:
    capture = only(crawl, url)
    chain = capture["chain"]
    assert chain, "the redirect chain is recorded"
    assert [h["url"][: len(u)] for h, u in zip(chain, hops, strict=True)] == hops
    assert chain[0]["status"] in (301, 302, 303) and chain[-1]["status"] == last_status
    assert capture["redirect_to"] == chain[-1]["url"]
    # each hop was replayed from the recordings at its own capture time: never a miss
    for hop in chain:
        assert any(
            f"/web/{hop['timestamp']}id_/{hop['url']}" == e.path and e.source.endswith(".yaml")
            for e in crawl.log
        ), hop
    if last_status == 404:
        assert capture["state"] == "archived-error"
    assert capture["state"] != "failed"


def test_a_redirect_loop_stops(crawl: Crawl) -> None:
    capture = only(crawl, SPRINGER)
    assert capture["state"] == "redirect"
    assert "loop" in (capture["error"] or "")
    replays = [e for e in crawl.log if "springer.com" in e.path and "/web/" in e.path]
    assert len(replays) <= 4, "followed once around the loop, then stopped"
    assert crawl.versions[SPRINGER] == 0


def test_a_blocked_site_is_named_and_skipped(crawl: Crawl) -> None:
    assert BLOCKED not in crawl.captures
    assert any(e.source == "test_search_raises_for_blocked_urls.yaml" for e in crawl.log)
    assert "blocks https://nationalpost.com/health" in crawl.result.err


def test_an_ordinary_memento_is_fetched(crawl: Crawl) -> None:
    capture = only(crawl, BIRDS)
    assert capture["state"] == "fetched" and capture["text_hash"]


def test_malformed_cdx_lines_are_skipped_and_counted(crawl: Crawl) -> None:
    # malformed_cdx.txt: a line whose URL is no URL, and a 2,000-character data: URI as a URL
    assert crawl.run["cdx_malformed_lines"] == 2
    stored = sorted(c["timestamp"] for c in crawl.captures[EPA_HOME])
    assert stored == ["20200418003811", "20200418005903", "20200418140810"]
    assert all(len(e.path) < 2100 for e in crawl.log)


def test_impossible_timestamps_are_kept_and_asked_for_as_listed(crawl: Crawl) -> None:
    stored = {c["timestamp"] for c in crawl.captures[USATODAY]}
    assert {"20000012170449", "20000800241623"} <= stored  # month 00, day 00: real captures
    assert any("/web/20000012170449id_/" in e.path for e in crawl.log)


def test_a_row_without_a_length_is_kept() -> None:
    archive = make_archive("https://web.archive.org")
    page = parse_cdx(archive, (recorded_root() / "cdx-files" / "zero_length_cdx.txt").read_bytes())
    assert len(page.records) == 5 and not page.skipped
    assert page.records[-1].length is None and page.records[0].length == 24186


def test_the_replayed_exclusion_page_is_not_a_capture() -> None:
    """IA answers a blocked URL's replay with its own 200 page, without Memento-Datetime."""
    (it,) = cassette("test_get_memento_raises_blocked_error.yaml")
    assert b"This URL has been excluded" in body_of(it)
    headers = [(k, v) for k, vs in it["response"]["headers"].items() for v in vs]
    archive = make_archive("https://web.archive.org", "ia")
    outcome = classify_replay(archive, 200, headers, it["request"]["uri"])
    assert outcome.state == "failed" and outcome.error_kind == "not-a-memento"
    (archived,) = cassette("test_get_memento_works_on_archived_rate_limit_responses.yaml")
    headers = [(k, v) for k, vs in archived["response"]["headers"].items() for v in vs]
    assert classify_replay(archive, 429, headers, archived["request"]["uri"]).state == (
        "archived-error"
    )
