"""Writing a VICS ``#Media`` JSON file: hashes and metadata only, streamed item by item.

Files never leave a case, so an item may only carry the fields listed in ``ITEM_FIELDS``; anything
else (bytes, thumbnails, paths to evidence files for copying) is refused rather than dropped, so a
caller cannot believe it exported something it did not. SHA-256 and PDQ have no column of their own
in the 1.x data models; both versions carry them in ``AlternativeHashes`` (``HashName``/``HashValue``),
which the reader in :mod:`tessera.hashsets.vics` reads back.

Field names follow the media and media-file objects real VICS writers emit (IPED's ``HashDBTool``
reader, Griffeye-compatible writers: ``MediaID``, ``Category``, ``MD5``, ``SHA1``, ``VictimIdentified``,
``OffenderIdentified``, ``IsDistributed``, ``Series``, ``Comments``, ``Tags``, ``MediaSize``,
``RelativeFilePath``, ``DateUpdated``, ``IsPrecategorized``, ``IsSuspected``, ``MimeType``,
``PhotoDNA``, ``AlternativeHashes``, ``Exifs``, ``MediaFiles`` of ``MD5``, ``FileName``, ``FilePath``,
``Created``, ``Written``, ``Accessed``, ``Unallocated``, ``Deleted``, ``SourceID``); docs/hashsets.md
names the sources.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from functools import lru_cache
from typing import IO, Any

from tessera.hashing.algorithms import column_names, hex_names
from tessera.hashsets._common import category_value, hex_digest

VERSIONS = ("1.1", "1.2", "1.3", "2.0")
#: Category profile -> the VICS 2.0 category scheme naming it (1.x files are US only).
VICS_VARIANTS = {"vics-us": "US", "vics-uk": "UK", "uk-caid": "UK", "caid": "UK"}

#: Algorithm -> its VICS name (a media field, or a HashName in AlternativeHashes), from the axis.
VICS_HASH_FIELDS = column_names("vics")

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
    "md5": "MD5",
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
    {
        *VICS_HASH_FIELDS,
        "media_id",
        "exif",
        "media_files",
        "more_hashes",
        "alternative_hashes",
        "fields",
        *_SCALARS,
    }
)
#: Fields that hold file content (VICS 1.x ``Miniature`` thumbnails and the like): never written,
#: whatever an imported set carried; :func:`restore_fields` hands them back as withheld.
CONTENT_FIELDS = frozenset({"miniature", "thumbnail", "thumbnails", "image", "image_data", "data", "content"})
#: Snake-case names (as the importer stores them) -> VICS spelling, where capitalising each part
#: would spell them differently (acronyms).
_SPELLING = {
    **{alg: name for alg, name in VICS_HASH_FIELDS.items()},
    "media_id": "MediaID",
    "case_id": "CaseID",
    "source_id": "SourceID",
    "parent_md5": "ParentMD5",
    "exifs": "Exifs",
}
#: Flags the importer turns into booleans: written back as 1.x text or 2.0 booleans.
FLAG_NAMES = frozenset(
    {*_BOOLEANS, "self_generated", "unallocated", "deleted", "is_precategorized", "is_suspected"}
)
_DATE_NAMES = frozenset({"date_updated", "created", "written", "accessed"})
_ISO = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:?\d\d)$")


@lru_cache(maxsize=4096)
def vics_name(snake_name: str) -> str:
    """``victim_identified`` -> ``VictimIdentified``, ``media_id`` -> ``MediaID``."""
    return _SPELLING.get(snake_name) or "".join(part[:1].upper() + part[1:] for part in snake_name.split("_"))


def context_url(version: str, variant: str = "US") -> tuple[str, str]:
    """The (key, URL) naming the data model; ``variant`` is the 2.0 category scheme (US, UK, ...)."""
    if version == "2.0":
        base = "http://github.com/VICSDATAMODEL/ProjectVic/DataModels/2.0.xml"
        return "@odata.context", f"{base}/{variant}/$metadata#Media"
    return "odata.metadata", f"http://github.com/ICMEC/ProjectVic/DataModels/{version}.xml#Media"


def _when(value: Any, version: str) -> Any:
    """Datetimes as 1.x ``/Date(ms)/`` or 2.0 ISO 8601 UTC; ISO text becomes ``/Date(ms)/`` in 1.x
    (what 1.x readers parse); other text is written as given."""
    if isinstance(value, str) and version != "2.0" and _ISO.match(value.strip()):
        value = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
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


def restore_fields(stored: Mapping[str, Any], version: str) -> tuple[dict[str, Any], list[str]]:
    """Stored ``extra`` fields (snake case, as :mod:`tessera.hashsets.vics` keeps them) spelled as
    VICS again, and the names of content fields withheld.

    Original spellings the importer recorded (``vics_names``) win; a ``*_raw`` .NET date is written
    in 1.x files and the ISO value in 2.0; flags become 1.x text or 2.0 booleans. Nested objects
    (media files, alternative hashes) are restored the same way.
    """
    names: Mapping[str, str] = stored.get("vics_names") or {}
    out: dict[str, Any] = {}
    withheld: list[str] = []
    for key, value in stored.items():
        if key == "vics_names" or (key.endswith("_raw") and key[:-4] in stored):
            continue
        if key.lower() in CONTENT_FIELDS:
            withheld.append(key)
            continue
        if version != "2.0" and stored.get(key + "_raw") is not None:
            value = stored[key + "_raw"]  # any field the importer read as a .NET date
        elif key in FLAG_NAMES and isinstance(value, bool):
            value = _flag(value, version)
        elif key in _DATE_NAMES:
            value = _when(value, version)
        elif isinstance(value, dict):
            value, inner = restore_fields(value, version)
            withheld += [f"{key}.{name}" for name in inner]
        elif isinstance(value, list):
            restored = []
            for element in value:
                if isinstance(element, dict):
                    element, inner = restore_fields(element, version)
                    withheld += [f"{key}.{name}" for name in inner]
                restored.append(element)
            value = restored
        out[names.get(key) or vics_name(key)] = value
    return out, withheld


def media_object(item: Mapping[str, Any], index: int, version: str) -> dict[str, Any]:
    """One VICS media object for ``item`` (1-based ``index`` names it in errors and is the default id)."""
    where = f"item {index}"
    unknown = sorted(set(item) - ITEM_FIELDS)
    if unknown:
        raise ValueError(f"{where}: fields {unknown} cannot be exported (hashes and metadata only)")
    digests = {alg: hex_digest(item.get(alg), alg, where) for alg in hex_names()}
    more = [(alg, value) for alg, value in item.get("more_hashes") or ()]
    if not any(digests.values()) and not item.get("photodna") and not more:
        raise ValueError(f"{where}: no MD5, SHA-1, SHA-256, PDQ or PhotoDNA to export")
    media: dict[str, Any] = {"MediaID": item.get("media_id", index)}
    media["Category"] = category_value(item.get("category"), where)
    for alg in ("md5", "sha1"):
        if digests[alg]:
            media[VICS_HASH_FIELDS[alg]] = str(digests[alg]).upper()
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
        {"HashName": VICS_HASH_FIELDS[alg], "HashValue": str(digests[alg]).upper()}
        for alg in ("sha256", "pdq")
        if digests[alg]
    ]
    for alg, value in more:
        # Second values of one algorithm (a media item seen with two MD5s): PhotoDNA as given.
        text = value if alg == "photodna" else str(hex_digest(value, alg, where)).upper()
        alternatives.append({"HashName": VICS_HASH_FIELDS[alg], "HashValue": text})
    alternatives += [dict(a) for a in item.get("alternative_hashes") or ()]
    if alternatives:
        media["AlternativeHashes"] = alternatives
    exif = item.get("exif")
    if isinstance(exif, list):
        media["Exifs"] = exif  # as imported when it was not name/value pairs
    elif exif:
        media["Exifs"] = [{"PropertyName": str(k), "PropertyValue": v} for k, v in dict(exif).items()]
    if item.get("media_files"):
        media["MediaFiles"] = [_media_file(f, digests["md5"], where, version) for f in item["media_files"]]
    for field, value in (item.get("fields") or {}).items():
        _passthrough(media, field, value, where)
    return media


def _passthrough(target: dict[str, Any], field: str, value: Any, where: str) -> None:
    if field.lower() in CONTENT_FIELDS:
        raise ValueError(f"{where}: field {field!r} holds file content and cannot be exported")
    if field in target:
        raise ValueError(f"{where}: field {field!r} is given twice")
    target[field] = value


def _media_file(entry: Mapping[str, Any], md5: str | None, where: str, version: str) -> dict[str, Any]:
    unknown = sorted(set(entry) - set(_MEDIA_FILE_FIELDS) - {"fields"})
    if unknown:
        raise ValueError(f"{where}: media file fields {unknown} cannot be exported")
    fields = entry.get("fields") or {}
    own = entry.get("md5")
    out: dict[str, Any] = {}
    if "MD5" not in fields and (own or md5):
        out["MD5"] = str(hex_digest(own, "md5", where) if own else md5).upper()
    for key, field in _MEDIA_FILE_FIELDS.items():
        if key != "md5" and entry.get(key) is not None:
            value = entry[key]
            if key in ("deleted", "unallocated"):
                value = _flag(value, version)
            elif key in _DATE_NAMES:
                value = _when(value, version)
            out[field] = value
    for field, value in fields.items():
        _passthrough(out, field, value, where)
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

    Item keys: ``md5``, ``sha1``, ``sha256``, ``pdq`` (hex), ``photodna`` (opaque), ``more_hashes``
    ((algorithm, value) pairs beyond the first of each), ``media_id``, ``category``, ``series``,
    ``victim_identified``, ``offender_identified``, ``is_distributed``, ``is_precategorized``,
    ``is_suspected``, ``comments``, ``tags``, ``media_size``, ``mime_type``, ``relative_file_path``,
    ``date_updated``, ``exif`` (name -> value), ``media_files`` (dicts of ``md5``, ``file_name``,
    ``file_path``, ``source_id``, ``created``, ``written``, ``accessed``, ``deleted``,
    ``unallocated`` and ``fields``), ``alternative_hashes`` (other ``HashName``/``HashValue``
    objects) and ``fields`` (further VICS fields by their VICS name, written as given: what an
    imported set carried). Items are written as they come, so any number fits in memory.
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
