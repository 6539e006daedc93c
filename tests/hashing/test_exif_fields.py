"""Producer-lead EXIF fields (issue 14): written by Pillow into abstract JPEGs, read back raw.

Every value the generator wrote must come back as written (text untouched, rationals as num/den, binary
refs as hex), with the derived values (GPS altitude in metres, the fix time in UTC) beside them.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime

from PIL import Image

from tessera.hashing import hash_item
from tessera.hashing.exif import read_exif
from tessera.hashing.exif_fields import camera_serial, gps_altitude, gps_time, raw_text, read_fields
from tessera.network.cameras import capture_utc, in_camera_folder, model_matches
from tessera.records import Opener
from tessera.store.models_producer import exif_row
from tessera.synth.cameras import Shot, exif_block, picture

FULL = Shot(
    make="Nimbus Optics",
    model="NX-7",
    body_serial="NB7-004127",
    camera_serial="DNG-55",
    lens_make="Nimbus",
    lens_model="Nimbus 35mm f/1.8",
    lens_serial="NL-778190",
    time="2024:04:02 12:00:00",
    offset="+02:00",
    gps=(40.4168, -3.7038, -12.5),
    gps_time=datetime(2024, 4, 2, 10, 0, 7, tzinfo=UTC),
)


def _fields(data: bytes) -> dict[str, object]:
    with Image.open(io.BytesIO(data)) as im:
        fields = read_fields(im.getexif())
    assert fields is not None
    return fields


def test_every_producer_field_is_read_raw() -> None:
    f = _fields(picture(1, FULL))
    assert f["make"] == "Nimbus Optics" and f["model"] == "NX-7"
    assert f["body_serial"] == "NB7-004127"
    assert f["camera_serial"] == "DNG-55"
    assert (f["lens_make"], f["lens_model"], f["lens_serial"]) == ("Nimbus", "Nimbus 35mm f/1.8", "NL-778190")
    assert (f["datetime_original"], f["offset_time_original"]) == ("2024:04:02 12:00:00", "+02:00")
    assert (f["gps_lat_ref"], f["gps_lon_ref"]) == ("N", "W")
    assert f["gps_alt_ref"] == "01"  # below sea level: the binary ref kept as hex, not lost
    assert f["gps_alt"] == "25/2"
    assert f["gps_alt_m"] == -12.5
    assert f["gps_datestamp"] == "2024:04:02"
    assert f["gps_timestamp"] == "10/1 0/1 7/1"
    assert f["gps_time_utc"] == "2024-04-02T10:00:07Z"
    raw = f["raw"]
    assert isinstance(raw, dict)
    assert raw["ifd0:0xC62F"] == "DNG-55"
    assert raw["exif:0xA431"] == "NB7-004127"
    assert raw["exif:0xA435"] == "NL-778190"
    assert raw["exif:0x9011"] == "+02:00"
    assert raw["gps:0x0006"] == "25/2"


def test_gps_seconds_stay_exact_rationals() -> None:
    """The raw latitude is the rationals as written (seconds to 1/10000), which decimal would round."""
    f = _fields(picture(2, FULL))
    deg, minutes, seconds = str(f["gps_lat"]).split()
    assert (deg, minutes) == ("40/1", "25/1")
    num, den = (int(x) for x in seconds.split("/"))
    assert abs(40 + 25 / 60 + num / den / 3600 - 40.4168) < 1e-6


def test_ingest_record_carries_fields_and_media_exif_row() -> None:
    data = picture(3, FULL)
    rec = hash_item(Opener(data=data))
    assert rec.exif is not None
    assert (rec.exif.make, rec.exif.model, rec.exif.body_serial) == ("Nimbus Optics", "NX-7", "NB7-004127")
    row = exif_row(rec)
    assert row is not None
    assert row["camera_serial"] == "DNG-55"
    assert (row["lens_make"], row["lens_model"], row["lens_serial"]) == (
        "Nimbus",
        "Nimbus 35mm f/1.8",
        "NL-778190",
    )
    assert row["offset_time_original"] == "+02:00"
    assert row["gps_alt"] == -12.5
    assert row["gps_time"] == "2024-04-02T10:00:07Z"
    assert row["raw"]["exif:0xA434"] == "Nimbus 35mm f/1.8"


def test_make_model_only_picture_has_no_serial() -> None:
    shot = Shot(make="Apple", model="iPhone 13", time="2024:04:02 12:00:00")
    f = _fields(picture(4, shot))
    assert "body_serial" not in f and "camera_serial" not in f and "lens_serial" not in f
    assert camera_serial(f, None) is None


def test_placeholder_serials_are_not_serials() -> None:
    assert camera_serial({}, "0000000000") is None
    assert camera_serial({"camera_serial": "0"}, None) is None
    assert camera_serial({"camera_serial": "VR1-990017"}, None) == (
        "VR1-990017",
        "body (DNG CameraSerialNumber)",
    )
    assert camera_serial({"camera_serial": "X"}, "B-1") == ("B-1", "body")


def test_dng_serial_alone_makes_exif_worth_reading() -> None:
    """A picture whose only producer tag is the DNG serial still yields EXIF (and its row)."""
    data = picture(5, Shot(make=None, model=None, camera_serial="VR1-990017"))
    with Image.open(io.BytesIO(data)) as im:
        info = read_exif(im)
    assert info is not None and info.fields is not None
    assert info.fields["camera_serial"] == "VR1-990017"


def test_raw_text_and_derivations() -> None:
    assert raw_text(b"\x00") == "00"
    assert raw_text(b"Canon\x00\x00") == "Canon"
    assert raw_text(b"\xff\xfe") == "fffe"
    assert gps_altitude(12.5, b"\x01") == -12.5 and gps_altitude(3, 0) == 3.0
    assert gps_altitude(None, 0) is None
    assert gps_time("2024:04:02", (25.0, 0.0, 0.0)) is None  # not an hour
    assert gps_time(None, (1.0, 2.0, 3.0)) is None
    assert len(exif_block(Shot(make="A", model="B"))) > 0


def test_capture_time_in_utc_only_when_placed() -> None:
    assert capture_utc("2024:04:02 12:00:00", "+02:00", None) == datetime(2024, 4, 2, 10, tzinfo=UTC)
    assert capture_utc("2024:04:02 12:00:00", "-05:30", None) == datetime(2024, 4, 2, 17, 30, tzinfo=UTC)
    assert capture_utc("2024:04:02 12:00:00", None, None) is None  # local time, zone unknown: not guessed
    assert capture_utc("2024:04:02 12:00:00", None, "2024-04-02T10:00:07Z") == datetime(
        2024, 4, 2, 10, 0, 7, tzinfo=UTC
    )


def test_camera_folder_and_model_match() -> None:
    assert in_camera_folder("/private/var/mobile/Media/DCIM/100APPLE/IMG_0001.JPG")
    assert in_camera_folder("/storage/emulated/0/DCIM/Camera/20240401_101500.jpg")
    assert not in_camera_folder("/storage/emulated/0/DCIM/Screenshots/a.png")
    assert not in_camera_folder("/storage/emulated/0/Download/DCIM.jpg")
    assert model_matches("SM-G991B", "Galaxy S21 5G (SM-G991B)")
    assert model_matches("iPhone 13", "iphone 13")
    assert not model_matches("iPhone 13", "iPhone 13 Pro Max")  # a name of several words must be equal
    assert not model_matches("SM-G991", "Galaxy S21 5G (SM-G991B)")
    assert not model_matches(None, "iPhone 13")
