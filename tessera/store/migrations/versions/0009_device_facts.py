"""device facts from extractions (model, IMEI, serial, OS, extraction time and tool)

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30 12:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "device_fact",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("device_id", sa.String(64), sa.ForeignKey("device.id"), nullable=False),
        sa.Column("name", sa.String(60), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("run_id", sa.Integer(), sa.ForeignKey("ingest_run.id"), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("device_id", "name", "source", name="uq_device_fact"),
    )
    op.create_index("ix_device_fact_device_id", "device_fact", ["device_id"])


def downgrade() -> None:
    op.drop_index("ix_device_fact_device_id", table_name="device_fact")
    op.drop_table("device_fact")
