"""Writing an Interpol ICSE CSV: the 12 columns of an ICSE export, hashes and metadata only, streamed.

The column list is the one ICSE exports carry and IPED's ``HashDBTool`` reads (sepinf-inc/IPED,
``iped-engine/src/main/java/iped/engine/hashdb/HashDBTool.java``): ``;``-separated, flags in five of
them. ICSE has no category, SHA-256 or PDQ column; callers count what they could not write.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping, Sequence
from typing import IO, Any

from tessera.hashing.algorithms import column_names
from tessera.hashsets._common import hex_digest

ICSE_COLUMNS = [
    "MD5",
    "SHA1",
    "PhotoDNA",
    "Image ID",
    "Is distributed",
    "Victim identified",
    "Offender identified",
    "Series name",
    "Number of submissions",
    "File Available",
    "Media Type",
    "Baseline",
]
#: Algorithm -> its ICSE column, from the axis.
ICSE_HASH_COLUMNS = column_names("icse")
#: Item key of each of the 12 columns, in order; flags are written Yes/No, unknown as an empty cell.
ITEM_KEYS = (
    "md5",
    "sha1",
    "photodna",
    "media_id",
    "is_distributed",
    "victim_identified",
    "offender_identified",
    "series",
    "number_of_submissions",
    "file_available",
    "media_type",
    "baseline",
)
FLAGS = frozenset(
    {"is_distributed", "victim_identified", "offender_identified", "file_available", "baseline"}
)
#: A column beyond the 12 (kept from an imported ICSE file) is given as ``columns`` (name -> text).
ITEM_FIELDS = frozenset({*ITEM_KEYS, "columns"})


def _cell(key: str, value: Any, where: str) -> str:
    if value is None:
        return ""  # ICSE's "unknown": never a made-up Yes/No or count
    if key in ("md5", "sha1"):
        return str(hex_digest(value, key, where) or "").upper()
    if key in FLAGS:
        return "Yes" if value else "No"
    return str(value)


def icse_row(item: Mapping[str, Any], index: int, extra_columns: Sequence[str] = ()) -> list[str]:
    """The cells of one item (1-based ``index`` names it in errors)."""
    where = f"item {index}"
    unknown = sorted(set(item) - ITEM_FIELDS)
    if unknown:
        raise ValueError(f"{where}: fields {unknown} cannot be exported as ICSE (hashes and metadata only)")
    if not any(item.get(k) for k in ICSE_HASH_COLUMNS):
        raise ValueError(f"{where}: no MD5, SHA-1 or PhotoDNA, which ICSE lists media by")
    columns = item.get("columns") or {}
    stray = sorted(set(columns) - set(extra_columns))
    if stray:
        raise ValueError(f"{where}: columns {stray} are not in the header")
    row = [_cell(key, item.get(key), where) for key in ITEM_KEYS]
    return row + ["" if columns.get(c) is None else str(columns[c]) for c in extra_columns]


def write_icse(out: IO[str], items: Iterable[Mapping[str, Any]], extra_columns: Sequence[str] = ()) -> int:
    """Write the header and one row per item to a text stream opened with ``newline=""``; return the
    count. ``extra_columns`` follow the 12 (columns an imported ICSE file had beyond them)."""
    w = csv.writer(out, delimiter=";", lineterminator="\r\n")
    w.writerow([*ICSE_COLUMNS, *extra_columns])
    count = 0
    for count, item in enumerate(items, 1):
        w.writerow(icse_row(item, count, extra_columns))
    return count
