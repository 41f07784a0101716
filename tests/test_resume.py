"""Resumability: a crawl killed with SIGKILL mid-way and run again stores exactly what an
uninterrupted crawl stores: the same captures and states, the same versions, the same changes,
nothing lost and nothing twice."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from storage import StorageError, open_store
from storage.models import Capture
from tests.conftest import FAST, ROOT, run_cli
from tests.test_faults import stored_state

pytestmark = pytest.mark.e2e

URLS = [
    "https://hily.com/privacypolicy",
    "https://www.finya.de/Legal/privacy/",
    "https://uk.match.com/pages/misc/privacy",
    "https://docviewer.zoosk.com/legal-privacy-en_eu.html",
]
KILL_AFTER = 6  # captures stored before the kill (of 24)


def fetched(db: str) -> int:
    store = open_store(db, create=False)
    try:
        with Session(store.engine) as s:
            return int(s.scalar(select(func.count()).select_from(Capture)) or 0)
    finally:
        store.close()


def test_a_crawl_killed_mid_way_resumes_to_the_same_result(
    pywb_archive: str, tmp_path: Path
) -> None:
    urls = tmp_path / "urls.txt"
    urls.write_text("\n".join(URLS) + "\n")
    ref_db = f"sqlite:///{tmp_path / 'clean.db'}"
    clean = run_cli("crawl", str(urls), "--archive", pywb_archive, "--db", ref_db, *FAST)
    assert clean.code == 0, clean.err
    reference = stored_state(ref_db)
    assert sum(len(c) for c in reference["captures"].values()) == 24

    db = f"sqlite:///{tmp_path / 'killed.db'}"
    log = (tmp_path / "killed.log").open("w")
    # two fetches a second: the crawl is still going when the kill comes
    proc = subprocess.Popen(
        [sys.executable, "-m", "crawler.cli", "crawl", str(urls), "--archive", pywb_archive,
         "--db", db, "--cdx-rate", "1200", "--replay-rate", "2"],
        cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        stored = 0
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                stored = fetched(db)
            except (OperationalError, StorageError):
                stored = 0  # the database is still being created
            if stored >= KILL_AFTER:
                break
            time.sleep(0.05)  # polling for a condition, not waiting for one to happen
        assert proc.poll() is None, "the crawl ended before it could be killed"
        assert stored >= KILL_AFTER, "the crawl stored nothing within 120 s"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
        log.close()
    assert proc.returncode == -signal.SIGKILL
    interrupted = stored_state(db)
    n_interrupted = sum(len(c) for c in interrupted["captures"].values())
    assert KILL_AFTER <= n_interrupted < 24, "killed mid-crawl"

    again = run_cli("crawl", str(urls), "--archive", pywb_archive, "--db", db, *FAST)
    assert again.code == 0, again.err
    resumed = stored_state(db)
    assert resumed["duplicate_rows"] == []
    assert resumed["captures"] == reference["captures"]
    assert resumed["versions"] == reference["versions"]
    assert resumed["changes"] == reference["changes"]
    assert resumed["counts"] == reference["counts"]
    # what the killed run had stored was kept, not fetched again
    store = open_store(db)
    try:
        runs = store.runs(5)
        assert runs[0].stats["fetched"] == 24 - n_interrupted
    finally:
        store.close()
