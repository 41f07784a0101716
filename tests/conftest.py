"""Shared fixtures: paths to shared data, a real pywb archive on loopback, CLI runner."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# ../shared beside the checkout (as CI lays it out), or POLICYTRAIL_SHARED
SHARED = Path(os.environ.get("POLICYTRAIL_SHARED") or ROOT.parent / "shared")
SAMPLE_WARC = ROOT / "samples" / "ota-sample.warc.gz"
SAMPLE_URLS = ROOT / "samples" / "urls.txt"


def shared_path(*parts: str) -> Path:
    """A path under ../shared; fail (not skip) with a clear message when it is missing."""
    p = SHARED.joinpath(*parts)
    if not p.exists():
        pytest.fail(
            f"shared test data missing: {p} (the repository expects ../shared beside it, "
            "or set POLICYTRAIL_SHARED)"
        )
    return p


@pytest.fixture(scope="session")
def pywb_archive(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The bundled sample WARC served by a real pywb on a free loopback port."""
    from crawler.localarchive import LocalArchive, LocalArchiveError

    root = tmp_path_factory.mktemp("pywb")
    archive = LocalArchive([SAMPLE_WARC], root=root)
    try:
        url = archive.start()
    except LocalArchiveError as exc:
        pytest.fail(f"cannot start the pywb test archive: {exc}")
    try:
        yield url
    finally:
        archive.stop()


@dataclass
class Result:
    code: int
    out: str
    err: str


def run_cli(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None, timeout: float = 300
) -> Result:
    """Run ``policytrail`` in a fresh process (a Twisted reactor cannot restart in one process)."""
    full_env = {**os.environ, **(env or {})}
    proc = subprocess.run(
        [sys.executable, "-m", "crawler.cli", *args],
        cwd=cwd or ROOT,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)


FAST = ["--cdx-rate", "1200", "--replay-rate", "100"]


@pytest.fixture(scope="session")
def postgres_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """A real PostgreSQL server on loopback for the whole session."""
    from tests.services import Postgres, ServiceError

    root = Path("/tmp") / f"policytrail-pg-{os.getpid()}"
    pg = Postgres(root)
    try:
        pg.start()
    except ServiceError as exc:
        pg.stop()
        pytest.fail(f"cannot start the PostgreSQL test server: {exc}")
    try:
        yield pg
    finally:
        pg.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each storage test runs on SQLite and on a real PostgreSQL server."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'test.db'}"
    pg = request.getfixturevalue("postgres_server")
    pg.reset()  # type: ignore[attr-defined]
    return str(pg.url)  # type: ignore[attr-defined]
