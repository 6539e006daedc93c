"""series and exposure (issue 14): named series of media, and each reviewer's metered exposure

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-30 13:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "series",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False, unique=True),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(100), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
    )
    op.create_table(
        "series_member",
        sa.Column(
            "series_id", sa.Integer(), sa.ForeignKey("series.id", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column("sha256", sa.String(64), sa.ForeignKey("media.sha256"), primary_key=True),
        sa.Column("added_by", sa.String(100), nullable=False),
        sa.Column("added_at", TZ, nullable=False),
    )
    op.create_index("ix_series_member_sha256", "series_member", ["sha256"])
    op.create_table(
        "exposure_event",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("user", sa.String(100), nullable=False),
        sa.Column("session_key", sa.String(64), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("day", sa.String(10), nullable=False),
        sa.Column("revealed_at", TZ, nullable=False),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.Column("reports", sa.Integer(), nullable=False),
        sa.Column("claimed", sa.Float(), nullable=False),
    )
    op.create_index("ix_exposure_event_user", "exposure_event", ["user"])
    op.create_index("ix_exposure_event_session_key", "exposure_event", ["session_key"])
    op.create_index("ix_exposure_event_day", "exposure_event", ["day"])
    op.create_table(
        "exposure_session",
        sa.Column("session_key", sa.String(64), primary_key=True),
        sa.Column("user", sa.String(100), nullable=False),
        sa.Column("started_at", TZ, nullable=False),
        sa.Column("last_at", TZ, nullable=False),
        sa.Column("items_seen", sa.Integer(), nullable=False),
        sa.Column("reveals", sa.Integer(), nullable=False),
        sa.Column("revealed_seconds", sa.Float(), nullable=False),
    )
    op.create_index("ix_exposure_session_user", "exposure_session", ["user"])
    op.create_table(
        "exposure_seen",
        sa.Column("session_key", sa.String(64), primary_key=True),
        sa.Column("sha256", sa.String(64), primary_key=True),
    )
    op.create_table(
        "exposure_break",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("user", sa.String(100), nullable=False),
        sa.Column("day", sa.String(10), nullable=False),
        sa.Column("at_ratio", sa.Float(), nullable=False),
        sa.Column("dismissed_at", TZ, nullable=False),
    )
    op.create_index("ix_exposure_break_user", "exposure_break", ["user"])


def downgrade() -> None:
    op.drop_index("ix_exposure_break_user", table_name="exposure_break")
    op.drop_table("exposure_break")
    op.drop_table("exposure_seen")
    op.drop_index("ix_exposure_session_user", table_name="exposure_session")
    op.drop_table("exposure_session")
    for ix in ("day", "session_key", "user"):
        op.drop_index(f"ix_exposure_event_{ix}", table_name="exposure_event")
    op.drop_table("exposure_event")
    op.drop_index("ix_series_member_sha256", table_name="series_member")
    op.drop_table("series_member")
    op.drop_table("series")
