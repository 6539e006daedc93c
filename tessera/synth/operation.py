"""A small synthetic operation for the demo: several seized devices and a known-material list.

Everything is generated: abstract images (gradients, shapes, noise), invented device and suspect ids.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image

from tessera.hashing import hash_item
from tessera.records import Opener
from tessera.synth.hashsets import vics_media
from tessera.synth.images import edits, encode, photo_image
from tessera.synth.trees import TreeManifest, make_device_tree


@dataclass
class SeizedDevice:
    id: str
    kind: str
    suspect: str
    path: Path
    manifest: TreeManifest


@dataclass
class Operation:
    root: Path
    known_list: Path
    devices: list[SeizedDevice] = field(default_factory=list)
    #: locator on a device -> what it is, for the demo's narrative
    planted: dict[str, str] = field(default_factory=dict)


def _jpeg(img: Image.Image, quality: int = 90) -> bytes:
    return encode(img, "JPEG", quality=quality)


def make_operation(root: Path, seed: int = 1, n_known: int = 6) -> Operation:
    root.mkdir(parents=True, exist_ok=True)
    known = [photo_image(seed * 1000 + k, 800, 600) for k in range(n_known)]
    known_bytes = [_jpeg(img) for img in known]
    entries = []
    for k, data in enumerate(known_bytes):
        rec = hash_item(Opener(data=data), fast_decode=False)
        entries.append(
            {
                "media_id": 5000 + k,
                "md5": rec.md5,
                "sha1": rec.sha1,
                "pdq": rec.pdq,
                "category": (1, 2, 1, 3, 1, 2)[k % 6],
                "series": f"Series {k % 2:02d}",
            }
        )
    known_list = root / "known-list.vics.json"
    vics_media(entries, version="2.0", out=known_list)
    op = Operation(root, known_list)

    wa = "/WhatsApp/Media/WhatsApp Images"
    e0, e3 = edits(known[0]), edits(known[3])
    plans: list[tuple[str, str, str, dict[str, bytes], dict[str, Any]]] = [
        (
            "D001",
            "phone",
            "S01",
            {
                f"{wa}/IMG-20240312-WA0007.jpg": known_bytes[0],
                f"{wa}/IMG-20240312-WA0008.jpg": known_bytes[1],
                f"{wa}/Sent/IMG-20240314-WA0011.jpg": _jpeg(e0["resize"]),
                "/Download/backup.zip!/saved/IMG-0002.jpg": known_bytes[2],
            },
            {"n_photos": 10, "n_chat": 8},
        ),
        (
            "D002",
            "computer",
            "S02",
            {
                "/Users/user/Pictures/edited/a.jpg": _jpeg(e3["grayscale"]),
                "/Users/user/Pictures/edited/b.jpg": _jpeg(e3["recompress"], 30),
                "/Users/user/Pictures/edited/c.jpg": _jpeg(e0["brightness"]),
                "/Users/user/Downloads/x.jpg": known_bytes[4],
            },
            {"n_photos": 14, "n_chat": 0},
        ),
        ("D003", "storage", "S01", {}, {"n_photos": 8, "n_chat": 4, "zip_bomb_size": 64 << 20}),
    ]
    for i, (dev_id, kind, suspect, plant, kw) in enumerate(plans):
        path = root / "evidence" / dev_id
        manifest = make_device_tree(path, seed * 10 + i, plant=plant, image_size=(640, 480), **kw)
        op.devices.append(SeizedDevice(dev_id, kind, suspect, path, manifest))
        for loc in plant:
            op.planted[f"{dev_id}:{loc}"] = "known copy" if plant[loc] in known_bytes else "edited known copy"
    return op
