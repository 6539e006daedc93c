"""Image facts: dimensions, PDQ hash and quality, EXIF. Never raises for bad image data.

Decisions (see docs/hashing.md):

* PDQ is computed on the pixels as stored, *before* EXIF orientation, like python-threatexchange
  (whose pipeline the conformance vectors pin exactly) and the hash lists built with it. The
  orientation is recorded in ``exif.orientation`` so matching can try dihedral variants.
* Fast decode: JPEGs are decoded with DCT scaling (``Image.draft``) and other formats box-reduced
  (``Image.reduce``), to a short side of no less than :data:`DRAFT_MIN_SIDE`. An image whose short
  side is below ``2 * DRAFT_MIN_SIDE`` is decoded at full size, bit-identical to the reference.
  A 12-MP JPEG thus decodes once, at 1/8 (504x378, DC coefficients only, the smallest scale
  libjpeg offers), and its cost is the Huffman decode of every coefficient, which no scale
  avoids: ~32 of ~44 CPU ms per 4-5 MB photo, the three digests ~9 (``bench/bench_photos.py
  --breakdown``). Pillow already drives libjpeg-turbo here; simplejpeg 1.9 (libjpeg-turbo
  called directly) gave the same pixels in the same time, so no second JPEG binding is used.
* Pixel limit: :data:`PIXEL_LIMIT` (178,956,970, Pillow's own hard limit) is enforced by us after
  reading the header, before any pixel is decoded.
"""

from __future__ import annotations

import io
import re
import warnings
from dataclasses import dataclass
from typing import IO

import numpy as np
import pdqhash
from PIL import Image, UnidentifiedImageError

from tessera.hashing.digest import open_readonly
from tessera.hashing.exif import read_exif
from tessera.records import ExifInfo

try:  # HEIC/HEIF photos from iPhones; optional so a minimal install still hashes everything else.
    from pillow_heif import register_heif_opener

    register_heif_opener()
except ImportError:  # pragma: no cover - pillow-heif is a declared dependency
    pass

#: Shortest side the fast path decodes to. PDQ reduces every image to 64x64 with a tent filter
#: whose window is ~1/64 of the side, so detail beyond ~4 pixels per output cell changes the hash
#: only by resampling noise; bench/bench_decode.py measures the distance against full decodes.
DRAFT_MIN_SIDE = 256

#: Images with more pixels are refused before decoding ("decompression bomb"). Equal to the point
#: where Pillow itself raises DecompressionBombError (2 x its default MAX_IMAGE_PIXELS): a 108-MP
#: phone photo decodes, a PNG declaring 20,000 x 10,000 pixels in 89 bytes does not.
PIXEL_LIMIT = 178_956_970

# Pillow's own check runs inside Image.open (warning above MAX_IMAGE_PIXELS, error above twice
# that). Pin it explicitly so a dependency that changed the global cannot weaken our policy; we
# silence the warning locally and apply PIXEL_LIMIT ourselves, with a message that names it.
Image.MAX_IMAGE_PIXELS = PIXEL_LIMIT // 2

_BOMB_PIXELS = re.compile(r"\((\d+) pixels\)")

#: Modes pdqhash's wrapper reads correctly as arrays (python-threatexchange passes RGB straight
#: through and stacks L into three planes); every other mode is converted to RGB by Pillow.
_DIRECT_MODES = ("RGB", "L")


@dataclass(slots=True)
class ImageFacts:
    width: int | None = None
    height: int | None = None
    pdq: str | None = None
    pdq_quality: int | None = None
    exif: ExifInfo | None = None
    error: str | None = None


def pdq_from_image(im: Image.Image) -> tuple[str, int]:
    """PDQ hex (most significant word first) and quality of a loaded image, at its given size."""
    if im.mode not in _DIRECT_MODES:
        im = im.convert("RGB")
    arr = np.asarray(im)
    if arr.ndim == 2:
        arr = np.repeat(arr[:, :, None], 3, axis=2)
    bits, quality = pdqhash.compute(arr)
    # pdqhash returns the 256 bits in print order: bits[0] is the top bit of the first hex digit
    # (python-threatexchange joins them into one big-endian binary string), so packbits' MSB-first
    # packing gives the reference hex directly. The conformance vectors check this.
    return np.packbits(np.asarray(bits, dtype=np.uint8)).tobytes().hex(), int(quality)


def _shrink(im: Image.Image, fast_decode: bool) -> Image.Image:
    """Apply the fast path: DCT-scaled JPEG decode, then a box reduce for any format."""
    if not fast_decode:
        im.load()
        return im
    if im.format == "JPEG":
        # draft() picks the largest 1/2, 1/4, 1/8 scale keeping both sides >= the request; a
        # small image is left alone. Mode "RGB" keeps the JPEG's own colour conversion.
        im.draft("RGB", (DRAFT_MIN_SIDE, DRAFT_MIN_SIDE))
    im.load()
    factor = min(im.size) // DRAFT_MIN_SIDE
    if factor >= 2:
        if im.mode not in ("RGB", "L", "RGBA", "LA", "I", "F"):
            im = im.convert("RGB")
        im = im.reduce(factor)
    return im


def _describe_error(exc: BaseException) -> str:
    if isinstance(exc, Image.DecompressionBombError | Image.DecompressionBombWarning):
        m = _BOMB_PIXELS.search(str(exc))
        pixels = m.group(1) if m else "?"
        return f"decompression bomb: {pixels} pixels exceeds limit {PIXEL_LIMIT}"
    if isinstance(exc, UnidentifiedImageError):
        return "unsupported or corrupt image: no decoder recognises the data"
    if isinstance(exc, MemoryError):
        return "image too large to decode in memory"
    text = str(exc) or type(exc).__name__
    if "truncated" in text.lower():
        return f"truncated image: {text}"
    return f"corrupt image: {type(exc).__name__}: {text}"


def _analyse(fp: IO[bytes], facts: ImageFacts, fast_decode: bool, perceptual: bool) -> None:
    with warnings.catch_warnings():
        # Evidence is routinely malformed; Pillow's UserWarnings (odd palettes, bad EXIF, the
        # bomb warning below PIXEL_LIMIT) are not the caller's business. Real failures raise.
        warnings.simplefilter("ignore")
        with Image.open(fp) as im:
            facts.width, facts.height = im.size
            pixels = im.size[0] * im.size[1]
            if pixels > PIXEL_LIMIT:
                facts.error = f"decompression bomb: {pixels} pixels exceeds limit {PIXEL_LIMIT}"
                return
            try:
                facts.exif = read_exif(im)
            except Exception as exc:  # a broken EXIF block must not cost us the PDQ hash
                facts.error = f"unreadable EXIF: {type(exc).__name__}: {exc}"
            if not perceptual:
                return
            facts.pdq, facts.pdq_quality = pdq_from_image(_shrink(im, fast_decode))


def analyse_image(source: bytes | str, *, fast_decode: bool = True, perceptual: bool = True) -> ImageFacts:
    """Facts about an image given as bytes or (for very large files) a path; never raises.

    ``perceptual=False`` reads only the header (size, EXIF) and skips the pixel decode. Any
    decoding problem is reported in ``error``; fields found before the problem are kept.
    """
    facts = ImageFacts()
    try:
        if isinstance(source, bytes | bytearray | memoryview):
            _analyse(io.BytesIO(source), facts, fast_decode, perceptual)
        else:
            with open(open_readonly(source), "rb", closefd=True) as fp:
                _analyse(fp, facts, fast_decode, perceptual)
    except Exception as exc:  # noqa: BLE001 - any decoder failure becomes a record error
        facts.pdq = facts.pdq_quality = None
        facts.error = _describe_error(exc)
    return facts
