"""Streaming reads of a Cellebrite ``report.xml``: extraction facts and the tagged files.

A UFDR's ``report.xml`` (namespace ``http://pa.cellebrite.com/report/2.0``) opens with the
extraction's ``metadata`` sections (``Extraction Data``, ``Device Info``, ``Additional Fields``), then
``taggedFiles`` maps every extracted file's device path (``<file path=... fs=...>``) to its member in
the zip (``<metadata section="File"><item name="Local Path">files\\Image\\x.jpg</item>``) with its
hashes and times, and ``decodedData`` holds the decoded models (chats, contacts ...). Reports run to
gigabytes, so this reader never builds the tree: :func:`read_header` walks the document with
``iterparse``, drops each ``file`` and decoded ``model`` once read, and stops as soon as the facts and
the file list are known (at ``decodedData`` when ``taggedFiles`` came first, as Physical Analyzer
writes it). Namespaces are dropped from tag names, so fragments without one read the same.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import BinaryIO

NAMESPACE = "http://pa.cellebrite.com/report/2.0"
REPORT_NAME = "report.xml"

#: Device facts (``tessera.evidence.base.FACT_NAMES``) by the ``item`` names of the metadata
#: sections. The UFED unit's own identifier (``DeviceInfoUnitIdentifier``) names the examiner's
#: hardware, never the phone, so it is not a fact of the device.
_FACTS: dict[str, str] = {
    "DeviceInfoDetectedPhoneModel": "model",
    "DeviceInfoSelectedDeviceName": "model",  # what the examiner chose; used when nothing was detected
    "DeviceInfoOSVersion": "os_version",
    "DeviceInfoOSType": "os",
    "IMEI": "imei",
    "IMEI1": "imei",
    "IMEI2": "imei",
    "MEID": "meid",
    "ICCID": "iccid",
    "MSISDN": "phone_number",
    "Serial Number": "serial",
    "DeviceInfoSerial": "serial",
    "Serial": "serial",
    "Device Name": "device_name",
    "DeviceInfoDeviceName": "device_name",
    "UDID": "udid",
    "DeviceInfoUniqueID": "udid",
    "Build Number": "build",
    "DeviceInfoExtractionStartDateTime": "extraction_time",
    "DeviceInfoUnitVersion": "extraction_tool_version",
    "UFED_PA_Version": "extraction_tool_version",
    "ExtractionType": "extraction_type",
}
#: Items that only count when no preferred item stated the same fact.
_FALLBACK = {
    "DeviceInfoSelectedDeviceName": "DeviceInfoDetectedPhoneModel",
    "UFED_PA_Version": "DeviceInfoUnitVersion",
}


class ReportError(ValueError):
    """``report.xml`` is not well-formed XML; ``line``/``column`` say where the parser stopped."""

    def __init__(self, message: str, line: int | None = None, column: int | None = None) -> None:
        super().__init__(message)
        self.line = line
        self.column = column


@dataclass(slots=True)
class TaggedFile:
    """One ``taggedFiles/file``: where the file was on the phone and where it is in the zip."""

    path: str  # the device path exactly as the report writes it
    file_id: str | None = None
    fs: str | None = None
    local: str | None = None  # the zip member, "/"-separated (the report writes "\\")
    size: int | None = None
    deleted: bool = False
    sha256: str | None = None
    md5: str | None = None
    mtime: float | None = None
    atime: float | None = None
    crtime: float | None = None


@dataclass
class ReportHeader:
    #: (fact name, raw value) in document order, each pair once.
    facts: list[tuple[str, str]] = field(default_factory=list)
    files: list[TaggedFile] = field(default_factory=list)
    cellebrite: bool = False  # the document is in Cellebrite's report namespace


def local_name(tag: object) -> str:
    text = tag if isinstance(tag, str) else ""
    return text.rsplit("}", 1)[-1]


def parse_time(text: str | None) -> datetime | None:
    """A report ``TimeStamp`` (ISO 8601 with its offset) as aware UTC; None when absent or zone-less
    (a time without zone is not guessed here: callers keep the raw text)."""
    if not text or not text.strip():
        return None
    try:
        t = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    return t.astimezone(UTC) if t.tzinfo is not None else None


def events(fh: BinaryIO) -> Iterator[tuple[str, ET.Element]]:
    """``iterparse`` with namespaces dropped from tags, and a malformed document raised as
    :class:`ReportError` naming the line and column."""
    try:
        for event, elem in ET.iterparse(fh, events=("start", "end")):
            if "}" in elem.tag:
                elem.tag = local_name(elem.tag)
            yield event, elem
    except ET.ParseError as exc:
        line, column = getattr(exc, "position", (None, None))
        raise ReportError(f"malformed XML at line {line}, column {column}: {exc}", line, column) from None


def _text(elem: ET.Element | None) -> str | None:
    if elem is None or elem.text is None:
        return None
    return elem.text.strip() or None


def _tagged(elem: ET.Element) -> TaggedFile:
    tf = TaggedFile(
        path=elem.get("path") or "",
        file_id=elem.get("id"),
        fs=elem.get("fs"),
        deleted=(elem.get("deleted") or "").lower() == "deleted",
    )
    size = elem.get("size")
    tf.size = int(size) if size and size.isdigit() else None
    for meta in elem.iter("metadata"):
        if meta.get("section") != "File":
            continue
        for item in meta.iter("item"):
            name, value = item.get("name"), _text(item)
            if value is None:
                continue
            if name == "Local Path":
                tf.local = value.replace("\\", "/").lstrip("/")
            elif name == "SHA256":
                tf.sha256 = value.lower()
            elif name == "MD5":
                tf.md5 = value.lower()
    for ts in elem.iter("timestamp"):
        t = parse_time(ts.text)
        if t is None:
            continue
        name = ts.get("name")
        if name == "ModifyTime":
            tf.mtime = t.timestamp()
        elif name == "AccessTime":
            tf.atime = t.timestamp()
        elif name == "CreationTime":
            tf.crtime = t.timestamp()
    return tf


def read_header(fh: BinaryIO, *, files: bool = True) -> ReportHeader:
    """The extraction facts and (``files``) the tagged files of a report, streamed."""
    out = ReportHeader()
    raw_facts: list[tuple[str, str]] = []  # (item name, value)
    stack: list[ET.Element] = []
    section: str | None = None
    tagged_done = in_tagged = False
    for event, elem in events(fh):
        if event == "start":
            stack.append(elem)
            tag = elem.tag
            if len(stack) == 1:
                out.cellebrite = tag == "project"
                if elem.get("extractionType"):
                    raw_facts.append(("ExtractionType", elem.get("extractionType") or ""))
            elif tag == "taggedFiles":
                in_tagged = True
            elif tag == "decodedData" and (tagged_done or not files):
                break  # everything asked for is known: the decoded models are not read here
            elif tag == "metadata" and not in_tagged:
                section = elem.get("section")
            elif tag == "extractionInfo" and elem.get("type"):
                raw_facts.append(("ExtractionType", elem.get("type") or ""))
            continue
        stack.pop()
        tag = elem.tag
        parent = stack[-1] if stack else None
        if tag == "item" and section is not None and not in_tagged:
            value = _text(elem)
            if value is not None:
                raw_facts.append((elem.get("name") or "", value))
        elif tag == "metadata" and not in_tagged:
            section = None
        elif tag == "file" and in_tagged and parent is not None:
            if files:
                out.files.append(_tagged(elem))
            parent.remove(elem)  # the file list can be millions long: keep records, not elements
        elif tag == "taggedFiles":
            in_tagged, tagged_done = False, True
        elif tag == "model" and parent is not None and parent.tag == "modelType":
            parent.remove(elem)  # decoded data met before the file list: read past, not kept
    out.facts = _facts(raw_facts)
    return out


def _facts(raw: list[tuple[str, str]]) -> list[tuple[str, str]]:
    have = {name for name, _ in raw}
    out: list[tuple[str, str]] = []
    # The tool is named by the items that state its versions: Physical Analyzer writes
    # UFED_PA_Version, the extraction unit DeviceInfoUnitVersion (the format alone names no product).
    if "DeviceInfoUnitVersion" in have:
        out.append(("extraction_tool", "Cellebrite UFED"))
    elif "UFED_PA_Version" in have:
        out.append(("extraction_tool", "Cellebrite UFED Physical Analyzer"))
    for name, value in raw:
        fact = _FACTS.get(name)
        if fact is None or _FALLBACK.get(name) in have:
            continue
        if (fact, value) not in out:
            out.append((fact, value))
    return out
