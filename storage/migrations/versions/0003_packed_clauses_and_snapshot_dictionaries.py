"""clause rows packed as spans into the version texts; a second dictionary base for blobs

Clause rows held every changed sentence verbatim (the largest part of the database). From here
on a row holds the sentences of one change, op and category as spans into the version text,
which is stored anyway (``storage.clauses``). Existing rows are converted: each sentence is
found in its version's text; a row whose sentence cannot be found is kept as it was (the
readers still understand it). Blobs get ``extra_base_id``, a second dictionary base (a
snapshot is compressed against its own text and the previous snapshot); downgrading repacks the
blobs that use it as plain zstd first.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 18:40:00
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
import zstandard
from alembic import op

from storage import clauses as packing

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_blob = sa.table(
    "blob",
    sa.column("id", sa.Integer),
    sa.column("codec", sa.String),
    sa.column("data", sa.LargeBinary),
    sa.column("base_id", sa.Integer),
    sa.column("extra_base_id", sa.Integer),
    sa.column("depth", sa.Integer),
)
_clause = sa.table(
    "clause",
    sa.column("id", sa.Integer),
    sa.column("change_id", sa.Integer),
    sa.column("op", sa.Integer),
    sa.column("category", sa.String),
    sa.column("count", sa.Integer),
    sa.column("packed", sa.LargeBinary),
    sa.column("sentence", sa.Text),
    sa.column("values", sa.JSON),
)
_change = sa.table(
    "change",
    sa.column("id", sa.Integer),
    sa.column("from_version_id", sa.Integer),
    sa.column("to_version_id", sa.Integer),
)
_version = sa.table("version", sa.column("id", sa.Integer), sa.column("text_id", sa.Integer))


class _Texts:
    """Blob reading as of this revision (codecs zstd and zstd-dict), self-contained so the
    migration keeps working whatever the blob code becomes."""

    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn
        self.cache: OrderedDict[int, bytes] = OrderedDict()

    def blob(self, blob_id: int) -> bytes:
        if blob_id in self.cache:
            self.cache.move_to_end(blob_id)
            return self.cache[blob_id]
        row = self.conn.execute(
            sa.select(_blob.c.codec, _blob.c.data, _blob.c.base_id, _blob.c.extra_base_id).where(
                _blob.c.id == blob_id
            )
        ).one()
        codec, data, base_id, extra_id = row
        if codec == "zstd":
            out = zstandard.ZstdDecompressor().decompress(data)
        elif codec == "zstd-dict":
            prefix = (self.blob(extra_id) if extra_id else b"") + (
                self.blob(base_id) if base_id else b""
            )
            zdict = zstandard.ZstdCompressionDict(prefix, dict_type=zstandard.DICT_TYPE_RAWCONTENT)
            out = zstandard.ZstdDecompressor(dict_data=zdict).decompress(data)
        else:
            raise ValueError(f"blob {blob_id}: unknown codec {codec!r}")
        self.cache[blob_id] = out
        while len(self.cache) > 64:
            self.cache.popitem(last=False)
        return out

    def text(self, blob_id: int) -> str:
        return self.blob(blob_id).decode("utf-8")


def _change_texts(conn: sa.Connection, change_id: int) -> tuple[int, int] | None:
    fv = _version.alias("fv")
    tv = _version.alias("tv")
    row = conn.execute(
        sa.select(fv.c.text_id, tv.c.text_id)
        .select_from(_change)
        .join(fv, fv.c.id == _change.c.from_version_id)
        .join(tv, tv.c.id == _change.c.to_version_id)
        .where(_change.c.id == change_id)
    ).first()
    return None if row is None else (int(row[0]), int(row[1]))


def _pack_legacy_rows(conn: sa.Connection) -> None:
    texts = _Texts(conn)
    rows = conn.execute(
        sa.select(
            _clause.c.id,
            _clause.c.change_id,
            _clause.c.op,
            _clause.c.category,
            _clause.c.sentence,
            _clause.c["values"],
        )
        .where(_clause.c.packed.is_(None))
        .order_by(_clause.c.change_id, _clause.c.id)
    ).all()
    by_change: dict[int, list[Any]] = {}
    for row in rows:
        by_change.setdefault(int(row.change_id), []).append(row)
    for change_id, legacy in by_change.items():
        text_ids = _change_texts(conn, change_id)
        if text_ids is None:
            continue
        old, new = texts.text(text_ids[0]), texts.text(text_ids[1])
        groups: dict[tuple[int, str], list[packing.SpanClause]] = {}
        converted: list[int] = []
        for op_value, text in ((-1, old), (1, new)):
            same_op = [r for r in legacy if int(r.op) == op_value]
            spans = packing.locate(text, [str(r.sentence or "") for r in same_op])
            if spans is None:
                continue  # kept verbatim: readers understand the old rows
            for r, (start, end) in zip(same_op, spans, strict=True):
                values = r[5] if isinstance(r[5], dict) else {}
                groups.setdefault((op_value, str(r.category)), []).append(
                    packing.SpanClause(op_value, str(r.category), start, end, values)
                )
                converted.append(int(r.id))
        if not converted:
            continue
        conn.execute(
            _clause.insert(),
            [
                {
                    "change_id": change_id,
                    "op": op_value,
                    "category": category,
                    "count": len(items),
                    "packed": packing.pack(items),
                }
                for (op_value, category), items in groups.items()
            ],
        )
        conn.execute(_clause.delete().where(_clause.c.id.in_(converted)))


def _unpack_rows(conn: sa.Connection) -> None:
    texts = _Texts(conn)
    rows = conn.execute(
        sa.select(
            _clause.c.id, _clause.c.change_id, _clause.c.op, _clause.c.category, _clause.c.packed
        )
        .where(_clause.c.packed.is_not(None))
        .order_by(_clause.c.change_id, _clause.c.id)
    ).all()
    by_change: dict[int, list[Any]] = {}
    for row in rows:
        by_change.setdefault(int(row.change_id), []).append(row)
    for change_id, packed_rows in by_change.items():
        text_ids = _change_texts(conn, change_id)
        if text_ids is None:
            continue
        old, new = texts.text(text_ids[0]), texts.text(text_ids[1])
        items: list[packing.SpanClause] = []
        for r in packed_rows:
            text = old if int(r.op) == -1 else new
            items += packing.unpack(r.packed, int(r.op), str(r.category), len(text))
        items.sort(key=lambda c: (c.op != -1, c.start))
        conn.execute(
            _clause.insert(),
            [
                {
                    "change_id": change_id,
                    "op": c.op,
                    "category": c.category,
                    "count": 1,
                    "sentence": (old if c.op == -1 else new)[c.start : c.end],
                    "values": c.values,
                }
                for c in items
            ],
        )
        conn.execute(_clause.delete().where(_clause.c.id.in_([int(r.id) for r in packed_rows])))


def _repack_two_base_blobs(conn: sa.Connection) -> None:
    """Before ``extra_base_id`` goes: blobs that use it become plain zstd."""
    texts = _Texts(conn)
    ids = conn.scalars(
        sa.select(_blob.c.id).where(_blob.c.extra_base_id.is_not(None)).order_by(_blob.c.id)
    ).all()
    for blob_id in ids:
        data = zstandard.ZstdCompressor(level=9, write_content_size=True).compress(
            texts.blob(int(blob_id))
        )
        conn.execute(
            _blob.update()
            .where(_blob.c.id == blob_id)
            .values(codec="zstd", data=data, base_id=None, extra_base_id=None, depth=0)
        )


def upgrade() -> None:
    # a plain ALTER TABLE on both backends: rebuilding ``blob`` (SQLite's way to add a foreign
    # key) would mean dropping a table every other table references
    op.add_column("blob", sa.Column("extra_base_id", sa.Integer(), nullable=True))
    with op.batch_alter_table("clause") as batch:
        batch.add_column(sa.Column("count", sa.Integer(), nullable=False, server_default="1"))
        batch.add_column(sa.Column("packed", sa.LargeBinary(), nullable=True))
        batch.alter_column("sentence", existing_type=sa.Text(), nullable=True)
        batch.alter_column("values", existing_type=sa.JSON(), nullable=True)
    _pack_legacy_rows(op.get_bind())


def downgrade() -> None:
    conn = op.get_bind()
    _unpack_rows(conn)
    _repack_two_base_blobs(conn)
    with op.batch_alter_table("clause") as batch:
        batch.alter_column("values", existing_type=sa.JSON(), nullable=False)
        batch.alter_column("sentence", existing_type=sa.Text(), nullable=False)
        batch.drop_column("packed")
        batch.drop_column("count")
    if conn.dialect.name == "sqlite":
        op.execute("ALTER TABLE blob DROP COLUMN extra_base_id")  # SQLite >= 3.35
    else:
        op.drop_column("blob", "extra_base_id")
