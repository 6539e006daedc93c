"""EXIF fields that point at a picture's producer (issue 14): the camera body and lens, when and where.

A victim-identification specialist links pictures to one camera by its body serial (EXIF
``BodySerialNumber`` 0xA431, or the DNG ``CameraSerialNumber`` 0xC62F that raw converters write in
IFD0), by the lens (``LensMake``/``LensModel``/``LensSerialNumber`` 0xA433-0xA435), and places them by
``DateTimeOriginal`` with its UTC offset (``OffsetTimeOriginal`` 0x9011) and GPS (latitude, longitude,
altitude, the satellite date and time). Maker notes are not read: their layouts are vendor-private and
undocumented, and a serial read from them could not be shown to the court as a named tag.

Everything is kept raw: text as written (only NUL/space padding stripped, as :mod:`tessera.hashing.exif`
does), rationals as ``"num/den"`` strings, bytes as hex; decimal values (GPS altitude, the UTC time of
the fix) are derived next to the raw ones, never in their place.
"""

from __future__ import annotations

from typing import Any

from PIL import Image

IFD_EXIF = 0x8769
IFD_GPS = 0x8825

#: IFD0 tags (name -> tag). 0xC62F is where DNG files (and some raw converters' JPEGs) put the serial.
IFD0_TAGS = {"make": 0x010F, "model": 0x0110, "camera_serial": 0xC62F, "software": 0x0131}
#: Exif-IFD tags.
EXIF_TAGS = {
    "datetime_original": 0x9003,
    "offset_time_original": 0x9011,
    "subsec_time_original": 0x9291,
    "camera_owner": 0xA430,
    "body_serial": 0xA431,
    "lens_make": 0xA433,
    "lens_model": 0xA434,
    "lens_serial": 0xA435,
}
#: GPS-IFD tags.
GPS_TAGS = {
    "gps_lat_ref": 1,
    "gps_lat": 2,
    "gps_lon_ref": 3,
    "gps_lon": 4,
    "gps_alt_ref": 5,
    "gps_alt": 6,
    "gps_timestamp": 7,
    "gps_datestamp": 29,
}


def raw_text(value: Any) -> str | None:
    """A tag value as text that keeps what was written: strings stripped of padding, rationals as
    ``num/den`` (so 0/0 "no fix" stays visible), sequences joined by spaces, undecodable bytes as hex."""
    if value is None:
        return None
    if isinstance(value, bytes):
        try:
            text = value.decode("utf-8").rstrip("\x00 ")
        except UnicodeDecodeError:
            return value.hex()
        # Binary values (GPSAltitudeRef b"\x00", UNDEFINED blocks) are shown as hex, not lost as "".
        if value and (not text or not text.isprintable()):
            return value.hex()
        value = text
    if isinstance(value, tuple | list):
        parts = [raw_text(v) for v in value]
        return " ".join(p if p is not None else "" for p in parts) or None
    num, den = getattr(value, "numerator", None), getattr(value, "denominator", None)
    if num is not None and den is not None and not isinstance(value, int):
        return f"{num}/{den}"
    text = str(value).strip("\x00 \t\r\n")
    return text or None


def _float(value: Any) -> float | None:
    try:
        out = float(value)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    return out if out == out and abs(out) != float("inf") else None


def gps_altitude(alt: Any, ref: Any) -> float | None:
    """Metres above (ref 0) or below (ref 1) sea level; None when absent or not a number."""
    value = _float(alt)
    if value is None:
        return None
    if isinstance(ref, bytes):
        ref = ref[:1][0] if ref else 0
    return round(-value if _float(ref) == 1 else value, 3)


def gps_time(datestamp: Any, timestamp: Any) -> str | None:
    """The fix's UTC time as ISO 8601 (``2024-05-01T10:15:02Z``) from GPSDateStamp ``YYYY:MM:DD`` and
    GPSTimeStamp (h, m, s rationals); None unless both are present and well formed."""
    date = raw_text(datestamp)
    if not date or len(date) != 10 or not date[:4].isdigit():
        return None
    try:
        h, mi, s = (float(x) for x in timestamp)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    if not (0 <= h < 24 and 0 <= mi < 60 and 0 <= s < 61):
        return None
    return f"{date[:4]}-{date[5:7]}-{date[8:10]}T{int(h):02d}:{int(mi):02d}:{int(s):02d}Z"


def _nonzero_serial(text: str | None) -> str | None:
    """A serial, or None for the placeholders firmware writes when it has none ("0", "0000000000")."""
    if text is None or not text.strip("0 "):
        return None
    return text


def read_fields(exif: Image.Exif) -> dict[str, Any] | None:
    """The producer-lead fields of an opened image's EXIF (``Image.getexif()``), or None if it has none.

    Keys: the names of :data:`IFD0_TAGS`, :data:`EXIF_TAGS` and :data:`GPS_TAGS` holding raw text (only
    those present), plus ``gps_alt_m`` and ``gps_time_utc`` (derived) and ``raw`` ({"ifd0:0x010F": text}).
    """
    found: dict[str, Any] = {}
    raw: dict[str, str] = {}

    def take(ifd: Any, tags: dict[str, int], prefix: str) -> None:
        for name, tag in tags.items():
            text = raw_text(ifd.get(tag))
            if text is not None:
                found[name] = text
                raw[f"{prefix}0x{tag:04X}"] = text  # "ifd0:0x010F", "exif:0xA431", "gps:0x0002"

    take(exif, IFD0_TAGS, "ifd0:")
    sub = exif.get_ifd(IFD_EXIF) if IFD_EXIF in exif else {}
    take(sub, EXIF_TAGS, "exif:")
    gps = exif.get_ifd(IFD_GPS) if IFD_GPS in exif else {}
    take(gps, GPS_TAGS, "gps:")
    if not found:
        return None
    alt = gps_altitude(gps.get(6), gps.get(5)) if gps else None
    if alt is not None:
        found["gps_alt_m"] = alt
    when = gps_time(gps.get(29), gps.get(7)) if gps else None
    if when is not None:
        found["gps_time_utc"] = when
    found["raw"] = raw
    return found


def camera_serial(fields: dict[str, Any] | None, body_serial: str | None) -> tuple[str, str] | None:
    """(serial, kind) that identifies the camera body: the EXIF body serial, else the DNG camera serial;
    None when neither is a real serial (placeholders of zeros are not)."""
    body = _nonzero_serial(body_serial or (fields or {}).get("body_serial"))
    if body:
        return body, "body"
    dng = _nonzero_serial((fields or {}).get("camera_serial"))
    if dng:
        return dng, "body (DNG CameraSerialNumber)"
    return None


__all__ = ["camera_serial", "gps_altitude", "gps_time", "raw_text", "read_fields"]
