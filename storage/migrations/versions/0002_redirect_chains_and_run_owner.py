"""archived redirect chains on captures; owner (host, pid, heartbeat) and kind of crawl runs

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("capture") as batch:
        batch.add_column(sa.Column("redirect_chain", sa.JSON(), nullable=True))
        batch.add_column(
            sa.Column("leaves_policy", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    with op.batch_alter_table("crawl_run") as batch:
        batch.add_column(
            sa.Column("kind", sa.String(length=16), nullable=False, server_default="crawl")
        )
        batch.add_column(
            sa.Column("host", sa.String(length=255), nullable=False, server_default="")
        )
        batch.add_column(sa.Column("pid", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("crawl_run") as batch:
        batch.drop_column("heartbeat_at")
        batch.drop_column("pid")
        batch.drop_column("host")
        batch.drop_column("kind")
    with op.batch_alter_table("capture") as batch:
        batch.drop_column("leaves_policy")
        batch.drop_column("redirect_chain")
