"""near-duplicate items and their members (issue 14)

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30 13:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "item",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("key", sa.String(64), nullable=False, unique=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("members", sa.Integer(), nullable=False),
        sa.Column("grouped_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "item_member",
        sa.Column("sha256", sa.String(64), sa.ForeignKey("media.sha256"), primary_key=True),
        sa.Column("item_id", sa.Integer(), sa.ForeignKey("item.id", ondelete="CASCADE"), nullable=False),
        sa.Column("via", sa.String(10), nullable=False),
        sa.Column("linked_to", sa.String(64), nullable=True),
        sa.Column("distance", sa.Integer(), nullable=True),
    )
    op.create_index("ix_item_member_item_id", "item_member", ["item_id"])


def downgrade() -> None:
    op.drop_index("ix_item_member_item_id", table_name="item_member")
    op.drop_table("item_member")
    op.drop_table("item")
