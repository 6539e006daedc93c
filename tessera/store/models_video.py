"""Video frame hashes and forensic-image verification results (migration 0004)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from tessera.store.models import Base, utcnow


class VideoFrameRow(Base):
    """One vPDQ frame hash of a video (every sampled frame, with its quality, as vpdq gives it)."""

    __tablename__ = "video_frame"

    sha256: Mapped[str] = mapped_column(ForeignKey("media.sha256"), primary_key=True)
    frame: Mapped[int] = mapped_column(Integer, primary_key=True)
    seconds: Mapped[float] = mapped_column(Float)
    quality: Mapped[int] = mapped_column(Integer)
    pdq: Mapped[str] = mapped_column(String(64))


class ImageVerification(Base):
    """A forensic image's own stored hash checked against its content (EWF's MD5), pass or fail."""

    __tablename__ = "image_verification"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    device_id: Mapped[str] = mapped_column(ForeignKey("device.id"), index=True)
    locator: Mapped[str] = mapped_column(Text)
    algorithm: Mapped[str] = mapped_column(String(16))
    stored: Mapped[str] = mapped_column(String(128))
    computed: Mapped[str] = mapped_column(String(128))
    verified: Mapped[bool] = mapped_column(Boolean)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("ingest_run.id"))
    checked_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
