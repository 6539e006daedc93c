"""Generated abstract images: gradients, shapes and noise. Nothing here depicts anything.

Everything is deterministic by seed so tests, demos and benchmarks can regenerate the same bytes.
Camera metadata written by :func:`photo_jpeg` is invented (``Acme Synthetic`` cameras, serials
``SYN-...``, coordinates drawn from a seed), never copied from a real device.
"""

from __future__ import annotations

import io
import random
import struct
import zlib
from fractions import Fraction

import numpy as np
from PIL import Image, ImageChops, ImageDraw, ImageEnhance, ImageFilter
from PIL.TiffImagePlugin import IFDRational

from tessera.records import ExifInfo

#: Common camera sizes for benchmarks: a 12-MP phone photo and a messenger-recompressed copy.
SIZE_12MP = (4032, 3024)
SIZE_MESSENGER = (1280, 960)


def abstract_image(seed: int, width: int = 640, height: int = 480) -> Image.Image:
    """A deterministic RGB image of a gradient, a few random shapes and mild noise."""
    rng = random.Random(seed)
    nprng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    c0 = np.array([rng.randint(0, 255) for _ in range(3)], np.float32)
    c1 = np.array([rng.randint(0, 255) for _ in range(3)], np.float32)
    angle = rng.random() * np.pi
    t = (np.cos(angle) * x / max(width, 1) + np.sin(angle) * y / max(height, 1)) % 1.0
    arr = c0 * (1 - t[..., None]) + c1 * t[..., None]
    img = Image.fromarray(arr.clip(0, 255).astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(img)
    for _ in range(rng.randint(4, 12)):
        x0, y0 = rng.randrange(width), rng.randrange(height)
        w, h = rng.randint(width // 20 + 1, width // 3 + 2), rng.randint(height // 20 + 1, height // 3 + 2)
        colour = tuple(rng.randint(0, 255) for _ in range(3))
        if rng.random() < 0.5:
            draw.ellipse([x0, y0, x0 + w, y0 + h], fill=colour)
        else:
            draw.rectangle([x0, y0, x0 + w, y0 + h], fill=colour)
    noisy = np.asarray(img, np.int16) + nprng.integers(-6, 7, (height, width, 3), dtype=np.int16)
    return Image.fromarray(noisy.clip(0, 255).astype(np.uint8), "RGB")


def encode(img: Image.Image, fmt: str = "JPEG", **params: object) -> bytes:
    buf = io.BytesIO()
    if fmt.upper() == "JPEG" and img.mode not in ("RGB", "L", "CMYK"):
        img = img.convert("RGB")
    img.save(buf, format=fmt, **params)
    return buf.getvalue()


def jpeg_bytes(seed: int, width: int = 640, height: int = 480, quality: int = 90) -> bytes:
    return encode(abstract_image(seed, width, height), "JPEG", quality=quality)


# --- fast photo-like images -------------------------------------------------------------------

#: Side of the square noise tile pasted over the whole image. Odd so the period does not line up
#: with 8x8 JPEG blocks; a tile is ~250x cheaper than drawing 12 M random pixels.
_NOISE_TILE = 509


def _base(rng: random.Random, width: int, height: int) -> Image.Image:
    """Low-resolution composition: a two-colour gradient, many shapes and coarse texture."""
    nprng = np.random.default_rng(rng.getrandbits(32))
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    c0 = np.array([rng.randint(0, 255) for _ in range(3)], np.float32)
    c1 = np.array([rng.randint(0, 255) for _ in range(3)], np.float32)
    angle = rng.random() * 2 * np.pi
    t = np.cos(angle) * x / max(width, 1) + np.sin(angle) * y / max(height, 1)
    t = (t - t.min()) / max(float(np.ptp(t)), 1e-6)
    arr = c0 * (1 - t[..., None]) + c1 * t[..., None]
    img = Image.fromarray(arr.clip(0, 255).astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(img)
    # Many shapes of several scales so distinct seeds give structurally different images (PDQ
    # distances near 128) rather than images told apart only by their gradient.
    for _ in range(rng.randint(14, 28)):
        x0, y0 = rng.randrange(-width // 8, width), rng.randrange(-height // 8, height)
        w = rng.randint(width // 25 + 1, width // 2 + 2)
        h = rng.randint(height // 25 + 1, height // 2 + 2)
        colour = tuple(rng.randint(0, 255) for _ in range(3))
        pick = rng.random()
        if pick < 0.4:
            draw.ellipse([x0, y0, x0 + w, y0 + h], fill=colour)
        elif pick < 0.75:
            draw.rectangle([x0, y0, x0 + w, y0 + h], fill=colour)
        else:
            pts = [(x0 + rng.randint(0, w), y0 + rng.randint(0, h)) for _ in range(rng.randint(3, 6))]
            draw.polygon(pts, fill=colour)
    # Mottling at ~1/50 of the frame (near the scale PDQ samples, 64x64): without it an image
    # dominated by one flat shape gets a low PDQ quality, which real photos rarely do.
    mottle = nprng.integers(0, 256, (max(2, height // 10), max(2, width // 10)), dtype=np.uint8)
    soft = np.asarray(Image.fromarray(mottle, "L").resize((width, height), Image.Resampling.BICUBIC))
    # Fine texture: after upscaling it becomes soft mid-frequency variation like real surfaces.
    texture = nprng.integers(-8, 9, (height, width, 1), dtype=np.int16)
    out = np.asarray(img, np.int16) + texture + ((soft.astype(np.int16) - 128) // 6)[:, :, None]
    return Image.fromarray(out.clip(0, 255).astype(np.uint8), "RGB")


def photo_image(seed: int, width: int = SIZE_12MP[0], height: int = SIZE_12MP[1]) -> Image.Image:
    """A deterministic photo-sized abstract RGB image, fast at any size (~0.25 s at 12 MP).

    Composed at 1/8 resolution, upscaled bicubically (soft edges, like optics), then fine grain
    from a tiled noise patch is added (sensor-like high frequencies, so JPEG sizes are realistic).
    """
    rng = random.Random(seed)
    small = _base(rng, max(8, width // 8), max(8, height // 8))
    img = small.resize((width, height), Image.Resampling.BICUBIC)
    nprng = np.random.default_rng(rng.getrandbits(32))
    tile = Image.fromarray(nprng.integers(118, 139, (_NOISE_TILE, _NOISE_TILE, 3), dtype=np.uint8), "RGB")
    noise = Image.new("RGB", (width, height))
    ox, oy = rng.randrange(_NOISE_TILE), rng.randrange(_NOISE_TILE)
    for ty in range(-oy, height, _NOISE_TILE):
        for tx in range(-ox, width, _NOISE_TILE):
            noise.paste(tile, (tx, ty))
    # (img + noise) / 1 - 128: adds the tile's signed grain (-10..+10) with clipping, all in C.
    return ImageChops.add(img, noise, 1.0, -128)


def invented_exif(seed: int) -> ExifInfo:
    """Invented camera metadata for tests: fictitious maker, model, serial, time and place."""
    rng = random.Random(seed)
    return ExifInfo(
        make="Acme Synthetic",
        model=f"SynthCam {rng.randint(1, 9)}",
        body_serial=f"SYN-{rng.randrange(16**8):08X}",
        capture_time=(
            f"20{rng.randint(10, 24):02d}:{rng.randint(1, 12):02d}:{rng.randint(1, 28):02d} "
            f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}"
        ),
        gps_lat=round(rng.uniform(-80, 80), 6),
        gps_lon=round(rng.uniform(-179, 179), 6),
        orientation=1,
    )


def _dms(value: float) -> tuple[IFDRational, IFDRational, IFDRational]:
    """Decimal degrees to EXIF degrees/minutes/seconds rationals (seconds to 1/10000)."""
    value = abs(value)
    deg = int(value)
    minutes_f = (value - deg) * 60
    minutes = int(minutes_f)
    seconds = Fraction(round((minutes_f - minutes) * 60 * 10000), 10000)
    return IFDRational(deg, 1), IFDRational(minutes, 1), IFDRational(seconds.numerator, seconds.denominator)


def exif_bytes(info: ExifInfo) -> bytes:
    """Serialise ``info`` as an EXIF block (the payload Pillow's ``save(exif=...)`` takes)."""
    exif = Image.Exif()
    if info.make is not None:
        exif[0x010F] = info.make
    if info.model is not None:
        exif[0x0110] = info.model
    if info.orientation is not None:
        exif[0x0112] = info.orientation
    sub = exif.get_ifd(0x8769)
    if info.capture_time is not None:
        sub[0x9003] = info.capture_time
    if info.body_serial is not None:
        sub[0xA431] = info.body_serial
    if info.gps_lat is not None and info.gps_lon is not None:
        gps = exif.get_ifd(0x8825)
        gps[0] = b"\x02\x03\x00\x00"
        gps[1] = "N" if info.gps_lat >= 0 else "S"
        gps[2] = _dms(info.gps_lat)
        gps[3] = "E" if info.gps_lon >= 0 else "W"
        gps[4] = _dms(info.gps_lon)
    return exif.tobytes()


def photo_jpeg(
    seed: int,
    width: int = SIZE_12MP[0],
    height: int = SIZE_12MP[1],
    quality: int = 90,
    exif: ExifInfo | None = None,
) -> bytes:
    """JPEG bytes of :func:`photo_image`, optionally with ``exif`` (see :func:`invented_exif`)."""
    params: dict[str, object] = {"quality": quality}
    if exif is not None:
        params["exif"] = exif_bytes(exif)
    return encode(photo_image(seed, width, height), "JPEG", **params)


# --- edits an offender's copy typically went through --------------------------------------------


def edits(img: Image.Image, crop_fraction: float = 0.01) -> dict[str, Image.Image]:
    """Benign transformations a redistributed copy typically went through, by name.

    resize (to 50%), recompress (JPEG quality 25), crop (``crop_fraction`` of each dimension, half
    from each edge: ~2% of the area by default), brightness (+25%), blur (Gaussian, radius 1/400
    of the short side), grayscale. All are edits PDQ is designed to survive. The crop is kept
    small on purpose: PDQ is crop-sensitive (2% off every edge moves real photos 28-38 bits).
    """
    img = img.convert("RGB")
    w, h = img.size
    dx, dy = max(1, round(w * crop_fraction / 2)), max(1, round(h * crop_fraction / 2))
    recompressed = Image.open(io.BytesIO(encode(img, "JPEG", quality=25)))
    recompressed.load()
    return {
        "resize": img.resize((max(1, w // 2), max(1, h // 2)), Image.Resampling.LANCZOS),
        "recompress": recompressed,
        "crop": img.crop((dx, dy, w - dx, h - dy)),
        "brightness": ImageEnhance.Brightness(img).enhance(1.25),
        "blur": img.filter(ImageFilter.GaussianBlur(max(1.0, min(w, h) / 400))),
        "grayscale": img.convert("L"),
    }


# --- bad files ------------------------------------------------------------------------------------


def truncated_jpeg(seed: int, keep: float = 0.5, width: int = 640, height: int = 480) -> bytes:
    """A valid JPEG cut after ``keep`` of its bytes (as carved or half-downloaded files are)."""
    data = photo_jpeg(seed, width, height)
    return data[: max(64, int(len(data) * keep))]


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def bomb_png(width: int = 20_000, height: int = 10_000) -> bytes:
    """A tiny PNG declaring ``width`` x ``height`` 1-bit pixels (default 200,000,000).

    Only a few compressed rows follow, so the file is small; a decoder that trusted the header
    would allocate the full frame before noticing.
    """
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    row = b"\x00" + b"\x00" * ((width + 7) // 8)
    idat = zlib.compress(row * 4, 9)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", idat)
        + _png_chunk(b"IEND", b"")
    )


def corrupt_jpeg(seed: int, size: int = 4096) -> bytes:
    """JPEG magic (SOI + APP0 marker) followed by random bytes."""
    return b"\xff\xd8\xff\xe0" + random.Random(seed).randbytes(size)
