"""EXIF fields that matter to investigators, read with Pillow's ``getexif()``.

Pillow over ExifRead: Pillow already holds the EXIF block once the image header is open (JPEG
APP1, PNG eXIf, WebP, TIFF IFD0, HEIC via pillow-heif), so reading it costs tens of microseconds
and no second pass over the bytes; ExifRead re-parses the file in pure Python. Values are kept as
written (strings stripped of padding); GPS becomes signed decimal degrees.
"""

from __future__ import annotations

import math
from typing import Any

from PIL import Image

from tessera.hashing.exif_fields import read_fields
from tessera.records import ExifInfo

TAG_MAKE = 0x010F
TAG_MODEL = 0x0110
TAG_ORIENTATION = 0x0112
IFD_EXIF = 0x8769
IFD_GPS = 0x8825
TAG_DATETIME_ORIGINAL = 0x9003
TAG_BODY_SERIAL = 0xA431
GPS_LAT_REF, GPS_LAT, GPS_LON_REF, GPS_LON = 1, 2, 3, 4


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    text = str(value).strip("\x00 \t\r\n")
    return text or None


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _degrees(dms: Any, ref: Any, positive: str, negative: str, limit: float) -> float | None:
    """Signed decimal degrees from EXIF (deg, min, sec) rationals and an N/S or E/W reference.

    Returns None rather than guessing: a missing reference would put the point in the wrong
    hemisphere, and zero-denominator rationals (seen on phones without a fix) are not a location.
    """
    ref_text = (_text(ref) or "").upper()[:1]
    if ref_text not in (positive, negative):
        return None
    try:
        parts = [float(x) for x in dms]
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    if not parts or len(parts) > 3 or not all(math.isfinite(p) for p in parts):
        return None
    parts += [0.0] * (3 - len(parts))
    value = parts[0] + parts[1] / 60 + parts[2] / 3600
    if value > limit:
        return None
    return round(-value if ref_text == negative else value, 7)


def read_exif(im: Image.Image) -> ExifInfo | None:
    """The investigator-relevant EXIF of an opened image, or None when it carries none of them."""
    exif = im.getexif()
    if not exif:
        return None
    info = ExifInfo(
        make=_text(exif.get(TAG_MAKE)),
        model=_text(exif.get(TAG_MODEL)),
        orientation=_int(exif.get(TAG_ORIENTATION)),
    )
    if IFD_EXIF in exif:
        sub = exif.get_ifd(IFD_EXIF)
        info.capture_time = _text(sub.get(TAG_DATETIME_ORIGINAL))
        info.body_serial = _text(sub.get(TAG_BODY_SERIAL))
    if IFD_GPS in exif:
        gps = exif.get_ifd(IFD_GPS)
        lat = _degrees(gps.get(GPS_LAT), gps.get(GPS_LAT_REF), "N", "S", 90.0)
        lon = _degrees(gps.get(GPS_LON), gps.get(GPS_LON_REF), "E", "W", 180.0)
        if lat is not None and lon is not None:
            info.gps_lat, info.gps_lon = lat, lon
    info.fields = read_fields(exif)  # the producer-lead fields, raw (issue 14)
    if info == ExifInfo() and not info.fields:
        return None
    return info
