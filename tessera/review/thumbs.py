"""Thumbnails made on demand from the evidence, cached in ``CASE_DIR/thumbs/``.

Evidence is opened read-only (``open_readonly``: no atime change, no links followed) and archive
members are read through ``zipfile``/``tarfile`` in memory, so nothing is ever written into evidence.
The bytes read are checked against the media SHA-256 before anything is derived from them: a thumbnail
always shows exactly the content the case recorded.

Two derivatives per item: a clear 256 px thumbnail (served only after an audited reveal) and, per blur
level, a grayscale Gaussian-blurred one (what everyone sees by default). Blurring happens here, in the
pixels, so nothing sharp reaches a browser unless revealed; the CSS blur on top is a second layer.
"""

from __future__ import annotations

import hashlib
import io
import os
import tarfile
import zipfile
from pathlib import Path
from typing import IO

from PIL import Image, ImageDraw, ImageFilter, ImageOps
from sqlalchemy import select
from sqlalchemy.orm import Session

from tessera.evidence.base import open_readonly
from tessera.records import LOCATOR_SEP
from tessera.store import models as m

THUMB_PX = 256
#: Largest evidence file or archive member read for a thumbnail (bounded memory per request).
MAX_READ = 256 * 1024 * 1024
#: Decoding refuses images above this many pixels (decompression bombs).
MAX_PIXELS = 100_000_000
SEP = LOCATOR_SEP.encode()


class ThumbError(Exception):
    pass


def _bounded(fh: IO[bytes], limit: int = MAX_READ) -> bytes:
    data = fh.read(limit + 1)
    if len(data) > limit:
        raise ThumbError("too large to thumbnail")
    return bytes(data)


def _member(container: bytes, name: bytes) -> bytes:
    """One member of a zip or tar (any compression) held in memory, by its raw name."""
    want = name.lstrip(b"/")
    want_text = want.decode("utf-8", errors="backslashreplace")
    buf = io.BytesIO(container)
    if zipfile.is_zipfile(buf):
        with zipfile.ZipFile(buf) as zf:
            for info in zf.infolist():
                if info.filename.lstrip("/") == want_text:
                    if info.file_size > MAX_READ:
                        raise ThumbError("archive member too large to thumbnail")
                    with zf.open(info) as fh:
                        return _bounded(fh)
        raise ThumbError("member not found in zip")
    buf.seek(0)
    try:
        with tarfile.open(fileobj=buf, mode="r:*") as tf:
            for ti in tf:
                if ti.isfile() and os.fsencode(ti.name).lstrip(b"/") == want:
                    member = tf.extractfile(ti)
                    if member is None:
                        break
                    return _bounded(member)
    except tarfile.TarError as exc:
        raise ThumbError(f"cannot open container: {exc}") from None
    raise ThumbError("member not found in container")


def read_occurrence(source_path: str, raw_path: bytes) -> bytes:
    """The bytes of one stored file occurrence, re-walking its chain of containers."""
    parts = raw_path.split(SEP)
    root = os.fsencode(source_path)
    outer = root + parts[0] if os.path.isdir(root) else root
    with open_readonly(outer) as fh:
        data = _bounded(fh)
    for name in parts[1:]:
        data = _member(data, name)
    return data


def media_bytes(session: Session, sha256: str) -> bytes:
    """Content of a media item from the first occurrence that can still be read and verifies."""
    q = (
        select(m.File.raw_path, m.Device.source_path)
        .join(m.Device, m.Device.id == m.File.device_id)
        .where(m.File.sha256 == sha256, m.File.error.is_(None))
        .order_by(m.File.depth, m.File.id)
        .limit(5)
    )
    for raw_path, source in session.execute(q):
        if not source:
            continue
        try:
            data = read_occurrence(source, raw_path)
        except (OSError, ThumbError, zipfile.BadZipFile):
            continue
        if hashlib.sha256(data).hexdigest() == sha256:
            return data
    raise ThumbError("no readable occurrence of this item")


def placeholder(label: str) -> Image.Image:
    img = Image.new("L", (THUMB_PX, THUMB_PX), 96)
    ImageDraw.Draw(img).text((THUMB_PX // 2 - 4 * len(label), THUMB_PX // 2 - 6), label, fill=200)
    return img


class ThumbCache:
    def __init__(self, case_dir: Path) -> None:
        self.root = case_dir / "thumbs"

    def _path(self, sha256: str, suffix: str) -> Path:
        return self.root / sha256[:2] / f"{sha256}{suffix}"

    def clear(self, session: Session, sha256: str, kind: str) -> Path:
        """The clear thumbnail (PNG), made from the evidence on first use."""
        path = self._path(sha256, ".png")
        if path.exists():
            return path
        path.parent.mkdir(parents=True, exist_ok=True)
        if kind == "video":
            # vPDQ / frame extraction is a later issue; a video never plays here, it is a labelled tile.
            img = placeholder("video")
        else:
            try:
                img = _decode(media_bytes(session, sha256))
            except (ThumbError, OSError, Image.DecompressionBombError, ValueError):
                img = placeholder("unavailable")
        tmp = path.with_suffix(".tmp")
        img.save(tmp, "PNG")
        os.replace(tmp, path)  # atomic: concurrent requests never see half a file
        return path

    def blurred(self, session: Session, sha256: str, kind: str, blur: int) -> Path:
        path = self._path(sha256, f".g{blur}.jpg")
        if path.exists():
            return path
        with Image.open(self.clear(session, sha256, kind)) as src:
            img = blur_image(src, blur)
        tmp = path.with_suffix(".tmp")
        img.save(tmp, "JPEG", quality=70)
        os.replace(tmp, path)
        return path


def blur_image(img: Image.Image, blur: int) -> Image.Image:
    # Downscale first so that even the blur's input carries little detail, then grayscale + blur.
    small = ImageOps.grayscale(img)
    small.thumbnail((64, 64))
    return small.resize(img.size, Image.Resampling.BILINEAR).filter(ImageFilter.GaussianBlur(blur))


def _decode(data: bytes) -> Image.Image:
    Image.MAX_IMAGE_PIXELS = MAX_PIXELS
    with Image.open(io.BytesIO(data)) as src:
        src.draft("RGB", (THUMB_PX * 2, THUMB_PX * 2))  # JPEG: decode at reduced scale, much faster
        img: Image.Image = ImageOps.exif_transpose(src) or src
        img = img.convert("RGB")
        img.thumbnail((THUMB_PX, THUMB_PX))
        canvas = Image.new("RGB", (THUMB_PX, THUMB_PX), (40, 40, 40))
        canvas.paste(img, ((THUMB_PX - img.width) // 2, (THUMB_PX - img.height) // 2))
        return canvas
