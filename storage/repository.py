"""The repository: every read and write policytrail makes, as short transactions.

A ``Store`` is used from one thread at a time (the crawler gives it a worker thread of its own so
the Twisted reactor never blocks on the database). Each public write is one transaction: it commits
whole or rolls back whole, so an interrupted write never leaves half a capture or half a version.
"""

from __future__ import annotations

import json
import logging
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Protocol, TypeVar, cast

from sqlalchemy import Table, Update, bindparam, delete, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, CursorResult, Engine
from sqlalchemy.exc import IntegrityError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql import Select

from diffing.records import CaptureRef, ChangeAnalysis, Document, TextDiff
from diffing.records import Clause as AnalysedClause
from storage import blobs, varints
from storage import clauses as packing
from storage.db import CONFLICT_SQLSTATES, StorageConflict, StorageError
from storage.keys import check_url, site_of, urlkey
from storage.models import (
    Blob,
    Capture,
    Change,
    Clause,
    ClauseCategory,
    CrawlRun,
    DiffParams,
    Policy,
    PolicyUrl,
    Version,
    utcnow,
)

logger = logging.getLogger(__name__)

OK_STATES = ("fetched", "duplicate")
# What a crawl keeps of a fetched capture: its raw bytes too (``keep``, the default: texts can be
# re-extracted when the normaliser improves), or only what was extracted from them (``none``: the
# capture row keeps its archive address, digest and length, so the archive can serve it again).
SNAPSHOT_MODES = ("keep", "none")
# the hot paths (storing captures, building versions, report reads) use Core statements on the
# tables: the ORM's unit of work cost more CPU than compressing the blobs (measured: bench_store)
_BLOB = cast(Table, Blob.__table__)
_CAPTURE = cast(Table, Capture.__table__)
_VERSION = cast(Table, Version.__table__)
_CHANGE = cast(Table, Change.__table__)
_CLAUSE = cast(Table, Clause.__table__)
_POLICY = cast(Table, Policy.__table__)
_PARAMS = cast(Table, DiffParams.__table__)
_CATEGORY = cast(Table, ClauseCategory.__table__)


class _Stmt:
    """A statement of the hot paths, built once (building a statement costs more than running
    it), and run through Core with plain tuples back."""

    __slots__ = ("stmt",)

    def __init__(self, stmt: Select[Any] | Update) -> None:
        self.stmt = stmt

    def rows(self, conn: Connection, params: dict[str, Any]) -> list[tuple[Any, ...]]:
        return [tuple(row) for row in conn.execute(self.stmt, params)]

    def first(self, conn: Connection, params: dict[str, Any]) -> tuple[Any, ...] | None:
        row = conn.execute(self.stmt, params).first()
        return None if row is None else tuple(row)

    def run(self, conn: Connection, params: dict[str, Any]) -> None:
        """Run a statement that returns no rows (an update)."""
        conn.execute(self.stmt, params)


# statements of the hot paths, built once (building a statement costs more than running it)
_BLOB_BY_SHA = _Stmt(
    select(_BLOB.c.id).where(_BLOB.c.kind == bindparam("kind"), _BLOB.c.sha256 == bindparam("sha"))
)
_BLOB_ROW = _Stmt(  # codec, data, base_id, extra_base_id, sha256
    select(
        _BLOB.c.codec, _BLOB.c.data, _BLOB.c.base_id, _BLOB.c.extra_base_id, _BLOB.c.sha256
    ).where(_BLOB.c.id == bindparam("id"))
)
_LATEST_BLOB = {  # id, depth of the blob of this kind of the policy's newest capture; its text
    kind: _Stmt(
        select(_BLOB.c.id, _BLOB.c.depth, _CAPTURE.c.text_id)
        .join(_CAPTURE, column == _BLOB.c.id)
        .where(_CAPTURE.c.policy_id == bindparam("pid"))
        .order_by(_CAPTURE.c.id.desc())
        .limit(1)
    )
    for kind, column in (("snapshot", _CAPTURE.c.snapshot_id), ("text", _CAPTURE.c.text_id))
}
_LAST_USE = func.max(_CAPTURE.c.id).label("last_use")
_RECENT_TEXTS = _Stmt(  # id, depth of the two distinct texts of the newest captures, newest first
    select(_BLOB.c.id, _BLOB.c.depth, _LAST_USE)
    .join(_CAPTURE, _CAPTURE.c.text_id == _BLOB.c.id)
    .where(_CAPTURE.c.policy_id == bindparam("pid"))
    .group_by(_BLOB.c.id, _BLOB.c.depth)
    .order_by(_LAST_USE.desc())
    .limit(2)
)
_CAPTURE_AT = _Stmt(  # id, state
    select(_CAPTURE.c.id, _CAPTURE.c.state).where(
        _CAPTURE.c.url_id == bindparam("uid"), _CAPTURE.c.timestamp == bindparam("ts")
    )
)
# A policy's row is the lock between its captures and its rebuild. Every write of a capture ends
# by writing the row (unconditionally: an update that matches no row locks nothing), and a
# rebuild writes it first (``_MARK_CLEAN``). So a capture committed before a rebuild starts is
# read by it, and one stored while a rebuild runs waits for it to commit and leaves the policy
# dirty after it (PostgreSQL: the row lock; SQLite: the one write lock, taken by the first write).
_MARK_DIRTY = _Stmt(
    update(_POLICY).where(_POLICY.c.id == bindparam("pid")).values(needs_rebuild=True)
)
_INSERT_PARAMS = {
    name: dialect.insert(_PARAMS)
    .on_conflict_do_nothing(index_elements=["sha256"])
    .returning(_PARAMS.c.id)
    for name, dialect in (("postgresql", postgresql), ("sqlite", sqlite))
}
_INSERT_CATEGORY = {
    name: dialect.insert(_CATEGORY)
    .on_conflict_do_nothing(index_elements=["name"])
    .returning(_CATEGORY.c.id)
    for name, dialect in (("postgresql", postgresql), ("sqlite", sqlite))
}
_INSERT_BLOB = {
    name: dialect.insert(_BLOB)
    .on_conflict_do_nothing(index_elements=["kind", "sha256"])
    .returning(_BLOB.c.id)
    for name, dialect in (("postgresql", postgresql), ("sqlite", sqlite))
}
_MARK_CLEAN = _Stmt(  # a rebuild's first statement: see _MARK_DIRTY
    update(_POLICY).where(_POLICY.c.id == bindparam("pid")).values(needs_rebuild=False)
)
_DIRTY_AFTER = (  # the first dirty policy after ``after`` whose row no transaction holds
    select(_POLICY.c.id)
    .where(_POLICY.c.needs_rebuild.is_(True), _POLICY.c.id > bindparam("after"))
    .order_by(_POLICY.c.id)
    .limit(1)
    .with_for_update(skip_locked=True)  # PostgreSQL; SQLite has one writer at a time anyway
)
_CLAIM_NEXT = _Stmt(  # take it: the rebuild's first statement (rows: its id, or none)
    update(_POLICY)
    .where(_POLICY.c.id == _DIRTY_AFTER.scalar_subquery())
    .values(needs_rebuild=False)
    .returning(_POLICY.c.id)
)
_CLAIM_IF_DIRTY = _Stmt(  # waits for a rebuild of the policy under way, then takes it if dirty
    update(_POLICY)
    .where(_POLICY.c.id == bindparam("pid"), _POLICY.c.needs_rebuild.is_(True))
    .values(needs_rebuild=False)
    .returning(_POLICY.c.id)
)
_FV = _VERSION.alias("fv")
_TV = _VERSION.alias("tv")
_CHANGE_OPS = _Stmt(
    select(_CHANGE.c.ops_id, _FV.c.text_id, _TV.c.text_id)
    .join(_FV, _FV.c.id == _CHANGE.c.from_version_id)
    .join(_TV, _TV.c.id == _CHANGE.c.to_version_id)
    .where(_CHANGE.c.to_version_id == bindparam("vid"))
)
_CHANGES = (  # the columns of a ChangeRow, then the old and new text blob ids
    select(
        _CHANGE.c.id,
        _CHANGE.c.policy_id,
        _POLICY.c.url,
        _FV.c.seq,
        _TV.c.seq,
        _CHANGE.c.kind,
        _CHANGE.c.words_added,
        _CHANGE.c.words_removed,
        _CHANGE.c.similarity,
        _CHANGE.c.flags,
        _CHANGE.c.old_stated_date,
        _CHANGE.c.new_stated_date,
        _CHANGE.c.not_before,
        _CHANGE.c.not_after,
        _FV.c.text_id,
        _TV.c.text_id,
    )
    .join(_FV, _FV.c.id == _CHANGE.c.from_version_id)
    .join(_TV, _TV.c.id == _CHANGE.c.to_version_id)
    .join(_POLICY, _POLICY.c.id == _CHANGE.c.policy_id)
    .order_by(_CHANGE.c.not_after, _CHANGE.c.id)
)
_CLAUSE_ROWS = (
    select(
        _CLAUSE.c.id,
        _CLAUSE.c.change_id,
        _CLAUSE.c.op,
        _CATEGORY.c.name,
        _CLAUSE.c.packed,
        _CLAUSE.c.sentence,
        _CLAUSE.c["values"],
    )
    .join(_CATEGORY, _CATEGORY.c.id == _CLAUSE.c.category_id)
    .where(_CLAUSE.c.change_id.in_(bindparam("ids", expanding=True)))
    .order_by(_CLAUSE.c.id)
)
_INSERT_CAPTURE = insert(_CAPTURE)
_INSERT_VERSION = insert(_VERSION)
_INSERT_CHANGE = insert(_CHANGE)
_INSERT_CLAUSE = insert(_CLAUSE)
_REBUILD_CAPTURES = (  # a policy's captures that can be versions, in capture-time order
    select(_CAPTURE.c.id, _CAPTURE.c.text_id, _CAPTURE.c.text_hash)
    .add_columns(_CAPTURE.c.captured_at, _CAPTURE.c.title)
    .where(
        _CAPTURE.c.policy_id == bindparam("pid"),
        _CAPTURE.c.state.in_(OK_STATES),
        _CAPTURE.c.verdict == "ok",
        _CAPTURE.c.text_hash.is_not(None),
    )
    .order_by(_CAPTURE.c.captured_at, _CAPTURE.c.id)
)
_REBUILD_VERSIONS = (
    select(_VERSION.c.id, _VERSION.c.text_id, _VERSION.c.text_hash, _VERSION.c.first_capture_id)
    .add_columns(_VERSION.c.last_capture_id, _VERSION.c.last_seen)
    .where(_VERSION.c.policy_id == bindparam("pid"))
    .order_by(_VERSION.c.seq)
)
BLOB_CACHE_BYTES = 64 * 1024 * 1024  # decoded blobs kept for reuse as bases and for reads
BLOB_CACHE_ITEMS = 1024


class Analyser(Protocol):
    """What the repository needs from the text stages to build versions and changes."""

    def stated_date(self, text: str) -> date | None: ...

    def compare(
        self, old: str, new: str, history: Sequence[str]
    ) -> tuple[TextDiff, ChangeAnalysis]: ...


@dataclass(frozen=True, slots=True)
class TrackedUrl:
    policy_id: int
    url_id: int
    url: str
    urlkey: str
    last_seen_ts: str | None


@dataclass(frozen=True, slots=True)
class StoredContent:
    """What an earlier capture with the same digest already gave: reused instead of refetching."""

    capture_id: int
    state: str
    snapshot_id: int | None
    text_id: int | None
    text_hash: str | None
    verdict: str | None
    verdict_reason: str
    title: str
    language: str
    normaliser_version: str
    content_type: str
    redirect_to: str | None


@dataclass(frozen=True, slots=True)
class FetchResult:
    """One capture as the crawler saw it, ready to store."""

    policy_id: int
    url_id: int
    capture: CaptureRef
    archive: str
    state: str  # fetched | redirect | archived-error | failed | unfetchable
    body: bytes | None = None
    content_type: str = ""
    document: Document | None = None
    redirect_to: str | None = None
    error: str | None = None
    run_id: int | None = None
    redirect_chain: list[dict[str, Any]] | None = None  # archived redirects followed
    leaves_policy: bool = False  # the redirect chain ends somewhere that is not the policy


@dataclass(slots=True)
class RebuildResult:
    versions_added: int = 0
    versions_removed: int = 0
    changes_added: int = 0


@dataclass(frozen=True, slots=True)
class VersionRow:
    id: int
    policy_id: int
    seq: int
    text_id: int
    text_hash: str
    chars: int
    title: str
    first_seen: datetime
    last_seen: datetime
    first_timestamp: str
    last_timestamp: str
    first_url: str
    stated_date: date | None


@dataclass(frozen=True, slots=True)
class ChangeRow:
    id: int
    policy_id: int
    policy_url: str
    from_seq: int
    to_seq: int
    kind: str
    words_added: int
    words_removed: int
    similarity: float
    flags: list[str]
    old_stated_date: date | None
    new_stated_date: date | None
    not_before: datetime
    not_after: datetime
    clauses: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class PolicySummary:
    id: int
    url: str
    site: str
    urls: list[str]
    captures: int
    fetched: int
    versions: int
    changes: int
    last_change: datetime | None
    stated_date: date | None
    problems: dict[str, int]


def _row_columns(ref: CaptureRef) -> dict[str, Any]:
    """The capture columns that come straight from its CDX row."""
    return dict(
        timestamp=ref.timestamp,
        captured_at=ref.captured_at,
        original_url=ref.url,
        mimetype=ref.mimetype,
        status=ref.status,
        digest=ref.digest,
        length=ref.length,
    )


# Captures that a later fetch may replace: 'failed' ones are fetched again by the next run;
# 'unfetchable' ones (too large, corrupt compression: fetching again cannot help) are not, unless
# a run is asked to (--retry-unfetchable), and they never hold a URL's cursor back.
RETRIED_STATES = ("failed",)
REPLACEABLE_STATES = ("failed", "unfetchable")


# a capture whose content was fetched (not a duplicate of one): it has a raw snapshot, or a text
# only when it was fetched with --snapshots none
_FETCHED = (
    (Capture.snapshot_id.is_not(None) | Capture.text_id.is_not(None)),
    Capture.state != "duplicate",
)
_WITHOUT_SNAPSHOT = (
    Capture.snapshot_id.is_(None),
    Capture.text_id.is_not(None),
    Capture.state != "duplicate",
)


def _final_timestamps(
    s: Session, url_id: int, not_final: Sequence[str] = RETRIED_STATES
) -> set[str]:
    """Timestamps of this URL's captures stored in a final state: 'failed' ones are retried."""
    return set(
        s.scalars(
            select(Capture.timestamp).where(
                Capture.url_id == url_id, Capture.state.not_in(not_final)
            )
        )
    )


# Diff parameters that differ from one change to the next (the work budget grows with the texts'
# length; the counts of regions that fell back): each change keeps its own; the rest, the same
# for every change a release of the differ makes, is stored once (``DiffParams``).
PER_CHANGE_PARAMS = ("work_budget", "coarse_regions", "unrelated_regions")


def split_params(params: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """(shared, own): a change's diff parameters as stored; ``{**shared, **own}`` gives them
    back whole, whatever keys the differ names."""
    shared = {k: v for k, v in dict(params).items() if k not in PER_CHANGE_PARAMS}
    own = {k: v for k, v in dict(params).items() if k in PER_CHANGE_PARAMS}
    return shared, own


def compact_ops(ops: Iterable[tuple[int, str]]) -> list[list[int | str]]:
    """Diff ops as stored: equal and deleted runs by their length in the old text (which is stored
    anyway), inserted runs by their text. A small edit of a long policy stays small."""
    return [[op, text] if op == 1 else [op, len(text)] for op, text in ops]


def run_lengths(ops: Iterable[tuple[int, str]]) -> dict[str, Any]:
    """Diff ops as stored (format 2): ``{"format": 2, "runs": [op, length, op, length...]}``.
    Every op's text is a run of the old (equal, deleted) or new (inserted) text, both stored
    anyway, so a diff costs a few bytes per edit however much text it moves."""
    runs: list[int] = []
    for op, text in ops:
        runs += [op, len(text)]
    return {"format": 2, "runs": runs}


OPS_FORMAT_3 = 3  # the first byte of a binary ops blob (JSON ones start with "{" or "[")


def pack_runs(ops: Iterable[tuple[int, str]]) -> bytes:
    """Diff ops as stored since migration 0004 (format 3): the run lengths of
    :func:`run_lengths` as binary, a format byte then one varint ``length * 3 + op + 1`` per op
    (on the sample a third fewer bytes than the JSON of format 2, once compressed)."""
    out = bytearray([OPS_FORMAT_3])
    varints.put_all([len(text) * 3 + op + 1 for op, text in ops], out)
    return bytes(out)


def decode_ops(data: bytes, old: str, new: str) -> list[tuple[int, str]]:
    """The ops of a stored ops blob, whichever format wrote it (3: :func:`pack_runs`; 2:
    the JSON of :func:`run_lengths`; before: the JSON of :func:`compact_ops`)."""
    if data[:1] != bytes([OPS_FORMAT_3]):
        try:
            stored = json.loads(data)
        except ValueError:
            raise StorageError("corrupt database: stored diff has an unknown format") from None
        return expand_runs(stored, old, new)
    runs: list[int] = []
    pos = 1
    try:
        while pos < len(data):
            value, pos = varints.get(data, pos)
            runs += [value % 3 - 1, value // 3]
    except varints.VarintError:
        raise StorageError("corrupt database: stored diff is truncated") from None
    return expand_runs({"format": 2, "runs": runs}, old, new)


def expand_runs(stored: Any, old: str, new: str) -> list[tuple[int, str]]:
    """The ops of :func:`run_lengths` (or of :func:`compact_ops`, stored before format 2)."""
    if not isinstance(stored, dict):
        return expand_ops(stored, old)
    runs = stored.get("runs")
    if stored.get("format") != 2 or not isinstance(runs, list) or len(runs) % 2:
        raise StorageError("corrupt database: stored diff has an unknown format")
    ops: list[tuple[int, str]] = []
    i = j = 0
    for k in range(0, len(runs), 2):
        op, n = int(runs[k]), int(runs[k + 1])
        if op not in (-1, 0, 1) or n < 0:
            raise StorageError("corrupt database: stored diff has an impossible run")
        if op == 1:
            ops.append((1, new[j : j + n]))
            j += n
        else:
            ops.append((op, old[i : i + n]))
            i += n
            if op == 0:
                j += n
    if i != len(old) or j != len(new):
        raise StorageError("corrupt database: stored diff does not match its versions")
    return ops


def _spans_hold(text: str, clauses: Sequence[AnalysedClause]) -> bool:
    """Whether each clause's span is its sentence in ``text``, in text order, none overlapping."""
    last_end = 0
    for c in clauses:
        if c.start < last_end or text[c.start : c.end] != c.sentence:
            return False
        last_end = c.end
    return True


def clause_rows(
    change_id: int, found: Sequence[AnalysedClause], old: str, new: str
) -> list[list[dict[str, Any]]]:
    """Clause rows for a change, in batches of rows with the same columns: one row per
    (op, category), sentences as spans (storage.clauses).
    A clause that comes without its span is looked up in its text; one that is not there
    (an analyser that rewords sentences) is stored verbatim."""
    groups: dict[tuple[int, str], list[tuple[int, int, dict[str, list[str]]]]] = {}
    verbatim: list[dict[str, Any]] = []
    for op in (-1, 1):
        text = old if op == -1 else new
        mine = [c for c in found if c.op == op]
        spans: list[tuple[int, int]] | None
        if _spans_hold(text, mine):
            spans = [(c.start, c.end) for c in mine]
        else:
            spans = packing.locate(text, [c.sentence for c in mine])
        if spans is None:
            verbatim += [
                {
                    "change_id": change_id,
                    "op": op,
                    "category": c.category,
                    "count": 1,
                    "sentence": c.sentence,
                    "values": dict(c.values),
                }
                for c in mine
            ]
            continue
        for c, (start, end) in zip(mine, spans, strict=True):
            groups.setdefault((op, c.category), []).append((start, end, dict(c.values)))
    packed = [
        {
            "change_id": change_id,
            "op": op,
            "category": category,
            "count": len(items),
            "packed": packing.pack_spans(items),
        }
        for (op, category), items in groups.items()
    ]
    return [rows for rows in (packed, verbatim) if rows]


def expand_ops(stored: Sequence[Sequence[int | str]], old: str) -> list[tuple[int, str]]:
    ops: list[tuple[int, str]] = []
    pos = 0
    for op, value in stored:
        if int(op) == 1:
            ops.append((1, str(value)))
        else:
            n = int(value)
            ops.append((int(op), old[pos : pos + n]))
            pos += n
    if pos != len(old):
        raise StorageError("corrupt database: stored diff does not match its old version")
    return ops


def _new_id(result: CursorResult[Any]) -> int:
    """The primary key of the row an INSERT added."""
    key = result.inserted_primary_key
    if key is None or key[0] is None:
        raise StorageError("database did not return the id of a new row")
    return int(key[0])


def _insert_once(
    conn: Connection, table: Table, on_conflict: dict[str, Any], values: dict[str, Any]
) -> int | None:
    """Insert a row of a table with a unique key; None if a row with the same key exists
    (committed by another writer, which PostgreSQL waits for and SQLite serialises).
    ``on_conflict``: per dialect, an insert that does nothing on a conflict and returns the id."""
    stmt = on_conflict.get(conn.dialect.name)
    if stmt is not None:
        found = conn.execute(stmt, values).scalar()
        return None if found is None else int(found)
    try:  # other backends: a savepoint keeps the transaction usable after a conflict
        with conn.begin_nested():
            return _new_id(conn.execute(insert(table), values))
    except IntegrityError:
        return None


@dataclass(slots=True)
class _Tx:
    """A Core transaction of the hot paths, and the blobs it wrote (cached once it commits:
    a rolled-back id may be given to another blob)."""

    conn: Connection
    written: dict[int, bytes] = field(default_factory=dict)
    params: dict[str, int] = field(default_factory=dict)  # diff parameter sets it stored
    categories: dict[str, int] = field(default_factory=dict)  # clause categories it stored


@dataclass(slots=True)
class _Run:
    """Consecutive captures with the same text: one version."""

    text_id: int
    text_hash: str
    first_id: int
    last_id: int
    first_seen: datetime
    last_seen: datetime
    title: str


@dataclass(frozen=True, slots=True)
class _Kept:
    """A version as the builder needs it for the next change."""

    id: int
    text_id: int
    last_seen: datetime


CONFLICT_ATTEMPTS = 3  # tries of a rebuild the database aborts for a conflict: the first, 2 more
_T = TypeVar("_T")


def _retrying_conflicts(what: str, step: Callable[[], _T]) -> _T:
    """``step()`` (one transaction), run again when the database aborted it for a conflict with
    another transaction. Rebuilds running side by side insert the same shared rows (clause
    categories, diff parameter sets, identical ops blobs) in orders of their own, which
    PostgreSQL may resolve by aborting one of them; rolled back whole, it is simply redone."""
    for attempt in range(1, CONFLICT_ATTEMPTS):
        try:
            return step()
        except StorageConflict as exc:
            logger.warning(
                "%s: %s; running it again (%d of %d)", what, exc, attempt, CONFLICT_ATTEMPTS - 1
            )
    return step()  # the last try: a conflict now is the caller's error


class Store:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._session = sessionmaker(engine, expire_on_commit=False)
        self._blob_cache: OrderedDict[int, bytes] = OrderedDict()
        self._blob_cache_bytes = 0
        self._params_ids: dict[str, int] = {}  # sha256 -> id of committed diff parameter sets
        self._category_ids: dict[str, int] = {}  # name -> id of committed clause categories

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def _tx(self) -> Iterator[Session]:
        session = self._session()
        try:
            yield session
            session.commit()
        except OperationalError as exc:
            session.rollback()
            raise StorageError(
                f"database error (nothing from this step was stored): {exc.orig}"
            ) from None
        except SQLAlchemyError:
            session.rollback()
            raise
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    @contextmanager
    def _core(self) -> Iterator[_Tx]:
        """One transaction on a plain connection (no ORM session): what ``_tx`` promises,
        for the paths that run once per capture or per version."""
        try:
            with self.engine.begin() as conn:
                tx = _Tx(conn)
                yield tx
        except OperationalError as exc:
            conflict = getattr(exc.orig, "sqlstate", None) in CONFLICT_SQLSTATES
            raise (StorageConflict if conflict else StorageError)(
                f"database error (nothing from this step was stored): {exc.orig}"
            ) from None
        for blob_id, data in tx.written.items():
            self._cache_blob(blob_id, data)
        self._params_ids.update(tx.params)
        self._category_ids.update(tx.categories)

    # ------------------------------------------------------------------ policies and URLs

    def track(
        self, urls: Iterable[str], archive: str = "", policy_id: int | None = None
    ) -> list[TrackedUrl]:
        """Register URLs (idempotent). URLs with the same urlkey, or already linked to a policy,
        share one policy. With ``policy_id``, new URLs join that policy (a policy that moved
        keeps one identity); URLs already tracked stay where they are."""
        out: list[TrackedUrl] = []
        with self._tx() as s:
            for raw in urls:
                url = check_url(raw)
                key = urlkey(url)
                row = s.scalar(select(PolicyUrl).where(PolicyUrl.url == url))
                if row is None:
                    row = s.scalar(select(PolicyUrl).where(PolicyUrl.urlkey == key).limit(1))
                    if row is not None and row.url != url:
                        row = PolicyUrl(
                            policy_id=row.policy_id, url=url, urlkey=key, archive=archive
                        )
                        s.add(row)
                        s.flush()
                joins = policy_id is not None and s.get(Policy, policy_id) is not None
                if row is None and joins:
                    row = PolicyUrl(policy_id=policy_id, url=url, urlkey=key, archive=archive)
                    s.add(row)
                    s.flush()
                if row is None:
                    policy = s.scalar(select(Policy).where(Policy.key == key))
                    if policy is None:
                        policy = Policy(key=key, url=url, site=site_of(url))
                        s.add(policy)
                        s.flush()
                    row = PolicyUrl(policy_id=policy.id, url=url, urlkey=key, archive=archive)
                    s.add(row)
                    s.flush()
                out.append(TrackedUrl(row.policy_id, row.id, row.url, row.urlkey, row.last_seen_ts))
        return out

    def advance_cursor(self, url_id: int, newest_listed: str) -> str | None:
        """After a complete listing: the next run asks the index only from here on. A capture
        that failed holds the cursor back, so the next run lists and retries it; an unfetchable
        one does not (``--retry-unfetchable`` lists from it again: ``oldest_unfetchable``)."""
        with self._tx() as s:
            row = s.get(PolicyUrl, url_id)
            if row is None:
                return None
            failed = s.scalar(
                select(func.min(Capture.timestamp)).where(
                    Capture.url_id == url_id, Capture.state == "failed"
                )
            )
            cursor = min(newest_listed, failed) if failed else newest_listed
            if (row.last_seen_ts or "") < cursor:
                row.last_seen_ts = cursor
            return row.last_seen_ts

    # ------------------------------------------------------------------ captures

    def stored_contents(
        self, policy_id: int, digests: Iterable[str] | None = None
    ) -> dict[str, StoredContent]:
        """Digest -> the content an earlier capture of this policy already holds (only for
        ``digests`` when given, so a lookup does not read the policy's whole history)."""
        out: dict[str, StoredContent] = {}
        with self._tx() as s:
            q = (
                select(Capture)
                .where(Capture.policy_id == policy_id, Capture.digest != "")
                .where(Capture.state.in_(("fetched", "redirect", "archived-error")))
            )
            if digests is not None:
                q = q.where(Capture.digest.in_(set(digests)))
            rows = s.scalars(q.order_by(Capture.id))
            for c in rows:
                out.setdefault(
                    c.digest,
                    StoredContent(
                        c.id,
                        c.state,
                        c.snapshot_id,
                        c.text_id,
                        c.text_hash,
                        c.verdict,
                        c.verdict_reason,
                        c.title,
                        c.language,
                        c.normaliser_version,
                        c.content_type,
                        c.redirect_to,
                    ),
                )
        return out

    def stored_timestamps(self, url_id: int, *, retry_unfetchable: bool = False) -> set[str]:
        """Timestamps of captures of this URL stored in a final state (not 'failed'; nor
        'unfetchable' with ``retry_unfetchable``, so those are fetched again)."""
        with self._tx() as s:
            not_final = REPLACEABLE_STATES if retry_unfetchable else RETRIED_STATES
            return _final_timestamps(s, url_id, not_final)

    def unfetchable_digests(
        self, policy_id: int, digests: Iterable[str] | None = None
    ) -> dict[str, str]:
        """Digest -> error kind of this policy's unfetchable captures (only ``digests`` when
        given): a capture with the same digest holds the same bytes and would fail the same."""
        with self._tx() as s:
            q = select(Capture.digest, Capture.error).where(
                Capture.policy_id == policy_id,
                Capture.state == "unfetchable",
                Capture.digest != "",
            )
            if digests is not None:
                q = q.where(Capture.digest.in_(set(digests)))
            return {
                digest: (error or "unfetchable").split(":", 1)[0]
                for digest, error in s.execute(q.order_by(Capture.id)).all()
            }

    def oldest_unfetchable(self, url_id: int) -> str | None:
        """The time of this URL's oldest unfetchable capture (None: it has none)."""
        with self._tx() as s:
            oldest = s.scalar(
                select(func.min(Capture.timestamp)).where(
                    Capture.url_id == url_id, Capture.state == "unfetchable"
                )
            )
            return str(oldest) if oldest else None

    def save_fetch(self, result: FetchResult) -> int:
        """Store one fetched capture with its snapshot and text (one transaction)."""
        ref = result.capture
        with self._core() as tx:
            conn = tx.conn
            existing = _CAPTURE_AT.first(conn, {"uid": result.url_id, "ts": ref.timestamp})
            if existing is not None and existing[1] not in REPLACEABLE_STATES:
                return int(existing[0])  # already stored by an earlier (interrupted) run
            doc = result.document
            text_id = None
            if doc is not None:
                text_id = self._put_blob(tx, "text", doc.text.encode("utf-8"), result.policy_id)
            snapshot_id = None
            if result.body is not None:  # compressed against its text (see storage.blobs)
                snapshot_id = self._put_blob(
                    tx, "snapshot", result.body, result.policy_id, extra_base_id=text_id
                )
            values: dict[str, Any] = dict(
                **_row_columns(ref),
                policy_id=result.policy_id,
                url_id=result.url_id,
                archive=result.archive,
                state=result.state,
                snapshot_id=snapshot_id,
                text_id=text_id,
                text_hash=doc.text_hash if doc else None,
                content_type=result.content_type,
                verdict=str(doc.verdict) if doc else None,
                verdict_reason=doc.verdict_reason if doc else "",
                title=doc.title if doc else "",
                language=doc.language if doc else "",
                normaliser_version=doc.normaliser_version if doc else "",
                redirect_to=result.redirect_to,
                redirect_chain=result.redirect_chain,
                leaves_policy=result.leaves_policy,
                error=result.error,
                run_id=result.run_id,
            )
            if existing is not None:
                conn.execute(update(_CAPTURE).where(_CAPTURE.c.id == existing[0]).values(values))
                capture_id = int(existing[0])
            else:
                capture_id = _new_id(conn.execute(_INSERT_CAPTURE, values))
            if result.state == "fetched" and doc is not None:
                _MARK_DIRTY.run(conn, {"pid": result.policy_id})
            return capture_id

    def save_duplicates(
        self,
        policy_id: int,
        url_id: int,
        archive: str,
        items: Sequence[tuple[CaptureRef, StoredContent]],
        run_id: int | None = None,
    ) -> int:
        """Store captures whose digest is already stored, pointing at the same content."""
        if not items:
            return 0
        added = 0
        with self._tx() as s:
            have = _final_timestamps(s, url_id, REPLACEABLE_STATES)  # content beats no content
            for ref, src in items:
                if ref.timestamp in have:
                    continue
                s.execute(
                    delete(Capture).where(
                        Capture.url_id == url_id, Capture.timestamp == ref.timestamp
                    )
                )
                s.add(
                    Capture(
                        **_row_columns(ref),
                        policy_id=policy_id,
                        url_id=url_id,
                        archive=archive,
                        state="duplicate" if src.state == "fetched" else src.state,
                        snapshot_id=src.snapshot_id,
                        text_id=src.text_id,
                        text_hash=src.text_hash,
                        content_type=src.content_type,
                        verdict=src.verdict,
                        verdict_reason=src.verdict_reason,
                        title=src.title,
                        language=src.language,
                        normaliser_version=src.normaliser_version,
                        redirect_to=src.redirect_to,
                        run_id=run_id,
                    )
                )
                have.add(ref.timestamp)
                added += 1
            s.execute(update(Policy).where(Policy.id == policy_id).values(needs_rebuild=True))
        return added

    def snapshot_refs(self, policy_id: int | None = None) -> list[tuple[int, int, int, str, str]]:
        """(capture id, policy id, snapshot blob id, URL, content type) of every fetched capture."""
        with self._tx() as s:
            q = select(
                Capture.id,
                Capture.policy_id,
                Capture.snapshot_id,
                Capture.original_url,
                Capture.content_type,
            ).where(Capture.state == "fetched", Capture.snapshot_id.is_not(None))
            if policy_id is not None:
                q = q.where(Capture.policy_id == policy_id)
            rows = s.execute(q.order_by(Capture.id)).all()
            return [(a, b, c, d, e) for a, b, c, d, e in rows if c is not None]

    def without_snapshot(self, policy_id: int | None = None) -> int:
        """How many fetched captures have a text but no raw snapshot (fetched with
        ``--snapshots none``): re-extraction cannot reach them without fetching them again."""
        with self._tx() as s:
            q = select(func.count()).select_from(Capture).where(*_WITHOUT_SNAPSHOT)
            if policy_id is not None:
                q = q.where(Capture.policy_id == policy_id)
            return int(s.scalar(q) or 0)

    def replace_document(self, capture_id: int, doc: Document) -> bool:
        """Store a re-extracted document for a fetched capture and for every capture that shares
        its snapshot. Returns whether anything changed (then the policy's versions are rebuilt)."""
        c = _CAPTURE.c
        with self._core() as tx:
            cap = tx.conn.execute(
                select(
                    c.policy_id,
                    c.snapshot_id,
                    c.text_hash,
                    c.verdict,
                    c.title,
                    c.language,
                    c.normaliser_version,
                ).where(c.id == capture_id)
            ).first()
            if cap is None:
                return False
            if (cap.text_hash, cap.verdict, cap.title, cap.language, cap.normaliser_version) == (
                doc.text_hash,
                str(doc.verdict),
                doc.title,
                doc.language,
                doc.normaliser_version,
            ):
                return False
            text_id = self._put_blob(tx, "text", doc.text.encode("utf-8"), cap.policy_id)
            # every capture with the same raw bytes; a capture without any only itself (a NULL
            # snapshot_id would match every capture stored without a snapshot)
            same = (
                c.id == capture_id if cap.snapshot_id is None else c.snapshot_id == cap.snapshot_id
            )
            tx.conn.execute(
                update(_CAPTURE)
                .where(c.policy_id == cap.policy_id, same)
                .values(
                    text_id=text_id,
                    text_hash=doc.text_hash,
                    verdict=str(doc.verdict),
                    verdict_reason=doc.verdict_reason,
                    title=doc.title,
                    language=doc.language,
                    normaliser_version=doc.normaliser_version,
                )
            )
            _MARK_DIRTY.run(tx.conn, {"pid": cap.policy_id})
            return True

    # ------------------------------------------------------------------ blobs

    def _put_blob(
        self,
        tx: _Tx,
        kind: str,
        data: bytes,
        policy_id: int | None,
        *,
        extra_base_id: int | None = None,
    ) -> int:
        """Store ``data`` once (content-addressed), compressed against the policy's previous
        blob of the same kind and, if given, the blob ``extra_base_id`` (see ``Blob``).

        Safe when another process stores the same content at the same time: the insert does
        nothing if the (kind, sha256) row appeared meanwhile, and the row that won is used."""
        conn = tx.conn
        digest = blobs.sha256(data)
        found = _BLOB_BY_SHA.first(conn, {"kind": kind, "sha": digest})
        if found is not None:
            return int(found[0])
        base_id, base_depth, base = None, 0, None
        own_prefix = extra_base_id is not None  # a snapshot's own text
        if kind == "text" and policy_id is not None and extra_base_id is None:
            # the policy's two newest texts: a text often shares more with the one before the
            # newest (a flip-flop, a page that was briefly a stub) than with the newest alone
            # (on the sample: 4.8% fewer text bytes, at the same CPU time)
            recent = _RECENT_TEXTS.rows(conn, {"pid": policy_id})
            depth = max((int(r[1]) for r in recent), default=0) + 1
            if recent and depth < blobs.MAX_DEPTH:
                base_id, base_depth = int(recent[0][0]), depth
                base = self._read_blob(tx, base_id)
                if len(recent) > 1:
                    extra_base_id = int(recent[1][0])
        elif policy_id is not None:
            latest = _LATEST_BLOB[kind].first(conn, {"pid": policy_id})
            if latest is not None and latest[1] + 1 < blobs.MAX_DEPTH:
                base_id, base_depth = int(latest[0]), int(latest[1]) + 1
                base = self._read_blob(tx, base_id)
                if own_prefix and latest[2] == extra_base_id:
                    # the base is a snapshot of the same text, so it holds the words already:
                    # without the text the dictionary loads faster and the blob is no bigger
                    # (on the sample: 35 such snapshots, 57 bytes fewer, 20% less CPU)
                    extra_base_id = None
        prefix = self._read_blob(tx, extra_base_id) if extra_base_id is not None else None
        packed = blobs.pack(
            data, base, prefix, prefix_is_own=own_prefix, keep_dictionary=own_prefix
        )
        if packed.codec != "zstd-dict":
            base_id, base_depth, extra_base_id = None, 0, None
        values = dict(
            kind=kind,
            sha256=digest,
            size=len(data),
            codec=packed.codec,
            base_id=base_id,
            depth=base_depth,
            data=packed.data,
            extra_base_id=extra_base_id,
        )
        blob_id = self._insert_blob(conn, values)
        if blob_id is None:  # stored by a concurrent writer since the lookup above
            row = _BLOB_BY_SHA.first(conn, {"kind": kind, "sha": digest})
            if row is None:
                raise StorageError(f"a concurrent writer's {kind} blob {digest} is missing")
            return int(row[0])
        # the next blob of this policy uses it as its base: no need to read it back. Kept with
        # the transaction until it commits (a rolled-back id may be given to another blob).
        tx.written[blob_id] = data
        return blob_id

    def _params_id(self, tx: _Tx, params: dict[str, Any]) -> int:
        """The id of the stored diff parameter set ``params``, stored once (content-addressed,
        safe against a concurrent writer storing the same set, as blobs are)."""
        body = json.dumps(params, sort_keys=True, separators=(",", ":"))
        digest = blobs.sha256(body.encode("utf-8"))
        values = {"sha256": digest, "params": params}
        return self._row_once(
            tx, _PARAMS, _INSERT_PARAMS, "sha256", values, self._params_ids, tx.params
        )

    def _category_id(self, tx: _Tx, name: str) -> int:
        """The id of the clause category ``name``, stored once (as diff parameter sets)."""
        values = {"name": name}
        return self._row_once(
            tx, _CATEGORY, _INSERT_CATEGORY, "name", values, self._category_ids, tx.categories
        )

    @staticmethod
    def _row_once(
        tx: _Tx,
        table: Table,
        on_conflict: dict[str, Any],
        key: str,
        values: dict[str, Any],
        committed: dict[str, int],
        pending: dict[str, int],
    ) -> int:
        """The id of the row of ``table`` whose unique ``key`` column holds ``values[key]``,
        inserted with ``values`` if there is none (``committed``: ids known from committed
        transactions; ``pending``: from this one, remembered once it commits)."""
        wanted = values[key]
        found = committed.get(wanted) or pending.get(wanted)
        if found is not None:
            return found
        select_id = select(table.c.id).where(table.c[key] == wanted)
        row_id = tx.conn.execute(select_id).scalar()
        if row_id is None:
            row_id = _insert_once(tx.conn, table, on_conflict, values)
            if row_id is None:  # stored by a concurrent writer since the lookup above
                row_id = tx.conn.execute(select_id).scalar_one()
        pending[wanted] = int(row_id)
        return int(row_id)

    @staticmethod
    def _insert_blob(conn: Connection, values: dict[str, Any]) -> int | None:
        """Insert a blob row; None if a row with the same (kind, sha256) exists (committed by
        another writer, which PostgreSQL waits for and SQLite serialises)."""
        return _insert_once(conn, _BLOB, _INSERT_BLOB, values)

    def _cache_blob(self, blob_id: int, data: bytes) -> None:
        cache = self._blob_cache
        old = cache.pop(blob_id, None)
        if old is not None:
            self._blob_cache_bytes -= len(old)
        if len(data) > BLOB_CACHE_BYTES // 4:
            return
        cache[blob_id] = data
        self._blob_cache_bytes += len(data)
        while len(cache) > BLOB_CACHE_ITEMS or self._blob_cache_bytes > BLOB_CACHE_BYTES:
            _, dropped = cache.popitem(last=False)
            self._blob_cache_bytes -= len(dropped)

    def _read_blob(self, tx: _Tx, blob_id: int) -> bytes:
        cached = self._blob_cache.get(blob_id)
        if cached is not None:
            self._blob_cache.move_to_end(blob_id)
            return cached
        data = tx.written.get(blob_id)
        if data is not None:
            return data
        row = _BLOB_ROW.first(tx.conn, {"id": blob_id})
        if row is None:
            raise StorageError(f"corrupt database: blob {blob_id} is missing")
        codec, stored, base_id, extra_base_id, digest = row
        base = self._read_blob(tx, base_id) if base_id is not None else None
        prefix = self._read_blob(tx, extra_base_id) if extra_base_id is not None else None
        try:
            data = blobs.unpack(codec, bytes(stored), base, prefix)
        except Exception as exc:  # zstd raises its own error type
            raise StorageError(
                f"corrupt database: blob {blob_id} cannot be decoded ({exc})"
            ) from None
        if blobs.sha256(data) != digest:
            raise StorageError(f"corrupt database: blob {blob_id} fails its checksum")
        self._cache_blob(blob_id, data)
        return data

    def read_blob(self, blob_id: int) -> bytes:
        with self._core() as tx:
            return self._read_blob(tx, blob_id)

    def read_text(self, blob_id: int) -> str:
        return self.read_blob(blob_id).decode("utf-8")

    # ------------------------------------------------------------------ versions and changes

    def dirty_policies(self) -> list[int]:
        with self._tx() as s:
            return list(
                s.scalars(
                    select(Policy.id).where(Policy.needs_rebuild.is_(True)).order_by(Policy.id)
                )
            )

    def rebuild_versions(
        self, policy_id: int, analyser: Analyser, *, window: int = 3
    ) -> RebuildResult:
        """Derive the policy's versions from its stored captures, in capture-time order, and the
        changes between successive ones. Existing versions that still hold are kept (and not
        diffed again), so this is cheap after an incremental crawl and idempotent.

        The policy is marked clean first, in the same transaction: that write waits for a
        capture of the policy being stored, and a capture stored while this runs waits for it
        and marks the policy dirty again (see ``_MARK_DIRTY``). A rebuild that fails rolls back
        whole and leaves the policy dirty."""

        def rebuild() -> RebuildResult:
            with self._core() as tx:
                _MARK_CLEAN.run(tx.conn, {"pid": policy_id})
                return self._rebuild(tx, policy_id, analyser, window)

        return _retrying_conflicts(f"rebuilding policy {policy_id}", rebuild)

    def _rebuild(self, tx: _Tx, policy_id: int, analyser: Analyser, window: int) -> RebuildResult:
        """The body of ``rebuild_versions``, in a transaction that holds the policy's row."""
        result = RebuildResult()
        conn = tx.conn
        caps = conn.execute(_REBUILD_CAPTURES, {"pid": policy_id}).all()
        runs: list[_Run] = []
        for cid, text_id, text_hash, when, title in caps:
            if runs and runs[-1].text_hash == text_hash:
                runs[-1].last_id, runs[-1].last_seen = cid, when
            else:
                runs.append(_Run(text_id, text_hash, cid, cid, when, when, title or ""))
        ver = _VERSION.c
        existing = conn.execute(_REBUILD_VERSIONS, {"pid": policy_id}).all()
        keep = 0
        moved: list[dict[str, Any]] = []
        versions: list[_Kept] = []
        while (
            keep < len(existing)
            and keep < len(runs)
            and existing[keep].text_hash == runs[keep].text_hash
            and existing[keep].first_capture_id == runs[keep].first_id
        ):
            v, r = existing[keep], runs[keep]
            if (v.last_capture_id, v.last_seen) != (r.last_id, r.last_seen):
                moved.append({"vid": v.id, "last_id": r.last_id, "last_seen": r.last_seen})
            versions.append(_Kept(v.id, v.text_id, r.last_seen))
            keep += 1
        if moved:
            conn.execute(
                update(_VERSION)
                .where(ver.id == bindparam("vid"))
                .values(last_capture_id=bindparam("last_id"), last_seen=bindparam("last_seen")),
                moved,
            )
        stale = [v.id for v in existing[keep:]]
        if stale:
            chg = _CHANGE.c
            change_ids = list(
                conn.execute(
                    select(chg.id).where(
                        chg.to_version_id.in_(stale) | chg.from_version_id.in_(stale)
                    )
                ).scalars()
            )
            if change_ids:
                conn.execute(delete(_CLAUSE).where(_CLAUSE.c.change_id.in_(change_ids)))
                conn.execute(delete(_CHANGE).where(chg.id.in_(change_ids)))
            conn.execute(delete(_VERSION).where(ver.id.in_(stale)))
            result.versions_removed = len(stale)
        texts: dict[int, str] = {}

        def text_of(blob_id: int) -> str:
            if blob_id not in texts:
                texts[blob_id] = self._read_blob(tx, blob_id).decode("utf-8")
            return texts[blob_id]

        clause_batches: dict[bool, list[dict[str, Any]]] = {True: [], False: []}
        for i in range(keep, len(runs)):
            r = runs[i]
            new_text = text_of(r.text_id)
            version_id = _new_id(
                conn.execute(
                    _INSERT_VERSION,
                    dict(
                        policy_id=policy_id,
                        seq=i + 1,
                        text_id=r.text_id,
                        text_hash=r.text_hash,
                        chars=len(new_text),
                        title=r.title,
                        first_capture_id=r.first_id,
                        last_capture_id=r.last_id,
                        first_seen=r.first_seen,
                        last_seen=r.last_seen,
                        stated_date=analyser.stated_date(new_text),
                    ),
                )
            )
            result.versions_added += 1
            if versions:
                prev = versions[-1]
                history = [text_of(h.text_id) for h in versions[-1 - window : -1]]
                old_text = text_of(prev.text_id)
                diff, analysis = analyser.compare(old_text, new_text, history)
                ops_id = self._put_blob(tx, "ops", pack_runs(diff.ops), None)
                shared, own = split_params(diff.params)
                change_id = _new_id(
                    conn.execute(
                        _INSERT_CHANGE,
                        dict(
                            policy_id=policy_id,
                            from_version_id=prev.id,
                            to_version_id=version_id,
                            kind=str(analysis.kind),
                            words_added=diff.stats.words_added,
                            words_removed=diff.stats.words_removed,
                            similarity=diff.stats.similarity,
                            ops_id=ops_id,
                            params_id=self._params_id(tx, shared),
                            diff_params=own,
                            flags=list(analysis.flags),
                            old_stated_date=analysis.old_stated_date,
                            new_stated_date=analysis.new_stated_date,
                            not_before=prev.last_seen,
                            not_after=r.first_seen,
                        ),
                    )
                )
                for batch in clause_rows(change_id, analysis.clauses, old_text, new_text):
                    clause_batches["packed" in batch[0]] += batch
                result.changes_added += 1
            versions.append(_Kept(version_id, r.text_id, r.last_seen))
        for batch in clause_batches.values():
            for row in batch:
                row["category_id"] = self._category_id(tx, row.pop("category"))
            if batch:  # one executemany for all the changes of the policy
                conn.execute(_INSERT_CLAUSE, batch)
        return result

    def rebuild_next(
        self, analyser: Analyser, *, after: int = 0, window: int = 3
    ) -> tuple[int, RebuildResult] | None:
        """Take the first dirty policy after id ``after`` and rebuild it: (its id, the result),
        or None when there is none left to take. Workers rebuilding at the same time never take
        the same policy: on PostgreSQL the claim skips rows another transaction holds (a policy
        another worker rebuilds, or whose capture is being stored, which stays dirty for a
        later claim). The claim and the rebuild are one transaction: a worker that dies
        mid-rebuild leaves its policy dirty."""

        def claim_and_rebuild() -> tuple[int, RebuildResult] | None:
            with self._core() as tx:
                claimed = _CLAIM_NEXT.first(tx.conn, {"after": after})
                if claimed is None:
                    return None
                policy_id = int(claimed[0])
                return policy_id, self._rebuild(tx, policy_id, analyser, window)

        return _retrying_conflicts("rebuilding the next dirty policy", claim_and_rebuild)

    def rebuild_if_dirty(
        self, policy_id: int, analyser: Analyser, *, window: int = 3
    ) -> RebuildResult | None:
        """Rebuild the policy if it is still dirty once no other transaction holds it (a
        rebuild of it under way elsewhere is waited for, not repeated); None if it was not."""

        def rebuild() -> RebuildResult | None:
            with self._core() as tx:
                if _CLAIM_IF_DIRTY.first(tx.conn, {"pid": policy_id}) is None:
                    return None
                return self._rebuild(tx, policy_id, analyser, window)

        return _retrying_conflicts(f"rebuilding policy {policy_id}", rebuild)

    # ------------------------------------------------------------------ runs

    def start_run(self, archive: str, args: dict[str, Any], kind: str = "crawl") -> int:
        """A new run row owned by this process (host, pid), with a first heartbeat."""
        import os
        import socket

        with self._tx() as s:
            run = CrawlRun(
                archive=archive,
                args=args,
                kind=kind,
                host=socket.gethostname(),
                pid=os.getpid(),
                heartbeat_at=utcnow(),
            )
            s.add(run)
            s.flush()
            return run.id

    def heartbeat_run(self, run_id: int, kind: str | None = None) -> None:
        """The run's owner is alive (and, with ``kind``, says what kind of run it is)."""
        values: dict[str, Any] = {"heartbeat_at": utcnow()}
        if kind is not None:
            values["kind"] = kind
        with self._tx() as s:
            s.execute(update(CrawlRun).where(CrawlRun.id == run_id).values(**values))

    def finish_run(
        self, run_id: int, status: str, stats: dict[str, Any], error: str | None = None
    ) -> None:
        with self._tx() as s:
            run = s.get(CrawlRun, run_id)
            if run is not None:
                run.finished_at, run.status, run.stats, run.error = utcnow(), status, stats, error

    def runs(self, limit: int = 20, status: str | None = None) -> list[CrawlRun]:
        with self._tx() as s:
            q = select(CrawlRun).order_by(CrawlRun.id.desc()).limit(limit)
            if status is not None:
                q = q.where(CrawlRun.status == status)
            return list(s.scalars(q))

    # ------------------------------------------------------------------ reads

    def find_policy(self, url: str) -> int | None:
        """The policy a URL (or any URL with the same urlkey) belongs to."""
        url = check_url(url)
        with self._tx() as s:
            pid = s.scalar(select(PolicyUrl.policy_id).where(PolicyUrl.url == url))
            if pid is None:
                pid = s.scalar(
                    select(PolicyUrl.policy_id).where(PolicyUrl.urlkey == urlkey(url)).limit(1)
                )
            return pid

    def versions(self, policy_id: int) -> list[VersionRow]:
        with self._tx() as s:
            first = Capture.__table__.alias("first_cap")
            last = Capture.__table__.alias("last_cap")
            rows = s.execute(
                select(Version, first.c.timestamp, last.c.timestamp, first.c.original_url)
                .join(first, first.c.id == Version.first_capture_id)
                .join(last, last.c.id == Version.last_capture_id)
                .where(Version.policy_id == policy_id)
                .order_by(Version.seq)
            ).all()
            return [
                VersionRow(
                    v.id,
                    v.policy_id,
                    v.seq,
                    v.text_id,
                    v.text_hash,
                    v.chars,
                    v.title,
                    v.first_seen,
                    v.last_seen,
                    fts,
                    lts,
                    furl,
                    v.stated_date,
                )
                for v, fts, lts, furl in rows
            ]

    def change_ops(self, to_version_id: int) -> list[tuple[int, str]] | None:
        """The stored diff ops of the change that led to this version (None for the first)."""
        with self._core() as tx:
            row = _CHANGE_OPS.first(tx.conn, {"vid": to_version_id})
            if row is None:
                return None
            ops_id, old_text_id, new_text_id = row
            old = self._read_blob(tx, old_text_id).decode("utf-8")
            new = self._read_blob(tx, new_text_id).decode("utf-8")
            return decode_ops(self._read_blob(tx, ops_id), old, new)

    def change_params(self, to_version_id: int) -> dict[str, Any] | None:
        """The whole diff parameters of the change that led to this version (None for the
        first): the shared set it references, and its own (``split_params``)."""
        with self._core() as tx:
            row = tx.conn.execute(
                select(_CHANGE.c.params_id, _CHANGE.c.diff_params).where(
                    _CHANGE.c.to_version_id == to_version_id
                )
            ).first()
            if row is None:
                return None
            shared: dict[str, Any] = {}
            if row.params_id is not None:  # None: written whole before migration 0004
                found = tx.conn.execute(
                    select(_PARAMS.c.params).where(_PARAMS.c.id == row.params_id)
                ).scalar()
                if found is None:
                    raise StorageError(f"corrupt database: diff parameters {row.params_id} missing")
                shared = dict(found)
            return {**shared, **dict(row.diff_params or {})}

    def changes(
        self,
        policy_id: int | None = None,
        since: datetime | None = None,
        category: str | None = None,
    ) -> list[ChangeRow]:
        """Changes (of one policy or all, seen since ``since``, touching ``category``) with
        their clauses, oldest first. A list: ``iter_changes`` streams the same rows."""
        with self._core() as tx:
            rows = tx.conn.execute(self._changes_query(policy_id, since, category)).all()
            return self._change_rows(tx, rows)

    def iter_changes(
        self,
        policy_id: int | None = None,
        since: datetime | None = None,
        category: str | None = None,
        *,
        batch: int = 100,
    ) -> Iterator[ChangeRow]:
        """What ``changes`` returns, in the same order, read ``batch`` changes at a time (the
        rows through a streaming cursor, then the batch's clauses): memory stays that of one
        batch however many changes there are. One read transaction stays open meanwhile."""
        q = self._changes_query(policy_id, since, category).execution_options(yield_per=batch)
        with self._core() as tx:
            for part in tx.conn.execute(q).partitions(batch):
                yield from self._change_rows(tx, part)

    def changes_of(self, policy_ids: Sequence[int]) -> list[ChangeRow]:
        """The changes of these policies (a batch: a few hundred) with their clauses, oldest
        first, in one query and the clause queries of ``_clauses``."""
        if not policy_ids:
            return []
        q = _CHANGES.where(_CHANGE.c.policy_id.in_(list(policy_ids)))
        with self._core() as tx:
            return self._change_rows(tx, tx.conn.execute(q).all())

    @staticmethod
    def _changes_query(
        policy_id: int | None, since: datetime | None, category: str | None
    ) -> Select[Any]:
        ch = _CHANGE.c
        q = _CHANGES
        if policy_id is not None:
            q = q.where(ch.policy_id == policy_id)
        if since is not None:
            q = q.where(ch.not_after >= since)
        if category is not None:
            q = q.where(
                ch.id.in_(
                    select(_CLAUSE.c.change_id)
                    .join(_CATEGORY, _CATEGORY.c.id == _CLAUSE.c.category_id)
                    .where(_CATEGORY.c.name == category)
                )
            )
        return q

    def _change_rows(self, tx: _Tx, rows: Sequence[Any]) -> list[ChangeRow]:
        """Rows of ``_CHANGES`` as ChangeRows, with their clauses."""
        clauses = self._clauses(tx, {r[0]: (r[14], r[15]) for r in rows})
        return [
            ChangeRow(
                cid,
                pid,
                purl,
                fseq,
                tseq,
                kind,
                added,
                removed,
                similarity,
                list(flags),
                old_date,
                new_date,
                not_before,
                not_after,
                clauses.get(cid, []),
            )
            for (
                cid,
                pid,
                purl,
                fseq,
                tseq,
                kind,
                added,
                removed,
                similarity,
                flags,
                old_date,
                new_date,
                not_before,
                not_after,
                _old_text,
                _new_text,
            ) in rows
        ]

    def _clauses(
        self, tx: _Tx, texts: dict[int, tuple[int, int]]
    ) -> dict[int, list[dict[str, Any]]]:
        """Change id -> its clauses as dicts (op, category, sentence, values): removed ones
        first, then added ones, each in text order. ``texts``: change id -> (old, new) text
        blob ids."""
        out: dict[int, list[dict[str, Any]]] = {}
        if not texts:
            return out
        found: dict[int, list[tuple[int, int, int, dict[str, Any]]]] = {}
        ids = list(texts)
        for chunk in (ids[k : k + 500] for k in range(0, len(ids), 500)):
            decoded: dict[int, str] = {}  # per chunk: the store's blob cache spans chunks
            for row_id, change_id, op, category, data, sentence, values in tx.conn.execute(
                _CLAUSE_ROWS, {"ids": chunk}
            ):
                items = found.setdefault(change_id, [])
                if data is None:  # one sentence verbatim: rows of one op are all verbatim
                    entry = {
                        "op": op,
                        "category": category,
                        "sentence": sentence or "",
                        "values": values or {},
                    }
                    items.append((op, row_id, len(items), entry))
                    continue
                text_id = texts[change_id][0 if op == -1 else 1]
                text = decoded.get(text_id)
                if text is None:
                    text = decoded[text_id] = self._read_blob(tx, text_id).decode("utf-8")
                try:
                    spans = packing.spans_of(data, len(text))
                except packing.ClauseFormatError as exc:
                    raise StorageError(f"corrupt database: clause row {row_id}: {exc}") from None
                n = len(items)
                items += [
                    (
                        op,
                        start,
                        n + k,
                        {
                            "op": op,
                            "category": category,
                            "sentence": text[start:end],
                            "values": vals,
                        },
                    )
                    for k, (start, end, vals) in enumerate(spans)
                ]
        for change_id, items in found.items():
            # removed first; then by place in the text (packed) or row order (verbatim)
            items.sort(key=lambda item: (item[0] != -1, item[1], item[2]))
            out[change_id] = [d for *_key, d in items]
        return out

    def summaries(self) -> list[PolicySummary]:
        with self._tx() as s:
            out = []
            for p in s.scalars(select(Policy).order_by(Policy.id)):
                urls = list(
                    s.scalars(
                        select(PolicyUrl.url)
                        .where(PolicyUrl.policy_id == p.id)
                        .order_by(PolicyUrl.id)
                    )
                )
                n_caps = (
                    s.scalar(
                        select(func.count()).select_from(Capture).where(Capture.policy_id == p.id)
                    )
                    or 0
                )
                n_fetched = (
                    s.scalar(
                        select(func.count())
                        .select_from(Capture)
                        .where(Capture.policy_id == p.id, *_FETCHED)
                    )
                    or 0
                )
                n_versions = (
                    s.scalar(
                        select(func.count()).select_from(Version).where(Version.policy_id == p.id)
                    )
                    or 0
                )
                n_changes = (
                    s.scalar(
                        select(func.count()).select_from(Change).where(Change.policy_id == p.id)
                    )
                    or 0
                )
                last_change = s.scalar(
                    select(func.max(Change.not_after)).where(Change.policy_id == p.id)
                )
                stated = s.scalar(
                    select(Version.stated_date)
                    .where(Version.policy_id == p.id)
                    .order_by(Version.seq.desc())
                    .limit(1)
                )
                problems: dict[str, int] = {
                    str(verdict): int(n)
                    for verdict, n in s.execute(
                        select(Capture.verdict, func.count())
                        .where(
                            Capture.policy_id == p.id,
                            Capture.verdict.is_not(None),
                            Capture.verdict != "ok",
                        )
                        .group_by(Capture.verdict)
                    ).all()
                }
                failed = s.scalar(
                    select(func.count())
                    .select_from(Capture)
                    .where(
                        Capture.policy_id == p.id,
                        Capture.state.in_(("failed", "unfetchable", "archived-error", "redirect")),
                    )
                )
                if failed:
                    problems["not-fetched"] = failed
                out.append(
                    PolicySummary(
                        p.id,
                        p.url,
                        p.site,
                        urls,
                        n_caps,
                        n_fetched,
                        n_versions,
                        n_changes,
                        last_change,
                        stated,
                        problems,
                    )
                )
            return out

    def counts(self) -> dict[str, int]:
        with self._tx() as s:

            def n(model: Any, *where: Any) -> int:
                return int(s.scalar(select(func.count()).select_from(model).where(*where)) or 0)

            return {
                "policies": n(Policy),
                "captures": n(Capture),
                "fetched": n(Capture, *_FETCHED),
                # fetched with --snapshots none: the text is stored, the raw bytes are not
                "without_snapshot": n(Capture, *_WITHOUT_SNAPSHOT),
                "versions": n(Version),
                "changes": n(Change),
            }
