"""producer leads (issue 14): media_exif, the producer-lead EXIF of a picture (lens, DNG serial, offset,
GPS altitude and fix time, every tag raw)

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-30 13:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "media_exif",
        sa.Column(
            "sha256", sa.String(64), sa.ForeignKey("media.sha256", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column("camera_serial", sa.String(200), nullable=True),
        sa.Column("camera_owner", sa.String(200), nullable=True),
        sa.Column("lens_make", sa.String(200), nullable=True),
        sa.Column("lens_model", sa.String(200), nullable=True),
        sa.Column("lens_serial", sa.String(200), nullable=True),
        sa.Column("offset_time_original", sa.String(16), nullable=True),
        sa.Column("gps_alt", sa.Float(), nullable=True),
        sa.Column("gps_time", sa.String(32), nullable=True),
        sa.Column("raw", sa.JSON(), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("media_exif")
