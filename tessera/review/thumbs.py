"""Thumbnails made on demand from the evidence, cached in ``CASE_DIR/thumbs/``.

Evidence is reopened through the evidence layer's one resolver (``tessera.evidence.resolve``): read-only,
no atime change, no links followed, containers (disk images, archives, compressed files) read by the
same plugins as the walk, so nothing is ever written into evidence and every stored locator can be
shown.
The bytes read are checked against the media SHA-256 before anything is derived from them: a thumbnail
always shows exactly the content the case recorded.

Two derivatives per item: a clear 256 px thumbnail (served only after an audited reveal) and, per blur
level, a grayscale Gaussian-blurred one (what everyone sees by default). Blurring happens here, in the
pixels, so nothing sharp reaches a browser unless revealed; the CSS blur on top is a second layer.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import IO

from PIL import Image, ImageDraw, ImageFilter, ImageOps
from sqlalchemy import select
from sqlalchemy.orm import Session

from tessera.evidence.base import Limits, discard_spool, open_item
from tessera.evidence.resolve import ResolveError, reopen
from tessera.review.contact import ContactError, contact_sheet
from tessera.store import models as m

THUMB_PX = 256
#: Largest evidence file or archive member read for a thumbnail (bounded memory per request).
MAX_READ = 256 * 1024 * 1024
#: Decoding refuses images above this many pixels (decompression bombs).
MAX_PIXELS = 100_000_000


class ThumbError(Exception):
    pass


def _bounded(fh: IO[bytes], limit: int = MAX_READ) -> bytes:
    data = fh.read(limit + 1)
    if len(data) > limit:
        raise ThumbError("too large to thumbnail")
    return bytes(data)


def read_occurrence(
    roots: Sequence[tuple[str, str]], locator: str, raw_path: bytes | None = None, scratch: Path | None = None
) -> bytes:
    """The bytes of one stored occurrence, reopened through the evidence layer's one resolver (the
    same container plugins, limits and locators as the walk: disk images, archives, compressed files)."""
    try:
        item = reopen(roots, locator, raw_path, Limits(scratch_dir=scratch))
    except (ResolveError, ValueError) as exc:
        raise ThumbError(str(exc)) from None
    assert item.opener is not None
    try:
        if item.size is not None and item.size > MAX_READ:
            raise ThumbError("too large to thumbnail")
        with open_item(item.opener) as fh:
            return _bounded(fh)
    finally:
        discard_spool(item)


def device_roots(session: Session, device_id: str) -> list[tuple[str, str]]:
    """(source path, locator prefix) of each source the device was ingested from: its primary source
    first; a folder added to the device later is stored under ``/<its name>``."""
    dev = session.get(m.Device, device_id)
    primary = dev.source_path if dev is not None else None
    roots = [(primary, "")] if primary else []
    for path in session.scalars(
        select(m.IngestRun.source_path).where(m.IngestRun.device_id == device_id).distinct()
    ):
        if path and path != primary:
            roots.append((path, "/" + os.path.basename(path) if os.path.isdir(path) else ""))
    return roots


def media_bytes(session: Session, sha256: str, scratch: Path | None = None) -> bytes:
    """Content of a media item from the first occurrence that can still be read and verifies."""
    q = (
        select(m.File.locator, m.File.raw_path, m.File.device_id)
        .where(m.File.sha256 == sha256, m.File.error.is_(None))
        .order_by(m.File.depth, m.File.id)
        .limit(5)
    )
    for locator, raw_path, device_id in session.execute(q).all():
        roots = device_roots(session, device_id)
        if not roots:
            continue
        try:
            data = read_occurrence(roots, locator, raw_path, scratch)
        except (OSError, ThumbError):
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
        #: Where a big member reopened from a container is spooled while it is read (never evidence).
        self.scratch = case_dir / "scratch"

    def _path(self, sha256: str, suffix: str) -> Path:
        return self.root / sha256[:2] / f"{sha256}{suffix}"

    def clear(self, session: Session, sha256: str, kind: str) -> Path:
        """The clear thumbnail (PNG), made from the evidence on first use."""
        path = self._path(sha256, ".png")
        if path.exists():
            return path
        path.parent.mkdir(parents=True, exist_ok=True)
        if kind == "video":
            # A video never plays here: its thumbnail is a contact sheet of keyframes
            # (tessera.review.contact), blurred and grayed by blurred() like any image.
            try:
                img = contact_sheet(media_bytes(session, sha256, self.scratch))
            except (ThumbError, ContactError, OSError, ValueError):
                img = placeholder("video")
        else:
            try:
                img = _decode(media_bytes(session, sha256, self.scratch))
            except (ThumbError, OSError, Image.DecompressionBombError, ValueError):
                img = placeholder("unavailable")
        _save_atomic(img, path, "PNG")
        return path

    def blurred(self, session: Session, sha256: str, kind: str, blur: int) -> Path:
        path = self._path(sha256, f".g{blur}.jpg")
        if path.exists():
            return path
        with Image.open(self.clear(session, sha256, kind)) as src:
            img = blur_image(src, blur)
        _save_atomic(img, path, "JPEG", quality=70)
        return path


def _save_atomic(img: Image.Image, path: Path, fmt: str, **kw: int) -> None:
    """Write through a temporary file of this request's own, then rename: concurrent requests for the
    same item never write into one another's file nor see half of one."""
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            img.save(fh, fmt, **kw)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


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
