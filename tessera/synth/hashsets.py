"""Generated hash-set files in every supported format, with the quirks real exports have.

Every hash is random hex and every identifier invented; nothing is derived from any real file.
Entries are plain dicts (``random_entries``) and every writer streams them, so a benchmark file of
500,000 entries is written without holding it in memory: pass ``out`` (a path or binary stream) and
the function writes there and returns ``b""``; without ``out`` it returns the file's bytes.
"""

from __future__ import annotations

import base64
import json
import os
import random
from collections.abc import Iterable, Iterator, Mapping
from contextlib import nullcontext
from datetime import UTC, datetime, timedelta
from typing import IO, Any, BinaryIO

Entry = Mapping[str, Any]
Out = str | os.PathLike[str] | BinaryIO | None

BOM = b"\xef\xbb\xbf"
ICSE_HEADER = (
    "MD5;SHA1;PhotoDNA;Image ID;Is distributed;Victim identified;Offender identified;Series name;"
    "Number of submissions;File Available;Media Type;Baseline"
)
_EPOCH_MS = 1262304000000  # 2010-01-01T00:00:00Z


def random_entries(n: int, seed: int = 0) -> Iterator[dict[str, Any]]:
    """``n`` invented entries: md5, sha1, sha256, pdq (random hex), photodna (random opaque text on
    every third), category (0-4 or None), series, victim_identified and media_id. Lazy, so ``n`` can
    be large."""
    rng = random.Random(seed)
    categories: list[int | None] = [1, 2, 0, 3, None, 4, 1]
    victims: list[bool | None] = [None, True, False]
    for i in range(n):
        yield {
            "media_id": 1000 + i,
            "md5": f"{rng.getrandbits(128):032x}",
            "sha1": f"{rng.getrandbits(160):040x}",
            "sha256": f"{rng.getrandbits(256):064x}",
            "pdq": f"{rng.getrandbits(256):064x}",
            "photodna": base64.b64encode(rng.randbytes(144)).decode("ascii") if i % 3 == 0 else None,
            "category": categories[i % len(categories)],
            "series": f"Series {i % 50:03d}" if i % 4 == 0 else None,
            "victim_identified": victims[i % len(victims)],
        }


def _emit(chunks: Iterable[bytes], out: Out) -> bytes:
    if out is None:
        return b"".join(chunks)
    ctx: Any = open(out, "wb") if isinstance(out, str | os.PathLike) else nullcontext(out)  # noqa: SIM115
    with ctx as fh:
        stream: IO[bytes] = fh
        buffer: list[bytes] = []
        size = 0
        for chunk in chunks:
            buffer.append(chunk)
            size += len(chunk)
            if size >= 1 << 20:
                stream.write(b"".join(buffer))
                buffer, size = [], 0
        stream.write(b"".join(buffer))
    return b""


def _hex(value: str | None, upper: bool) -> str | None:
    return None if value is None else (value.upper() if upper else value.lower())


def _bool(value: bool | None, i: int, string_bools: bool) -> Any:
    if value is None or not string_bools:
        return value
    # Real exports mix spellings within one file.
    return ("true", "True", "TRUE")[i % 3] if value else ("false", "False")[i % 2]


def _date(i: int, version: str, dates: bool) -> str:
    ms = _EPOCH_MS + i * 60_000
    if dates:
        return f"/Date({ms})/" if i % 2 else f"/Date({ms}+0100)/"
    when = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=ms)
    return when.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def vics_media_object(
    e: Entry,
    i: int,
    version: str = "1.3",
    *,
    upper: bool = True,
    string_bools: bool = True,
    dates: bool = True,
) -> dict[str, Any]:
    """One VICS media object in the layout real 1.x or 2.0 exports use (OData noise included)."""
    md5 = _hex(e.get("md5"), upper)
    obj: dict[str, Any] = {}
    if md5 and version != "2.0":
        obj["odata.id"] = f'Media("{md5}")'
        obj["MediaFiles@odata.navigationLinkUrl"] = f"/Media({md5})/MediaFiles"
    obj["MediaID"] = e.get("media_id", i + 1)
    obj["Category"] = e.get("category")
    if md5:
        obj["MD5"] = md5
    if e.get("sha1"):
        obj["SHA1"] = _hex(e["sha1"], upper)
    obj["MediaSize"] = str(2048 + i) if version != "2.0" else 2048 + i
    obj["DateUpdated"] = _date(i, version, dates)
    obj["IsPrecategorized"] = _bool(False, i, string_bools)
    if e.get("victim_identified") is not None:
        obj["VictimIdentified"] = _bool(e["victim_identified"], i, string_bools)
        obj["IsDistributed"] = _bool(i % 2 == 0, i, string_bools)
    if e.get("series"):
        obj["Series"] = e["series"]
    alternatives = []
    for alg, name in (("sha256", "SHA256"), ("pdq", "PDQ")):
        if e.get(alg):
            alternatives.append({"HashName": name, "HashValue": _hex(e[alg], upper)})
    if e.get("photodna"):
        if version == "2.0":
            alternatives.append({"HashName": "PhotoDNA", "HashValue": e["photodna"]})
        else:
            obj["PhotoDNA"] = e["photodna"]
    if alternatives:
        obj["AlternativeHashes"] = alternatives
    if i % 5 == 0:
        obj["MediaFiles"] = [
            {
                "MD5": md5,
                "FileName": f"file_{i:06d}.jpg",
                "FilePath": f"synthetic\\dir{i % 7}",
                "Created": _date(i, version, dates),
                "Unallocated": _bool(False, i, string_bools),
            }
        ]
        obj["Exifs"] = [{"MD5": md5, "PropertyName": "Make", "PropertyValue": "Synthetic Camera Co"}]
    return obj


def _context(version: str, entity: str) -> bytes:
    if version == "2.0":
        url = f"http://github.com/VICSDATAMODEL/ProjectVic/DataModels/2.0.xml/CUSTOM/$metadata#{entity}"
        return b'"@odata.context":' + json.dumps(url).encode()
    url = f"http://github.com/ICMEC/ProjectVic/DataModels/{version}.xml#{entity}"
    return b'"odata.metadata":' + json.dumps(url).encode()


def _media_chunks(entries: Iterable[Entry], start: int, version: str, **quirks: bool) -> Iterator[bytes]:
    for n, e in enumerate(entries):
        obj = vics_media_object(e, start + n, version, **quirks)
        yield (b"\n" if n == 0 else b",\n") + json.dumps(obj, ensure_ascii=False).encode()


def vics_media(
    entries: Iterable[Entry],
    version: str = "1.3",
    *,
    bom: bool = True,
    upper: bool = True,
    string_bools: bool = True,
    dates: bool = True,
    out: Out = None,
) -> bytes:
    """A VICS ``#Media`` hash set (``{"odata.metadata"|"@odata.context": ..., "value": [...]}``)."""

    def chunks() -> Iterator[bytes]:
        yield (BOM if bom else b"") + b"{" + _context(version, "Media") + b',"value":['
        yield from _media_chunks(entries, 0, version, upper=upper, string_bools=string_bools, dates=dates)
        yield b"\n]}\n"

    return _emit(chunks(), out)


def vics_cases(
    entries: Iterable[Entry],
    version: str = "1.3",
    *,
    per_case: int = 1_000_000,
    bom: bool = True,
    upper: bool = True,
    string_bools: bool = True,
    dates: bool = True,
    out: Out = None,
) -> bytes:
    """A VICS ``#Cases`` file: consecutive runs of ``per_case`` entries in invented cases, each with
    fields before its ``Media`` array (CaseID, agency) and after it (the source application)."""
    quirks = {"upper": upper, "string_bools": string_bools, "dates": dates}

    def chunks() -> Iterator[bytes]:
        yield (BOM if bom else b"") + b"{" + _context(version, "Cases") + b',"value":['
        it = iter(entries)
        case = 0
        done = 0
        while True:
            first = next(it, None)
            if first is None:
                break
            head = {
                "CaseID": f"00000000-0000-4000-8000-{case + 1:012d}",
                "Agency": "Test Agency",
                "CaseNumber": f"SYN-{case + 1:04d}",
                "CreatedDate": _date(case, version, dates),
            }
            yield (b"" if case == 0 else b",") + b"\n{" + json.dumps(head)[1:-1].encode() + b',"Media":['
            in_case = 0
            for chunk in _media_chunks(_take([first], it, per_case), done, version, **quirks):
                in_case += 1
                yield chunk
            done += in_case
            yield (
                b'],"SourceApplicationName":"tessera-synth","TotalMediaFiles":' + str(in_case).encode() + b"}"
            )
            case += 1
        yield b"\n]}\n"

    return _emit(chunks(), out)


def _take(first: list[Entry], rest: Iterator[Entry], n: int) -> Iterator[Entry]:
    yield from first
    for _ in range(n - len(first)):
        item = next(rest, None)
        if item is None:
            return
        yield item


def _lines(rows: Iterable[str], bom: bool) -> Iterator[bytes]:
    yield BOM if bom else b""
    for row in rows:
        yield (row + "\n").encode()


def icse_csv(
    entries: Iterable[Entry],
    *,
    bom: bool = False,
    upper: bool = True,
    sparse: bool = False,
    extra_columns: Mapping[str, str] | None = None,
    out: Out = None,
) -> bytes:
    """An Interpol ICSE export (``;``-separated, Yes/No flags, no category column). ``sparse``: only
    the MD5 cell filled; ``extra_columns`` (name -> text) follow the 12, as some exports add."""
    extras = dict(extra_columns or {})

    def yes_no(value: bool | None) -> str:
        return "" if value is None else ("Yes" if value else "No")

    def rows() -> Iterator[str]:
        yield ";".join([ICSE_HEADER, *extras])
        for i, e in enumerate(entries):
            if sparse:
                yield ";".join([_hex(e.get("md5"), upper) or "", *[""] * (11 + len(extras))])
                continue
            yield ";".join(
                [
                    _hex(e.get("md5"), upper) or "",
                    _hex(e.get("sha1"), upper) or "",
                    e.get("photodna") or "",
                    str(e.get("media_id", i + 1)),
                    yes_no(i % 2 == 0),
                    yes_no(e.get("victim_identified")),
                    yes_no(False),
                    e.get("series") or "",
                    str(1 + i % 9),
                    yes_no(True),
                    "Image",
                    yes_no(i % 4 == 0),
                    *extras.values(),
                ]
            )

    return _emit(_lines(rows(), bom), out)


def plain_list(
    entries: Iterable[Entry],
    algorithm: str = "md5",
    *,
    comments: bool = True,
    upper: bool = False,
    bom: bool = False,
    out: Out = None,
) -> bytes:
    """One ``algorithm`` hash per line, with a comment header and a blank line when ``comments``."""

    def rows() -> Iterator[str]:
        if comments:
            yield f"# generated {algorithm} list: invented values"
            yield ""
        for e in entries:
            yield _hex(e[algorithm], upper) or ""

    return _emit(_lines(rows(), bom), out)


def headed_csv(
    entries: Iterable[Entry],
    columns: Iterable[str] = ("md5", "sha1", "sha256", "category", "series"),
    *,
    delimiter: str = ",",
    extra_columns: Mapping[str, str] | None = None,
    header_case: str = "upper",
    bom: bool = False,
    out: Out = None,
) -> bytes:
    """A CSV with a header naming ``columns`` (``header_case`` upper/lower/as-is) plus constant
    ``extra_columns``; ``None`` values become empty cells."""
    names = list(columns)
    extras = dict(extra_columns or {})
    cased = {"upper": str.upper, "lower": str.lower}.get(header_case, str)

    def cell(value: Any) -> str:
        text = "" if value is None else str(value)
        if delimiter in text or '"' in text:
            return '"' + text.replace('"', '""') + '"'
        return text

    def rows() -> Iterator[str]:
        yield delimiter.join([*(cased(c) for c in names), *extras])
        for e in entries:
            yield delimiter.join(
                [*(cell(e.get(c.lower())) for c in names), *(cell(v) for v in extras.values())]
            )

    return _emit(_lines(rows(), bom), out)


#: The media fields :func:`vics_full` fills on every item: each one VICS writers emit and Tessera
#: exports back (besides ``MediaID`` and ``Category``), so a round trip can be checked field by field.
FULL_MEDIA_FIELDS = (
    "MD5",
    "SHA1",
    "PhotoDNA",
    "AlternativeHashes",
    "VictimIdentified",
    "OffenderIdentified",
    "IsDistributed",
    "IsPrecategorized",
    "PrecategorizationSource",
    "IsSuspected",
    "SelfGenerated",
    "Series",
    "Comments",
    "Tags",
    "MediaSize",
    "MimeType",
    "RelativeFilePath",
    "DateUpdated",
    "Exifs",
    "MediaFiles",
    "Agency_Ref",  # a vendor field spelled the way no VICS field is: kept under its own name
)
#: The fields of each ``MediaFiles`` occurrence :func:`vics_full` writes.
FULL_FILE_FIELDS = (
    "MD5",
    "FileName",
    "FilePath",
    "Created",
    "Written",
    "Accessed",
    "Unallocated",
    "Deleted",
    "SourceID",
    "PhysicalLocation",
)


def _full_object(e: Entry, i: int, version: str, sparse: bool) -> dict[str, Any]:
    md5 = _hex(e["md5"], True)
    if sparse:
        return {"MediaID": e.get("media_id", i + 1), "Category": None, "MD5": md5}

    def flag(value: bool) -> Any:
        return value if version == "2.0" else ("true" if value else "false")

    def when(minutes: int) -> str:
        return _date(i * 10 + minutes, version, version != "2.0")

    alternatives = [
        {"HashName": "SHA256", "HashValue": _hex(e["sha256"], True)},
        {"HashName": "PDQ", "HashValue": _hex(e["pdq"], True)},
        {"HashName": "VendorHash", "HashValue": f"{i:08x}"},
    ]
    photodna = e.get("photodna") or base64.b64encode(bytes([i % 256]) * 144).decode("ascii")
    obj: dict[str, Any] = {"MediaID": e.get("media_id", i + 1), "Category": e.get("category"), "MD5": md5}
    obj["SHA1"] = _hex(e["sha1"], True)
    if version == "2.0":
        alternatives.append({"HashName": "PhotoDNA", "HashValue": photodna})
    else:
        obj["PhotoDNA"] = photodna
    obj["AlternativeHashes"] = alternatives
    obj |= {
        "VictimIdentified": flag(i % 2 == 0),
        "OffenderIdentified": flag(i % 3 == 0),
        "IsDistributed": flag(i % 2 == 1),
        "IsPrecategorized": flag(True),
        "PrecategorizationSource": "synthetic precategoriser",
        "IsSuspected": flag(i % 4 == 0),
        "SelfGenerated": flag(False),
        "Series": e.get("series") or f"Series {i % 50:03d}",
        "Comments": f"invented comment {i}",
        "Tags": "tag-a|tag-b",
        "MediaSize": 2048 + i if version == "2.0" else str(2048 + i),
        "MimeType": "image/jpeg",
        "RelativeFilePath": f"synthetic\\dir{i % 7}\\file_{i:06d}.jpg",
        "DateUpdated": when(0),
        "Exifs": [
            {"PropertyName": "Make", "PropertyValue": "Synthetic Camera Co"},
            {"PropertyName": "Model", "PropertyValue": f"Model {i % 3}"},
        ],
        "MediaFiles": [
            {
                "MD5": md5,
                "FileName": f"file_{i:06d}{suffix}.jpg",
                "FilePath": f"synthetic\\dir{i % 7}",
                "Created": when(1),
                "Written": when(2),
                "Accessed": when(3),
                "Unallocated": flag(n == 1),
                "Deleted": flag(n == 1),
                "SourceID": f"SRC-{n}",
                "PhysicalLocation": 4096 * (i + 1) + n,
            }
            for n, suffix in enumerate(("", "_copy"))
        ],
        "Agency_Ref": f"SYN-{i:04d}",
    }
    return obj


def vics_full(
    entries: Iterable[Entry],
    version: str = "2.0",
    *,
    sparse: bool = False,
    variant: str = "US",
    out: Out = None,
) -> bytes:
    """A VICS ``#Media`` file whose items carry every field in ``FULL_MEDIA_FIELDS`` (``sparse``: only
    ``MediaID``, a null ``Category`` and ``MD5``); ``variant`` names the 2.0 category scheme."""

    def chunks() -> Iterator[bytes]:
        if version == "2.0":
            url = f"http://github.com/VICSDATAMODEL/ProjectVic/DataModels/2.0.xml/{variant}/$metadata#Media"
            head = b'"@odata.context":' + json.dumps(url).encode()
        else:
            head = _context(version, "Media")
        yield BOM + b"{" + head + b',"value":['
        for n, e in enumerate(entries):
            obj = _full_object(e, n, version, sparse)
            yield (b"\n" if n == 0 else b",\n") + json.dumps(obj, ensure_ascii=False).encode()
        yield b"\n]}\n"

    return _emit(chunks(), out)
