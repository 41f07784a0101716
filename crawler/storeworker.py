"""One thread that owns the database connection. Scrapy code awaits its results, so the reactor
never blocks on SQL or on CPU-heavy text work, and writes stay serialised (SQLite has one
writer)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from storage import Store, open_store

T = TypeVar("T")


class StoreWorker:
    def __init__(self, db_url: str) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="policytrail-db")
        self.store: Store = self._executor.submit(open_store, db_url).result()

    async def run(self, fn: Callable[[Store], T]) -> T:
        return await asyncio.wrap_future(self._executor.submit(fn, self.store))

    def run_sync(self, fn: Callable[[Store], T]) -> T:
        return self._executor.submit(fn, self.store).result()

    def close(self) -> None:
        self._executor.submit(self.store.close).result()
        self._executor.shutdown(wait=True)
