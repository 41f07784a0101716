"""``policytrail schedule``: interval and cron expressions, one child job at a time, a clean stop,
malformed expressions as one-line usage errors, and two real scheduled runs against pywb."""

from __future__ import annotations

import json
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from crawler.schedule import Schedule, ScheduleError, Scheduler, check_cron, parse_every
from tests.conftest import FAST, SAMPLE_URLS, run_cli


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90s", 90),
        ("30m", 1800),
        ("12h", 43200),
        ("1d", 86400),
        ("1w", 604800),
        ("1h30m", 5400),
        (" 2H ", 7200),
    ],
)
def test_parse_every(text: str, seconds: int) -> None:
    assert parse_every(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "12", "h", "12x", "1h 30", "-1h", "0s", "1.5h", "12h!"])
def test_parse_every_rejects(text: str) -> None:
    with pytest.raises(ScheduleError, match="--every"):
        parse_every(text)


@pytest.mark.parametrize("expr", ["61 * * * *", "* * *", "0 */12 * * * *", "hello", "0 25 * * *"])
def test_check_cron_rejects(expr: str) -> None:
    with pytest.raises(ScheduleError, match="--cron"):
        check_cron(expr)


def test_next_times() -> None:
    tz = timezone(timedelta(hours=2))
    now = datetime(2026, 3, 1, 5, 17, tzinfo=tz)
    cron = Schedule(cron=check_cron("0 */12 * * *"))
    assert cron.first(now) == datetime(2026, 3, 1, 12, 0, tzinfo=tz)
    assert cron.next_after(datetime(2026, 3, 1, 12, 0, tzinfo=tz)) == datetime(
        2026, 3, 2, 0, 0, tzinfo=tz
    )
    every = Schedule(every=parse_every("12h"))
    assert every.first(now) == now
    assert every.next_after(now + timedelta(hours=1), last_start=now) == now + timedelta(hours=12)
    late = now + timedelta(hours=13)  # the job overran its slot: the next starts at once
    assert every.next_after(late, last_start=now) == late


def test_locked_runs_are_reported_and_the_schedule_goes_on() -> None:
    lines: list[str] = []
    s = Scheduler(
        Schedule(every=timedelta(seconds=1)),
        [sys.executable, "-c", "raise SystemExit(75)"],
        max_runs=2,
        out=lines.append,
    )
    t0 = time.monotonic()
    assert s.loop() == 0
    assert s.exit_codes == [75, 75]
    assert time.monotonic() - t0 >= 1.0  # start to start, one interval apart
    assert sum("skipped: another run holds the lock (exit code 75)" in x for x in lines) == 2


def test_stop_ends_the_wait_at_once() -> None:
    s = Scheduler(Schedule(every=timedelta(hours=1)), [sys.executable, "-c", "pass"], out=print)
    thread = threading.Thread(target=s.loop)
    thread.start()
    deadline = time.monotonic() + 30
    while not s.exit_codes and time.monotonic() < deadline:
        time.sleep(0.05)
    assert s.exit_codes == [0]
    s.stop()
    thread.join(timeout=5)
    assert not thread.is_alive()


@pytest.mark.parametrize(
    ("option", "value", "fragment"),
    [
        ("--every", "12x", "--every"),
        ("--cron", "61 * * * *", "--cron"),
        ("--cron", "* * *", "--cron"),
    ],
)
def test_malformed_expression_is_a_one_line_usage_error(
    option: str, value: str, fragment: str, tmp_path: Path
) -> None:
    r = run_cli(
        "schedule",
        option,
        value,
        "--urls",
        str(SAMPLE_URLS),
        "--db",
        f"sqlite:///{tmp_path / 'x.db'}",
    )
    assert r.code == 2, r.err
    lines = r.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("policytrail: error: "), r.err
    assert fragment in lines[0] and value.strip() in lines[0]
    assert not (tmp_path / "x.db").exists()  # nothing ran


@pytest.mark.e2e
def test_two_scheduled_runs_against_pywb(pywb_archive: str, tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'p.db'}"
    r = run_cli(
        "schedule",
        "--every",
        "1s",
        "--max-runs",
        "2",
        "--urls",
        str(SAMPLE_URLS),
        "--archive",
        pywb_archive,
        "--db",
        db,
        *FAST,
    )
    assert r.code == 0, r.err
    assert "schedule: run 1 finished (exit code 0)" in r.out
    assert "schedule: run 2 finished (exit code 0)" in r.out
    runs = json.loads(run_cli("runs", "--format", "json", "--db", db).out)
    assert [(x["kind"], x["status"]) for x in runs] == [("run", "ok"), ("run", "ok")]
    second, first = runs
    assert first["stats"]["fetched"] > 0 and second["stats"]["fetched"] == 0  # incremental
