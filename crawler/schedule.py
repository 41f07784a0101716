"""``policytrail schedule``: run ``policytrail run`` again and again, for machines without cron.

Each job runs in a child process (a Twisted reactor cannot be restarted in one process), one at a
time: a job that overruns its slot delays the next one, it never overlaps it (and the job lock
would refuse an overlap anyway). ``--every 12h`` runs at once and then every 12 hours, start to
start; ``--cron "0 */12 * * *"`` runs at the times a crontab line would, in local time.
SIGTERM or SIGINT stops the schedule (and asks a running job to stop cleanly).
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import FrameType

UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_EVERY = re.compile(r"(\d+)\s*([smhdw])")
MIN_EVERY = timedelta(seconds=1)


class ScheduleError(ValueError):
    """A malformed ``--every`` or ``--cron`` expression."""


def parse_every(text: str) -> timedelta:
    """``90s``, ``30m``, ``12h``, ``1d``, ``1w``, or sums like ``1h30m``."""
    s = text.strip().lower()
    pos, total = 0, 0
    for m in _EVERY.finditer(s):
        if m.start() != pos:
            break
        total += int(m.group(1)) * UNITS[m.group(2)]
        pos = m.end()
    if not s or pos != len(s):
        raise ScheduleError(
            f"--every: not an interval: {text!r} (use e.g. 90s, 30m, 12h, 1d or 1h30m)"
        )
    every = timedelta(seconds=total)
    if every < MIN_EVERY:
        raise ScheduleError(f"--every: interval must be at least 1s: {text!r}")
    return every


def check_cron(expr: str) -> str:
    """A five-field crontab expression (minute hour day-of-month month day-of-week)."""
    from croniter import croniter

    fields = expr.split()
    if len(fields) != 5 or not croniter.is_valid(expr):
        raise ScheduleError(
            f'--cron: not a 5-field cron expression: {expr!r} (e.g. "0 */12 * * *")'
        )
    return expr


@dataclass(frozen=True, slots=True)
class Schedule:
    every: timedelta | None = None
    cron: str | None = None

    def first(self, now: datetime) -> datetime:
        """When the first job runs: at once for an interval, at the next match for cron."""
        return now if self.every is not None else self.next_after(now)

    def next_after(self, now: datetime, last_start: datetime | None = None) -> datetime:
        """The next start strictly after ``now`` (cron) or ``every`` after the last start."""
        if self.every is not None:
            base = last_start or now
            return max(base + self.every, now)
        from croniter import croniter

        assert self.cron is not None
        nxt: datetime = croniter(self.cron, now).get_next(datetime)
        return nxt


def local_now() -> datetime:
    return datetime.now().astimezone()


class Scheduler:
    """Runs ``command`` on ``schedule`` until stopped or ``max_runs`` jobs have run."""

    def __init__(
        self,
        schedule: Schedule,
        command: Sequence[str],
        *,
        max_runs: int | None = None,
        now: Callable[[], datetime] = local_now,
        out: Callable[[str], None] = print,
    ) -> None:
        self.schedule = schedule
        self.command = list(command)
        self.max_runs = max_runs
        self.now = now
        self.out = out
        self.stopping = threading.Event()
        self.child: subprocess.Popen[bytes] | None = None
        self.exit_codes: list[int] = []

    def stop(self, signum: int = signal.SIGTERM, _frame: FrameType | None = None) -> None:
        self.stopping.set()
        child = self.child
        if child is not None and child.poll() is None:
            child.send_signal(signal.SIGINT)  # Scrapy shuts down cleanly on SIGINT

    def wait_until(self, when: datetime) -> bool:
        """Sleep until ``when`` (in short steps, so a clock change is noticed); False if stopped."""
        while not self.stopping.is_set():
            left = (when - self.now()).total_seconds()
            if left <= 0:
                return True
            self.stopping.wait(min(left, 60.0))
        return False

    def run_once(self) -> int:
        sys.stdout.flush()
        # a session of its own: a terminal's Ctrl-C reaches the child once, through stop()
        self.child = subprocess.Popen(self.command, start_new_session=True)
        try:
            code = self.child.wait()
        finally:
            self.child = None
        self.exit_codes.append(code)
        return code

    def loop(self) -> int:
        from crawler.runjob import EXIT_LOCKED

        when = self.schedule.first(self.now())
        while self.max_runs is None or len(self.exit_codes) < self.max_runs:
            if when > self.now():
                self.out(f"schedule: next run at {when:%Y-%m-%d %H:%M:%S %Z}".rstrip())
            if not self.wait_until(when):
                break
            started = self.now()
            code = self.run_once()
            what = "skipped: another run holds the lock" if code == EXIT_LOCKED else "finished"
            self.out(f"schedule: run {len(self.exit_codes)} {what} (exit code {code})")
            if self.stopping.is_set():
                break
            when = self.schedule.next_after(self.now(), last_start=started)
        return 0


def install_signal_handlers(scheduler: Scheduler) -> None:
    signal.signal(signal.SIGTERM, scheduler.stop)
    signal.signal(signal.SIGINT, scheduler.stop)
