"""SQLAlchemy models for the case store (SPEC "Data model").

Hashes are stored as lower-case hex text: it is what hash lists, reports and exports carry, it indexes
well on SQLite and PostgreSQL alike, and it keeps the database readable with any SQL client.
Accounts, groups, messages and suspects are added by the messaging issue in their own module.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.sql.expression import false


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON}


class Case(Base):
    __tablename__ = "case_info"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    agency: Mapped[str] = mapped_column(String(50))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class Device(Base):
    __tablename__ = "device"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20), default="storage")
    suspect: Mapped[str | None] = mapped_column(String(64))
    source_path: Mapped[str | None] = mapped_column(Text)
    seizure_date: Mapped[str | None] = mapped_column(String(32))
    evidence_hash: Mapped[str | None] = mapped_column(String(128))
    added_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class IngestRun(Base):
    """One invocation of ``tessera ingest`` on a device (``source_path`` absolute: one of the device's
    sources). A killed run stays ``running`` until the device's next run marks it ``interrupted``."""

    __tablename__ = "ingest_run"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    device_id: Mapped[str] = mapped_column(ForeignKey("device.id"), index=True)
    source_path: Mapped[str] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    #: running | complete | stopped (--first-hit) | interrupted (killed, crashed, Ctrl-C)
    status: Mapped[str] = mapped_column(String(20), default="running")
    files_new: Mapped[int] = mapped_column(Integer, default=0)
    files_skipped: Mapped[int] = mapped_column(Integer, default=0)
    errors: Mapped[int] = mapped_column(Integer, default=0)
    tool_version: Mapped[str | None] = mapped_column(String(40))


class Media(Base):
    """Unique content, keyed by SHA-256."""

    __tablename__ = "media"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    md5: Mapped[str] = mapped_column(String(32), index=True)
    sha1: Mapped[str] = mapped_column(String(40), index=True)
    size: Mapped[int] = mapped_column(BigInteger)
    mime: Mapped[str | None] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(20), default="other", index=True)
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    pdq: Mapped[str | None] = mapped_column(String(64))
    pdq_quality: Mapped[int | None] = mapped_column(Integer)
    exif_make: Mapped[str | None] = mapped_column(String(200))
    exif_model: Mapped[str | None] = mapped_column(String(200))
    exif_serial: Mapped[str | None] = mapped_column(String(200))
    exif_time: Mapped[str | None] = mapped_column(String(40))
    gps_lat: Mapped[float | None] = mapped_column(Float)
    gps_lon: Mapped[float | None] = mapped_column(Float)
    #: Videos: length in seconds (their frame hashes are in ``video_frame``).
    duration: Mapped[float | None] = mapped_column(Float)
    error: Mapped[str | None] = mapped_column(Text)
    first_seen: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class File(Base):
    """One occurrence of content in evidence."""

    __tablename__ = "file"
    __table_args__ = (UniqueConstraint("device_id", "locator", name="uq_file_device_locator"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    device_id: Mapped[str] = mapped_column(ForeignKey("device.id"), index=True)
    locator: Mapped[str] = mapped_column(Text)
    raw_path: Mapped[bytes] = mapped_column(LargeBinary)
    size: Mapped[int | None] = mapped_column(BigInteger)
    mtime: Mapped[float | None] = mapped_column(Float)
    atime: Mapped[float | None] = mapped_column(Float)
    ctime: Mapped[float | None] = mapped_column(Float)
    crtime: Mapped[float | None] = mapped_column(Float)
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    #: Found by the file system with no folder naming it (TSK's ``$OrphanFiles``) (migration 0006).
    orphan: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    #: The alternate data stream's name (NTFS ``file.dll:stream``); None for a file's main data.
    stream: Mapped[str | None] = mapped_column(Text)
    is_symlink: Mapped[bool] = mapped_column(Boolean, default=False)
    #: ``symlink`` or ``hard`` (an archive's hard link, with its target's content); None otherwise.
    link_kind: Mapped[str | None] = mapped_column(String(8))
    link_target: Mapped[str | None] = mapped_column(Text)
    depth: Mapped[int] = mapped_column(Integer, default=0)
    sha256: Mapped[str | None] = mapped_column(ForeignKey("media.sha256"), index=True)
    #: Set when the file (or the container it is) could not be fully processed.
    error: Mapped[str | None] = mapped_column(Text)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("ingest_run.id"))


class HashSet(Base):
    __tablename__ = "hashset"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    format: Mapped[str] = mapped_column(String(20))
    version: Mapped[str | None] = mapped_column(String(20))
    profile: Mapped[str] = mapped_column(String(40), default="vics-us")
    source_file: Mapped[str | None] = mapped_column(Text)
    source_sha256: Mapped[str | None] = mapped_column(String(64))
    imported_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    entry_count: Mapped[int] = mapped_column(Integer, default=0)
    #: Per-set PDQ Hamming threshold; None means the case default (the PDQ algorithm's, unless changed).
    pdq_threshold: Mapped[int | None] = mapped_column(Integer)
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict)


class HashEntry(Base):
    __tablename__ = "hash_entry"
    __table_args__ = (Index("ix_hash_entry_alg_value", "algorithm", "value"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    hashset_id: Mapped[int] = mapped_column(ForeignKey("hashset.id", ondelete="CASCADE"), index=True)
    algorithm: Mapped[str] = mapped_column(String(16))
    value: Mapped[str] = mapped_column(Text)
    category: Mapped[int | None] = mapped_column(Integer)
    series: Mapped[str | None] = mapped_column(Text)
    victim_identified: Mapped[bool | None] = mapped_column(Boolean)
    media_key: Mapped[str | None] = mapped_column(String(200))
    extra: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class Match(Base):
    __tablename__ = "match"
    __table_args__ = (UniqueConstraint("sha256", "entry_id", name="uq_match_media_entry"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sha256: Mapped[str] = mapped_column(ForeignKey("media.sha256"), index=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("hash_entry.id", ondelete="CASCADE"), index=True)
    hashset_id: Mapped[int] = mapped_column(ForeignKey("hashset.id", ondelete="CASCADE"), index=True)
    algorithm: Mapped[str] = mapped_column(String(16))
    distance: Mapped[int] = mapped_column(Integer, default=0)
    found_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    #: How a video matched: ``{"frame", "seconds"}`` of the frame that matched an image PDQ, or
    #: vPDQ's ``{"query_percent", "compared_percent"}`` against a known video.
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))


class Decision(Base):
    """A reviewer's category for a media item (or a whole near-duplicate cluster)."""

    __tablename__ = "decision"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sha256: Mapped[str] = mapped_column(ForeignKey("media.sha256"), index=True)
    category: Mapped[int | None] = mapped_column(Integer)
    profile: Mapped[str] = mapped_column(String(40), default="vics-us")
    user: Mapped[str] = mapped_column(String(100))
    decided_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    cluster_id: Mapped[str | None] = mapped_column(String(64))
    note: Mapped[str | None] = mapped_column(Text)


# --- messaging intelligence (issue 3) ----------------------------------------------------------


class Account(Base):
    """One account on one platform, however many sources and devices show it."""

    __tablename__ = "account"
    __table_args__ = (UniqueConstraint("platform", "key", name="uq_account_platform_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    platform: Mapped[str] = mapped_column(String(20))
    #: E.164 for accounts known by phone number, else "platform:identifier".
    key: Mapped[str] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(32), index=True)
    #: False: the digits are kept as the source wrote them but fail today's numbering plan (a
    #: Brazilian mobile of before 2016); None where there is no phone.
    phone_valid: Mapped[bool | None] = mapped_column(Boolean)
    country: Mapped[str | None] = mapped_column(String(2), index=True)
    username: Mapped[str | None] = mapped_column(String(200))
    display_name: Mapped[str | None] = mapped_column(String(300))
    names: Mapped[list[str] | None] = mapped_column(JSON)


class AccountAlias(Base):
    """A source's identifier for an account (a JID, an @lid, a Telegram id, a number as written)."""

    __tablename__ = "account_alias"
    __table_args__ = (UniqueConstraint("platform", "raw_id", "scope", name="uq_alias"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"), index=True)
    platform: Mapped[str] = mapped_column(String(20))
    raw_id: Mapped[str] = mapped_column(String(300))
    #: "" for global identifiers; a device id for names that only mean something on one device.
    scope: Mapped[str] = mapped_column(String(64), default="")


class Chat(Base):
    __tablename__ = "chat"
    __table_args__ = (UniqueConstraint("platform", "key", name="uq_chat_platform_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    platform: Mapped[str] = mapped_column(String(20))
    key: Mapped[str] = mapped_column(String(300))
    title: Mapped[str | None] = mapped_column(String(300))
    kind: Mapped[str] = mapped_column(String(20), default="group")
    created_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    creator_id: Mapped[int | None] = mapped_column(ForeignKey("account.id"))


class Membership(Base):
    __tablename__ = "membership"
    __table_args__ = (UniqueConstraint("chat_id", "account_id", name="uq_membership"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    chat_id: Mapped[int] = mapped_column(ForeignKey("chat.id", ondelete="CASCADE"), index=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"), index=True)
    role: Mapped[str | None] = mapped_column(String(20))
    joined_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    left_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    first_seen: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_seen: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Sighting(Base):
    """An account or chat as seen on one device (one row per entity, device and source)."""

    __tablename__ = "sighting"
    __table_args__ = (UniqueConstraint("entity", "entity_id", "device_id", "source_id", name="uq_sighting"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    entity: Mapped[str] = mapped_column(String(10))  # account | chat
    entity_id: Mapped[int] = mapped_column(Integer, index=True)
    device_id: Mapped[str] = mapped_column(ForeignKey("device.id"), index=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("messaging_source.id", ondelete="CASCADE"))
    locator: Mapped[str | None] = mapped_column(Text)


class MessagingSource(Base):
    """A messaging file (a msgstore.db, a chat export, a result.json) on a device: parsed, or a known
    app's data present but not parsed (``parser`` then names the app)."""

    __tablename__ = "messaging_source"
    __table_args__ = (UniqueConstraint("device_id", "locator", name="uq_messaging_source"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    device_id: Mapped[str] = mapped_column(ForeignKey("device.id"), index=True)
    locator: Mapped[str] = mapped_column(Text)
    parser: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(20))  # complete | partial | failed | not parsed
    error: Mapped[str | None] = mapped_column(Text)
    messages: Mapped[int] = mapped_column(Integer, default=0)
    #: The reconciliation (``tessera.messaging.coverage``, format tessera-coverage v1).
    coverage: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    parsed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Message(Base):
    __tablename__ = "message"
    __table_args__ = (
        UniqueConstraint("device_id", "locator", name="uq_message_device_locator"),
        Index("ix_message_chat_time", "chat_id", "time"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    device_id: Mapped[str] = mapped_column(ForeignKey("device.id"), index=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("messaging_source.id", ondelete="CASCADE"), index=True)
    locator: Mapped[str] = mapped_column(Text)
    chat_id: Mapped[int] = mapped_column(ForeignKey("chat.id"))
    sender_id: Mapped[int | None] = mapped_column(ForeignKey("account.id"), index=True)
    time: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    text: Mapped[str | None] = mapped_column(Text)
    forwarded: Mapped[bool] = mapped_column(Boolean, default=False)
    forwarded_from: Mapped[str | None] = mapped_column(String(300))
    action: Mapped[str | None] = mapped_column(String(40))
    #: SHA-256 of the attachment: from the source's own hash, or resolved from the stored file.
    media_sha256: Mapped[str | None] = mapped_column(String(64), index=True)
    media_path: Mapped[str | None] = mapped_column(Text)
    media_omitted: Mapped[bool] = mapped_column(Boolean, default=False)
    raw_id: Mapped[str | None] = mapped_column(String(200))
    raw: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class Suspect(Base):
    __tablename__ = "suspect"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    alias: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20), default="unidentified")
    jurisdiction: Mapped[str | None] = mapped_column(String(2))
    risk_flags: Mapped[list[str] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class SuspectAccount(Base):
    __tablename__ = "suspect_account"
    __table_args__ = (UniqueConstraint("suspect_id", "account_id", name="uq_suspect_account"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    suspect_id: Mapped[str] = mapped_column(ForeignKey("suspect.id", ondelete="CASCADE"), index=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"), index=True)


class AuditEntry(Base):
    """Append-only, hash-chained record of human decisions (see tessera.audit)."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[str] = mapped_column(String(40))  # ISO-8601 UTC, as hashed
    user: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(60))
    subject: Mapped[str] = mapped_column(String(300))
    details: Mapped[str] = mapped_column(Text)  # canonical JSON, as hashed
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)
    # HMAC-SHA256 with the case's audit key (kept outside the database); null before a key existed.
    mac: Mapped[str | None] = mapped_column(String(64), nullable=True)


from tessera.store import (  # noqa: E402,F401
    models_device,
    models_items,
    models_known,
    models_person,
    models_producer,
    models_review,
    models_series,
    models_video,
)
