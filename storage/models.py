"""Typed SQLAlchemy 2 models. Every schema change comes with an Alembic migration in
``storage/migrations/versions`` (``alembic check`` runs in the tests)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out, on every backend (SQLite has no tz)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(),
        dict[str, Any]: JSON,
        list[Any]: JSON,
    }


class Policy(Base):
    """One tracked document. Its identity survives URL moves: several URLs may point at it."""

    __tablename__ = "policy"
    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(2048), unique=True)  # urlkey of its first URL
    url: Mapped[str] = mapped_column(String(2048))  # the URL the user gave
    site: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    needs_rebuild: Mapped[bool] = mapped_column(Boolean, default=False)


class PolicyUrl(Base):
    __tablename__ = "policy_url"
    id: Mapped[int] = mapped_column(primary_key=True)
    policy_id: Mapped[int] = mapped_column(ForeignKey("policy.id", ondelete="CASCADE"), index=True)
    url: Mapped[str] = mapped_column(String(2048), unique=True)
    urlkey: Mapped[str] = mapped_column(String(2048), index=True)
    added_at: Mapped[datetime] = mapped_column(default=utcnow)
    # newest capture timestamp seen in the archive's index (14 digits): incremental runs start here
    last_seen_ts: Mapped[str | None] = mapped_column(String(14))
    archive: Mapped[str | None] = mapped_column(String(1024))


class Blob(Base):
    """Compressed bytes, content-addressed. A ``zstd-dict`` blob is compressed with a raw-content
    dictionary: the bytes of ``extra_base_id`` (if any) followed by those of ``base_id`` (if
    any). A text's bases are the policy's two newest texts (the one before the newest as the
    extra base); a snapshot's are its own capture's text (most of a page's words) and the
    policy's previous snapshot (its markup), which stores a small edit in tens of bytes and a new
    snapshot in a fraction of its plain zstd size. A capture fetched with ``--snapshots none``
    has a text and no snapshot."""

    __tablename__ = "blob"
    __table_args__ = (UniqueConstraint("kind", "sha256"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # "snapshot" | "text" | "ops"
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)  # uncompressed bytes
    codec: Mapped[str] = mapped_column(String(16))  # "zstd" | "zstd-dict"
    base_id: Mapped[int | None] = mapped_column(ForeignKey("blob.id"))
    depth: Mapped[int] = mapped_column(Integer, default=0)  # length of the base_id chain
    data: Mapped[bytes] = mapped_column(LargeBinary)
    # a blob id, not a declared foreign key: SQLite cannot add one to a table that other tables
    # reference without rebuilding it (a read of a missing base is a named StorageError anyway)
    extra_base_id: Mapped[int | None] = mapped_column(Integer)


class Capture(Base):
    """A CDX row of a policy URL, and what became of it."""

    __tablename__ = "capture"
    __table_args__ = (
        UniqueConstraint("url_id", "timestamp"),
        Index("ix_capture_policy_digest", "policy_id", "digest"),
        Index("ix_capture_policy_captured", "policy_id", "captured_at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    policy_id: Mapped[int] = mapped_column(ForeignKey("policy.id", ondelete="CASCADE"))
    url_id: Mapped[int] = mapped_column(ForeignKey("policy_url.id", ondelete="CASCADE"))
    timestamp: Mapped[str] = mapped_column(String(14))
    captured_at: Mapped[datetime]
    original_url: Mapped[str] = mapped_column(String(2048))
    mimetype: Mapped[str] = mapped_column(String(255), default="")
    status: Mapped[int | None] = mapped_column(Integer)
    digest: Mapped[str] = mapped_column(String(64), default="")
    length: Mapped[int | None] = mapped_column(Integer)
    archive: Mapped[str] = mapped_column(String(1024))
    # fetched | duplicate (digest stored before: not fetched) | redirect | archived-error |
    # failed (retried by the next run) | unfetchable (too-large, corrupt-compression: final)
    state: Mapped[str] = mapped_column(String(32))
    snapshot_id: Mapped[int | None] = mapped_column(ForeignKey("blob.id"))
    text_id: Mapped[int | None] = mapped_column(ForeignKey("blob.id"))
    text_hash: Mapped[str | None] = mapped_column(String(64))
    content_type: Mapped[str] = mapped_column(String(255), default="")
    verdict: Mapped[str | None] = mapped_column(String(32))
    verdict_reason: Mapped[str] = mapped_column(Text, default="")
    title: Mapped[str] = mapped_column(Text, default="")
    language: Mapped[str] = mapped_column(String(16), default="")
    normaliser_version: Mapped[str] = mapped_column(String(32), default="")
    redirect_to: Mapped[str | None] = mapped_column(String(2048))
    # the archived redirect chain followed inside the archive: [{"timestamp", "url", "status"}...]
    redirect_chain: Mapped[list[Any] | None] = mapped_column(JSON)
    # the chain ends somewhere that is not this policy (a home page, a login page...)
    leaves_policy: Mapped[bool] = mapped_column(Boolean, default=False)
    error: Mapped[str | None] = mapped_column(Text)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("crawl_run.id"))


class Version(Base):
    """A distinct text of a policy over a span of consecutive captures."""

    __tablename__ = "version"
    __table_args__ = (UniqueConstraint("policy_id", "seq"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    policy_id: Mapped[int] = mapped_column(ForeignKey("policy.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    text_id: Mapped[int] = mapped_column(ForeignKey("blob.id"))
    text_hash: Mapped[str] = mapped_column(String(64))
    chars: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(Text, default="")
    first_capture_id: Mapped[int] = mapped_column(ForeignKey("capture.id"))
    last_capture_id: Mapped[int] = mapped_column(ForeignKey("capture.id"))
    first_seen: Mapped[datetime]
    last_seen: Mapped[datetime]
    stated_date: Mapped[date | None] = mapped_column(Date)


class Change(Base):
    """The difference between two successive versions of a policy."""

    __tablename__ = "change"
    id: Mapped[int] = mapped_column(primary_key=True)
    policy_id: Mapped[int] = mapped_column(ForeignKey("policy.id", ondelete="CASCADE"), index=True)
    from_version_id: Mapped[int] = mapped_column(ForeignKey("version.id", ondelete="CASCADE"))
    to_version_id: Mapped[int] = mapped_column(
        ForeignKey("version.id", ondelete="CASCADE"), unique=True
    )
    kind: Mapped[str] = mapped_column(String(32))
    words_added: Mapped[int] = mapped_column(Integer)
    words_removed: Mapped[int] = mapped_column(Integer)
    similarity: Mapped[float] = mapped_column(Float)
    ops_id: Mapped[int] = mapped_column(ForeignKey("blob.id"))  # run lengths, compressed
    # the diff's parameters: the set shared by the changes a release of the differ made, and
    # the ones of this change alone (``storage.repository.split_params``)
    # (a ``diff_params`` id, not a declared foreign key: SQLite cannot drop a column that is
    # one, and rebuilding ``change`` would cascade-delete its clauses)
    params_id: Mapped[int | None] = mapped_column(Integer)
    diff_params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    flags: Mapped[list[Any]] = mapped_column(default=list)
    old_stated_date: Mapped[date | None] = mapped_column(Date)
    new_stated_date: Mapped[date | None] = mapped_column(Date)
    # when it happened, as far as the archive can tell: between these two captures
    not_before: Mapped[datetime]
    not_after: Mapped[datetime]


class DiffParams(Base):
    """A set of diff parameters (algorithm, version, settings), stored once and referenced by
    every change diffed with it: repeated on each change it took two thirds of the table."""

    __tablename__ = "diff_params"
    id: Mapped[int] = mapped_column(primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)  # of the canonical JSON
    params: Mapped[dict[str, Any]] = mapped_column(JSON)


class ClauseCategory(Base):
    """A clause category's name (OPP-115's, e.g. "Third Party Sharing/Collection"), stored
    once: clause rows and their index hold its id."""

    __tablename__ = "clause_category"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)


class Clause(Base):
    """The added (op 1) or removed (op -1) sentences of a change in one category, packed
    (``storage.clauses``): where each sentence is in the new (added) or old (removed) version's
    text, and the values found in it. A row written before migration 0003 that could not be
    converted holds one sentence verbatim in ``sentence`` and ``values`` instead."""

    __tablename__ = "clause"
    id: Mapped[int] = mapped_column(primary_key=True)
    change_id: Mapped[int] = mapped_column(ForeignKey("change.id", ondelete="CASCADE"), index=True)
    op: Mapped[int] = mapped_column(Integer)
    category_id: Mapped[int] = mapped_column(ForeignKey("clause_category.id"), index=True)
    count: Mapped[int] = mapped_column(Integer, default=1)  # sentences in the row
    packed: Mapped[bytes | None] = mapped_column(LargeBinary)
    sentence: Mapped[str | None] = mapped_column(Text)
    values: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class CrawlRun(Base):
    __tablename__ = "crawl_run"
    id: Mapped[int] = mapped_column(primary_key=True)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(String(32), default="running")
    archive: Mapped[str] = mapped_column(String(1024), default="")
    args: Mapped[dict[str, Any]] = mapped_column(default=dict)
    stats: Mapped[dict[str, Any]] = mapped_column(default=dict)
    error: Mapped[str | None] = mapped_column(Text)
    # who runs it: a run whose process is gone while its status says "running" was killed
    kind: Mapped[str] = mapped_column(String(16), default="crawl")  # crawl | run | worker
    host: Mapped[str] = mapped_column(String(255), default="")
    pid: Mapped[int | None] = mapped_column(Integer)
    heartbeat_at: Mapped[datetime | None]
