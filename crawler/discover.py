"""Finding a site's privacy-policy URL in its archived home pages, the way the Princeton-Leuven
corpus was seeded: take a home page per period, read its links, keep the one whose text or path
says "privacy policy" (in the languages policies are written in). Plain functions; no network.

The same vocabulary answers a second question for the crawler: does an address *look like* a
policy (``path_names_policy``), or is it a site's home page (``is_site_root``)? An archived
redirect that ends on a home page has left the policy.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlencode, urljoin, urlsplit, urlunsplit

from selectolax.lexbor import LexborHTMLParser

from storage import Store
from storage.keys import BadUrl, check_url, urlkey

# Link text naming the document itself, in the languages of the corpus (lower case, accents kept).
_STRONG_TEXT = re.compile(
    r"privacy[ -]?(?:policy|notice|statement|charter|promise)|data (?:privacy|protection) "
    r"(?:policy|notice|statement)|politique de (?:confidentialit|protection des donn)"
    r"|charte (?:de )?(?:confidentialit|vie priv|donn)|datenschutz(?:erkl|hinweis|richtlinie"
    r"|bestimmung|information)|pol[ií]tica de privacidad|aviso de privacidad"
    r"|pol[ií]tica de privacidade|informativa (?:sulla |della )?privacy|privacybeleid"
    r"|privacyverklaring|privacyverklaring|polityka prywatno|integritetspolicy"
    r"|personvernerkl|privatlivspolitik|tietosuojaseloste|gizlilik politikas"
    r"|политика конфиденциальности|プライバシーポリシー|隐私政策|隱私權政策|개인정보처리방침"
)
_WEAK_TEXT = re.compile(
    r"\bprivacy\b|confidentialit|vie priv[ée]e|donn[ée]es personnelles|datenschutz|privacidad"
    r"|privacidade|riservatezza|prywatno|integritet|personvern|tietosuoja|gizlilik"
    r"|конфиденциальн|個人情報|プライバシー|隐私|隱私|개인정보"
)
_STRONG_PATH = re.compile(
    r"privacy[-_]?(?:policy|notice|statement|charter)|privacypolicy|datenschutzerkl"
    r"|politique[-_]de[-_]confidentialite|politica[-_]de[-_]privacidad|privacybeleid"
    r"|privacyverklaring|charte[-_]vie[-_]privee|informativa[-_]privacy|polityka[-_]prywatnosci"
)
_WEAK_PATH = re.compile(
    r"privacy|datenschutz|confidentialit|privacidad|privacidade|vie[-_]privee|privatsphaere"
    r"|riservatezza|prywatnosc|integritet|personvern|tietosuoja|gizlilik|/priv\b|ppolicy"
)
# Privacy links that are not the policy: settings, choices, state-law notices, third parties.
_SIDE_TEXT = re.compile(
    r"california|ccpa|do not sell|your (?:privacy )?choices|settings|preferences|shield"
    r"|cent(?:er|re)|manage|opt[ -]out|children|kids|cookie (?:settings|preferences)"
    r"|param[eè]tres|einstellungen|configuraci"
)
_SIDE_PATH = re.compile(r"ccpa|california|do-not-sell|settings|preferences|opt-?out|choices")
_NOT_PAGE = re.compile(r"\.(?:pdf|docx?|jpe?g|png|gif|zip)$")
_TRACKING = re.compile(r"^(?:utm_\w+|ref|src|source|from|campaign|fbclid|gclid)$")
_ROOT_PATH = re.compile(r"^/?(?:(?:index|default|home|start|accueil)(?:\.\w{2,5})?)?$")
_LANG_ROOT = re.compile(r"^/[a-z]{2}(?:[-_][a-z]{2,4})?/?$")
_SECOND_LEVEL = {"co", "com", "net", "org", "gov", "ac", "edu", "ne", "or", "go", "gob", "nic"}

MIN_SCORE = 4.0


@dataclass(frozen=True, slots=True)
class PolicyLink:
    """A link of a page that names a privacy policy, with its score (higher: more likely)."""

    url: str
    text: str
    score: float


def _fold(s: str) -> str:
    return " ".join(unicodedata.normalize("NFC", s).lower().split())


def _ascii_path(url: str) -> str:
    """The path and the query values that are words (``?page=privacy``), not addresses
    (``?ReturnUrl=/privacy`` on a login link), lower-cased without accents."""
    parts = urlsplit(url)
    words = [v for _, v in parse_qsl(parts.query) if "/" not in v and ":" not in v]
    path = unquote(parts.path + ("?" + "&".join(words) if words else "")).lower()
    return "".join(c for c in unicodedata.normalize("NFKD", path) if not unicodedata.combining(c))


def registrable_domain(host: str) -> str:
    """``www.example.co.uk`` -> ``example.co.uk``; ``help.thisislex.app`` -> ``thisislex.app``.
    A heuristic without the public-suffix list: enough to tell a site's own links apart."""
    labels = host.lower().rstrip(".").split(".")
    if len(labels) >= 3 and len(labels[-1]) == 2 and labels[-2] in _SECOND_LEVEL:
        return ".".join(labels[-3:])
    return ".".join(labels[-2:])


def same_site(a: str, b: str) -> bool:
    """Whether two URLs belong to one site (same registrable domain)."""
    ha, hb = urlsplit(a).hostname or "", urlsplit(b).hostname or ""
    return bool(ha) and registrable_domain(ha) == registrable_domain(hb)


def clean_link(url: str) -> str:
    """A link as it would be tracked: no fragment, no tracking parameters."""
    parts = urlsplit(url)
    query = [
        (k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _TRACKING.match(k)
    ]
    return urlunsplit((parts.scheme, parts.netloc, parts.path or "/", urlencode(query), ""))


def is_site_root(url: str) -> bool:
    """A home page: ``/``, ``/index.html``, ``/en/``, ``/fr-fr``..., with no query."""
    parts = urlsplit(url)
    if parts.query:
        return False
    path = parts.path.lower()
    return bool(_ROOT_PATH.match(path) or _LANG_ROOT.match(path))


def path_names_policy(url: str) -> bool:
    """Whether a URL's path (or query) says it is a privacy policy."""
    path = _ascii_path(url)
    return bool(_STRONG_PATH.search(path) or _WEAK_PATH.search(path))


def score_link(url: str, text: str, page_url: str) -> float:
    """How strongly a link (absolute ``url``, visible ``text``) points at the site's privacy
    policy; 0 when it cannot be (another site, mailto:, a fragment of the same page)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not same_site(url, page_url):
        return 0.0
    if urlkey_or_none(url) == urlkey_or_none(page_url) and is_site_root(page_url):
        return 0.0  # a link to the home page itself
    t = _fold(text)
    path = _ascii_path(url)
    score = 0.0
    if _STRONG_TEXT.search(t):
        score += 10
    elif _WEAK_TEXT.search(t):
        score += 6
    if _STRONG_PATH.search(path):
        score += 5
    elif _WEAK_PATH.search(path):
        score += 4
    if score == 0:
        return 0.0
    if _SIDE_TEXT.search(t) or _SIDE_PATH.search(path):
        score -= 5
    if _NOT_PAGE.search(parts.path.lower()):
        score -= 2
    if len(t) > 60:
        score -= 3  # a sentence of the page that happens to mention privacy, not a nav link
    return max(score, 0.0)


def urlkey_or_none(url: str) -> str | None:
    try:
        return urlkey(url)
    except BadUrl:
        return None


def page_links(html: bytes | str, page_url: str) -> list[tuple[str, str]]:
    """(absolute URL, visible text) of every ``<a href>`` of a page, honouring ``<base href>``."""
    tree = LexborHTMLParser(html if isinstance(html, str) else html.decode("utf-8", "replace"))
    base = page_url
    base_tag = tree.css_first("base[href]")
    if base_tag is not None:
        base = urljoin(page_url, (base_tag.attributes.get("href") or "").strip())
    out: list[tuple[str, str]] = []
    for a in tree.css("a[href]"):
        href = (a.attributes.get("href") or "").strip()
        if not href or href.startswith("#"):
            continue
        text = a.text(separator=" ", strip=True) or (a.attributes.get("title") or "")
        if not text:
            img = a.css_first("img[alt]")
            text = (img.attributes.get("alt") or "") if img is not None else ""
        try:
            out.append((urljoin(base, href), text))
        except ValueError:
            continue  # an unparsable href (bad IPv6 literal...) is not a link we can follow
    return out


def policy_links(
    html: bytes | str, page_url: str, min_score: float = MIN_SCORE
) -> list[PolicyLink]:
    """The links of a page that name its site's privacy policy, best first; one entry per
    target URL (its best text). Ties go to the shorter path, then to the first link."""
    best: dict[str, PolicyLink] = {}
    order: dict[str, int] = {}
    for i, (url, text) in enumerate(page_links(html, page_url)):
        score = score_link(url, text, page_url)
        if score < min_score:
            continue
        try:
            target = clean_link(check_url(url))
        except BadUrl:
            continue
        current = best.get(target)
        if current is None or score > current.score:
            best[target] = PolicyLink(target, " ".join(text.split())[:120], score)
            order.setdefault(target, i)
    return sorted(
        best.values(), key=lambda link: (-link.score, len(urlsplit(link.url).path), order[link.url])
    )


def home_url(domain: str) -> str:
    """The home-page URL to list for ``domain`` (``example.com`` -> ``https://example.com/``);
    a full URL is kept as given. Raises ``BadUrl``."""
    url = check_url(domain if "://" in domain else "https://" + domain.strip().strip("/") + "/")
    return url


@dataclass(frozen=True, slots=True)
class Finding:
    """What one archived home page said: its best policy link, if any."""

    domain: str
    period: str  # "2019", "2019-04"...
    timestamp: str  # of the home-page capture
    page_url: str
    links: tuple[PolicyLink, ...] = ()
    error: str | None = None

    @property
    def best(self) -> PolicyLink | None:
        return self.links[0] if self.links else None


@dataclass(slots=True)
class SiteHistory:
    """A site's policy URL over time: the distinct URLs in the order they first appeared."""

    domain: str
    findings: list[Finding] = field(default_factory=list)

    @property
    def urls(self) -> list[str]:
        seen: dict[str, str] = {}  # urlkey -> first URL spelling
        for f in sorted(self.findings, key=lambda f: f.timestamp):
            if f.best is not None:
                seen.setdefault(urlkey(f.best.url), f.best.url)
        return list(seen.values())


def histories(domains: Sequence[str], findings: Iterable[Finding]) -> list[SiteHistory]:
    by_domain = {d: SiteHistory(d) for d in domains}
    for f in findings:
        by_domain.setdefault(f.domain, SiteHistory(f.domain)).findings.append(f)
    for h in by_domain.values():
        h.findings.sort(key=lambda f: f.timestamp)
    return list(by_domain.values())


# ------------------------------------------------------------------------------------------------
# recording what was found


@dataclass(frozen=True, slots=True)
class Tracked:
    """A discovered URL as stored: its policy, and whether this run added it."""

    url: str
    policy_id: int
    added: bool


def track_site(store: Store, history: SiteHistory, archive: str = "") -> list[Tracked]:
    """Add a site's discovered policy URLs to the tracked list as **one** policy: the URLs a
    site's home page pointed to over time are one document that moved. A URL already tracked
    keeps its policy; when one of them is, the others join that policy."""
    urls = history.urls
    if not urls:
        return []
    known = {u: store.find_policy(u) for u in urls}
    policy_id = next((p for p in known.values() if p is not None), None)
    if policy_id is None:
        policy_id = store.track(urls[:1], archive)[0].policy_id
    rows = store.track(urls, archive, policy_id=policy_id)
    return [Tracked(r.url, r.policy_id, known[u] is None) for u, r in zip(urls, rows, strict=True)]


def append_to_url_file(path: Path, urls: Sequence[str], comment: str) -> list[str]:
    """Append the URLs a URL file does not list yet (by archive key), under a ``#`` comment;
    creates the file. Returns the URLs appended."""
    existing: set[str] = set()
    text = ""
    if path.exists():
        text = path.read_text(encoding="utf-8-sig")
        for line in text.splitlines():
            line = line.strip()
            if line and not line.startswith("#"):
                key = urlkey_or_none(line)
                existing.add(key or line)
    new = [u for u in urls if (urlkey_or_none(u) or u) not in existing]
    new = list(dict.fromkeys(new))
    if new:
        sep = "" if not text or text.endswith("\n") else "\n"
        with path.open("a", encoding="utf-8") as fh:
            fh.write(sep + f"# {comment}\n" + "".join(u + "\n" for u in new))
    return new
