"""batch digest: a reused batch id with different items is recognised (409) instead of answered as a
replay and its items dropped

Revision ID: h0003
Revises: h0002
Create Date: 2026-11-30 11:10:00

Batches applied before this revision have no digest; a replay of one is still answered as before.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "h0003"
down_revision: str | None = "h0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("hub_batch", schema=None) as batch_op:
        batch_op.add_column(sa.Column("items_digest", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("hub_batch", schema=None) as batch_op:
        batch_op.drop_column("items_digest")
