from __future__ import annotations

import bz2
import gzip
import io
import lzma
import sqlite3
import tarfile
import zipfile
from collections.abc import Callable
from pathlib import Path

import filetype
import pytest
from PIL import Image

from tessera.hashing import hash_item, sniff
from tessera.records import Opener
from tessera.synth.images import abstract_image, encode


def _image(fmt: str, **params: object) -> bytes:
    img = abstract_image(1, 64, 48)
    if fmt == "GIF":
        img = img.convert("P")
    return encode(img, fmt, **params)


def _zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("a.txt", "hello")
    return buf.getvalue()


def _tar() -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        info = tarfile.TarInfo("a.txt")
        info.size = 5
        tf.addfile(info, io.BytesIO(b"hello"))
    return buf.getvalue()


def _sqlite(tmp: Path) -> bytes:
    db = tmp / "x.db"
    con = sqlite3.connect(db)
    con.execute("create table t (x)")
    con.commit()
    con.close()
    return db.read_bytes()


@pytest.mark.parametrize(
    ("make", "mime", "kind"),
    [
        (lambda: _image("JPEG"), "image/jpeg", "image"),
        (lambda: _image("PNG"), "image/png", "image"),
        (lambda: _image("GIF"), "image/gif", "image"),
        (lambda: _image("WEBP"), "image/webp", "image"),
        (lambda: _image("BMP"), "image/bmp", "image"),
        (lambda: _image("TIFF"), "image/tiff", "image"),
        (_zip, "application/zip", "archive"),
        (_tar, "application/x-tar", "archive"),
        (lambda: gzip.compress(b"x" * 100), "application/gzip", "archive"),
        (lambda: bz2.compress(b"x" * 100), "application/x-bzip2", "archive"),
        (lambda: lzma.compress(b"x" * 100), "application/x-xz", "archive"),
        (lambda: b"%PDF-1.7\n" + b"0" * 100, "application/pdf", "other"),
        (lambda: b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + b"\x00" * 64, "video/mp4", "video"),
        (lambda: b"\x00\x00\x00\x14ftypqt  \x00\x00\x00\x00qt  " + b"\x00" * 64, "video/quicktime", "video"),
        (lambda: b"\x1aE\xdf\xa3\x93B\x82\x88matroska" + b"\x00" * 64, "video/x-matroska", "video"),
    ],
)
def test_sniff_table_agrees_with_filetype(make: Callable[[], bytes], mime: str, kind: str) -> None:
    data = make()
    assert sniff(data[:512]) == (mime, kind)
    guessed = filetype.guess(data)
    assert guessed is not None and guessed.mime.split(";")[0] in (mime, "image/x-ms-bmp")


def test_sqlite_is_recognised(tmp_path: Path) -> None:
    assert sniff(_sqlite(tmp_path)[:512]) == ("application/x-sqlite3", "other")


def test_heic_and_avif_brands_are_images_not_video() -> None:
    heic = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 32
    heif_major_mp4ish = b"\x00\x00\x00\x1cftypmif1\x00\x00\x00\x00mif1heicmiaf" + b"\x00" * 32
    avif = b"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1miaf" + b"\x00" * 32
    assert sniff(heic) == ("image/heic", "image")
    assert sniff(heif_major_mp4ish) == ("image/heic", "image")
    assert sniff(avif) == ("image/avif", "image")


@pytest.mark.parametrize("data", [b"", b"abc", b"hello world, just text\n" * 10, b"BM is not a bitmap" * 4])
def test_unknown_is_other(data: bytes) -> None:
    assert sniff(data) == (None, "other")


def test_png_named_txt_is_an_image(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_bytes(_image("PNG"))
    rec = hash_item(Opener(path=str(path)))
    assert (rec.mime, rec.kind) == ("image/png", "image")
    assert (rec.width, rec.height) == (64, 48)
    assert rec.pdq is not None and len(rec.pdq) == 64


def test_text_named_jpg_is_other(tmp_path: Path) -> None:
    path = tmp_path / "photo.jpg"
    path.write_bytes(b"not an image at all\n")
    rec = hash_item(Opener(path=str(path)))
    assert (rec.mime, rec.kind, rec.pdq, rec.error) == (None, "other", None, None)


def test_heic_decodes_when_pillow_heif_can_write() -> None:
    pillow_heif = pytest.importorskip("pillow_heif")
    buf = io.BytesIO()
    try:
        pillow_heif.from_pillow(abstract_image(2, 128, 96)).save(buf, quality=90)
    except Exception as exc:  # encoder not built into this wheel
        pytest.skip(f"no HEIF encoder: {exc}")
    rec = hash_item(Opener(data=buf.getvalue()))
    assert rec.kind == "image" and rec.mime in ("image/heic", "image/heif")
    assert (rec.width, rec.height) == (128, 96) and rec.pdq is not None, rec.error
    assert Image.open(io.BytesIO(buf.getvalue())).size == (128, 96)
