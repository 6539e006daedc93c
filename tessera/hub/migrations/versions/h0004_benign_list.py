"""known-benign list (issue 15): SHA-256 values agencies marked benign, shared as their own list

Revision ID: h0004
Revises: h0003
Create Date: 2026-11-30 16:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "h0004"
down_revision: str | None = "h0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "hub_benign",
        sa.Column("sha256", sa.String(64), primary_key=True),
        sa.Column("contributions", sa.Integer(), nullable=False),
        sa.Column("withdrawn", sa.Boolean(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
    )
    op.create_index("ix_hub_benign_seq", "hub_benign", ["seq"])
    op.create_table(
        "hub_benign_contribution",
        sa.Column("sha256", sa.String(64), sa.ForeignKey("hub_benign.sha256"), primary_key=True),
        sa.Column("agency_id", sa.Integer(), sa.ForeignKey("hub_agency.id"), primary_key=True),
        sa.Column("withdrawn", sa.Boolean(), nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
    )
    op.create_index("ix_hub_benign_contribution_agency_id", "hub_benign_contribution", ["agency_id"])


def downgrade() -> None:
    op.drop_index("ix_hub_benign_contribution_agency_id", table_name="hub_benign_contribution")
    op.drop_table("hub_benign_contribution")
    op.drop_index("ix_hub_benign_seq", table_name="hub_benign")
    op.drop_table("hub_benign")
