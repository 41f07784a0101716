"""The command line: subcommands listed, bad input ends in one clear line and a non-zero code."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import SAMPLE_URLS, run_cli


def assert_one_line_error(result: object, code: int, *fragments: str) -> None:
    assert result.code == code, (result.code, result.err)  # type: ignore[attr-defined]
    err = result.err.strip()  # type: ignore[attr-defined]
    assert "Traceback" not in err
    assert len(err.splitlines()) == 1, err
    assert err.startswith("policytrail: error: ")
    for f in fragments:
        assert f in err


def test_help_lists_subcommands() -> None:
    r = run_cli("--help")
    assert r.code == 0
    for cmd in ["crawl", "versions", "diff", "changes", "report", "normalise", "serve", "runs"]:
        assert cmd in r.out


def test_missing_url_file(tmp_path: Path) -> None:
    r = run_cli("crawl", str(tmp_path / "nope.txt"), "--db", f"sqlite:///{tmp_path / 'x.db'}")
    assert_one_line_error(r, 1, "URL file not found")


def test_malformed_url_file(tmp_path: Path) -> None:
    f = tmp_path / "urls.txt"
    f.write_text("https://a.org/privacy\nthis is not a url\n")
    r = run_cli("crawl", str(f), "--db", f"sqlite:///{tmp_path / 'x.db'}")
    assert_one_line_error(r, 1, "urls.txt:2")


def test_unreachable_archive(tmp_path: Path) -> None:
    r = run_cli(
        "crawl",
        str(SAMPLE_URLS),
        "--archive",
        "http://127.0.0.1:9/web",
        "--db",
        f"sqlite:///{tmp_path / 'x.db'}",
    )
    assert_one_line_error(r, 3, "archive unreachable", "127.0.0.1:9")


@pytest.mark.parametrize(
    "db", ["sqlite:////proc/policytrail-x.db", "sqlite:////nonexistent-dir/x.db"]
)
def test_unwritable_database(db: str) -> None:
    r = run_cli("crawl", str(SAMPLE_URLS), "--db", db)
    assert_one_line_error(r, 1, "database")


def test_reading_a_database_that_does_not_exist(tmp_path: Path) -> None:
    r = run_cli("versions", "https://a.org/p", "--db", f"sqlite:///{tmp_path / 'empty.db'}")
    assert_one_line_error(r, 1, "no policytrail database")


def test_bad_option_values_are_usage_errors(tmp_path: Path) -> None:
    r = run_cli("crawl", str(SAMPLE_URLS), "--from", "yesterday")
    assert r.code == 2 and "Traceback" not in r.err and "--from" in r.err
    r = run_cli("crawl", str(SAMPLE_URLS), "--cdx-rate", "-1")
    assert r.code == 2 and "must be positive" in r.err


def test_bad_archive_url(tmp_path: Path) -> None:
    r = run_cli(
        "crawl", str(SAMPLE_URLS), "--archive", "ftp://x", "--db", f"sqlite:///{tmp_path / 'x.db'}"
    )
    assert_one_line_error(r, 1, "archive must be an http(s) URL")


def test_every_subcommand_and_option_is_documented_in_the_readme() -> None:
    import argparse

    from crawler.cli import build_parser
    from tests.conftest import ROOT

    readme = (ROOT / "README.md").read_text()
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for name, p in sub.choices.items():
        assert f"`{name}" in readme or "`normalise" in readme, name
        for action in p._actions:
            for opt in action.option_strings:
                if opt.startswith("--") and opt != "--help":
                    assert opt in readme, f"{name} {opt} is not documented in README.md"
