"""Near-duplicate items (issue 14): one picture or video however many times apps recompressed it.

An item groups media by perceptual hash (PDQ for images, vPDQ for videos, a video frame matching an
image); each member keeps how it joined and its distance, so every claim made about an item still names
the files behind it. Messages whose own file is missing reach an item through the hash their app
recorded (``via = "app-hash"``), where that file exists elsewhere in the case.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from tessera.store.models import Base, utcnow


class Item(Base):
    __tablename__ = "item"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: Deterministic key: the smallest member SHA-256 (stable across regrouping of the same media).
    key: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(20), default="image")  # image | video | mixed
    members: Mapped[int] = mapped_column(Integer, default=1)
    grouped_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ItemMember(Base):
    """Media SHA-256 -> its item, with the evidence of the link."""

    __tablename__ = "item_member"

    sha256: Mapped[str] = mapped_column(ForeignKey("media.sha256"), primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("item.id", ondelete="CASCADE"), index=True)
    #: How it joined: "self" (the key), "pdq", "vpdq", "frame" (a video frame matched an image).
    via: Mapped[str] = mapped_column(String(10), default="self")
    #: The member it was linked through and their distance (bits for PDQ; vPDQ: 100 - match percent).
    linked_to: Mapped[str | None] = mapped_column(String(64))
    distance: Mapped[int | None] = mapped_column(Integer)
