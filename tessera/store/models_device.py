"""What an extraction says about the phone it came from (model, IMEI, serial, OS version, when and
with which tool it was extracted), each fact with the file that states it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from tessera.store.models import Base, utcnow


class DeviceFact(Base):
    """One fact as the extraction wrote it (``value`` is the raw text, never reformatted)."""

    __tablename__ = "device_fact"
    __table_args__ = (UniqueConstraint("device_id", "name", "source", name="uq_device_fact"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    device_id: Mapped[str] = mapped_column(ForeignKey("device.id"), index=True)
    #: A name from :data:`tessera.evidence.base.FACT_NAMES` (``model``, ``imei``, ``serial``, ...).
    name: Mapped[str] = mapped_column(String(60))
    value: Mapped[str] = mapped_column(Text)
    #: The locator of the file that states it (``/backup!/Info.plist``, ``/x.ufdr!/report.xml``).
    source: Mapped[str] = mapped_column(Text)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("ingest_run.id"))
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
