"""Building known-material scenarios for ingest tests from tessera.synth."""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

from tessera.hashing import hash_item
from tessera.records import Opener
from tessera.synth.hashsets import vics_media
from tessera.synth.images import edits, encode, photo_image


@dataclass
class Scenario:
    known: dict[str, bytes] = field(default_factory=dict)  # name -> original JPEG bytes
    plant: dict[str, bytes] = field(default_factory=dict)  # locator -> bytes on the device
    edited: dict[str, tuple[str, str]] = field(default_factory=dict)  # locator -> (known name, edit)
    unrelated: list[str] = field(default_factory=list)  # locators of new, unrelated images


def jpeg(img: Image.Image, quality: int = 90) -> bytes:
    return encode(img, "JPEG", quality=quality)


def build_scenario(n_known: int = 4, n_unrelated: int = 6, size: tuple[int, int] = (640, 480)) -> Scenario:
    sc = Scenario()
    for k in range(n_known):
        img = photo_image(5000 + k, *size)
        name = f"known{k}"
        sc.known[name] = jpeg(img)
        sc.plant[f"/WhatsApp/Media/WhatsApp Images/IMG-known-{k}.jpg"] = sc.known[name]
        for edit, out in edits(img).items():
            loc = f"/Pictures/edited/{name}-{edit}.jpg"
            sc.plant[loc] = jpeg(out, 25 if edit == "recompress" else 90)
            sc.edited[loc] = (name, edit)
    for u in range(n_unrelated):
        loc = f"/Pictures/new/unrelated-{u}.jpg"
        sc.plant[loc] = jpeg(photo_image(9000 + u, *size))
        sc.unrelated.append(loc)
    # One known image only inside an archive: matches must follow chained locators.
    sc.plant["/Download/backup.zip!/photos/known0-copy.jpg"] = sc.known["known0"]
    return sc


def known_vics(sc: Scenario, path: Path, version: str = "2.0") -> Path:
    entries = []
    for i, (_name, data) in enumerate(sorted(sc.known.items())):
        rec = hash_item(Opener(data=data), fast_decode=False)
        entries.append(
            {"media_id": 100 + i, "md5": rec.md5, "sha1": rec.sha1, "pdq": rec.pdq, "category": 1 + i % 3}
        )
    vics_media(entries, version=version, out=path)
    return path


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def decode(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data))
