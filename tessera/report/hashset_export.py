"""Exporting an imported hash set again, as VICS or ICSE, with everything the format can carry.

An imported set is stored as entries (one per hash value) whose shared ``media_key`` links the
entries of one media item; fields Tessera does not otherwise use are kept in each entry's ``extra``
(:mod:`tessera.hashsets.vics`, :mod:`tessera.hashsets.delimited`). Exporting groups the entries back
into media items, in import order, so a set exported, imported elsewhere and exported again gives
the same file. What a format has no place for is counted in the result, never dropped unsaid:
ICSE has no category, SHA-256 or PDQ column; file content (a VICS 1.x ``Miniature`` thumbnail an
imported set carried) is never written to either.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Text, cast, select
from sqlalchemy.orm import Session

from tessera.hashsets._common import snake
from tessera.hashsets.delimited import icse_role
from tessera.hashsets.icse_export import ICSE_HASH_COLUMNS, write_icse
from tessera.hashsets.icse_export import ITEM_KEYS as ICSE_KEYS
from tessera.hashsets.vics_export import (
    CONTENT_FIELDS,
    VICS_HASH_FIELDS,
    VICS_VARIANTS,
    restore_fields,
    write_vics,
)
from tessera.store import models as m
from tessera.store.case import CaseHandle
from tessera.store.db import StoreError

#: ``extra`` keys Tessera itself adds (hub bookkeeping, vPDQ frames): not facts of the media item.
_INTERNAL = frozenset({"hub_seq", "conflict", "profile", "frames", "vics_names"})
#: Fields the VICS writer sets from an item's own keys: a stale copy in ``extra`` is not written twice.
_OWN_VICS = frozenset(
    {"MediaID", "Category", "MD5", "SHA1", "PhotoDNA", "Series", "VictimIdentified", "Exifs"}
)


@dataclass
class SetExport:
    """What an export wrote, and what it could not."""

    items: int = 0
    skipped: int = 0  # items the format cannot list (ICSE: no MD5, SHA-1 or PhotoDNA)
    not_written: Counter[str] = field(default_factory=Counter)  # field -> items whose value has no place
    withheld: Counter[str] = field(default_factory=Counter)  # content fields never exported


@dataclass
class _Item:
    key: str | None
    category: int | None
    series: str | None
    victim: bool | None
    extra: dict[str, Any]
    hashes: dict[str, list[str]]


def _hashset(s: Session, name: str) -> m.HashSet:
    hs = s.scalar(select(m.HashSet).where(m.HashSet.name == name))
    if hs is None:
        raise StoreError(f"no hash set named {name!r} (tessera hashset list)")
    return hs


def _decoded(text: str | None) -> dict[str, Any]:
    value = json.loads(text) if text else None
    return value if isinstance(value, dict) else {}  # JSON null is stored as the text "null"


def _grouped(s: Session, hashset_id: int) -> Iterator[_Item]:
    """Media items in import order: consecutive entries sharing a media key form one item."""
    q = (
        select(
            m.HashEntry.media_key,
            m.HashEntry.algorithm,
            m.HashEntry.value,
            m.HashEntry.category,
            m.HashEntry.series,
            m.HashEntry.victim_identified,
            # As text: the entries of one item share one extra, so only the first is decoded.
            cast(m.HashEntry.extra, Text),
        )
        .where(m.HashEntry.hashset_id == hashset_id)
        .order_by(m.HashEntry.id)
        .execution_options(yield_per=5000)
    )
    item: _Item | None = None
    for key, alg, value, category, series, victim, extra in s.execute(q):
        if item is None or key is None or key != item.key:
            if item is not None:
                yield item
            item = _Item(key, category, series, victim, _decoded(extra), {})
        item.hashes.setdefault(alg, []).append(value)
    if item is not None:
        yield item


def vics_variant(hs: m.HashSet, categorised: bool, version: str) -> str:
    """The 2.0 category scheme to name: the source file's when it matches the set's profile."""
    source = (hs.meta or {}).get("vics_variant")
    profile = (hs.profile or "vics-us").lower()
    variant = VICS_VARIANTS.get(profile)
    if variant is None:
        if categorised:
            raise StoreError(
                f"set {hs.name!r} has categories of profile {hs.profile!r}, which no VICS category scheme "
                "names; writing them as VICS would remap them"
            )
        variant = "US"
    if version != "2.0" and variant != "US" and categorised:
        raise StoreError(f"profile {hs.profile!r} has no VICS {version} category scheme (1.x is US only)")
    if isinstance(source, str) and VICS_VARIANTS.get(f"vics-{source.lower()}", variant) == variant:
        return source  # the spelling the source used ("Default" is read as US)
    return variant


def _vics_item(it: _Item, version: str, cases: bool, result: SetExport) -> dict[str, Any] | None:
    extra = dict(it.extra)
    exif = extra.pop("exif", None)
    series_value = extra.pop("series_value", None)
    media_id = extra.pop("media_id", None)
    names = extra.get("vics_names")
    for key in _INTERNAL:
        extra.pop(key, None)
    if names:
        extra["vics_names"] = names
    restored, withheld = restore_fields(extra, version)
    result.withheld.update(withheld)
    out: dict[str, Any] = {}
    for alg, values in it.hashes.items():
        if alg not in VICS_HASH_FIELDS:
            result.not_written[alg] += 1  # vPDQ and plugin algorithms: VICS names no such hash
            continue
        out[alg] = values[0]
        out.setdefault("more_hashes", []).extend((alg, v) for v in values[1:])
    if not any(alg in out for alg in VICS_HASH_FIELDS):
        result.skipped += 1
        return None
    if media_id is not None and not cases:
        out["media_id"] = media_id
    elif it.key is not None:
        out["media_id"] = it.key  # MediaIDs of a #Cases file repeat across cases: the key is unique
    out["category"] = it.category
    out["series"] = series_value if series_value is not None else it.series
    out["victim_identified"] = it.victim
    if exif:
        out["exif"] = exif
    alternatives = restored.pop("AlternativeHashes", None)
    if isinstance(alternatives, list) and all(isinstance(a, dict) for a in alternatives):
        out["alternative_hashes"] = alternatives
    elif alternatives is not None:
        restored["AlternativeHashes"] = alternatives
    files = restored.pop("MediaFiles", None)
    if isinstance(files, list) and all(isinstance(f, dict) for f in files):
        out["media_files"] = [{"fields": f} for f in files]
    elif files is not None:
        restored["MediaFiles"] = files
    fields = {k: v for k, v in restored.items() if k not in _OWN_VICS}
    if fields:
        out["fields"] = fields
    return {k: v for k, v in out.items() if v is not None}


def export_set_vics(case: CaseHandle, name: str, out: Path, version: str = "2.0") -> SetExport:
    """Write hash set ``name`` as a VICS ``#Media`` file (see the module docstring)."""
    result = SetExport()
    with case.session() as s:
        hs = _hashset(s, name)
        categorised = (
            s.scalar(
                select(m.HashEntry.id)
                .where(m.HashEntry.hashset_id == hs.id, m.HashEntry.category.is_not(None))
                .limit(1)
            )
            is not None
        )
        variant = vics_variant(hs, categorised, version)
        cases = (hs.meta or {}).get("kind") == "cases"

        def items() -> Iterator[dict[str, Any]]:
            for it in _grouped(s, hs.id):
                item = _vics_item(it, version, cases, result)
                if item is not None:
                    yield item

        with out.open("w", encoding="utf-8") as fh:
            result.items = write_vics(fh, items(), version=version, variant=variant)
    return result


def _icse_extra_columns(hs: m.HashSet) -> list[str]:
    """Columns an imported ICSE file had beyond the 12, under their own names."""
    if hs.format != "icse":
        return []
    return [c for c in (hs.meta or {}).get("columns", []) if icse_role(c) is None]


def _icse_item(it: _Item, extra_columns: dict[str, str], result: SetExport) -> dict[str, Any] | None:
    out: dict[str, Any] = {}
    for alg, values in it.hashes.items():
        if alg in ICSE_HASH_COLUMNS:
            out[alg] = values[0]
            if len(values) > 1:
                result.not_written[f"second {alg}"] += 1
        else:
            result.not_written[alg] += 1
    if not out:
        result.skipped += 1
        return None
    extra = {k: v for k, v in it.extra.items() if k not in _INTERNAL and not k.endswith("_raw")}
    extra.pop("series_value", None)  # a VICS list or object: ICSE's series is the joined text
    out["series"] = it.series
    out["victim_identified"] = it.victim
    for key in ICSE_KEYS:
        if key in extra:
            out[key] = extra.pop(key)
    columns = {name: extra.pop(key) for name, key in extra_columns.items() if key in extra}
    if columns:
        out["columns"] = columns
    if it.category is not None:
        result.not_written["category"] += 1
    for key in extra:
        if key.lower() in CONTENT_FIELDS:
            result.withheld[key] += 1
        else:
            result.not_written[key] += 1
    return out


def export_set_icse(case: CaseHandle, name: str, out: Path) -> SetExport:
    """Write hash set ``name`` as an ICSE CSV: the 12 columns, then any the imported file had beyond."""
    result = SetExport()
    with case.session() as s:
        hs = _hashset(s, name)
        extra_columns = {c: snake(c) for c in _icse_extra_columns(hs)}

        def items() -> Iterator[dict[str, Any]]:
            for it in _grouped(s, hs.id):
                item = _icse_item(it, extra_columns, result)
                if item is not None:
                    yield item

        with out.open("w", encoding="utf-8", newline="") as fh:
            result.items = write_icse(fh, items(), list(extra_columns))
    return result
