"""lighter entry writes: near-duplicates from the index, fewer indexes to maintain per pushed entry

Revision ID: h0002
Revises: h0001
Create Date: 2026-11-22 22:30:00

- ``hub_pdq_link`` goes: near-duplicates are now asked of the in-memory PDQ index when an entry is
  viewed (exact, and always current), instead of a radius-31 search per pushed item.
- ``ix_hub_contribution_entry_id`` goes: the unique (entry_id, agency_id) constraint's index already
  serves lookups by entry.
- ``ix_hub_entry_conflict`` (every entry, almost all ``false``) becomes a partial index over the
  conflicted entries only, the ones the operator lists; other entries no longer touch it.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "h0002"
down_revision: str | None = "h0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_CONFLICTED = sa.text("conflict")


def upgrade() -> None:
    with op.batch_alter_table("hub_pdq_link", schema=None) as batch_op:
        batch_op.drop_index("ix_hub_pdq_link_entry_b")
        batch_op.drop_index("ix_hub_pdq_link_entry_a")
    op.drop_table("hub_pdq_link")
    with op.batch_alter_table("hub_contribution", schema=None) as batch_op:
        batch_op.drop_index("ix_hub_contribution_entry_id")
    with op.batch_alter_table("hub_entry", schema=None) as batch_op:
        batch_op.drop_index("ix_hub_entry_conflict")
    op.create_index(
        "ix_hub_entry_conflicted",
        "hub_entry",
        ["id"],
        unique=False,
        postgresql_where=_CONFLICTED,
        sqlite_where=_CONFLICTED,
    )


def downgrade() -> None:
    op.drop_index("ix_hub_entry_conflicted", table_name="hub_entry")
    with op.batch_alter_table("hub_entry", schema=None) as batch_op:
        batch_op.create_index("ix_hub_entry_conflict", ["conflict"], unique=False)
    with op.batch_alter_table("hub_contribution", schema=None) as batch_op:
        batch_op.create_index("ix_hub_contribution_entry_id", ["entry_id"], unique=False)
    op.create_table(
        "hub_pdq_link",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("entry_a", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("entry_b", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("distance", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["entry_a"], ["hub_entry.id"]),
        sa.ForeignKeyConstraint(["entry_b"], ["hub_entry.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("entry_a", "entry_b", name="uq_hub_pdq_link"),
    )
    with op.batch_alter_table("hub_pdq_link", schema=None) as batch_op:
        batch_op.create_index("ix_hub_pdq_link_entry_a", ["entry_a"], unique=False)
        batch_op.create_index("ix_hub_pdq_link_entry_b", ["entry_b"], unique=False)
