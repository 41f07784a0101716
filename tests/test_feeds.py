"""Atom feeds of changes: well-formed XML in the Atom namespace with the elements RFC 4287
requires, one entry per stored change, stable entry ids, links that resolve."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path
from urllib.parse import unquote

import pytest

from crawler.feeds import ATOM, GLOBAL_LIMIT, write_feeds
from diffing.analysis import TextAnalyser
from diffing.records import CaptureRef, Document
from storage import open_store
from storage.repository import FetchResult
from tests.conftest import run_cli
from tests.test_cli import assert_one_line_error
from tests.test_export import cli
from tests.test_report import crawled_sample_db

pytestmark = pytest.mark.e2e

A = f"{{{ATOM}}}"
RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")


@pytest.fixture(scope="module")
def sample_db(pywb_archive: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    return crawled_sample_db(pywb_archive, tmp_path_factory.getbasetemp())


def check_atom(path: Path) -> ET.Element:
    """Parse ``path`` and check the elements RFC 4287 requires; return the feed element."""
    root = ET.parse(path).getroot()
    assert root.tag == f"{A}feed", root.tag
    for name in ("id", "title", "updated"):
        assert len(root.findall(f"{A}{name}")) == 1, f"feed needs exactly one {name}"
    assert RFC3339.match(root.findtext(f"{A}updated", ""))
    assert root.find(f"{A}author/{A}name") is not None  # entries have no author of their own
    assert [x.get("rel") for x in root.findall(f"{A}link")].count("self") == 1
    for entry in root.findall(f"{A}entry"):
        for name in ("id", "title", "updated"):
            assert len(entry.findall(f"{A}{name}")) == 1, f"entry needs exactly one {name}"
        assert RFC3339.match(entry.findtext(f"{A}updated", ""))
        alternate = [x for x in entry.findall(f"{A}link") if x.get("rel") == "alternate"]
        assert len(alternate) == 1 and alternate[0].get("href")
        content = entry.find(f"{A}content")
        assert content is not None and content.get("type") == "html" and content.text
    return root


def entries(root: ET.Element) -> list[ET.Element]:
    return root.findall(f"{A}entry")


def test_feeds_are_valid_atom_with_an_entry_per_change(sample_db: str, tmp_path: Path) -> None:
    r = run_cli("report", "--out", str(tmp_path), "--db", sample_db)
    assert r.code == 0, r.err
    store = open_store(sample_db, create=False)
    try:
        summaries = store.summaries()
        total = store.counts()["changes"]
    finally:
        store.close()
    top = check_atom(tmp_path / "feed.atom")
    got = entries(top)
    assert len(got) == min(total, GLOBAL_LIMIT)
    updated = [e.findtext(f"{A}updated", "") for e in got]
    assert updated == sorted(updated, reverse=True)  # newest first
    ids = [e.findtext(f"{A}id", "") for e in got]
    assert len(set(ids)) == len(ids) and all(i.startswith("tag:") for i in ids)
    per_policy = sorted(tmp_path.glob("*/feed.atom"))
    assert len(per_policy) == len(summaries)
    for feed in per_policy:
        root = check_atom(feed)
        (summary,) = [s for s in summaries if feed.parent.name.startswith(f"{s.id}-")]
        assert len(entries(root)) == summary.changes
        # relative links resolve, from the feed's own address, to the report's pages
        for link in root.iter(f"{A}link"):
            href = link.get("href", "")
            if not href.startswith("http"):
                assert (feed.parent / unquote(href)).resolve().exists(), href
    # the report pages name their feed
    assert 'type="application/atom+xml"' in (tmp_path / "index.html").read_text()


def test_entry_ids_are_stable_and_links_absolute_with_base_url(
    sample_db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    assert cli(capsys, "feed", "--out", str(a), "--db", sample_db).code == 0
    r = cli(
        capsys, "feed", "--out", str(b), "--base-url", "https://example.org/r/", "--db", sample_db
    )
    assert r.code == 0, r.err

    def ids(path: Path) -> list[str]:
        return [e.findtext(f"{A}id", "") for e in entries(ET.parse(path).getroot())]

    assert ids(a / "feed.atom") == ids(b / "feed.atom")
    # away from a report (no index.html beside it), entries link to the archived capture
    alone = ET.parse(a / "feed.atom").getroot()
    links = [x for e in entries(alone) for x in e.findall(f"{A}link")]
    assert links and all(x.get("href", "").startswith("http") for x in links)
    assert all("id_/" in x.get("href", "") for x in links if x.get("rel") == "alternate")
    root = check_atom(b / "feed.atom")
    hrefs = [x.get("href", "") for x in root.iter(f"{A}link")]
    assert all(h.startswith(("https://example.org/r/", "http")) for h in hrefs)
    assert any(h.startswith("https://example.org/r/") and "/change-" in h for h in hrefs)
    r = cli(capsys, "feed", "--out", str(b), "--base-url", "javascript:x", "--db", sample_db)
    assert_one_line_error(r, 1, "--base-url")


def test_feed_of_one_policy(
    sample_db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    r = cli(
        capsys,
        "feed",
        "--out",
        str(tmp_path),
        "--policy",
        "https://hily.com/privacypolicy",
        "--db",
        sample_db,
    )
    assert r.code == 0, r.err
    assert not (tmp_path / "feed.atom").exists()
    (feed,) = tmp_path.glob("*/feed.atom")
    assert "hily" in feed.parent.name and entries(check_atom(feed))


def test_text_xml_cannot_carry_still_makes_valid_atom(tmp_path: Path) -> None:
    """Control characters in a stored text (from any normaliser version) are replaced, not
    written into the XML where they would break every feed reader."""
    store = open_store(f"sqlite:///{tmp_path / 'c.db'}")
    try:
        (t,) = store.track(["https://ctrl.example/privacy"])
        base = "Privacy policy. We collect your e-mail address to run the service.\n\n"
        for ts, extra in (("20200101000000", "Old."), ("20210101000000", "New \x01\x0b\x1f.")):
            text = base + extra
            doc = Document(text, "Privacy", "en", "test", f"h{ts}")
            store.save_fetch(
                FetchResult(
                    t.policy_id,
                    t.url_id,
                    CaptureRef("https://ctrl.example/privacy", ts, f"D{ts}", 200, "text/html"),
                    "https://web.archive.org",
                    "fetched",
                    body=text.encode(),
                    content_type="text/html",
                    document=doc,
                )
            )
        store.rebuild_versions(t.policy_id, TextAnalyser())
        paths = write_feeds(store, tmp_path / "out")
    finally:
        store.close()
    assert len(paths) == 2
    for p in paths:
        root = check_atom(p)
        (entry,) = entries(root)
        assert "\ufffd" in (entry.findtext(f"{A}content") or "")
