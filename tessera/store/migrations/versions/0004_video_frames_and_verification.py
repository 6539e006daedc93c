"""video frame hashes, match detail, forensic image verification

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("media", sa.Column("duration", sa.Float(), nullable=True))
    op.add_column("match", sa.Column("detail", sa.JSON(), nullable=True))
    op.create_table(
        "video_frame",
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("frame", sa.Integer(), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.Column("quality", sa.Integer(), nullable=False),
        sa.Column("pdq", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["sha256"], ["media.sha256"]),
        sa.PrimaryKeyConstraint("sha256", "frame"),
    )
    op.create_table(
        "image_verification",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("locator", sa.Text(), nullable=False),
        sa.Column("algorithm", sa.String(length=16), nullable=False),
        sa.Column("stored", sa.String(length=128), nullable=False),
        sa.Column("computed", sa.String(length=128), nullable=False),
        sa.Column("verified", sa.Boolean(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["device_id"], ["device.id"]),
        sa.ForeignKeyConstraint(["run_id"], ["ingest_run.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_image_verification_device_id", "image_verification", ["device_id"])


def downgrade() -> None:
    op.drop_index("ix_image_verification_device_id", table_name="image_verification")
    op.drop_table("image_verification")
    op.drop_table("video_frame")
    with op.batch_alter_table("match") as batch:
        batch.drop_column("detail")
    with op.batch_alter_table("media") as batch:
        batch.drop_column("duration")
