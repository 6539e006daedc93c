"""Videos join items by vPDQ, and a video frame matching an image joins them ("frame")."""

from __future__ import annotations

import hashlib
import random

from sqlalchemy import select

from tessera.items.grouping import update_items
from tessera.store import models as m
from tessera.store.case import CaseHandle
from tessera.store.models_items import Item, ItemMember
from tessera.store.models_video import VideoFrameRow


def _flip(hexhash: str, bits: int, rng: random.Random) -> str:
    v = int(hexhash, 16)
    for b in rng.sample(range(256), bits):
        v ^= 1 << b
    return f"{v:064x}"


def _media(s: object, name: str, kind: str, pdq: str | None = None) -> str:
    sha = hashlib.sha256(name.encode()).hexdigest()
    s.add(  # type: ignore[attr-defined]
        m.Media(
            sha256=sha,
            md5=sha[:32],
            sha1=sha[:40],
            size=1,
            kind=kind,
            pdq=pdq,
            pdq_quality=90 if pdq else None,
        )
    )
    return sha


def test_vpdq_and_frame_links(case: CaseHandle) -> None:
    rng = random.Random(3)
    scenes = [f"{rng.getrandbits(256):064x}" for _ in range(10)]
    with case.session() as s:
        v1 = _media(s, "clip-a.mp4", "video")
        v2 = _media(s, "clip-a-reencoded.mp4", "video")
        v3 = _media(s, "other.mp4", "video")
        still = _media(s, "still.jpg", "image", _flip(scenes[4], 6, rng))  # a frame grab, re-encoded
        lone = _media(s, "unrelated.jpg", "image", f"{rng.getrandbits(256):064x}")
        s.flush()
        for i, h in enumerate(scenes):
            s.add(VideoFrameRow(sha256=v1, frame=i, seconds=float(i), quality=90, pdq=h))
            s.add(VideoFrameRow(sha256=v2, frame=i, seconds=float(i), quality=90, pdq=_flip(h, 8, rng)))
            s.add(
                VideoFrameRow(
                    sha256=v3, frame=i, seconds=float(i), quality=90, pdq=f"{rng.getrandbits(256):064x}"
                )
            )
        s.flush()
        update_items(s)
        s.commit()
        rows = {r.sha256: r for r in s.scalars(select(ItemMember))}
        kinds = dict(s.execute(select(Item.id, Item.kind)).all())
    assert rows[v1].item_id == rows[v2].item_id == rows[still].item_id
    assert rows[v3].item_id not in (rows[v1].item_id, rows[lone].item_id)
    assert rows[lone].item_id != rows[v1].item_id
    assert kinds[rows[v1].item_id] == "mixed"
    vias = {rows[x].via for x in (v1, v2, still)}
    assert vias >= {"self", "frame"} and ("vpdq" in vias)
    video_link = rows[v2] if rows[v2].via == "vpdq" else rows[v1]
    assert video_link.via == "vpdq" and video_link.distance == 0  # every frame matched: 100 - 100 %
    frame_member = next(rows[x] for x in (v1, v2, still) if rows[x].via == "frame")
    assert 0 < frame_member.distance <= 31
