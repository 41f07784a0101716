"""Reading user input: URL files and URL identity."""

from __future__ import annotations

from pathlib import Path

import pytest

from crawler.urlfile import UrlFileError, read_url_file
from storage import open_store
from storage.keys import BadUrl, check_url, urlkey
from tests.conftest import run_cli
from tests.test_cli import assert_one_line_error


def test_read_url_file_skips_comments_blanks_and_duplicates(tmp_path: Path) -> None:
    f = tmp_path / "urls.txt"
    f.write_text("# tracked\n\nhttps://a.org/privacy\n  b.org/legal  \nhttps://a.org/privacy\n")
    assert read_url_file(f) == ["https://a.org/privacy", "http://b.org/legal"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "lists no URLs"),
        ("# only\n", "lists no URLs"),
        ("https://a.org/p\nnot a url\n", ":2: not a URL"),
        ("ftp://a.org/x\n", "not an http"),
        (b"\xff\xfe\x00bad", "not UTF-8"),
    ],
)
def test_read_url_file_errors_name_the_problem(
    tmp_path: Path, content: str | bytes, message: str
) -> None:
    f = tmp_path / "urls.txt"
    f.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(UrlFileError, match=message):
        read_url_file(f)


def test_missing_url_file(tmp_path: Path) -> None:
    with pytest.raises(UrlFileError, match="not found"):
        read_url_file(tmp_path / "nope.txt")
    with pytest.raises(UrlFileError, match="not a file"):
        read_url_file(tmp_path)


def test_urlkey_matches_archive_canonicalisation() -> None:
    # the key pywb gave for both https://badoo.com/privacy and https://badoo.com/privacy/
    assert urlkey("https://badoo.com/privacy/") == "com,badoo)/privacy"
    assert urlkey("https://badoo.com/privacy") == "com,badoo)/privacy"
    assert urlkey("http://WWW.Example.com:80/A?b=2&a=1") == "com,example)/a?a=1&b=2"
    assert urlkey("https://example.com:8443/") == "com,example:8443)/"


def test_check_url() -> None:
    assert check_url("example.com/privacy") == "http://example.com/privacy"
    for bad in ["", "http://", "mailto:x@y.org", "http://localhost/x", "a b.com"]:
        with pytest.raises(BadUrl):
            check_url(bad)


@pytest.mark.parametrize(
    ("name", "value", "problem"),
    [
        ("POLICYTRAIL_DB_BUSY_TIMEOUT", "abc", "is not a number"),
        ("POLICYTRAIL_DOWNLOAD_TIMEOUT", "0", "must be above 0"),
        ("POLICYTRAIL_DOWNLOAD_MAXSIZE", "inf", "is not a finite number"),
        ("POLICYTRAIL_RETRY_BACKOFF_SECONDS", "-1", "must be at least 0"),
        ("POLICYTRAIL_PACING", "fast", "is not one of schedule, delay"),
    ],
)
def test_malformed_environment_variable_is_one_line_and_touches_nothing(
    tmp_path: Path, name: str, value: str, problem: str
) -> None:
    """A bad value used to be ignored in silence (download settings) or to surface as a
    ValueError traceback from inside the SQLite connection hook (busy timeout)."""
    db = tmp_path / "p.db"
    open_store(f"sqlite:///{db}").close()
    before = db.read_bytes()
    for command in ("changes", "runs"):
        r = run_cli(command, "--db", f"sqlite:///{db}", env={name: value})
        assert_one_line_error(r, 1)
        assert (
            r.err.strip() == f"policytrail: error: environment variable {name}={value!r} {problem}"
        )
    assert db.read_bytes() == before
    # a good value, and an empty one (the default), pass the check
    assert run_cli("changes", "--db", f"sqlite:///{db}", env={name: ""}).code == 0
