"""Writing a VICS ``#Media`` JSON file: hashes and metadata only, streamed item by item.

Files never leave a case, so an item may only carry the fields listed in ``ITEM_FIELDS``; anything
else (bytes, thumbnails, paths to evidence files for copying) is refused rather than dropped, so a
caller cannot believe it exported something it did not. SHA-256 and PDQ have no column of their own
in the 1.x data models; both versions carry them in ``AlternativeHashes`` (``HashName``/``HashValue``),
which the reader in :mod:`tessera.hashsets.vics` reads back.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import IO, Any

from tessera.hashsets._common import category_value, hex_digest

VERSIONS = ("1.1", "1.2", "1.3", "2.0")

#: Item key -> VICS media field, in the order fields are written.
_SCALARS = {
    "category": "Category",
    "series": "Series",
    "victim_identified": "VictimIdentified",
    "offender_identified": "OffenderIdentified",
    "is_distributed": "IsDistributed",
    "is_precategorized": "IsPrecategorized",
    "is_suspected": "IsSuspected",
    "comments": "Comments",
    "tags": "Tags",
    "media_size": "MediaSize",
    "mime_type": "MimeType",
    "relative_file_path": "RelativeFilePath",
    "date_updated": "DateUpdated",
}
_BOOLEANS = frozenset(
    {"victim_identified", "offender_identified", "is_distributed", "is_precategorized", "is_suspected"}
)
_MEDIA_FILE_FIELDS = {
    "file_name": "FileName",
    "file_path": "FilePath",
    "source_id": "SourceID",
    "created": "Created",
    "written": "Written",
    "accessed": "Accessed",
    "deleted": "Deleted",
    "unallocated": "Unallocated",
}
ITEM_FIELDS = frozenset(
    {"md5", "sha1", "sha256", "pdq", "photodna", "media_id", "exif", "media_files", *_SCALARS}
)


def context_url(version: str, variant: str = "US") -> tuple[str, str]:
    """The (key, URL) naming the data model; ``variant`` is the 2.0 category scheme (US, UK, ...)."""
    if version == "2.0":
        base = "http://github.com/VICSDATAMODEL/ProjectVic/DataModels/2.0.xml"
        return "@odata.context", f"{base}/{variant}/$metadata#Media"
    return "odata.metadata", f"http://github.com/ICMEC/ProjectVic/DataModels/{version}.xml#Media"


def _when(value: Any, version: str) -> Any:
    """Datetimes as 1.x ``/Date(ms)/`` or 2.0 ISO 8601 UTC; text is written as given."""
    if not isinstance(value, datetime):
        return value
    value = value if value.tzinfo else value.replace(tzinfo=UTC)
    if version == "2.0":
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    return f"/Date({int(value.timestamp() * 1000)})/"


def _flag(value: Any, version: str) -> Any:
    if value is None:
        return None
    # 1.x readers in the field (older IPED, RECON) read flags as text; 2.0 is typed OData.
    return bool(value) if version == "2.0" else ("true" if value else "false")


def media_object(item: Mapping[str, Any], index: int, version: str) -> dict[str, Any]:
    """One VICS media object for ``item`` (1-based ``index`` names it in errors and is the default id)."""
    where = f"item {index}"
    unknown = sorted(set(item) - ITEM_FIELDS)
    if unknown:
        raise ValueError(f"{where}: fields {unknown} cannot be exported (hashes and metadata only)")
    digests = {alg: hex_digest(item.get(alg), alg, where) for alg in ("md5", "sha1", "sha256", "pdq")}
    if not any(digests.values()):
        raise ValueError(f"{where}: no MD5, SHA-1 or SHA-256 to export")
    media: dict[str, Any] = {"MediaID": item.get("media_id", index)}
    media["Category"] = category_value(item.get("category"), where)
    for alg in ("md5", "sha1"):
        if digests[alg]:
            media[alg.upper()] = str(digests[alg]).upper()
    for key, field in _SCALARS.items():
        if key == "category" or item.get(key) is None:
            continue
        value = item[key]
        if key in _BOOLEANS:
            value = _flag(value, version)
        elif key == "date_updated":
            value = _when(value, version)
        media[field] = value
    if item.get("photodna"):
        media["PhotoDNA"] = item["photodna"]
    alternatives = [
        {"HashName": alg.upper(), "HashValue": str(digests[alg]).upper()}
        for alg in ("sha256", "pdq")
        if digests[alg]
    ]
    if alternatives:
        media["AlternativeHashes"] = alternatives
    if item.get("exif"):
        media["Exifs"] = [{"PropertyName": str(k), "PropertyValue": v} for k, v in dict(item["exif"]).items()]
    if item.get("media_files"):
        media["MediaFiles"] = [_media_file(f, digests["md5"], where, version) for f in item["media_files"]]
    return media


def _media_file(entry: Mapping[str, Any], md5: str | None, where: str, version: str) -> dict[str, Any]:
    unknown = sorted(set(entry) - set(_MEDIA_FILE_FIELDS))
    if unknown:
        raise ValueError(f"{where}: media file fields {unknown} cannot be exported")
    out: dict[str, Any] = {"MD5": md5.upper()} if md5 else {}
    for key, field in _MEDIA_FILE_FIELDS.items():
        if entry.get(key) is not None:
            value = entry[key]
            if key in ("deleted", "unallocated"):
                value = _flag(value, version)
            out[field] = _when(value, version)
    return out


def _text_writer(out: IO[Any]) -> Callable[[str], Any]:
    if isinstance(out, io.TextIOBase):
        return out.write
    if isinstance(out, io.RawIOBase | io.BufferedIOBase) or "b" in getattr(out, "mode", ""):
        return lambda text: out.write(text.encode("utf-8"))
    return out.write


def write_vics(
    out: IO[Any], items: Iterable[Mapping[str, Any]], version: str = "1.3", *, variant: str = "US"
) -> int:
    """Write ``items`` as a VICS ``#Media`` file to a text or binary stream; return the count.

    Item keys: ``md5``, ``sha1``, ``sha256``, ``pdq`` (hex), ``photodna`` (opaque), ``media_id``,
    ``category``, ``series``, ``victim_identified``, ``offender_identified``, ``is_distributed``,
    ``is_precategorized``, ``is_suspected``, ``comments``, ``tags``, ``media_size``, ``mime_type``,
    ``relative_file_path``, ``date_updated``, ``exif`` (name -> value) and ``media_files`` (dicts of
    ``file_name``, ``file_path``, ``source_id``, ``created``, ``written``, ``accessed``,
    ``deleted``, ``unallocated``). Items are written as they come, so any number fits in memory.
    """
    if version not in VERSIONS:
        raise ValueError(f"unsupported VICS version {version!r} (expected one of {', '.join(VERSIONS)})")
    write = _text_writer(out)
    key, url = context_url(version, variant)
    write("{" + json.dumps(key) + ":" + json.dumps(url) + ',"value":[')
    count = 0
    for count, item in enumerate(items, 1):
        write(("\n" if count == 1 else ",\n") + json.dumps(media_object(item, count, version)))
    write("\n]}\n")
    return count
