"""diff parameters and clause categories stored once; binary diff runs and clause spans

A change's ``diff_params`` repeated the differ's whole configuration (some 700 bytes, two thirds
of the ``change`` table). From here on the part every change of a differ release shares is a
``diff_params`` row, referenced by ``change.params_id``; ``change.diff_params`` keeps the few
parameters of the change alone (its work budget, the regions that fell back). Existing changes
are split on upgrade and made whole again on downgrade.

Clause rows name their category by id (``clause_category``): the names repeated in every row
and in its index were a fifth of the clause table.

Diff ops (blob kind ``ops``, format 3) and packed clause rows (form 2) written from here on are
binary varints instead of JSON; readers understand both, so existing rows stay as they are. A
downgrade writes the new ones back in the old formats, which the code of 0003 reads.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 23:20:00
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
import zstandard
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# as of this revision (self-contained: the migration must not change when the code does)
PER_CHANGE_PARAMS = ("work_budget", "coarse_regions", "unrelated_regions")
OPS_FORMAT_3 = 3
CLAUSE_RAW, CLAUSE_ZSTD = 2, 3

_params = sa.table(
    "diff_params",
    sa.column("id", sa.Integer),
    sa.column("sha256", sa.String),
    sa.column("params", sa.JSON),
)
_change = sa.table(
    "change",
    sa.column("id", sa.Integer),
    sa.column("ops_id", sa.Integer),
    sa.column("params_id", sa.Integer),
    sa.column("diff_params", sa.JSON),
)
_blob = sa.table(
    "blob",
    sa.column("id", sa.Integer),
    sa.column("kind", sa.String),
    sa.column("sha256", sa.String),
    sa.column("size", sa.Integer),
    sa.column("codec", sa.String),
    sa.column("data", sa.LargeBinary),
)
_clause = sa.table(
    "clause",
    sa.column("id", sa.Integer),
    sa.column("packed", sa.LargeBinary),
    sa.column("category", sa.String),
    sa.column("category_id", sa.Integer),
)
_category = sa.table("clause_category", sa.column("id", sa.Integer), sa.column("name", sa.String))


def _varints(data: bytes, pos: int = 0) -> list[int]:
    out: list[int] = []
    n = shift = 0
    for b in data[pos:]:
        n |= (b & 0x7F) << shift
        if b < 0x80:
            out.append(n)
            n = shift = 0
        else:
            shift += 7
    if shift:
        raise ValueError("truncated varint")
    return out


def _split_existing(conn: sa.Connection) -> None:
    ids: dict[str, int] = {}
    rows = conn.execute(sa.select(_change.c.id, _change.c.diff_params).order_by(_change.c.id))
    for change_id, params in rows.all():
        params = dict(params or {})
        shared = {k: v for k, v in params.items() if k not in PER_CHANGE_PARAMS}
        own = {k: v for k, v in params.items() if k in PER_CHANGE_PARAMS}
        body = json.dumps(shared, sort_keys=True, separators=(",", ":"))
        digest = hashlib.sha256(body.encode("utf-8")).hexdigest()
        if digest not in ids:
            ids[digest] = conn.execute(
                _params.insert().values(sha256=digest, params=shared).returning(_params.c.id)
            ).scalar_one()
        conn.execute(
            _change.update()
            .where(_change.c.id == change_id)
            .values(params_id=ids[digest], diff_params=own)
        )


def _merge_back(conn: sa.Connection) -> None:
    sets = {
        int(i): dict(p or {}) for i, p in conn.execute(sa.select(_params.c.id, _params.c.params))
    }
    rows = conn.execute(
        sa.select(_change.c.id, _change.c.params_id, _change.c.diff_params).where(
            _change.c.params_id.is_not(None)
        )
    ).all()
    for change_id, params_id, own in rows:
        whole = {**sets.get(int(params_id), {}), **dict(own or {})}
        conn.execute(_change.update().where(_change.c.id == change_id).values(diff_params=whole))


def _ops_back_to_json(conn: sa.Connection) -> None:
    """Format-3 ops blobs (always plain zstd: an ops blob has no base) become format 2."""
    rows = conn.execute(
        sa.select(_blob.c.id, _blob.c.data).where(_blob.c.kind == "ops", _blob.c.codec == "zstd")
    ).all()
    for blob_id, data in rows:
        raw = zstandard.ZstdDecompressor().decompress(data)
        if raw[:1] != bytes([OPS_FORMAT_3]):
            continue
        runs: list[int] = []
        for value in _varints(raw, 1):
            runs += [value % 3 - 1, value // 3]
        body = json.dumps({"format": 2, "runs": runs}, separators=(",", ":")).encode("utf-8")
        digest = hashlib.sha256(body).hexdigest()
        same = conn.execute(
            sa.select(_blob.c.id).where(_blob.c.kind == "ops", _blob.c.sha256 == digest)
        ).scalar()
        if same is not None:  # the same diff stored before 0004: use that blob
            conn.execute(_change.update().where(_change.c.ops_id == blob_id).values(ops_id=same))
            conn.execute(_blob.delete().where(_blob.c.id == blob_id))
            continue
        conn.execute(
            _blob.update()
            .where(_blob.c.id == blob_id)
            .values(
                sha256=digest,
                size=len(body),
                data=zstandard.ZstdCompressor(level=10, write_content_size=True).compress(body),
            )
        )


def _clauses_back_to_json(conn: sa.Connection) -> None:
    """Form-2 packed clause rows become form 1 (zstd-compressed JSON, what 0003 wrote)."""
    rows = conn.execute(
        sa.select(_clause.c.id, _clause.c.packed).where(_clause.c.packed.is_not(None))
    )
    for row_id, packed in rows.all():
        if packed[:1] not in (bytes([CLAUSE_RAW]), bytes([CLAUSE_ZSTD])):
            continue
        body = packed[1:]
        if packed[0] == CLAUSE_ZSTD:
            body = zstandard.ZstdDecompressor().decompress(body)
        # the count, then 2 numbers per sentence, then the values' JSON (if any): numbers are
        # read one by one, as the JSON after them is not varints
        numbers: list[int] = []
        pos = 0
        want = None
        while want is None or len(numbers) < want:
            n = shift = 0
            while True:
                b = body[pos]
                pos += 1
                n |= (b & 0x7F) << shift
                if b < 0x80:
                    break
                shift += 7
            if want is None:
                want = 2 * n
            else:
                numbers.append(n)
        values: list[Any] = json.loads(body[pos:].decode("utf-8")) if pos < len(body) else []
        v1 = json.dumps({"spans": numbers, "values": values}, separators=(",", ":"))
        data = zstandard.ZstdCompressor(level=12, write_content_size=True).compress(
            v1.encode("utf-8")
        )
        conn.execute(_clause.update().where(_clause.c.id == row_id).values(packed=data))


def _categories_by_id() -> None:
    conn = op.get_bind()
    op.create_table(
        "clause_category",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_clause_category")),
        sa.UniqueConstraint("name", name=op.f("uq_clause_category_name")),
    )
    conn.execute(
        _category.insert().from_select(
            ["name"], sa.select(_clause.c.category).distinct().order_by(_clause.c.category)
        )
    )
    with op.batch_alter_table("clause") as batch:
        batch.add_column(sa.Column("category_id", sa.Integer(), nullable=True))
    conn.execute(
        _clause.update().values(
            category_id=sa.select(_category.c.id)
            .where(_category.c.name == _clause.c.category)
            .scalar_subquery()
        )
    )
    # ``clause`` is referenced by no table: SQLite may rebuild it
    with op.batch_alter_table("clause") as batch:
        batch.drop_index("ix_clause_category")
        batch.drop_column("category")
        batch.alter_column("category_id", existing_type=sa.Integer(), nullable=False)
        batch.create_foreign_key(
            op.f("fk_clause_category_id_clause_category"),
            "clause_category",
            ["category_id"],
            ["id"],
        )
        batch.create_index(op.f("ix_clause_category_id"), ["category_id"], unique=False)


def _categories_by_name() -> None:
    conn = op.get_bind()
    with op.batch_alter_table("clause") as batch:
        batch.add_column(sa.Column("category", sa.String(length=64), nullable=True))
    conn.execute(
        _clause.update().values(
            category=sa.select(_category.c.name)
            .where(_category.c.id == _clause.c.category_id)
            .scalar_subquery()
        )
    )
    with op.batch_alter_table("clause") as batch:
        batch.drop_index("ix_clause_category_id")
        batch.drop_constraint("fk_clause_category_id_clause_category", type_="foreignkey")
        batch.drop_column("category_id")
        batch.alter_column("category", existing_type=sa.String(length=64), nullable=False)
        batch.create_index("ix_clause_category", ["category"], unique=False)
    op.drop_table("clause_category")


def upgrade() -> None:
    op.create_table(
        "diff_params",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_diff_params")),
        sa.UniqueConstraint("sha256", name=op.f("uq_diff_params_sha256")),
    )
    # a plain ALTER TABLE on both backends (see the model: no declared foreign key)
    op.add_column("change", sa.Column("params_id", sa.Integer(), nullable=True))
    _split_existing(op.get_bind())
    _categories_by_id()


def downgrade() -> None:
    conn = op.get_bind()
    _merge_back(conn)
    _ops_back_to_json(conn)
    _clauses_back_to_json(conn)
    _categories_by_name()
    if conn.dialect.name == "sqlite":
        op.execute("ALTER TABLE change DROP COLUMN params_id")  # SQLite >= 3.35
    else:
        op.drop_column("change", "params_id")
    op.drop_table("diff_params")
