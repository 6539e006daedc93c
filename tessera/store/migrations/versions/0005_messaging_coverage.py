"""messaging reconciliation and phone validity

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("messaging_source") as batch:
        batch.add_column(sa.Column("coverage", sa.JSON(), nullable=True))
    with op.batch_alter_table("account") as batch:
        batch.add_column(sa.Column("phone_valid", sa.Boolean(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("account") as batch:
        batch.drop_column("phone_valid")
    with op.batch_alter_table("messaging_source") as batch:
        batch.drop_column("coverage")
