"""Exporting the hub's entries as VICS 2.0 JSON or an ICSE-style CSV: hashes and metadata only.

Withdrawn entries are left out; contributors are never exported (the files go to other agencies and
to ICSE, which the sharing policy does not let see who contributed what). ICSE exports have no
category, SHA-256 or PDQ columns: the format carries MD5, SHA-1, series and the victim flag.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tessera.hashsets.vics_export import write_vics
from tessera.hub import models as hm

ICSE_COLUMNS = ["MD5", "SHA1", "Image ID", "Victim Identified", "Series Name"]


def _entries(s: Session) -> Iterator[hm.Entry]:
    q = select(hm.Entry).where(hm.Entry.withdrawn.is_(False)).order_by(hm.Entry.id)
    yield from s.scalars(q.execution_options(yield_per=5000))


def vics_items(s: Session) -> Iterator[dict[str, Any]]:
    for e in _entries(s):
        item: dict[str, Any] = {
            "media_id": e.sha256[:32],
            "md5": e.md5,
            "sha1": e.sha1,
            "sha256": e.sha256,
            "pdq": e.pdq,
            "category": e.category,
            "series": e.series,
            "victim_identified": e.victim_identified,
        }
        yield {k: v for k, v in item.items() if v is not None}


def export_vics(s: Session, out: Path, version: str = "2.0") -> int:
    with out.open("w", encoding="utf-8") as fh:
        return write_vics(fh, vics_items(s), version=version)


def export_icse(s: Session, out: Path) -> int:
    n = 0
    with out.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, delimiter=";", lineterminator="\r\n")
        w.writerow(ICSE_COLUMNS)
        for e in _entries(s):
            if not (e.md5 or e.sha1):
                continue  # ICSE identifies media by MD5/SHA-1; an entry with neither cannot be listed
            victim = "" if e.victim_identified is None else ("Yes" if e.victim_identified else "No")
            w.writerow([(e.md5 or "").upper(), (e.sha1 or "").upper(), e.sha256[:32], victim, e.series or ""])
            n += 1
    return n
