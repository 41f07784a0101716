"""``policytrail export``: the seed-markdown corpus (flat and Princeton layouts), JSON lines and
CSV, checked against the texts read back from the store and against the real seed files."""

from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from crawler.export import EXPORT_VERSION_COLUMNS, policy_names, princeton_dir
from crawler.reporting import CHANGE_COLUMNS
from storage import open_store
from storage.reportdata import PolicyInfo
from tests.conftest import Result, run_cli, shared_path
from tests.test_cli import assert_one_line_error
from tests.test_report import crawled_sample_db

pytestmark = pytest.mark.e2e

SEED_HEADER = re.compile(
    r"^> \*The following text is extracted and transformed from the (?P<site>\S+) privacy "
    r"policy that was archived on (?P<date>\d{4}-\d{2}-\d{2})\. Please check the \[original "
    r"snapshot on the Wayback Machine\]\((?P<url>[^)\s]+)\) for the most accurate "
    r"reproduction\.\*$"
)


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> Result:
    """``policytrail ARGS`` in this process (report, export and feed start no reactor)."""
    from crawler.cli import main

    capsys.readouterr()
    try:
        code = main(list(args))
    except SystemExit as exc:  # argparse usage errors
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return Result(code, out, err)


@pytest.fixture(scope="module")
def sample_db(pywb_archive: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    return crawled_sample_db(pywb_archive, tmp_path_factory.getbasetemp())


@dataclass(frozen=True)
class StoredVersion:
    timestamp: str  # of its first capture
    url: str  # its first capture's URL
    day: str
    title: str
    text: str


@pytest.fixture(scope="module")
def stored(sample_db: str) -> dict[str, list[StoredVersion]]:
    """site -> its versions, read back through the store's own API."""
    store = open_store(sample_db, create=False)
    try:
        return {
            s.site: [
                StoredVersion(
                    v.first_timestamp,
                    v.first_url,
                    v.first_seen.date().isoformat(),
                    v.title,
                    store.read_text(v.text_id),
                )
                for v in store.versions(s.id)
            ]
            for s in store.summaries()
        }
    finally:
        store.close()


def test_seed_header_pattern_is_the_real_seed_format() -> None:
    seeds = sorted(shared_path("seeds").glob("*.txt"))
    assert len(seeds) == 5
    for f in seeds:
        lines = f.read_text(encoding="utf-8").split("\n")
        m = SEED_HEADER.match(lines[0])
        assert m, lines[0]
        assert "id_/http%3A//" in m["url"] or "id_/https%3A//" in m["url"]
        assert lines[1] == "" and lines[2].startswith("# ")


def test_seed_markdown_flat(
    sample_db: str, stored: dict[str, list[StoredVersion]], tmp_path: Path
) -> None:
    r = run_cli("export", "--format", "seed-markdown", "--out", str(tmp_path), "--db", sample_db)
    assert r.code == 0, r.err
    n_versions = sum(len(vs) for vs in stored.values())
    files = sorted(tmp_path.glob("*.md"))
    assert len(files) == n_versions and f"exported {n_versions} versions" in r.out
    for site, versions in stored.items():
        for v in versions:
            body = (tmp_path / f"{site}_{v.timestamp}.md").read_text(encoding="utf-8")
            header, rest = body.split("\n", 1)
            m = SEED_HEADER.match(header)
            assert m and m["site"] == site and m["date"] == v.day, header
            assert m["url"].endswith(f"/{v.timestamp}id_/{v.url.replace('://', '%3A//', 1)}")
            assert rest == f"\n# {v.title}\n\n{v.text}\n"


def test_seed_markdown_princeton_layout(
    sample_db: str,
    stored: dict[str, list[StoredVersion]],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    r = cli(
        capsys,
        "export",
        "--format",
        "seed-markdown",
        "--layout",
        "princeton",
        "--out",
        str(tmp_path),
        "--db",
        sample_db,
    )
    assert r.code == 0, r.err
    for site, versions in stored.items():
        base = tmp_path / site[0] / site[:2] / site[:3]
        if not versions:
            assert not (base / f"{site}.md").exists()
            continue
        newest = (base / site / f"{versions[-1].timestamp}.md").read_text(encoding="utf-8")
        assert (base / f"{site}.md").read_text(encoding="utf-8") == newest
        assert sorted(f.stem for f in (base / site).iterdir()) == sorted(
            v.timestamp for v in versions
        )
    assert princeton_dir("amahi.org") == Path("a/am/ama")


def test_jsonl_and_csv_carry_every_version_text_and_change(
    sample_db: str,
    stored: dict[str, list[StoredVersion]],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    want = {(site, v.timestamp): v.text for site, vs in stored.items() for v in vs}
    store = open_store(sample_db, create=False)
    n_changes = store.counts()["changes"]
    store.close()
    assert (
        cli(
            capsys, "export", "--format", "jsonl", "--out", str(tmp_path / "j"), "--db", sample_db
        ).code
        == 0
    )
    rows = [json.loads(x) for x in (tmp_path / "j" / "versions.jsonl").read_text().splitlines()]
    assert {(row["site"], row["first_timestamp"]): row["text"] for row in rows} == want
    changes = (tmp_path / "j" / "changes.jsonl").read_text().splitlines()
    assert len(changes) == n_changes
    first = json.loads(changes[0])
    assert {"policy_url", "from_version", "to_version", "flags", "clauses", "labels"} <= set(first)
    assert (
        cli(
            capsys, "export", "--format", "csv", "--out", str(tmp_path / "c"), "--db", sample_db
        ).code
        == 0
    )
    with (tmp_path / "c" / "versions.csv").open(newline="", encoding="utf-8") as fh:
        got = {(row["site"], row["first_timestamp"]): row["text"] for row in csv.DictReader(fh)}
    assert got == want
    with (tmp_path / "c" / "changes.csv").open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        crow = list(reader)
        change_header = reader.fieldnames
    assert len(crow) == n_changes and all(r["kind"] for r in crow)
    # the header an empty corpus gets (below) is the header of a real export
    with (tmp_path / "c" / "versions.csv").open(newline="", encoding="utf-8") as fh:
        version_header = next(csv.reader(fh))
    assert version_header == list(EXPORT_VERSION_COLUMNS)
    assert change_header == list(CHANGE_COLUMNS)


def test_csv_of_an_empty_database_still_has_headers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = f"sqlite:///{tmp_path / 'empty.db'}"
    open_store(db).close()
    r = cli(capsys, "export", "--format", "csv", "--out", str(tmp_path / "c"), "--db", db)
    assert r.code == 0, r.err
    for name, cols in (("versions.csv", EXPORT_VERSION_COLUMNS), ("changes.csv", CHANGE_COLUMNS)):
        lines = (tmp_path / "c" / name).read_text(encoding="utf-8").splitlines()
        assert lines == [",".join(cols)], (name, lines)


def test_export_of_one_policy(
    sample_db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    r = cli(
        capsys,
        "export",
        "--format",
        "seed-markdown",
        "--policy",
        "https://hily.com/privacypolicy",
        "--out",
        str(tmp_path),
        "--db",
        sample_db,
    )
    assert r.code == 0, r.err
    names = {f.name.split("_")[0] for f in tmp_path.iterdir()}
    assert names == {"hily.com"}


def test_export_bad_input_is_one_line(
    sample_db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    r = cli(
        capsys,
        "export",
        "--format",
        "csv",
        "--layout",
        "princeton",
        "--out",
        str(tmp_path),
        "--db",
        sample_db,
    )
    assert_one_line_error(r, 1, "--layout princeton applies to --format seed-markdown only")
    r = cli(
        capsys,
        "export",
        "--format",
        "csv",
        "--policy",
        "https://nope.example/p",
        "--out",
        str(tmp_path),
        "--db",
        sample_db,
    )
    assert_one_line_error(r, 1, "policy not tracked")
    blocker = tmp_path / "file"
    blocker.write_text("x")
    r = cli(capsys, "export", "--format", "jsonl", "--out", str(blocker / "sub"), "--db", sample_db)
    assert_one_line_error(r, 1, "cannot create output directory")
    r = cli(capsys, "export", "--format", "xml", "--out", str(tmp_path), "--db", sample_db)
    assert r.code == 2 and "Traceback" not in r.err


def test_policy_names_are_unique_when_a_site_is_tracked_twice() -> None:
    infos = [
        PolicyInfo(1, "https://example.com/privacy", "example.com", "com,example)/privacy"),
        PolicyInfo(2, "https://www.example.com/legal/terms", "example.com", "k2"),
        PolicyInfo(3, "https://other.org/", "other.org", "k3"),
        PolicyInfo(4, "https://example.com/legal/terms?x=1", "example.com", "k4"),
    ]
    names = policy_names(infos)
    assert names[1] == "example.com" and names[3] == "other.org"
    assert names[2] == "example.com_legal-terms"
    assert len(set(names.values())) == 4
    # the same names whatever subset is exported
    assert policy_names(infos[::-1]) == names
