"""Project VIC (VICS) JSON: data models 1.1-1.3 (``odata.metadata``) and 2.0 (``@odata.context``).

A ``#Media`` file is ``{"odata.metadata": URL, "value": [media, ...]}``; a ``#Cases`` file is
``{..., "value": [{"CaseID": ..., "Media": [media, ...]}, ...]}``. Files run to hundreds of MB, so
entries are streamed with ijson and never collected. Field names are matched case-insensitively;
what real exporters write (RECON, IPED, Griffeye, BFIP) is accepted: string booleans, string
categories, ``/Date(ms)/`` times, hashes upper- or lower-case, PhotoDNA at the top level or in
``AlternativeHashes``, file occurrences in ``MediaFiles`` and EXIF properties in ``Exifs``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from contextlib import suppress
from functools import lru_cache
from typing import Any, BinaryIO, ClassVar

import ijson

from tessera.hashing.algorithms import column_names
from tessera.hashsets._common import (
    category_value,
    flag,
    hex_digest,
    net_date,
    normalise_algorithm,
    skip_bom,
    snake,
    strip_bom,
)
from tessera.hashsets.base import FORMATS
from tessera.hashsets.vics_export import vics_name
from tessera.records import FormatError, HashEntryRecord, HashSetInfo

_ODATA_KEYS = ("odata.metadata", "@odata.context")
_VERSION_TEXT = re.compile(r"DataModels/(\d+(?:\.\d+)*)\.xml", re.IGNORECASE)
#: The 2.0 category scheme in the context URL (``.../2.0.xml/UK/$metadata#Media``).
_VARIANT_TEXT = re.compile(r"\.xml/([^/$#]+)/\$metadata", re.IGNORECASE)
#: 2.0 scheme -> the category profile its numbers belong to; other schemes (``Default``, agency
#: names) are read as the US scheme, as before 2.0 named any.
_VARIANT_PROFILES = {"us": "vics-us", "uk": "vics-uk"}
#: Media fields holding booleans other than VictimIdentified (which has a column of its own).
_FLAGS = frozenset(
    {
        "offenderidentified",
        "isdistributed",
        "isprecategorized",
        "issuspected",
        "selfgenerated",
        "unallocated",
        "deleted",
    }
)
#: Algorithms a VICS file carries (in the axis' order: an item's entries are yielded in it).
_HASHES = tuple(column_names("vics"))
_SCALAR_EVENTS = frozenset({"null", "boolean", "integer", "double", "number", "string"})


class _CountingReader:
    """Counts the bytes handed to the JSON parser, so an error can name how far the file was read."""

    def __init__(self, stream: BinaryIO, offset: int) -> None:
        self._stream = stream
        self.offset = offset

    def read(self, size: int = -1) -> bytes:
        data = self._stream.read(size)
        self.offset += len(data)
        return data


def _json_error(exc: Exception, what: str, where: str) -> FormatError:
    reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    # ijson raises IncompleteJSONError for trailing garbage too, so the reason text decides.
    if "premature eof" in reason.lower() or "incomplete json" in reason.lower():
        return FormatError(f"truncated JSON: the file ends before {what} is complete ({reason})", where)
    return FormatError(f"malformed JSON in {what}: {reason}", where)


def _skip_value(events: Iterator[tuple[str, str, Any]], event: str, value: Any) -> Any:
    """Build the value that starts with ``event`` (scalars return at once; objects are small here)."""
    if event in _SCALAR_EVENTS:
        return value
    builder = ijson.ObjectBuilder()
    builder.event(event, value)
    depth = 1
    for _prefix, ev, val in events:
        builder.event(ev, val)
        if ev in ("start_map", "start_array"):
            depth += 1
        elif ev in ("end_map", "end_array"):
            depth -= 1
            if depth == 0:
                break
    return builder.value


def _top_level(
    events: Iterator[tuple[str, str, Any]], metadata: dict[str, Any], *, stop_at_value: bool
) -> str | None:
    """Record top-level members in ``metadata`` until ``value`` opens an array (return its spelling)."""
    key: str | None = None
    for _prefix, event, val in events:
        if event == "map_key":
            key = val
        elif event == "end_map":
            return None
        elif key is None:
            continue
        elif key.lower() == "value" and stop_at_value:
            if event != "start_array":
                raise FormatError(f"VICS 'value' is a {event.replace('start_', '')}, not an array")
            return key
        else:
            _put(metadata, snake(key), _skip_value(events, event, val))
    return None


@lru_cache(maxsize=4096)
def _role(key: str) -> tuple[str, str]:
    """What a media field is for, and its ``extra`` name; cached because every item repeats them."""
    low = key.lower()
    if "odata." in low:
        return "skip", ""  # OData navigation links and ids: transport noise, not facts
    alg = normalise_algorithm(key)
    if alg in _HASHES:
        return "hash", alg
    if low in _ROLES:
        return _ROLES[low], ""
    return ("flag" if low in _FLAGS else "other"), snake(key)


_ROLES = {
    "mediaid": "id",
    "category": "category",
    "victimidentified": "victim",
    "series": "series",
    "alternativehashes": "alternatives",
    "mediafiles": "files",
    "exifs": "exif",
}


def _put(target: dict[str, Any], key: str, value: Any) -> None:
    """Store a field worth keeping: empty values dropped, .NET dates made ISO with the raw text kept."""
    if value is None or value == "" or value == [] or value == {}:
        return
    if isinstance(value, str):
        if "/Date(" in value:
            iso = net_date(value)
            if iso is not None:
                target[key] = iso
                target[key + "_raw"] = value
                return
    elif isinstance(value, dict):
        value = _clean(value)
    elif isinstance(value, list):
        value = [_clean(v) if isinstance(v, dict) else v for v in value]
    target[key] = value


def _clean(obj: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, val in obj.items():
        role, name = _role(key)
        if role == "skip":
            continue
        if role == "flag":
            with suppress(FormatError):  # a nested flag is informative only: kept as written
                val = flag(val, key, "")
        _named(out, name or snake(key), key, val)
    return out


def _named(target: dict[str, Any], name: str, key: str, value: Any) -> None:
    """``_put``, remembering the file's spelling of ``key`` when the exporter would spell it otherwise
    (``Case_No`` is stored as ``case_no``), so a re-export writes the name it was given."""
    _put(target, name, value)
    if name in target and vics_name(name) != key:
        target.setdefault("vics_names", {})[name] = key


def _series(value: Any) -> str | None:
    if isinstance(value, dict):  # some exports nest the series as {"Name": ...}
        value = next((v for k, v in value.items() if k.lower() == "name"), None)
    elif isinstance(value, list):
        value = "; ".join(str(v) for v in value if v not in (None, ""))
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _exif(value: Any) -> Any:
    """``[{"PropertyName": "Make", "PropertyValue": "X"}]`` -> ``{"Make": "X"}`` when well formed."""
    if not isinstance(value, list):
        return value
    out: dict[str, Any] = {}
    for item in value:
        if not isinstance(item, dict):
            return value
        low = {k.lower(): v for k, v in item.items()}
        if "propertyname" not in low:
            return value
        out[str(low["propertyname"])] = low.get("propertyvalue")
    return out


def media_records(
    obj: Any, where: str, default_key: str, base_extra: dict[str, Any] | None = None, key_prefix: str = ""
) -> list[HashEntryRecord]:
    """The hash entries of one VICS media object: one per algorithm, linked by ``media_key``.

    ``media_key`` is ``key_prefix`` + the MediaID, or ``default_key`` when the item has none.
    """
    if not isinstance(obj, dict):
        raise FormatError(f"media item is a {type(obj).__name__}, not an object", where)
    hashes: dict[str, list[str]] = {alg: [] for alg in _HASHES}

    def add(alg: str, value: Any) -> None:
        if alg == "photodna":
            # Proprietary and never computed here: kept exactly as given, only emptiness checked.
            text = value if isinstance(value, str) else (None if value is None else str(value))
            if text and text.strip() and text not in hashes[alg]:
                hashes[alg].append(text)
            return
        digest = hex_digest(value, alg, where)
        if digest and digest not in hashes[alg]:
            hashes[alg].append(digest)

    extra: dict[str, Any] = dict(base_extra or {})
    category: int | None = None
    series: str | None = None
    victim: bool | None = None
    media_id: Any = None
    files: list[Any] = []
    for key, val in obj.items():
        role, name = _role(key)
        if role == "hash":
            add(name, val)
        elif role == "id":
            media_id = val
        elif role == "category":
            category = category_value(val, where)
        elif role == "victim":
            victim = flag(val, key, where)
        elif role == "series":
            series = _series(val)
            if not isinstance(val, str) and val is not None:
                extra["series_value"] = val  # a list or object: written back as it came
        elif role == "flag":
            _named(extra, name, key, flag(val, key, where))
        elif role == "alternatives" and isinstance(val, list):
            others = []
            for alt in val:
                low_alt = {k.lower(): v for k, v in alt.items()} if isinstance(alt, dict) else {}
                alt_alg = normalise_algorithm(str(low_alt.get("hashname") or ""))
                if alt_alg in _HASHES:
                    add(alt_alg, low_alt.get("hashvalue"))
                else:
                    others.append(alt)
            _put(extra, "alternative_hashes", others)
        elif role == "files" and isinstance(val, list):
            files = val
            _put(extra, "media_files", val)
        elif role == "exif" and val:
            extra["exif"] = _exif(val)  # property names are EXIF's own: not re-spelled
        elif role != "skip":
            _named(extra, name or snake(key), key, val)
    if media_id not in (None, ""):
        extra["media_id"] = media_id  # as written (number or text), for a re-export
    # Occurrences repeat the media's own hashes; they only add one the media object lacks.
    for occurrence in files:
        if isinstance(occurrence, dict):
            for key, val in occurrence.items():
                role, name = _role(key)
                if role == "hash" and name != "photodna":
                    add(name, val)
    if not any(hashes.values()):
        hint = (
            " (it looks like a case: is the file #Cases?)" if any(k.lower() == "media" for k in obj) else ""
        )
        raise FormatError(f"media item has no MD5, SHA1, SHA256, PDQ or PhotoDNA value{hint}", where)
    media_key = default_key if media_id in (None, "") else f"{key_prefix}{media_id}"
    return [
        HashEntryRecord(
            algorithm=alg,
            value=value,
            category=category,
            series=series,
            victim_identified=victim,
            media_key=media_key,
            extra=dict(extra),
        )
        for alg, values in hashes.items()
        for value in values
    ]


class VicsReader:
    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        self._start = skip_bom(stream)
        if stream.seekable():
            self._start = stream.tell()
        self._counter = _CountingReader(stream, self._start)
        self._events: Iterator[tuple[str, str, Any]] = iter(ijson.parse(self._counter, use_float=True))
        self._used = False
        metadata: dict[str, Any] = {}
        try:
            first = next(self._events, None)
            if first is None or first[1] != "start_map":
                raise FormatError("not a VICS file: the top level is not a JSON object", "byte 0")
            value_key = _top_level(self._events, metadata, stop_at_value=True)
        except ijson.JSONError as exc:
            raise _json_error(exc, "the header", f"byte {self._counter.offset}") from None
        url, odata_key = None, None
        for key in ("odata_metadata", "odata_context"):
            if isinstance(metadata.get(key), str):
                url, odata_key = metadata[key], key
        if url is None or odata_key is None:
            raise FormatError("not a VICS file: no odata.metadata or @odata.context before 'value'")
        if value_key is None:
            raise FormatError("VICS file has no 'value' array", f"byte {self._counter.offset}")
        self._value_key = value_key
        version_match = _VERSION_TEXT.search(url)
        fallback = "2.0" if odata_key == "odata_context" else None
        version = version_match.group(1) if version_match else fallback
        entity = url.rsplit("#", 1)[1].strip().lower() if "#" in url else ""
        if entity not in ("media", "cases"):
            raise FormatError(f"unsupported VICS entity set {url!r} (expected #Media or #Cases)")
        variant_match = _VARIANT_TEXT.search(url) if odata_key == "odata_context" else None
        profile = "vics-us"
        if variant_match:
            metadata["vics_variant"] = variant_match.group(1)
            profile = _VARIANT_PROFILES.get(variant_match.group(1).lower(), profile)
        self.info = HashSetInfo(
            format="vics", profile=profile, version=version, kind=entity, metadata=metadata
        )

    def __iter__(self) -> Iterator[HashEntryRecord]:
        if self._used:
            raise RuntimeError("a hash-set reader can be iterated only once")
        self._used = True
        return self._iter_cases() if self.info.kind == "cases" else self._iter_media()

    def _iter_media(self) -> Iterator[HashEntryRecord]:
        source: Any = self._events
        if self._stream.seekable():
            # Re-reading from the top lets ijson build entries in C, about three times faster than
            # feeding it the Python-level event stream the header was read from.
            self._stream.seek(self._start)
            self._counter = _CountingReader(self._stream, self._start)
            source = self._counter
        index = 0
        try:
            for obj in ijson.items(source, f"{self._value_key}.item", use_float=True):
                index += 1
                yield from media_records(obj, self._where(index), f"#{index}")
        except ijson.JSONError as exc:
            raise _json_error(exc, f"entry {index + 1}", self._where(index + 1)) from None

    def _where(self, index: int, case: int | None = None) -> str:
        prefix = f"case {case}, " if case is not None else ""
        return f"{prefix}entry {index}, byte {self._counter.offset}"

    def _iter_cases(self) -> Iterator[HashEntryRecord]:
        cases: list[dict[str, Any]] = []
        self.info.metadata["cases"] = cases
        index = 0
        case_no = 0
        events = self._events
        try:
            for _prefix, event, _val in events:
                if event == "end_array":
                    break
                if event != "start_map":
                    raise FormatError("VICS case is not an object", f"case {case_no + 1}")
                case_no += 1
                case: dict[str, Any] = {}
                cases.append(case)
                key = ""
                for prefix, ev, val in events:
                    if ev == "end_map":
                        break
                    if ev == "map_key":
                        key = val
                    elif key.lower() == "media" and ev == "start_array":
                        base = {"case_id": case["case_id"]} if "case_id" in case else {}
                        for obj in ijson.items(_array_items(events), f"{prefix}.item", use_float=True):
                            index += 1
                            # MediaIDs are unique within a case only.
                            where = self._where(index, case_no)
                            yield from media_records(obj, where, f"{case_no}:#{index}", base, f"{case_no}:")
                    else:
                        _put(case, snake(key), _skip_value(events, ev, val))
            _top_level(events, self.info.metadata, stop_at_value=False)
            for _ in events:  # the parser checks that nothing follows the document
                pass
        except ijson.JSONError as exc:
            case_no = max(case_no, 1)
            raise _json_error(exc, f"case {case_no}", self._where(index + 1, case_no)) from None


def _array_items(events: Iterator[tuple[str, str, Any]]) -> Iterable[tuple[str, str, Any]]:
    """The events inside an array whose start was just read, stopping after its end."""
    depth = 0
    for prefix, event, value in events:
        if event in ("start_map", "start_array"):
            depth += 1
        elif event in ("end_map", "end_array"):
            if depth == 0:
                return
            depth -= 1
        yield prefix, event, value


class VicsFormat:
    name: ClassVar[str] = "vics"

    def sniff(self, head: bytes) -> bool:
        body = strip_bom(head).lstrip()
        return body.startswith(b"{") and any(k.encode() in body.lower() for k in _ODATA_KEYS)

    def open(
        self, stream: BinaryIO, *, algorithm: str | None = None, category: int | None = None
    ) -> VicsReader:
        # Categories and algorithms are written per media item; the options do not apply.
        return VicsReader(stream)


FORMATS.register(VicsFormat.name)(VicsFormat())
