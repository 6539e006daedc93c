"""known-good hashes (issue 15): NSRL RDS v3 sets and the local known-benign set, digests as bytes

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-30 16:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "known_hash",
        sa.Column("digest", sa.LargeBinary(32), primary_key=True),
        # No foreign key to hashset: PostgreSQL checks it per row, tripling a bulk import.
        sa.Column("hashset_id", sa.Integer(), primary_key=True),
        sa.Column("rows", sa.Integer(), nullable=False),
        sqlite_with_rowid=False,
    )
    op.create_index("ix_known_hash_hashset_id", "known_hash", ["hashset_id"])


def downgrade() -> None:
    op.drop_index("ix_known_hash_hashset_id", table_name="known_hash")
    op.drop_table("known_hash")
