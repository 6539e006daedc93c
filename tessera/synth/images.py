"""Generated abstract images: gradients, shapes and noise. Nothing here depicts anything."""

from __future__ import annotations

import io
import random

import numpy as np
from PIL import Image, ImageDraw


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
    img.save(buf, format=fmt, **params)  # type: ignore[arg-type]
    return buf.getvalue()


def jpeg_bytes(seed: int, width: int = 640, height: int = 480, quality: int = 90) -> bytes:
    return encode(abstract_image(seed, width, height), "JPEG", quality=quality)
