"""One thread that owns the database connection. Scrapy code awaits its results, so the reactor
never blocks on SQL or on CPU-heavy text work, and writes stay serialised (SQLite has one
writer).

When the database fails mid-crawl (the server went away, SQLite stayed locked past its busy
timeout, the disk is full), the step that failed was rolled back and everything stored before it
stays stored. Fetching on would only cost the archive requests whose results cannot be kept, so
the first failure is remembered (``error``), reported once through ``on_error`` (the spider stops
the crawl), and every later call raises ``DatabaseFailed`` at once without touching the
database. The next run resumes from what was stored."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from storage import StorageError, Store, open_store

T = TypeVar("T")

CLOSE_REASON = "database-error"  # the crawl's finish reason after a database failure


class DatabaseFailed(Exception):
    """The database refused a step of this crawl; the message is one line naming why."""


def one_line(message: str) -> str:
    """Driver messages span lines ("...refused\\n\\tIs the server running..."): join them."""
    return " ".join(message.split())


class StoreWorker:
    def __init__(self, db_url: str, on_error: Callable[[str], None] | None = None) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="policytrail-db")
        self.store: Store = self._executor.submit(open_store, db_url).result()
        self.on_error = on_error
        self.error: str | None = None

    def _failed(self, exc: StorageError) -> DatabaseFailed:
        if self.error is None:
            self.error = one_line(str(exc))
            if self.on_error is not None:
                self.on_error(self.error)
        return DatabaseFailed(self.error)

    async def run(self, fn: Callable[[Store], T]) -> T:
        if self.error is not None:
            raise DatabaseFailed(self.error)
        try:
            return await asyncio.wrap_future(self._executor.submit(fn, self.store))
        except StorageError as exc:
            raise self._failed(exc) from None

    def close(self) -> None:
        self._executor.submit(self.store.close).result()
        self._executor.shutdown(wait=True)
