"""Bad image data never raises: the record keeps its digests and says what went wrong."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from tessera.hashing import PIXEL_LIMIT, hash_item
from tessera.records import MediaRecord, Opener
from tessera.synth.images import bomb_png, corrupt_jpeg, truncated_jpeg


def _check_digests(rec: MediaRecord, data: bytes) -> None:
    assert rec.sha256 == hashlib.sha256(data).hexdigest()
    assert rec.md5 == hashlib.md5(data).hexdigest()
    assert rec.sha1 == hashlib.sha1(data).hexdigest()
    assert rec.size == len(data)
    assert rec.pdq is None and rec.pdq_quality is None


@pytest.mark.parametrize("fast", [True, False])
def test_truncated_jpeg(fast: bool) -> None:
    data = truncated_jpeg(1)
    rec = hash_item(Opener(data=data), fast_decode=fast)
    _check_digests(rec, data)
    assert rec.kind == "image" and rec.mime == "image/jpeg"
    assert rec.error is not None and rec.error.startswith("truncated image: ")
    assert (rec.width, rec.height) == (640, 480)  # the header survived


def test_decompression_bomb_png() -> None:
    data = bomb_png()
    assert len(data) < 200
    rec = hash_item(Opener(data=data))
    _check_digests(rec, data)
    assert rec.error == f"decompression bomb: 200000000 pixels exceeds limit {PIXEL_LIMIT}"
    assert PIXEL_LIMIT == 178_956_970


def test_bomb_far_over_pillows_hard_limit() -> None:
    data = bomb_png(40_000, 40_000)
    rec = hash_item(Opener(data=data))
    _check_digests(rec, data)
    assert rec.error == f"decompression bomb: 1600000000 pixels exceeds limit {PIXEL_LIMIT}"


def test_corrupt_bytes_with_jpeg_magic() -> None:
    data = corrupt_jpeg(3)
    rec = hash_item(Opener(data=data))
    _check_digests(rec, data)
    assert rec.kind == "image"
    # Random bytes after the marker read as a segment length past the end: any of our categories.
    prefixes = ("unsupported or corrupt image", "corrupt image", "truncated image")
    assert rec.error is not None and rec.error.startswith(prefixes)


def test_header_only_png_is_reported() -> None:
    data = b"\x89PNG\r\n\x1a\n"
    rec = hash_item(Opener(data=data))
    _check_digests(rec, data)
    assert rec.error


def test_bad_file_from_path(tmp_path: Path) -> None:
    data = truncated_jpeg(2, keep=0.3)
    path = tmp_path / "carved.jpg"
    path.write_bytes(data)
    rec = hash_item(Opener(path=str(path)))
    _check_digests(rec, data)
    assert rec.error is not None and rec.error.startswith("truncated image: ")
