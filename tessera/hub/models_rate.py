"""The shared per-token rate buckets (migration h0005): see :mod:`tessera.hub.ratelimit`."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, Float, ForeignKey, Integer
from sqlalchemy.orm import Mapped, mapped_column

from tessera.hub.models import HubBase


class RateBucket(HubBase):
    """One API token's bucket; written only on PostgreSQL, where several hub processes share it."""

    __tablename__ = "hub_rate_bucket"

    token_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("hub_token.id", ondelete="CASCADE"), primary_key=True
    )
    tokens: Mapped[float] = mapped_column(Float)
    updated: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    #: Whether the last request took a token (what the statement returns).
    granted: Mapped[bool] = mapped_column(Boolean)
