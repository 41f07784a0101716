"""URL identity: the key under which archives index a URL (a SURT-like "urlkey").

Archives' CDX indexes ignore the scheme, letter case of the host, a leading ``www.``, the default
port and a trailing slash, and sort query arguments; two URLs with the same key are one policy.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit

_WWW = re.compile(r"^www\d*\.")
_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:(?!\d)")  # mailto:, javascript: (not host:port)


class BadUrl(ValueError):
    """A tracked URL that cannot be a web page address."""


def check_url(url: str) -> str:
    """Return ``url`` stripped, with ``http://`` added when it has no scheme; raise BadUrl."""
    url = url.strip()
    if not url or any(ch.isspace() for ch in url):
        raise BadUrl(f"not a URL: {url!r}")
    if "://" not in url:
        if _SCHEME.match(url):
            raise BadUrl(f"not an http(s) URL: {url!r}")
        url = "http://" + url
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or "." not in parts.hostname:
        raise BadUrl(f"not an http(s) URL: {url!r}")
    return url


def urlkey(url: str) -> str:
    """``https://www.Example.com/a/b/?y=2&x=1`` -> ``com,example)/a/b?x=1&y=2``."""
    parts = urlsplit(check_url(url))
    host = _WWW.sub("", (parts.hostname or "").lower().rstrip("."))
    surt_host = ",".join(reversed(host.split(".")))
    port = parts.port
    if port and not (
        (parts.scheme == "http" and port == 80) or (parts.scheme == "https" and port == 443)
    ):
        surt_host = f"{surt_host}:{port}"
    path = parts.path.lower() or "/"
    if len(path) > 1:
        path = path.rstrip("/")
    query = urlencode(sorted(parse_qsl(parts.query, keep_blank_values=True)))
    return f"{surt_host}){path}" + (f"?{query.lower()}" if query else "")


def site_of(url: str) -> str:
    host = (urlsplit(check_url(url)).hostname or "").lower()
    return _WWW.sub("", host)
