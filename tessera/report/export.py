"""Exporting case media as hash sets (VICS, ICSE; vPDQ for videos): hashes and metadata, never files."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tessera.hashsets.icse_export import write_icse
from tessera.hashsets.vics_export import write_vics
from tessera.series import series_map, vics_value
from tessera.store import models as m
from tessera.store.case import CaseHandle
from tessera.store.models_video import VideoFrameRow
from tessera.store.queries import new_material_filter

#: Media read and described per round of queries: four set-based queries per page, never per media.
_PAGE = 1000


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
        page: list[m.Media] = []
        for media in s.scalars(q.execution_options(yield_per=_PAGE)):
            page.append(media)
            if len(page) == _PAGE:
                yield from _described(s, page, named)
                page = []
        yield from _described(s, page, named)


def _described(s: Session, page: list[m.Media], named: dict[str, Any]) -> Iterator[dict[str, Any]]:
    shas = [media.sha256 for media in page]
    if not shas:
        return
    matched: dict[str, list[tuple[Any, ...]]] = defaultdict(list)
    for sha, *row in s.execute(
        select(
            m.Match.sha256,
            m.HashEntry.category,
            m.HashEntry.series,
            m.HashEntry.victim_identified,
            m.HashEntry.extra,
        )
        .join(m.HashEntry, m.Match.entry_id == m.HashEntry.id)
        .where(m.Match.sha256.in_(shas))
        .order_by(m.Match.sha256, m.Match.distance, m.Match.id)
    ):
        matched[sha].append(tuple(row))
    decided: dict[str, int | None] = {}
    for sha, category in s.execute(
        select(m.Decision.sha256, m.Decision.category)
        .where(m.Decision.sha256.in_(shas))
        .order_by(m.Decision.id)
    ):
        decided[sha] = category  # the latest decision wins
    files = _media_files(s, shas)
    for media in page:
        rows = matched.get(media.sha256, [])
        cat = next((row[0] for row in rows if row[0] is not None), None)
        decision = decided.get(media.sha256)
        yield {
            "media_id": media.sha256[:32],
            "md5": media.md5,
            "sha1": media.sha1,
            "sha256": media.sha256,
            "category": decision if decision is not None else cat,
            **_matched(rows, vics_value(named.get(media.sha256))),
            "media_size": media.size,
            "mime_type": media.mime,
            "pdq": media.pdq,
            "kind": media.kind,
            "media_files": files.get(media.sha256, []),
        }


#: Flags a known set states about its media (VICS/ICSE fields kept in the entry's ``extra``).
_FLAGS = ("offender_identified", "is_distributed")


def _matched(rows: list[tuple[Any, ...]], named: str | None) -> dict[str, Any]:
    """Series, victim, offender and distribution flags: each from the closest matched entry that
    states it (``rows`` in match distance order; the series a reviewer named comes first); None
    (unknown, written as absent) where nothing says."""
    out: dict[str, Any] = {"series": named, "victim_identified": None, **dict.fromkeys(_FLAGS)}
    for _category, series, victim, extra in rows:
        if out["series"] is None:
            out["series"] = series
        if out["victim_identified"] is None:
            out["victim_identified"] = victim
        for key in _FLAGS:
            value = (extra or {}).get(key)
            if out[key] is None and isinstance(value, bool):
                out[key] = value
    return out


def _when(seconds: float | None) -> datetime | None:
    return None if seconds is None else datetime.fromtimestamp(seconds, UTC)


def _media_files(s: Session, shas: list[str]) -> dict[str, list[dict[str, Any]]]:
    """The case's files holding each media, as VICS ``MediaFiles``: the locator is the path (it names
    the file inside archives and images), the device the source; a deleted file is unallocated."""
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    files = s.execute(
        select(
            m.File.sha256,
            m.File.device_id,
            m.File.locator,
            m.File.crtime,
            m.File.mtime,
            m.File.atime,
            m.File.deleted,
        )
        .where(m.File.sha256.in_(shas))
        .order_by(m.File.sha256, m.File.device_id, m.File.locator, m.File.id)
    )
    for sha, device, locator, crtime, mtime, atime, deleted in files:
        out[sha or ""].append(
            {
                "file_name": PurePosixPath(locator.rsplit("!", 1)[-1]).name or locator,
                "file_path": locator,
                "source_id": device,
                "created": _when(crtime),
                "written": _when(mtime),
                "accessed": _when(atime),
                "unallocated": bool(deleted),
            }
        )
    return out


def export_vics(case: CaseHandle, out: Path, scope: str = "new", version: str = "2.0") -> int:
    count = 0

    def counted() -> Iterator[dict[str, Any]]:
        nonlocal count
        for item in _items(case, scope):
            count += 1
            item.pop("kind")
            item["media_files"] = [{k: v for k, v in f.items() if v is not None} for f in item["media_files"]]
            yield {k: v for k, v in item.items() if v is not None and v != []}

    with out.open("w", encoding="utf-8") as fh:
        write_vics(fh, counted(), version=version)
    return count


def export_icse(case: CaseHandle, out: Path, scope: str = "new") -> int:
    """The case's media as ICSE rows: ICSE has no category, SHA-256 or PDQ column, and files never
    leave the case (``File Available`` is No); what no source states stays empty."""
    kinds = {"image": "Image", "video": "Video"}
    with out.open("w", encoding="utf-8", newline="") as fh:
        return write_icse(
            fh,
            (
                {
                    "md5": it["md5"],
                    "sha1": it["sha1"],
                    "media_id": it["media_id"],
                    "is_distributed": it["is_distributed"],
                    "victim_identified": it["victim_identified"],
                    "offender_identified": it["offender_identified"],
                    "series": it["series"],
                    "file_available": False,
                    "media_type": kinds.get(it["kind"]),
                }
                for it in _items(case, scope)
            ),
        )


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
