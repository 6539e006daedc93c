"""The hub's own tables, on a metadata of their own: a hub database never holds case tables.

An *entry* is one media item known to the hub, keyed by SHA-256 (every Tessera case has it for every
item). Each agency that contributed it has one *contribution* row, keyed by (entry, agency), so a
retried or repeated push updates rather than duplicates. The entry carries the consensus computed
from its active contributions, and ``seq``: a hub-wide sequence number bumped on every change, which
is the pull cursor. Nothing here names a file, a path, an account or a case.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

#: SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL gets a 64-bit key.
BigId = BigInteger().with_variant(Integer, "sqlite")


def utcnow() -> datetime:
    return datetime.now(UTC)


class HubBase(DeclarativeBase):
    pass


class Agency(HubBase):
    __tablename__ = "hub_agency"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: Short code, e.g. a country code plus unit ("NL", "DE-BKA"); unique.
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Token(HubBase):
    __tablename__ = "hub_token"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("hub_agency.id"), index=True)
    #: SHA-256 of the token: tokens are 256-bit random, so a fast hash is enough (no dictionary to try)
    #: and every request can be checked without argon2's deliberate cost.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))  # first characters, to tell tokens apart in lists
    scopes: Mapped[str] = mapped_column(String(100))  # space-separated: contribute query admin
    label: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Entry(HubBase):
    __tablename__ = "hub_entry"
    __table_args__ = (
        Index(
            "ix_hub_entry_conflicted", "id", postgresql_where=text("conflict"), sqlite_where=text("conflict")
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    md5: Mapped[str | None] = mapped_column(String(32), index=True)
    sha1: Mapped[str | None] = mapped_column(String(40), index=True)
    pdq: Mapped[str | None] = mapped_column(String(64))
    pdq_quality: Mapped[int | None] = mapped_column(Integer)
    #: Consensus of the active contributions (see tessera.hub.consensus).
    category: Mapped[int | None] = mapped_column(Integer)
    profile: Mapped[str | None] = mapped_column(String(40))
    series: Mapped[str | None] = mapped_column(Text)
    victim_identified: Mapped[bool | None] = mapped_column(Boolean)
    #: Contributions disagree on the category: left for the hub operator, never resolved silently.
    #: Indexed partially (see __table_args__): only the few conflicted entries are in the index.
    conflict: Mapped[bool] = mapped_column(Boolean, default=False)
    #: Every contribution was withdrawn; kept so pullers learn to drop it.
    withdrawn: Mapped[bool] = mapped_column(Boolean, default=False)
    first_seen: Mapped[str | None] = mapped_column(String(10))  # YYYY-MM-DD, earliest contributed
    contributions: Mapped[int] = mapped_column(Integer, default=0)
    seq: Mapped[int] = mapped_column(BigInteger, default=0, index=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Contribution(HubBase):
    __tablename__ = "hub_contribution"
    __table_args__ = (UniqueConstraint("entry_id", "agency_id", name="uq_hub_contribution"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    #: Looked up through the (entry_id, agency_id) unique index; no index of its own.
    entry_id: Mapped[int] = mapped_column(ForeignKey("hub_entry.id"))
    agency_id: Mapped[int] = mapped_column(ForeignKey("hub_agency.id"), index=True)
    category: Mapped[int | None] = mapped_column(Integer)
    profile: Mapped[str | None] = mapped_column(String(40))
    series: Mapped[str | None] = mapped_column(Text)
    victim_identified: Mapped[bool | None] = mapped_column(Boolean)
    first_seen: Mapped[str | None] = mapped_column(String(10))
    withdrawn: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Batch(HubBase):
    """A push batch already applied, by the client's batch id: a retried batch is answered, not redone."""

    __tablename__ = "hub_batch"
    __table_args__ = (UniqueConstraint("agency_id", "batch_id", name="uq_hub_batch"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("hub_agency.id"))
    batch_id: Mapped[str] = mapped_column(String(64))
    items: Mapped[int] = mapped_column(Integer)
    new_entries: Mapped[int] = mapped_column(Integer)
    changed: Mapped[int] = mapped_column(Integer)
    applied_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    #: SHA-256 of the batch's items (canonical JSON): a reused id with other items is a 409.
    items_digest: Mapped[str | None] = mapped_column(String(64), default=None)


class Counter(HubBase):
    """Named counters; the ``seq`` row is locked by every writer, so sequence order is commit order."""

    __tablename__ = "hub_counter"

    name: Mapped[str] = mapped_column(String(20), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, default=0)
    #: For the audit chain head: the hash of the newest entry.
    text: Mapped[str | None] = mapped_column(String(64))


class AuditEntry(HubBase):
    """Append-only, hash-chained record of every request (same scheme as the case audit log)."""

    __tablename__ = "hub_audit_log"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    at: Mapped[str] = mapped_column(String(40))
    user: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(60))
    subject: Mapped[str] = mapped_column(String(300))
    details: Mapped[str] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


# Tables of their own modules, on this metadata (migrations h0004, h0005).
from tessera.hub import models_benign, models_rate  # noqa: E402,F401
