"""PostgreSQL end to end: the sample crawled from a real pywb archive into a real PostgreSQL server
stores exactly what the same crawl stores in SQLite, and reads back the same through the CLI."""

from __future__ import annotations

import json

import pytest

from tests.conftest import FAST, SAMPLE_URLS, run_cli
from tests.stored import assert_same_history, sqlite_baseline, stored_result

__all__ = ["sqlite_baseline"]

pytestmark = pytest.mark.e2e


def test_postgresql_stores_what_sqlite_stores(
    pywb_archive: str, postgres_server: object, sqlite_baseline: dict[str, object]
) -> None:
    pg = postgres_server
    pg.reset()  # type: ignore[attr-defined]
    db = str(pg.url)  # type: ignore[attr-defined]
    assert db.startswith("postgresql")
    r = run_cli("crawl", str(SAMPLE_URLS), "--archive", pywb_archive, "--db", db, *FAST)
    assert r.code == 0, r.err
    got = stored_result(db)
    want = sqlite_baseline["result"]
    assert isinstance(want, dict)
    assert_same_history(got, want)
    policies = [p for k, p in got.items() if k != "_captures"]
    assert len(policies) == 9 and all(p["versions"] for p in policies)  # not equal by emptiness
    assert sum(len(p["changes"]) for p in policies) > 0

    sqlite_db = str(sqlite_baseline["db"])
    a = run_cli("changes", "--format", "json", "--db", db)
    b = run_cli("changes", "--format", "json", "--db", sqlite_db)
    assert a.code == b.code == 0, (a.err, b.err)
    assert json.loads(a.out) == json.loads(b.out)
