"""The environment variables policytrail reads, checked once when a command starts.

``crawler/settings.py`` and ``storage/db.py`` read them where they are used (Scrapy loads the
settings module on its own, the database layer is also a library); a malformed value there would
either be ignored in silence or surface as a traceback deep in a connection. ``check`` names the
first malformed one in a single line before any work starts.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping


class EnvVarError(ValueError):
    """An environment variable policytrail reads holds a value it cannot use."""


def _number(minimum: float, *, above: bool = False) -> Callable[[str], str | None]:
    def check(value: str) -> str | None:
        try:
            number = float(value)
        except ValueError:
            return "is not a number"
        if math.isnan(number) or math.isinf(number):
            return "is not a finite number"
        if number < minimum or (above and number == minimum):
            return f"must be {'above' if above else 'at least'} {minimum:g}"
        return None

    return check


def _choice(*choices: str) -> Callable[[str], str | None]:
    def check(value: str) -> str | None:
        return None if value in choices else f"is not one of {', '.join(choices)}"

    return check


# name -> check of a non-empty value (an empty value means "the default" everywhere)
CHECKS: dict[str, Callable[[str], str | None]] = {
    "POLICYTRAIL_DOWNLOAD_TIMEOUT": _number(0, above=True),
    "POLICYTRAIL_DOWNLOAD_MAXSIZE": _number(1),
    "POLICYTRAIL_RETRY_BACKOFF_SECONDS": _number(0),
    "POLICYTRAIL_DB_BUSY_TIMEOUT": _number(0),
    "POLICYTRAIL_PACING": _choice("schedule", "delay"),
    "POLICYTRAIL_SNAPSHOTS": _choice("keep", "none"),
}


def check(environ: Mapping[str, str] | None = None) -> None:
    """Raise ``EnvVarError`` naming the first malformed variable of ``CHECKS``."""
    env = os.environ if environ is None else environ
    for name, rule in CHECKS.items():
        value = env.get(name, "")
        if not value:
            continue
        problem = rule(value)  # as its reader sees it (float() itself allows spaces)
        if problem is not None:
            raise EnvVarError(f"environment variable {name}={value!r} {problem}")
