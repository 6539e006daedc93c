from __future__ import annotations

import io
import time

import numpy as np
from PIL import Image

from tessera.synth.images import (
    SIZE_12MP,
    abstract_image,
    bomb_png,
    corrupt_jpeg,
    edits,
    exif_bytes,
    invented_exif,
    jpeg_bytes,
    photo_image,
    photo_jpeg,
    truncated_jpeg,
)


def test_abstract_image_deterministic() -> None:
    assert abstract_image(3).tobytes() == abstract_image(3).tobytes()
    assert jpeg_bytes(3, 64, 48) == jpeg_bytes(3, 64, 48)


def test_photo_image_deterministic_and_distinct() -> None:
    a, b, c = photo_image(1, 320, 240), photo_image(1, 320, 240), photo_image(2, 320, 240)
    assert a.size == (320, 240) and a.mode == "RGB"
    assert a.tobytes() == b.tobytes()
    assert a.tobytes() != c.tobytes()
    assert photo_jpeg(5, 200, 100) == photo_jpeg(5, 200, 100)


def test_photo_12mp_is_fast_and_photo_sized() -> None:
    start = time.perf_counter()
    data = photo_jpeg(7, *SIZE_12MP)
    elapsed = time.perf_counter() - start
    # ~0.35 s alone; generous for a loaded shared CI machine (the old generator took 2.8 s).
    assert elapsed < 2.0, elapsed
    im = Image.open(io.BytesIO(data))
    assert im.size == SIZE_12MP and im.format == "JPEG"
    assert 1_000_000 < len(data) < 12_000_000  # realistic phone-photo file size
    im.draft("RGB", (500, 375))
    arr = np.asarray(im.convert("RGB"), np.float32)
    assert arr.std() > 20  # not a flat image


def test_exif_is_written() -> None:
    info = invented_exif(4)
    assert info.make == "Acme Synthetic" and info.body_serial and info.body_serial.startswith("SYN-")
    im = Image.open(io.BytesIO(photo_jpeg(4, 160, 120, exif=info)))
    exif = im.getexif()
    assert exif[0x010F] == "Acme Synthetic"
    assert exif.get_ifd(0x8769)[0x9003] == info.capture_time
    assert exif.get_ifd(0x8825)[1] in ("N", "S")
    assert exif_bytes(info).startswith(b"Exif\x00\x00")


def test_edits() -> None:
    img = photo_image(2, 400, 300)
    out = edits(img)
    assert set(out) == {"resize", "recompress", "crop", "brightness", "blur", "grayscale"}
    assert out["resize"].size == (200, 150)
    assert out["crop"].size == (396, 296)
    assert out["grayscale"].mode == "L"
    assert out["recompress"].size == img.size
    assert out["brightness"].tobytes() != img.tobytes()


def test_bad_files() -> None:
    good = photo_jpeg(1, 640, 480)
    cut = truncated_jpeg(1)
    assert good.startswith(cut) and len(cut) < len(good)
    bomb = bomb_png()
    assert len(bomb) < 200 and bomb.startswith(b"\x89PNG")
    assert int.from_bytes(bomb[16:20], "big") * int.from_bytes(bomb[20:24], "big") == 200_000_000
    bad = corrupt_jpeg(1)
    assert bad.startswith(b"\xff\xd8\xff") and corrupt_jpeg(1) == bad
