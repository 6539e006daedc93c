"""A case with many hits and problems, written straight into the store (no evidence, no hashing):
what the report's memory test and bench need to reach hundreds of thousands of hits in seconds.

Every file is its own media (derived digests, never real content) matched by one entry of one
set; every ``problem_every``-th file also carries an error, so both streamed lists grow together.
"""

from __future__ import annotations

import hashlib
from typing import Any

from sqlalchemy import insert

from tessera.store import models as m
from tessera.store.case import CaseHandle

#: Rows per INSERT batch: large enough to be quick, small enough to keep the writer's memory flat.
BATCH = 5000


def _digests(i: int) -> tuple[str, str, str]:
    seed = f"bulk-hit-{i}".encode()
    return (
        hashlib.sha256(seed).hexdigest(),
        hashlib.md5(seed, usedforsecurity=False).hexdigest(),
        hashlib.sha1(seed, usedforsecurity=False).hexdigest(),
    )


def write_bulk_hits(case: CaseHandle, hits: int, device: str = "B1", problem_every: int = 10) -> None:
    """``hits`` files on ``device``, each a distinct media matching one SHA-256 entry of set "bulk"."""
    with case.session() as s:
        s.add(m.Device(id=device, kind="storage", source_path="/synthetic/bulk"))
        hs = m.HashSet(name="bulk", format="plain", entry_count=hits)
        s.add(hs)
        s.flush()
        set_id = hs.id
        conn = s.connection()
        for start in range(0, hits, BATCH):
            media: list[dict[str, Any]] = []
            entries: list[dict[str, Any]] = []
            files: list[dict[str, Any]] = []
            for i in range(start, min(hits, start + BATCH)):
                sha, md5, sha1 = _digests(i)
                media.append({"sha256": sha, "md5": md5, "sha1": sha1, "size": 1000 + i, "kind": "other"})
                entries.append({"id": i + 1, "hashset_id": set_id, "algorithm": "sha256", "value": sha})
                locator = f"/Pictures/bulk/{i // 1000:04d}/file-{i:07d}.bin"
                files.append(
                    {
                        "device_id": device,
                        "locator": locator,
                        "raw_path": locator.encode(),
                        "size": 1000 + i,
                        "sha256": sha,
                        "error": "synthetic read error at byte 512" if i % problem_every == 0 else None,
                    }
                )
            conn.execute(insert(m.Media), media)
            conn.execute(insert(m.HashEntry), entries)
            conn.execute(
                insert(m.Match),
                [
                    {"sha256": e["value"], "entry_id": e["id"], "hashset_id": set_id, "algorithm": "sha256"}
                    for e in entries
                ],
            )
            conn.execute(insert(m.File), files)
        s.commit()
