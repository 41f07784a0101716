"""Dated, per-site extraction overrides for the normaliser.

Sites redesign their pages; a selector that finds the policy text in 2014 may find nothing (or the
wrong thing) in 2021. Like the Open Terms Archive declarations (``validUntil``), every rule carries
the span of capture dates it applies to, so years of old captures keep extracting correctly after
a rule is updated for the current site.

A rule file is TOML or JSON::

    [[rule]]
    pattern = "example.com/legal/privacy"   # host (subdomains match) + optional path prefix
    select = ["main .policy"]               # the policy text is in these elements
    remove = [".cookie-notice", "#toc"]     # drop these elements first
    valid_until = "2021-06-01"              # exclusive; omit for "still valid"

JSON uses the same keys: ``{"rule": [{...}, ...]}`` or a bare list of rules.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from urllib.parse import urlsplit

from selectolax.lexbor import LexborHTMLParser

__all__ = ["ExtractionRule", "load_rules", "parse_rules", "rules_for"]


def _split(url_or_pattern: str) -> tuple[str, str]:
    """(host without ``www.``, path) of a URL or a scheme-less ``host/path`` pattern."""
    text = url_or_pattern.strip()
    if "://" not in text:
        text = "//" + text
    parts = urlsplit(text)
    host = (parts.hostname or "").lower()
    if host.startswith("www."):
        host = host[4:]
    return host, parts.path or "/"


@dataclass(frozen=True, slots=True)
class ExtractionRule:
    """Where the policy text is on the pages matching ``pattern`` captured in a date span.

    ``pattern`` is a host (``example.com`` also matches ``www.example.com`` and other subdomains)
    optionally followed by a path prefix (``example.com/privacy``); a scheme is ignored.
    ``valid_from`` is inclusive, ``valid_until`` exclusive; ``None`` leaves that side open.
    """

    pattern: str
    select: tuple[str, ...] = ()
    remove: tuple[str, ...] = ()
    valid_from: date | None = None
    valid_until: date | None = None

    def __post_init__(self) -> None:
        if not _split(self.pattern)[0]:
            raise ValueError(f"extraction rule pattern has no host: {self.pattern!r}")
        if self.valid_from and self.valid_until and self.valid_from >= self.valid_until:
            raise ValueError(f"extraction rule for {self.pattern!r}: valid_from >= valid_until")
        probe = LexborHTMLParser("<p></p>")
        for selector in (*self.select, *self.remove):
            try:
                probe.css(selector)
            except Exception as exc:  # selectolax raises bare exceptions on bad selectors
                raise ValueError(f"bad CSS selector {selector!r}: {exc}") from exc

    def matches_url(self, url: str) -> bool:
        rule_host, rule_path = _split(self.pattern)
        host, path = _split(url)
        if host != rule_host and not host.endswith("." + rule_host):
            return False
        return rule_path == "/" or path.rstrip("/").startswith(rule_path.rstrip("/"))

    def valid_at(self, captured_at: datetime | None) -> bool:
        """Whether a capture taken at ``captured_at`` is in the rule's span.

        An unknown capture time is taken as "now": only rules without ``valid_until`` apply.
        """
        if captured_at is None:
            return self.valid_until is None
        day = captured_at.astimezone(UTC).date() if captured_at.tzinfo else captured_at.date()
        if self.valid_from is not None and day < self.valid_from:
            return False
        return self.valid_until is None or day < self.valid_until


def rules_for(
    url: str, captured_at: datetime | None, rules: Iterable[ExtractionRule]
) -> list[ExtractionRule]:
    """The rules that apply to a capture of ``url`` at ``captured_at``, most specific first."""
    found = [r for r in rules if r.matches_url(url) and r.valid_at(captured_at)]
    # a longer pattern (a path prefix, a subdomain) is more specific than a bare host
    return sorted(found, key=lambda r: -len(r.pattern.split("://")[-1]))


def _as_date(value: object, key: str) -> date | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        return date.fromisoformat(value[:10])
    raise ValueError(f"{key} must be a date, got {value!r}")


def _as_selectors(value: object, key: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise ValueError(f"{key} must be a selector or a list of selectors, got {value!r}")


def parse_rules(data: object) -> list[ExtractionRule]:
    """Rules from the parsed content of a rule file (see the module docstring)."""
    items: object = data
    if isinstance(data, Mapping):
        items = data.get("rule", data.get("rules", []))
    if not isinstance(items, Sequence) or isinstance(items, str):
        raise ValueError("a rule file holds a list of rules")
    rules = []
    for item in items:
        if not isinstance(item, Mapping):
            raise ValueError(f"a rule is a table/object, got {item!r}")
        unknown = set(item) - {"pattern", "select", "remove", "valid_from", "valid_until"}
        if unknown:
            raise ValueError(f"unknown rule keys: {sorted(unknown)}")
        pattern = item.get("pattern")
        if not isinstance(pattern, str):
            raise ValueError(f"a rule needs a string pattern, got {pattern!r}")
        rules.append(
            ExtractionRule(
                pattern=pattern,
                select=_as_selectors(item.get("select"), "select"),
                remove=_as_selectors(item.get("remove"), "remove"),
                valid_from=_as_date(item.get("valid_from"), "valid_from"),
                valid_until=_as_date(item.get("valid_until"), "valid_until"),
            )
        )
    return rules


def load_rules(path: str | Path) -> list[ExtractionRule]:
    """Rules from a ``.toml`` or ``.json`` file."""
    path = Path(path)
    raw = path.read_bytes()
    if path.suffix.lower() == ".json":
        return parse_rules(json.loads(raw))
    return parse_rules(tomllib.loads(raw.decode("utf-8")))
