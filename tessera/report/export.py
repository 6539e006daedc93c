"""Exporting case media as hash sets (VICS; vPDQ for videos): hashes and metadata, never files."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import select

from tessera.hashsets.vics_export import write_vics
from tessera.series import series_map, vics_value
from tessera.store import models as m
from tessera.store.case import CaseHandle
from tessera.store.models_video import VideoFrameRow
from tessera.store.queries import new_material_filter


def _items(
    case: CaseHandle, scope: str, kinds: tuple[str, ...] = ("image", "video")
) -> Iterator[dict[str, Any]]:
    with case.session() as s:
        named = series_map(s)  # series reviewers named (issue 14): the VICS "Series" field
        q = select(m.Media).where(m.Media.kind.in_(kinds)).order_by(m.Media.sha256)
        if scope == "new":
            q = q.where(new_material_filter())
        elif scope == "matched":
            q = q.where(select(m.Match.id).where(m.Match.sha256 == m.Media.sha256).exists())
        for media in s.scalars(q.execution_options(yield_per=2000)):
            cat = s.scalar(
                select(m.HashEntry.category)
                .join(m.Match, m.Match.entry_id == m.HashEntry.id)
                .where(m.Match.sha256 == media.sha256, m.HashEntry.category.is_not(None))
                .order_by(m.Match.distance)
                .limit(1)
            )
            decision = s.scalar(
                select(m.Decision.category)
                .where(m.Decision.sha256 == media.sha256)
                .order_by(m.Decision.id.desc())
                .limit(1)
            )
            yield {
                "media_id": media.sha256[:32],
                "md5": media.md5,
                "sha1": media.sha1,
                "sha256": media.sha256,
                "category": decision if decision is not None else cat,
                "series": vics_value(named.get(media.sha256)),
                "media_size": media.size,
                "pdq": media.pdq,
            }


def export_vics(case: CaseHandle, out: Path, scope: str = "new", version: str = "2.0") -> int:
    count = 0

    def counted() -> Iterator[dict[str, Any]]:
        nonlocal count
        for item in _items(case, scope):
            count += 1
            yield item

    with out.open("w", encoding="utf-8") as fh:
        write_vics(fh, counted(), version=version)
    return count


def export_vpdq(case: CaseHandle, out: Path, scope: str = "new") -> int:
    """Videos with frame hashes as tessera-vpdq JSON Lines (``tessera.hashsets.vpdq``), one per line."""
    count = 0
    with out.open("w", encoding="utf-8") as fh, case.session() as s:
        for item in _items(case, scope, kinds=("video",)):
            frames = s.execute(
                select(VideoFrameRow.frame, VideoFrameRow.quality, VideoFrameRow.pdq, VideoFrameRow.seconds)
                .where(VideoFrameRow.sha256 == item["sha256"])
                .order_by(VideoFrameRow.frame)
            ).all()
            if not frames:
                continue  # not hashed (vpdq missing, unreadable video): nothing to match on
            line = {
                "id": item["media_id"],
                "category": item["category"],
                "md5": item["md5"],
                "sha1": item["sha1"],
                "sha256": item["sha256"],
                "frames": [f"{f},{q},{h},{sec:.3f}" for f, q, h, sec in frames],
            }
            fh.write(json.dumps(line, separators=(",", ":")) + "\n")
            count += 1
    return count
