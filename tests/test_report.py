"""The static report in a real browser: the site generated from a real crawl of the bundled sample
(pywb on loopback) opens from file:// in headless chromium, the diff and the plots render, the
console shows no error and no CSP violation; a report over hostile archived markup runs none of
it. Screenshots are saved as test artifacts (their paths are printed)."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from crawler.feeds import ATOM, write_feeds
from crawler.reporting import MANIFEST, write_report
from diffing.analysis import TextAnalyser
from diffing.normalize import normalize
from diffing.records import CaptureRef
from storage import open_store
from storage.repository import FetchResult
from tests.browser import BrowserError, Chromium, Page
from tests.conftest import FAST, SAMPLE_URLS, run_cli

pytestmark = pytest.mark.e2e

HOSTILE_URL = "https://evil.example/privacy?q=\"><script>window.__pwned='url'</script>"


def crawled_sample_db(pywb_archive: str, base: Path) -> str:
    """The bundled sample crawled once per test session with the real CLI (shared by the
    report, export and feed tests: the first module to ask crawls)."""
    work = base / "report-sample"
    db_file = work / "policytrail.db"
    db = f"sqlite:///{db_file}"
    if not (work / "done").exists():
        work.mkdir(parents=True, exist_ok=True)
        r = run_cli("crawl", str(SAMPLE_URLS), "--archive", pywb_archive, "--db", db, *FAST)
        assert r.code == 0, r.err
        (work / "done").touch()
    return db


@pytest.fixture(scope="module")
def sample_db(pywb_archive: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    return crawled_sample_db(pywb_archive, tmp_path_factory.getbasetemp())


@pytest.fixture(scope="module")
def site(sample_db: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site")
    r = run_cli("report", "--out", str(out), "--db", sample_db)
    assert r.code == 0, r.err
    return out


@pytest.fixture(scope="module")
def browser() -> Iterator[Chromium]:
    try:
        with Chromium() as b:
            yield b
    except BrowserError as exc:
        pytest.fail(str(exc))


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("screenshots")


def box(page: Page, selector: str) -> list[float]:
    """[count, width, height] of the first element matching ``selector``."""
    return list(
        page.evaluate(
            f"(() => {{ const all = document.querySelectorAll({selector!r});"
            " if (!all.length) return [0, 0, 0]; const r = all[0].getBoundingClientRect();"
            " return [all.length, r.width, r.height]; })()"
        )
    )


def local_links(page_file: Path) -> list[Path]:
    html = page_file.read_text(encoding="utf-8")
    out = []
    for href in re.findall(r'href="([^"#]+)"', html):
        if urlsplit(href).scheme:
            continue
        out.append((page_file.parent / unquote(href)).resolve())
    return out


def test_every_page_has_a_strict_csp_and_no_broken_local_link(site: Path) -> None:
    pages = sorted(site.rglob("*.html"))
    assert len(pages) > 30
    for f in pages:
        text = f.read_text(encoding="utf-8")
        assert "Content-Security-Policy" in text and "default-src 'none'" in text, f
        assert "<script" not in text.lower(), f
        for target in local_links(f):
            assert target.exists(), f"{f.relative_to(site)} links to missing {target}"
    assert (site / "feed.atom").exists() and list(site.glob("*/feed.atom"))
    for name in ("versions.csv", "changes.csv", "corpus.json", "median-length.svg"):
        assert (site / "corpus" / name).stat().st_size > 0


def test_diff_and_plots_render_in_chromium(
    site: Path, browser: Chromium, artifacts: Path, sample_db: str
) -> None:
    index = browser.open((site / "index.html").as_uri())
    assert index.problems() == []
    rows = index.evaluate("document.querySelectorAll('table tr').length")
    store = open_store(sample_db, create=False)
    try:
        assert rows == store.counts()["policies"] + 1
    finally:
        store.close()
    # follow the first policy link, as a user would
    index.click("td a")
    index.wait_event("Page.loadEventFired")
    assert index.evaluate("location.pathname").endswith("/index.html")
    assert index.problems() == []
    # a policy page with several changes: the timeline plot
    policy_dir = next(p for p in sorted(site.iterdir()) if len(list(p.glob("change-*"))) >= 3)
    policy = browser.open((policy_dir / "index.html").as_uri())
    _, width, height = box(policy, "svg.timeline")
    assert width > 300 and height > 100
    n_marks, *_ = box(policy, "svg.timeline a.change")
    assert n_marks == len(list(policy_dir.glob("change-*.html")))
    assert (
        policy.evaluate("document.querySelector('svg.timeline path.length').getTotalLength()") > 50
    )
    assert policy.problems() == []
    shot = policy.screenshot(artifacts / "policy.png")
    # a change page: side-by-side and inline diff with highlighted words, prev/next navigation
    change = browser.open((policy_dir / "change-3.html").as_uri())
    n_ins, w_ins, h_ins = box(change, "table.sbs ins")
    n_del, w_del, h_del = box(change, "div.diff del")
    assert n_ins > 0 and w_ins > 0 and h_ins > 0
    assert n_del > 0 and w_del > 0 and h_del > 0
    assert change.evaluate("getComputedStyle(document.querySelector('ins')).backgroundColor") != (
        "rgba(0, 0, 0, 0)"
    )
    assert change.evaluate("document.querySelector('a[rel=prev]').getAttribute('href')") == (
        "change-2.html"
    )
    wayback = change.evaluate(
        "[...document.querySelectorAll('a')].map(a => a.href).filter(h => h.includes('id_/'))"
    )
    assert len(wayback) >= 2 and all(h.startswith("http") for h in wayback)
    assert change.problems() == []
    shot_change = change.screenshot(artifacts / "change.png")
    corpus = browser.open((site / "corpus.html").as_uri())
    n_charts, w_chart, _ = box(corpus, "svg.chart")
    assert n_charts == 3 and w_chart > 300
    assert (
        corpus.evaluate("document.querySelectorAll('svg.chart circle, svg.chart rect.bar').length")
        > 5
    )
    assert corpus.problems() == []
    for f in (shot, shot_change):
        assert f.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and f.stat().st_size > 10_000
    print(f"\nscreenshots: {shot} {shot_change}")


def test_console_check_sees_a_csp_violation(browser: Chromium, tmp_path: Path) -> None:
    """The harness itself: a page whose inline script the CSP blocks is reported."""
    from diffing.report import page

    f = tmp_path / "blocked.html"
    f.write_text(page("t", "<script>window.__ran = 1</script><img src='https://x.invalid/a.png'>"))
    p = browser.open(f.as_uri())
    assert p.evaluate("window.__ran === undefined")
    problems = p.problems()
    assert any("script-src" in x or "Content Security Policy" in x for x in problems), problems
    assert any("img-src" in x for x in problems), problems


# ---------------------------------------------------------------------------- hostile captures


def hostile_page(extra: str) -> bytes:
    return f"""<!doctype html><html><head>
<title>Privacy &lt;script&gt;window.__pwned='title'&lt;/script&gt;</title>
<script>window.__pwned = 'script';</script></head><body>
<h1>Privacy Policy</h1><p>Last updated: January 5, 2023</p>
<p>We collect your email address and usage data when you use our service. We use this
information to provide the service and improve it. This privacy policy explains what we
collect and why.</p>
<p>To embed our widget, paste <code>&lt;script&gt;window.__pwned='code'&lt;/script&gt;</code> or
<code>&lt;img src=x onerror="window.__pwned='img'"&gt;</code> into your page.</p>
<p><a href="javascript:window.__pwned='link'">Visit javascript:window.__pwned='link' to opt
out</a><img src="https://tracker.example/pixel.gif" onerror="window.__pwned='onerror'"></p>
<p>We share personal information with third parties such as advertising partners. {extra}</p>
<p>Contact us at privacy@example.com with any questions about this privacy policy and your
rights under the GDPR.</p>
<p>You may request deletion of your personal data at any time by writing to us.</p>
</body></html>""".encode()


@pytest.fixture(scope="module")
def hostile_site(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A policy whose captures carry <script>, onerror= and javascript: (in markup, in quoted
    code and in its own URL), stored through the real normaliser and version builder."""
    work = tmp_path_factory.mktemp("hostile")
    db = f"sqlite:///{work / 'h.db'}"
    store = open_store(db)
    try:
        (tracked,) = store.track([HOSTILE_URL])
        extras = [
            "",
            "We also share data with <b>analytics providers</b> "
            "&lt;img src=x onerror=\"window.__pwned='diff'\"&gt; javascript:window.__pwned='diff'",
        ]
        for ts, extra in zip(["20230110000000", "20240110000000"], extras, strict=True):
            body = hostile_page(extra)
            doc = normalize(body, url=HOSTILE_URL, content_type="text/html")
            assert doc.verdict == "ok", doc.verdict_reason
            store.save_fetch(
                FetchResult(
                    tracked.policy_id,
                    tracked.url_id,
                    CaptureRef(HOSTILE_URL, ts, f"D{ts}", 200, "text/html"),
                    "https://web.archive.org",
                    "fetched",
                    body=body,
                    content_type="text/html",
                    document=doc,
                )
            )
        store.rebuild_versions(tracked.policy_id, TextAnalyser())
        (_, v2) = store.versions(tracked.policy_id)
        text = store.read_text(v2.text_id)
        # the test means something only if the hostile strings reached the stored text
        assert "<script>window.__pwned" in text and "onerror=" in text
        assert "javascript:window.__pwned" in text and "<script>" in v2.title
        out = work / "site"
        write_report(store, out)
        write_feeds(store, out)
    finally:
        store.close()
    return out, text


def test_hostile_capture_runs_nothing(
    hostile_site: tuple[Path, str], browser: Chromium, artifacts: Path
) -> None:
    site, _ = hostile_site
    (policy_dir,) = [p for p in site.iterdir() if p.is_dir() and p.name != "corpus"]
    pages = [site / "index.html", policy_dir / "index.html", policy_dir / "change-2.html"]
    for f in pages:
        p = browser.open(f.as_uri())
        assert p.evaluate("typeof window.__pwned") == "undefined", f
        assert p.evaluate("document.scripts.length") == 0
        handlers = p.evaluate(
            "[...document.querySelectorAll('*')].flatMap(e => [...e.attributes])"
            ".filter(a => a.name.startsWith('on')).length"
        )
        assert handlers == 0
        hrefs = p.evaluate(
            "[...document.querySelectorAll('[href]')]"
            ".map(e => new URL(e.getAttribute('href'), location.href).href)"
        )
        assert hrefs and all(h.startswith(("file:", "http:", "https:")) for h in hrefs), hrefs
        assert p.evaluate("document.querySelectorAll('[src]').length") == 0
        assert p.problems() == [], f
        # the archived text is shown, as text
        if f.name == "change-2.html":
            shown = p.evaluate("document.body.innerText")
            assert "<script>window.__pwned='code'</script>" in shown
            assert "onerror=\"window.__pwned='diff'\"" in shown
            print(
                f"\nscreenshot: {p.screenshot(artifacts / 'hostile-change.png', full_page=False)}"
            )


def test_hostile_capture_feed_is_valid_atom_with_escaped_markup(
    hostile_site: tuple[Path, str],
) -> None:
    site, _ = hostile_site
    for feed_file in [site / "feed.atom", *site.glob("*/feed.atom")]:
        root = ET.parse(feed_file).getroot()
        assert root.tag == f"{{{ATOM}}}feed"
        (entry,) = root.findall(f"{{{ATOM}}}entry")
        content = entry.find(f"{{{ATOM}}}content")
        assert content is not None and content.get("type") == "html" and content.text
        # the HTML a feed reader renders holds the archived markup as escaped text only
        assert "<script" not in content.text and "<img" not in content.text
        assert "onerror=" not in content.text.replace("onerror=&quot;", "")
        assert "&lt;img src=x onerror=" in content.text


def test_report_rerun_renders_only_what_changed(sample_db: str, tmp_path: Path) -> None:
    """A scheduled run rewrites the report after every crawl: change pages whose inputs did not
    change are kept (their diffs are not even read), pages of vanished changes are removed,
    and the feeds come out the same from the excerpts kept in the manifest."""
    store = open_store(sample_db, create=False)
    try:
        write_report(store, tmp_path)
        page = sorted(tmp_path.glob("*/change-2.html"))[0]
        page.write_text(page.read_text(encoding="utf-8") + "<!-- kept -->", encoding="utf-8")
        stale_rel = f"{page.parent.name}/change-99.html"
        (tmp_path / stale_rel).write_text("a change that no longer exists")
        manifest_file = tmp_path / MANIFEST
        manifest = json.loads(manifest_file.read_text())
        manifest["pages"][stale_rel] = "0" * 64
        manifest_file.write_text(json.dumps(manifest))
        feed_before = (tmp_path / "feed.atom").read_text(encoding="utf-8")
        write_report(store, tmp_path)
        assert page.read_text(encoding="utf-8").endswith("<!-- kept -->")
        assert not (tmp_path / stale_rel).exists()
        assert (tmp_path / "feed.atom").read_text(encoding="utf-8") == feed_before
        page.unlink()  # a page that is gone is written again
        manifest_file.write_text("{not json")  # a broken manifest only means more work
        write_report(store, tmp_path)
        assert page.exists() and "<!-- kept -->" not in page.read_text(encoding="utf-8")
        assert (tmp_path / "feed.atom").read_text(encoding="utf-8") == feed_before
    finally:
        store.close()
