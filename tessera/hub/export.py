"""Exporting the hub's entries as VICS 2.0 JSON or an ICSE-style CSV: hashes and metadata only.

Withdrawn entries are left out; contributors are never exported (the files go to other agencies and
to ICSE, which the sharing policy does not let see who contributed what), nor how many agencies
contributed (ICSE's "Number of submissions" stays empty). ICSE exports have no category, SHA-256 or
PDQ columns: the format carries MD5, SHA-1, series and the victim flag, in its 12 columns.

A VICS 2.0 file names one category scheme in its context URL (``.../2.0.xml/US/$metadata`` or
``/UK/``), so a file holds categories of one profile only: a UK-CAID 2 written into a US file would
silently become a US 2, the remap SPEC forbids. Entries of other profiles are left out, and a hub
holding several profiles must be exported once per profile.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tessera.hashsets.icse_export import ICSE_COLUMNS, write_icse
from tessera.hashsets.vics_export import VICS_VARIANTS, write_vics
from tessera.hub import models as hm
from tessera.hub.db import HubError

__all__ = ["ICSE_COLUMNS", "export_icse", "export_vics", "profiles", "vics_items", "vics_variant"]


def _entries(s: Session) -> Iterator[hm.Entry]:
    q = select(hm.Entry).where(hm.Entry.withdrawn.is_(False)).order_by(hm.Entry.id)
    yield from s.scalars(q.execution_options(yield_per=5000))


def profiles(s: Session) -> list[str]:
    """The category profiles of the hub's live, categorised entries."""
    q = (
        select(hm.Entry.profile)
        .where(hm.Entry.withdrawn.is_(False), hm.Entry.category.is_not(None))
        .distinct()
    )
    return sorted(p or "vics-us" for p in s.scalars(q))


def vics_variant(s: Session, profile: str | None, version: str) -> tuple[str, str]:
    """(profile, VICS scheme) of an export; HubError when it cannot be written without a remap."""
    if profile is None:
        held = profiles(s)
        if len(held) > 1:
            raise HubError(
                f"the hub holds categories of several profiles ({', '.join(held)}); a VICS file names "
                "one category scheme: export each with --profile"
            )
        profile = held[0] if held else "vics-us"
    variant = VICS_VARIANTS.get(profile.lower())
    if variant is None or (version != "2.0" and variant != "US"):
        raise HubError(f"profile {profile!r} has no VICS {version} category scheme; it cannot be exported")
    return profile, variant


def vics_items(s: Session, profile: str | None = None) -> Iterator[dict[str, Any]]:
    """Entries as VICS items; with ``profile``, categorised entries of other profiles are left out."""
    for e in _entries(s):
        if profile is not None and e.category is not None and (e.profile or "vics-us") != profile:
            continue
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


def export_vics(s: Session, out: Path, version: str = "2.0", profile: str | None = None) -> int:
    """Write one profile's entries (and the uncategorised ones); see the module docstring."""
    profile, variant = vics_variant(s, profile, version)
    with out.open("w", encoding="utf-8") as fh:
        return write_vics(fh, vics_items(s, profile), version=version, variant=variant)


def icse_items(s: Session) -> Iterator[dict[str, Any]]:
    for e in _entries(s):
        if not (e.md5 or e.sha1):
            continue  # ICSE identifies media by MD5/SHA-1; an entry with neither cannot be listed
        # PhotoDNA, distribution, offender, submissions and baseline: the hub does not hold them
        # (or may not tell: submissions), so they stay empty. Files never leave: "No".
        yield {
            "md5": e.md5,
            "sha1": e.sha1,
            "media_id": e.sha256[:32],
            "victim_identified": e.victim_identified,
            "series": e.series,
            "file_available": False,
            "media_type": "Image" if e.pdq else None,  # PDQ is an image hash; otherwise not known here
        }


def export_icse(s: Session, out: Path) -> int:
    with out.open("w", encoding="utf-8", newline="") as fh:
        return write_icse(fh, icse_items(s))
