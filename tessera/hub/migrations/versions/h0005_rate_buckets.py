"""shared rate buckets: the per-token rate limit as one budget across hub processes

Revision ID: h0005
Revises: h0004
Create Date: 2026-12-01 05:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "h0005"
down_revision: str | None = "h0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "hub_rate_bucket",
        sa.Column(
            "token_id",
            sa.Integer(),
            sa.ForeignKey("hub_token.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("tokens", sa.Float(), nullable=False),
        sa.Column("updated", sa.DateTime(timezone=True), nullable=False),
        sa.Column("granted", sa.Boolean(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("hub_rate_bucket")
