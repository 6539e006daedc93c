"""Group a case's media into near-duplicate items (tables ``item`` / ``item_member``).

Links (see ``links``): two images within the case's PDQ threshold (setting ``item_threshold``, default
31, both hashes of quality >= 50, as in matching); two videos that match by vPDQ (80 % of one video's
usable frames within 31 bits of the other's, either way round: a clip of a longer video is the same
item); a video frame within the threshold of an image ("frame"). Media with no usable hash (documents,
unreadable or flat images) are items of their own, so every stored file has exactly one item.

Incremental like review clusters: media that already have an item are not searched again; only new media
are searched against everything, and items that new links join are merged, keeping the item whose key
(smallest member SHA-256) is the merged item's key, so item ids stay stable while nothing joins them.
A touched item is re-oriented from its key over its stored links and the new ones.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import delete, func, select, text, update
from sqlalchemy.orm import Session

from tessera.hashing.algorithms import ALGORITHMS
from tessera.hashing.video import MATCH_PERCENT
from tessera.items.links import VIA_ORDER, Links, pdq_links, spanning_forest
from tessera.matching.pdq import PdqIndex, hex_to_rows
from tessera.matching.video import VideoIndex
from tessera.store import models as m
from tessera.store.models_items import Item, ItemMember
from tessera.store.models_video import VideoFrameRow

#: Images link by PDQ and videos by vPDQ, at the thresholds and minimum qualities those algorithms define.
_PDQ = ALGORITHMS.get("pdq")
_VPDQ = ALGORITHMS.get("vpdq")
#: Rows per bulk statement: bounded memory and parameter counts on SQLite and PostgreSQL.
CHUNK = 20_000


#: Advisory lock key of item grouping (PostgreSQL).
_LOCK = 0x7E55_17E5
_ADVANCE = "SELECT setval(pg_get_serial_sequence('item', 'id'), (SELECT MAX(id) FROM item))"


def case_threshold(session: Session) -> int:
    case = session.scalar(select(m.Case).limit(1))
    settings: dict[str, Any] = (case.settings if case else None) or {}
    return int(settings.get("item_threshold", _PDQ.default_threshold))


@dataclass
class Grouped:
    new: int  # media that got their first item
    merged: int  # existing items absorbed into another
    items: int  # items written (created or changed)


def update_items(session: Session, threshold: int | None = None) -> Grouped:
    """Give every medium without an item one; returns what changed (the caller commits)."""
    radius = case_threshold(session) if threshold is None else threshold
    if session.get_bind().dialect.name == "postgresql":
        # One grouping at a time per case (the workstation, a report and an ingest may each start one):
        # ids are handed out as max + 1 below, and two writers would collide.
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK})
    # Every member row names a stored medium: equal counts mean nothing is new (no need to load them).
    n_media = session.scalar(select(func.count()).select_from(m.Media)) or 0
    if n_media == (session.scalar(select(func.count()).select_from(ItemMember)) or 0):
        return Grouped(0, 0, 0)
    # Plain Core rows through the session's connection: no ORM row processing for a million media.
    conn = session.connection()
    mt: Any = m.Media.__table__
    media: Any = conn.execute(
        select(mt.c.sha256, mt.c.kind, mt.c.pdq, mt.c.pdq_quality).order_by(mt.c.sha256)
    ).all()
    old: dict[str, tuple[int, str, str | None, int | None]] = {
        sha: (item, via, linked, dist)
        for sha, item, via, linked, dist in conn.execute(
            select(
                ItemMember.sha256,
                ItemMember.item_id,
                ItemMember.via,
                ItemMember.linked_to,
                ItemMember.distance,
            )
        )
    }
    shas = [r[0] for r in media]
    node = {s: i for i, s in enumerate(shas)}
    is_new = np.fromiter((s not in old for s in shas), bool, len(shas))
    if not is_new.any():
        return Grouped(0, 0, 0)
    kinds = [r[1] for r in media]
    links = Links()

    # Images: every usable hash in one index; only new ones are searched.
    img = [i for i, r in enumerate(media) if r[1] != "video" and r[2] and _PDQ.usable(r[3])]
    img_nodes = np.asarray(img, np.int64)
    img_rows = hex_to_rows(str(media[i][2]) for i in img)
    image_index = PdqIndex(len(img))
    image_index.add(img_nodes, img_rows)
    new_img = is_new[img_nodes] if len(img) else np.zeros(0, bool)
    pdq_links(links, image_index, img_nodes[new_img], img_rows[new_img], radius)

    # Videos: vPDQ between videos, and each frame against the images ("frame" links), both ways round.
    frames: dict[int, list[tuple[int, int, str]]] = defaultdict(list)
    for sha, frame, quality, pdq in session.execute(
        select(VideoFrameRow.sha256, VideoFrameRow.frame, VideoFrameRow.quality, VideoFrameRow.pdq).where(
            VideoFrameRow.quality >= _VPDQ.min_quality
        )
    ):
        if sha in node:
            frames[node[sha]].append((frame, quality, pdq))
    if frames:
        _video_links(links, frames, is_new, image_index, img_nodes, img_rows, new_img, radius)

    a, b, d, via = links.arrays()
    kept = [
        (node[sha], node[linked], dist if dist is not None else 0, VIA_ORDER.index(v))
        for sha, (_, v, linked, dist) in old.items()
        if linked is not None and sha in node and linked in node and v in VIA_ORDER
    ]
    # Only items holding a new medium change: orient those (new nodes and the old items they touch).
    touched = set(np.flatnonzero(is_new).tolist()) | set(a.tolist()) | set(b.tolist())
    # An old item touched by a new link is rewritten whole (it may be merged or re-rooted).
    hit_items = {old[shas[x]][0] for x in touched if shas[x] in old}
    touched |= {node[s] for s, (item, *_rest) in old.items() if item in hit_items and s in node}
    forest = spanning_forest(len(shas), kept, a, b, d, via, np.asarray(sorted(touched), np.int64))
    return _write(session, shas, kinds, old, forest, touched)


def _video_links(
    links: Links,
    frames: dict[int, list[tuple[int, int, str]]],
    is_new: np.ndarray,
    image_index: PdqIndex,
    img_nodes: np.ndarray,
    img_rows: np.ndarray,
    new_img: np.ndarray,
    radius: int,
) -> None:
    videos = VideoIndex()
    for v, fr in frames.items():
        videos.add(v, fr)
    for v, fr in frames.items():
        if not is_new[v]:
            continue
        for hit in videos.search(fr, _VPDQ.default_threshold, 0.0, 0.0):
            best = max(hit.compared_percent, hit.query_percent)
            if hit.entry != v and best >= MATCH_PERCENT:
                links.add([v], [hit.entry], [100 - int(best)], "vpdq")
    frame_nodes = np.asarray([v for v, fr in frames.items() for _ in fr], np.int64)
    frame_rows = hex_to_rows(p for fr in frames.values() for _, _, p in fr)
    new_frames = is_new[frame_nodes]
    # New videos' frames against all images ...
    pdq_links(links, image_index, frame_nodes[new_frames], frame_rows[new_frames], radius, "frame")
    # ... and new images against all videos' frames.
    frame_index = PdqIndex(len(frame_nodes))
    frame_index.add(frame_nodes, frame_rows)
    pdq_links(links, frame_index, img_nodes[new_img], img_rows[new_img], radius, "frame")


def _write(
    session: Session,
    shas: list[str],
    kinds: list[str],
    old: dict[str, tuple[int, str, str | None, int | None]],
    forest: Any,
    touched: set[int],
) -> Grouped:
    comps: dict[int, list[int]] = defaultdict(list)
    for x in sorted(touched):
        comps[int(forest.root[x])].append(x)
    key_item = dict(session.execute(select(Item.key, Item.id)).all())
    next_id = (session.scalar(select(func.max(Item.id))) or 0) + 1
    new_items: list[dict[str, Any]] = []
    changed: list[dict[str, Any]] = []
    dropped: set[int] = set()
    members: list[dict[str, Any]] = []
    moved: list[str] = []
    for top, nodes in comps.items():
        key = shas[top]
        item_id = key_item.get(key)
        kind_set = {kinds[x] if kinds[x] in ("image", "video") else "other" for x in nodes}
        kind = kind_set.pop() if len(kind_set) == 1 else "mixed"
        if item_id is None:
            item_id, next_id = next_id, next_id + 1
            new_items.append({"id": item_id, "key": key, "kind": kind, "members": len(nodes)})
        else:
            changed.append({"id": item_id, "kind": kind, "members": len(nodes)})
        for x in nodes:
            sha = shas[x]
            prev = old.get(sha)
            if prev is not None:
                if prev[0] != item_id:
                    dropped.add(prev[0])
                moved.append(sha)
            p = int(forest.parent[x])
            members.append(
                {
                    "sha256": sha,
                    "item_id": item_id,
                    "via": VIA_ORDER[int(forest.via[x])] if p >= 0 else "self",
                    "linked_to": shas[p] if p >= 0 else None,
                    "distance": int(forest.distance[x]) if p >= 0 else None,
                }
            )
    for start in range(0, len(moved), CHUNK):
        session.execute(delete(ItemMember).where(ItemMember.sha256.in_(moved[start : start + CHUNK])))
    dropped -= {c["id"] for c in changed}
    if dropped:
        session.execute(delete(Item).where(Item.id.in_(sorted(dropped))))
    # Core inserts: one executemany per chunk (the ORM's bulk path splits rows by which values are None).
    item_t: Any = Item.__table__
    member_t: Any = ItemMember.__table__
    for start in range(0, len(new_items), CHUNK):
        session.execute(item_t.insert(), new_items[start : start + CHUNK])
    for c in changed:
        session.execute(update(Item).where(Item.id == c["id"]).values(kind=c["kind"], members=c["members"]))
    for start in range(0, len(members), CHUNK):
        session.execute(member_t.insert(), members[start : start + CHUNK])
    if new_items and session.get_bind().dialect.name == "postgresql":
        # Explicit ids do not move PostgreSQL's sequence: move it, so any insert without an id is safe.
        session.execute(text(_ADVANCE))
    session.flush()
    return Grouped(sum(1 for s in shas if s not in old), len(dropped), len(new_items) + len(changed))


def item_of(session: Session, sha256: str) -> int | None:
    return session.scalar(select(ItemMember.item_id).where(ItemMember.sha256 == sha256))


def members_of(session: Session, item_id: int) -> list[dict[str, Any]]:
    rows = session.execute(
        select(ItemMember.sha256, ItemMember.via, ItemMember.linked_to, ItemMember.distance)
        .where(ItemMember.item_id == item_id)
        .order_by(ItemMember.sha256)
    )
    return [{"sha256": s, "via": v, "linked_to": lt, "distance": d} for s, v, lt, d in rows]
