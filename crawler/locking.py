"""One job at a time per database: a lock that dies with the process holding it.

- SQLite (one machine): ``fcntl.flock`` on a lock file beside the database (``<db file>.lock``,
  or ``--lock-file``). The kernel drops the lock when its process exits, however it exits.
- PostgreSQL (any number of machines): a session-level advisory lock
  (``pg_try_advisory_lock``) held on a dedicated connection. The server drops it when that
  connection closes: when the process exits or is killed, or when its machine goes away.

So a lock never goes stale: a killed run's lock is simply free, and the next run takes it. What a
killed run leaves behind is its run row still saying "running"; ``crawler.runjob`` marks those.
Other database servers fall back to a lock file in the temporary directory, named after the URL
(one machine only).
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import socket
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, Protocol

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

# the advisory lock's key: one per database (advisory locks are scoped to their database)
ADVISORY_KEY = int.from_bytes(hashlib.sha1(b"policytrail run lock").digest()[:4]) & 0x7FFFFFFF
ADVISORY_CLASS = 0x70747261  # "ptra": the high half of the 64-bit key


class LockError(Exception):
    """The lock could not be checked at all (unwritable lock file, unreachable database)."""


class LockHeld(Exception):
    """Another live process holds the lock; ``holder`` says who, when that is known."""

    def __init__(self, what: str, holder: str) -> None:
        detail = f" ({holder})" if holder else ""
        super().__init__(f"another run holds the lock on {what}{detail}")
        self.holder = holder


class RunLock(Protocol):
    description: str

    def acquire(self) -> None: ...

    def release(self) -> None: ...


def owner_label() -> str:
    """Who holds a lock: written into the lock so a refused run can say who is running."""
    since = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%SZ")
    return f"pid {os.getpid()} on {socket.gethostname()} since {since}"


class FileLock:
    """``flock`` on a file. The file is never deleted (deleting lock files races)."""

    def __init__(self, path: Path, database: str | None = None) -> None:
        self.path = path
        self.database = database  # the SQLite file it guards, named when it cannot be created
        self.description = str(path)
        self._fh: IO[str] | None = None

    def acquire(self) -> None:
        try:
            fh = self.path.open("a+", encoding="utf-8")
        except OSError as exc:
            if self.database:
                raise LockError(
                    f"cannot use database {self.database}: cannot create its lock file "
                    f"{self.path} ({exc.strerror})"
                ) from None
            raise LockError(f"cannot open lock file {self.path}: {exc.strerror}") from None
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            holder = fh.read().strip()
            fh.close()
            raise LockHeld(str(self.path), holder) from None
        fh.seek(0)
        fh.truncate()
        fh.write(owner_label() + "\n")
        fh.flush()
        self._fh = fh

    def release(self) -> None:
        if self._fh is not None:
            fcntl.flock(self._fh.fileno(), fcntl.LOCK_UN)
            self._fh.close()
            self._fh = None

    def __enter__(self) -> FileLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


class AdvisoryLock:
    """A PostgreSQL session-level advisory lock on a connection of its own."""

    def __init__(self, db_url: str) -> None:
        self.db_url = db_url
        self.description = f"database {make_url(db_url).render_as_string(hide_password=True)}"
        self._conn: Any = None
        self._engine: Any = None

    def acquire(self) -> None:
        from sqlalchemy import create_engine, text
        from sqlalchemy.exc import SQLAlchemyError
        from sqlalchemy.pool import NullPool

        label = f"policytrail run: {owner_label()}"[:63]  # NAMEDATALEN
        try:
            self._engine = create_engine(
                self.db_url, poolclass=NullPool, connect_args={"application_name": label}
            )
            conn = self._engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        except SQLAlchemyError as exc:
            self._dispose()
            reason = getattr(exc, "orig", None) or exc
            raise LockError(f"cannot reach database for the run lock: {reason}") from None
        got = conn.execute(
            text("SELECT pg_try_advisory_lock(:c, :k)"), {"c": ADVISORY_CLASS, "k": ADVISORY_KEY}
        ).scalar()
        if not got:
            holder = conn.execute(
                text(
                    "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a "
                    "ON a.pid = l.pid WHERE l.locktype = 'advisory' AND l.granted "
                    "AND l.classid = :c AND l.objid = :k AND l.objsubid = 2"
                ),
                {"c": ADVISORY_CLASS, "k": ADVISORY_KEY},
            ).scalar()
            conn.close()
            self._dispose()
            label_prefix = "policytrail run: "
            holder_s = str(holder or "")
            if holder_s.startswith(label_prefix):
                holder_s = holder_s[len(label_prefix) :]
            raise LockHeld(self.description, holder_s)
        self._conn = conn

    def release(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()  # the server releases a session lock with its session
            finally:
                self._conn = None
        self._dispose()

    def _dispose(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    def __enter__(self) -> AdvisoryLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def lock_for(db_url: str, lock_file: str | None = None) -> FileLock | AdvisoryLock:
    """The lock that serialises jobs on ``db_url``: ``lock_file`` when given, else an advisory
    lock on PostgreSQL, else a file beside the SQLite database."""
    if lock_file:
        return FileLock(Path(lock_file))
    try:
        url = make_url(db_url)
    except ArgumentError as exc:
        raise LockError(f"not a database URL: {db_url!r} ({exc})") from None
    backend = url.get_backend_name()
    if backend == "postgresql":
        return AdvisoryLock(db_url)
    db = url.database or ""
    if backend == "sqlite" and db and db != ":memory:" and not db.startswith("file:"):
        path = Path(db).expanduser().resolve()
        return FileLock(path.with_name(path.name + ".lock"), database=str(path))
    digest = hashlib.sha1(url.render_as_string(hide_password=True).encode()).hexdigest()[:16]
    return FileLock(Path(tempfile.gettempdir()) / f"policytrail-{digest}.lock")
