"""policytrail's SQL storage: models, migrations and the repository the crawler writes through.

Knows nothing of Scrapy. SQLite is the embedded default; PostgreSQL works through a URL.
"""

from storage.db import DEFAULT_DB_ENV, StorageError, default_db_url, open_store
from storage.repository import Store

__all__ = ["DEFAULT_DB_ENV", "StorageError", "Store", "default_db_url", "open_store"]
