from __future__ import annotations

from dataclasses import replace

import pytest

from tessera.hashing import hash_item
from tessera.records import ExifInfo, Opener
from tessera.synth.images import encode, invented_exif, photo_image, photo_jpeg


@pytest.mark.parametrize("seed", range(5))
def test_generated_exif_round_trips(seed: int) -> None:
    info = invented_exif(seed)
    rec = hash_item(Opener(data=photo_jpeg(seed, 320, 240, exif=info)))
    assert rec.error is None
    assert rec.exif is not None
    assert rec.exif.make == info.make and rec.exif.model == info.model
    assert rec.exif.body_serial == info.body_serial
    assert rec.exif.capture_time == info.capture_time  # as written, not reinterpreted
    assert rec.exif.orientation == info.orientation
    assert rec.exif.gps_lat == pytest.approx(info.gps_lat, abs=1e-6)
    assert rec.exif.gps_lon == pytest.approx(info.gps_lon, abs=1e-6)


def test_southern_western_coordinates_are_negative() -> None:
    info = replace(invented_exif(1), gps_lat=-33.8688, gps_lon=-70.6693, orientation=6)
    rec = hash_item(Opener(data=photo_jpeg(1, 320, 240, exif=info)))
    assert rec.exif is not None
    assert rec.exif.gps_lat == pytest.approx(-33.8688, abs=1e-6)
    assert rec.exif.gps_lon == pytest.approx(-70.6693, abs=1e-6)
    assert rec.exif.orientation == 6


def test_partial_exif_keeps_what_is_there() -> None:
    info = ExifInfo(model="SynthCam 1")
    rec = hash_item(Opener(data=photo_jpeg(1, 160, 120, exif=info)))
    assert rec.exif == ExifInfo(model="SynthCam 1")


def test_no_exif_gives_none() -> None:
    rec = hash_item(Opener(data=photo_jpeg(1, 160, 120)))
    assert rec.exif is None
    rec = hash_item(Opener(data=encode(photo_image(1, 160, 120), "PNG")))
    assert rec.exif is None


def test_exif_read_without_pixel_decode() -> None:
    info = invented_exif(7)
    rec = hash_item(Opener(data=photo_jpeg(7, 320, 240, exif=info)), perceptual=False)
    assert rec.pdq is None and rec.exif is not None and rec.exif.body_serial == info.body_serial
    assert (rec.width, rec.height) == (320, 240)
