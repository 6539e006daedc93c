"""file states: orphan, alternate data stream, link kind

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30 11:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("file") as batch:
        batch.add_column(sa.Column("orphan", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("stream", sa.Text(), nullable=True))
        batch.add_column(sa.Column("link_kind", sa.String(length=8), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("file") as batch:
        batch.drop_column("link_kind")
        batch.drop_column("stream")
        batch.drop_column("orphan")
