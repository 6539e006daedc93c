"""Producer-lead EXIF of a picture (issue 14, migration 0012): what ``media`` does not already hold.

A separate table rather than more ``media`` columns: these fields exist for a small share of media
(camera pictures, not chat copies, which apps strip), the table is owned by one feature and can be
rebuilt from the evidence without touching ``media``, and the raw tag values travel as one JSON
document. ``media`` keeps make, model, body serial, DateTimeOriginal and decimal GPS as before; this
row adds the DNG serial, the lens, the UTC offset, GPS altitude and fix time, and every tag raw.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from tessera.records import MediaRecord
from tessera.store.models import Base


class MediaExif(Base):
    __tablename__ = "media_exif"

    sha256: Mapped[str] = mapped_column(ForeignKey("media.sha256", ondelete="CASCADE"), primary_key=True)
    #: DNG CameraSerialNumber (0xC62F), as written.
    camera_serial: Mapped[str | None] = mapped_column(String(200))
    camera_owner: Mapped[str | None] = mapped_column(String(200))
    lens_make: Mapped[str | None] = mapped_column(String(200))
    lens_model: Mapped[str | None] = mapped_column(String(200))
    lens_serial: Mapped[str | None] = mapped_column(String(200))
    #: OffsetTimeOriginal (0x9011) as written ("+02:00"); DateTimeOriginal itself is ``media.exif_time``.
    offset_time_original: Mapped[str | None] = mapped_column(String(16))
    #: Metres, derived from GPSAltitude/GPSAltitudeRef (raw in ``raw``).
    gps_alt: Mapped[float | None] = mapped_column(Float)
    #: The fix's UTC time from GPSDateStamp + GPSTimeStamp, ISO 8601 (raw in ``raw``).
    gps_time: Mapped[str | None] = mapped_column(String(32))
    #: Every producer-lead tag present, raw text keyed "ifd0:0x010F", "exif:0xA431", "gps:0x0002", ...
    raw: Mapped[dict[str, Any] | None] = mapped_column(JSON)


def exif_row(rec: MediaRecord) -> dict[str, Any] | None:
    """The ``media_exif`` row of a hashed picture, or None when its EXIF carried none of the fields."""
    fields = rec.exif.fields if rec.exif is not None else None
    if not fields:
        return None
    return {
        "sha256": rec.sha256,
        "camera_serial": fields.get("camera_serial"),
        "camera_owner": fields.get("camera_owner"),
        "lens_make": fields.get("lens_make"),
        "lens_model": fields.get("lens_model"),
        "lens_serial": fields.get("lens_serial"),
        "offset_time_original": fields.get("offset_time_original"),
        "gps_alt": fields.get("gps_alt_m"),
        "gps_time": fields.get("gps_time_utc"),
        "raw": fields.get("raw"),
    }
