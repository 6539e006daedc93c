"""persons: accounts of one person across platforms, linked with the evidence of the link

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30 13:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "person",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("key", sa.String(80), nullable=False),
        sa.Column("rule", sa.String(40), nullable=False),
        sa.Column("phone", sa.String(32), nullable=True),
        sa.Column("country", sa.String(2), nullable=True),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("key", name="uq_person_key"),
    )
    op.create_index("ix_person_phone", "person", ["phone"])
    op.create_table(
        "person_link",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("person_id", sa.Integer(), sa.ForeignKey("person.id", ondelete="CASCADE"), nullable=False),
        sa.Column(
            "account_id", sa.Integer(), sa.ForeignKey("account.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("rule", sa.String(40), nullable=False),
        sa.Column("phone", sa.String(32), nullable=True),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.UniqueConstraint("person_id", "account_id", name="uq_person_link"),
    )
    op.create_index("ix_person_link_person_id", "person_link", ["person_id"])
    op.create_index("ix_person_link_account_id", "person_link", ["account_id"])


def downgrade() -> None:
    op.drop_index("ix_person_link_account_id", table_name="person_link")
    op.drop_index("ix_person_link_person_id", table_name="person_link")
    op.drop_table("person_link")
    op.drop_index("ix_person_phone", table_name="person")
    op.drop_table("person")
