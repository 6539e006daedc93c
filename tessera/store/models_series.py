"""Series and exposure care (issue 14): what reviewers name together, and what reviewing costs them.

A series is a set of pictures believed to show one victim or one scene, named by a reviewer. Its members
are media SHA-256s, never item ids: items are regrouped as thresholds change (and may not exist yet),
while a SHA-256 is forever. A member stands for its whole near-duplicate item, resolved when read
(:func:`tessera.series.series_map`), so a series made before grouping still covers every copy
found after it.

Exposure is metered per reviewer: one row per reveal (with the seconds the clear picture was on screen),
one row per web session (items seen, reveals, seconds), the items seen in a session (so a repeated
thumbnail is not counted twice) and each break the workstation asked for.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from tessera.store.models import Base, utcnow


class Series(Base):
    __tablename__ = "series"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    notes: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class SeriesMember(Base):
    """A media SHA-256 a reviewer put in a series (it brings its near-duplicate item along)."""

    __tablename__ = "series_member"

    series_id: Mapped[int] = mapped_column(ForeignKey("series.id", ondelete="CASCADE"), primary_key=True)
    sha256: Mapped[str] = mapped_column(ForeignKey("media.sha256"), primary_key=True, index=True)
    added_by: Mapped[str] = mapped_column(String(100))
    added_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ExposureEvent(Base):
    """One audited reveal and how long the clear picture stayed on screen (reported by the browser,
    clamped by the server to the time since the reveal)."""

    __tablename__ = "exposure_event"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user: Mapped[str] = mapped_column(String(100), index=True)
    #: SHA-256 of the session cookie (as review_session.token_hash; kept after the session ends).
    session_key: Mapped[str] = mapped_column(String(64), index=True)
    sha256: Mapped[str] = mapped_column(String(64))
    #: UTC day of the reveal, YYYY-MM-DD: the daily budget counts by it.
    day: Mapped[str] = mapped_column(String(10), index=True)
    revealed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    seconds: Mapped[float] = mapped_column(Float, default=0.0)
    #: Reports received for it, and the seconds claimed in total before clamping (raw values kept).
    reports: Mapped[int] = mapped_column(Integer, default=0)
    claimed: Mapped[float] = mapped_column(Float, default=0.0)


class ExposureSession(Base):
    """Per web session counters (a session is one sign-in)."""

    __tablename__ = "exposure_session"

    session_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    user: Mapped[str] = mapped_column(String(100), index=True)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    items_seen: Mapped[int] = mapped_column(Integer, default=0)
    reveals: Mapped[int] = mapped_column(Integer, default=0)
    revealed_seconds: Mapped[float] = mapped_column(Float, default=0.0)


class ExposureSeen(Base):
    """A media whose (blurred) thumbnail reached this session's browser."""

    __tablename__ = "exposure_seen"

    session_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)


class ExposureBreak(Base):
    """A break the workstation asked for, and when the reviewer dismissed it (both audited)."""

    __tablename__ = "exposure_break"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user: Mapped[str] = mapped_column(String(100), index=True)
    day: Mapped[str] = mapped_column(String(10))
    #: Share of the daily budget used when the break was dismissed (the next ask is measured from it).
    at_ratio: Mapped[float] = mapped_column(Float)
    dismissed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
