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
        v4 = _media(s, "other-reencoded.mp4", "video")
        still = _media(s, "still.jpg", "image", _flip(scenes[4], 6, rng))  # a frame grab, re-encoded
        lone = _media(s, "unrelated.jpg", "image", f"{rng.getrandbits(256):064x}")
        s.flush()
        for i, h in enumerate(scenes):
            s.add(VideoFrameRow(sha256=v1, frame=i, seconds=float(i), quality=90, pdq=h))
            s.add(VideoFrameRow(sha256=v2, frame=i, seconds=float(i), quality=90, pdq=_flip(h, 8, rng)))
            other = f"{rng.getrandbits(256):064x}"
            s.add(VideoFrameRow(sha256=v3, frame=i, seconds=float(i), quality=90, pdq=other))
            s.add(VideoFrameRow(sha256=v4, frame=i, seconds=float(i), quality=90, pdq=_flip(other, 9, rng)))
        s.flush()
        update_items(s)
        s.commit()
        rows = {r.sha256: r for r in s.scalars(select(ItemMember))}
        kinds = dict(s.execute(select(Item.id, Item.kind)).all())
    assert rows[v1].item_id == rows[v2].item_id == rows[still].item_id
    assert rows[v3].item_id not in (rows[v1].item_id, rows[lone].item_id)
    assert rows[lone].item_id != rows[v1].item_id
    assert kinds[rows[v1].item_id] == "mixed"
    assert rows[v3].item_id == rows[v4].item_id and kinds[rows[v3].item_id] == "video"
    # Two videos alone: linked by vPDQ, every frame matched (distance 100 - 100 %).
    twin = rows[max(v3, v4)]
    assert (twin.via, twin.linked_to, twin.distance) == ("vpdq", min(v3, v4), 0)
    # The still joined through a frame (or the videos through it), within the threshold.
    vias = {rows[x].via for x in (v1, v2, still)}
    assert "frame" in vias and vias <= {"self", "frame", "vpdq"}
    frame_member = next(rows[x] for x in (v1, v2, still) if rows[x].via == "frame")
    assert 0 < frame_member.distance <= 31
