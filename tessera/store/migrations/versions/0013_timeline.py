"""timeline (issue 14): indexes that let the case timeline stream file times and capture times in order

The case timeline (tessera.timeline) merges messages, EXIF capture times and file times in time order
with keyset pagination; message time is already indexed, these make the other streams index scans.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-30 13:20:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_file_mtime_id", "file", ["mtime", "id"])
    op.create_index("ix_file_crtime_id", "file", ["crtime", "id"])
    op.create_index("ix_media_exif_time", "media", ["exif_time"])


def downgrade() -> None:
    op.drop_index("ix_media_exif_time", table_name="media")
    op.drop_index("ix_file_crtime_id", table_name="file")
    op.drop_index("ix_file_mtime_id", table_name="file")
