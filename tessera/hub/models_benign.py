"""The hub's known-benign list (issue 15): SHA-256 values agencies' reviewers marked benign.

Its own list, apart from ``hub_entry``: a benign item has no category, series or victim flag, and
sharing it must never make it look like known material. Each agency's mark is one contribution;
an item leaves the list when every agency withdrew it (kept, withdrawn, so pullers learn to drop
it). ``seq`` takes its numbers from the hub-wide sequence, so a pull cursor works as for entries.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, DateTime, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from tessera.hub.models import HubBase, utcnow


class BenignEntry(HubBase):
    __tablename__ = "hub_benign"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    contributions: Mapped[int] = mapped_column(Integer, default=0)
    withdrawn: Mapped[bool] = mapped_column(Boolean, default=False)
    seq: Mapped[int] = mapped_column(BigInteger, default=0, index=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class BenignContribution(HubBase):
    __tablename__ = "hub_benign_contribution"

    sha256: Mapped[str] = mapped_column(ForeignKey("hub_benign.sha256"), primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("hub_agency.id"), primary_key=True, index=True)
    withdrawn: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
