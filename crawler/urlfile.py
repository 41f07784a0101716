"""Reading the list of policy URLs a user tracks."""

from __future__ import annotations

from pathlib import Path

from storage.keys import BadUrl, check_url


class UrlFileError(ValueError):
    """A missing, unreadable or malformed URL file; the message names the file and line."""


def read_url_file(path: str | Path) -> list[str]:
    """One URL per line; blank lines and ``#`` comments are ignored. Duplicates are dropped."""
    p = Path(path)
    if not p.exists():
        raise UrlFileError(f"URL file not found: {p}")
    if not p.is_file():
        raise UrlFileError(f"URL file is not a file: {p}")
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise UrlFileError(f"cannot read URL file {p}: {exc.strerror}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise UrlFileError(f"URL file {p} is not UTF-8 text") from None
    urls: list[str] = []
    for n, line in enumerate(text.splitlines(), start=1):
        line = line.split("#", 1)[0].strip() if line.lstrip().startswith("#") else line.strip()
        if not line:
            continue
        try:
            url = check_url(line)
        except BadUrl as exc:
            raise UrlFileError(f"{p}:{n}: {exc}") from None
        if url not in urls:
            urls.append(url)
    if not urls:
        raise UrlFileError(f"URL file {p} lists no URLs")
    return urls
