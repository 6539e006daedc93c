"""DFXML out: one device's file listing as Digital Forensics XML 1.x, the format fiwalk and TSK write.

So an examiner can diff Tessera's view of a device against fiwalk's or The Sleuth Kit's. One
``<fileobject>`` per stored file occurrence, streamed from the case database row by row (never all
rows in memory) and written as text with every value escaped.

Mapping (DFXML element <- case database):
- ``filename`` <- the display locator (``/Download/a.zip!/b.png``: container layers joined by ``!``,
  ``!`` inside a name written ``%21``, see docs/evidence.md). XML 1.0 cannot carry some characters
  (control characters); they are written ``\\xNN``, as undecodable bytes already are.
- ``tessera:raw_path`` (base64) <- the exact name bytes of every layer (joined by ``!``), written
  only where the filename is not exactly their UTF-8 reading (names that are not UTF-8 or hold
  characters XML cannot carry, escaped ``!``, numbered repeats ``#2``, absolute member names).
- ``error`` <- why the file, or part of it, was not read.
- ``name_type`` ``r`` or ``l`` (symbolic link, with ``link_target``); hard links are ``r``, with
  ``tessera:link_kind`` ``hard``.
- ``tessera:orphan`` 1 for a file no folder names (TSK's ``$OrphanFiles``); ``tessera:stream`` the
  name of an NTFS alternate data stream (the file object is that stream).
- ``filesize``; ``alloc_inode``/``alloc_name`` 0 for deleted files, else 1 (DFXML 1.1 style, as
  TSK's own DFXML in the corpus).
- ``mtime``/``ctime``/``atime``/``crtime`` as ISO 8601 UTC.
- ``hashdigest`` md5, sha1 (media) and sha256, only for files whose content was hashed.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any
from xml.sax.saxutils import escape, quoteattr

from sqlalchemy import select

from tessera import __version__
from tessera.store import models as m
from tessera.store.case import CaseHandle

DFXML_NS = "http://www.forensicswiki.org/wiki/Category:Digital_Forensics_XML"
TESSERA_NS = "urn:tessera:dfxml:1"
#: Characters XML 1.0 does not allow in a document, even escaped.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")
_BATCH = 2000


class DeviceNotFound(LookupError):
    pass


def _xml_text(text: str) -> str:
    return _NOT_XML.sub(lambda mt: f"\\x{ord(mt.group()):02x}", text)


def _el(name: str, value: object, indent: str = "    ") -> str:
    return f"{indent}<{name}>{escape(_xml_text(str(value)))}</{name}>\n"


def _time(ts: float | None) -> str | None:
    if ts is None:
        return None
    try:
        when = datetime.fromtimestamp(ts, UTC)
    except (OverflowError, OSError, ValueError):
        return None  # out of the calendar's range: left out rather than made up
    text = when.strftime("%Y-%m-%dT%H:%M:%S")
    if when.microsecond:
        text += f".{when.microsecond:06d}".rstrip("0")
    return text + "Z"


def _raw_note(locator: str, raw_path: bytes) -> str | None:
    """The raw bytes (base64) unless the filename written is exactly their UTF-8 reading."""
    try:
        if raw_path.decode("utf-8") == locator and not _NOT_XML.search(locator):
            return None
    except UnicodeDecodeError:
        pass
    return base64.b64encode(raw_path).decode("ascii")


def fileobject(row: Any) -> str:
    """One ``<fileobject>`` for a row of (file columns..., md5, sha1)."""
    out = ["  <fileobject>\n", _el("filename", row.locator)]
    raw = _raw_note(row.locator, row.raw_path or b"")
    if raw is not None:
        out.append(f'    <tessera:raw_path encoding="base64">{raw}</tessera:raw_path>\n')
    if row.error:
        out.append(_el("error", row.error))
    out.append(_el("name_type", "l" if row.is_symlink else "r"))
    if row.size is not None:
        out.append(_el("filesize", row.size))
    alloc = "0" if row.deleted else "1"
    out += [_el("alloc_inode", alloc), _el("alloc_name", alloc)]
    if row.orphan:
        out.append("    <tessera:orphan>1</tessera:orphan>\n")
    if row.stream:
        out.append(f"    <tessera:stream>{escape(row.stream)}</tessera:stream>\n")
    if row.link_kind == "hard":
        out.append("    <tessera:link_kind>hard</tessera:link_kind>\n")
    for name in ("mtime", "ctime", "atime", "crtime"):
        when = _time(getattr(row, name))
        if when is not None:
            out.append(_el(name, when))
    if row.link_target is not None:
        out.append(_el("link_target", row.link_target))
    for kind, value in (("md5", row.md5), ("sha1", row.sha1), ("sha256", row.sha256)):
        if value:
            out.append(f"    <hashdigest type={quoteattr(kind)}>{escape(value)}</hashdigest>\n")
    out.append("  </fileobject>\n")
    return "".join(out)


def _rows(case: CaseHandle, device_id: str) -> Iterator[Any]:
    cols = (
        m.File.locator,
        m.File.raw_path,
        m.File.size,
        m.File.mtime,
        m.File.atime,
        m.File.ctime,
        m.File.crtime,
        m.File.deleted,
        m.File.orphan,
        m.File.stream,
        m.File.link_kind,
        m.File.is_symlink,
        m.File.link_target,
        m.File.sha256,
        m.File.error,
        m.Media.md5,
        m.Media.sha1,
    )
    # Keyset pages on the primary key: bounded memory on SQLite and PostgreSQL alike, and no
    # long-lived server cursor across the whole export.
    last = 0
    while True:
        with case.session() as s:
            q = (
                select(m.File.id, *cols)
                .outerjoin(m.Media, m.Media.sha256 == m.File.sha256)
                .where(m.File.device_id == device_id, m.File.id > last)
                .order_by(m.File.id)
                .limit(_BATCH)
            )
            rows = s.execute(q).all()
        if not rows:
            return
        yield from rows
        last = rows[-1].id


def write_dfxml(case: CaseHandle, device_id: str, fh: IO[str], command_line: str | None = None) -> int:
    """Write the device's listing to ``fh``; returns the number of ``<fileobject>`` elements."""
    with case.session() as s:
        device = s.get(m.Device, device_id)
        if device is None:
            raise DeviceNotFound(f"no device {device_id!r} in this case")
        source, kind, evidence_hash = device.source_path, device.kind, device.evidence_hash
        info = s.scalars(select(m.Case).limit(1)).first()
        case_name = info.name if info is not None else case.name
    fh.write('<?xml version="1.0" encoding="UTF-8"?>\n')
    fh.write(
        f'<dfxml xmlns="{DFXML_NS}" xmlns:dc="http://purl.org/dc/elements/1.1/" '
        f'xmlns:tessera="{TESSERA_NS}" version="1.1.1">\n'
    )
    fh.write("  <metadata>\n    <dc:type>File listing</dc:type>\n  </metadata>\n")
    fh.write('  <creator version="1.0">\n')
    fh.write(_el("program", "Tessera", "    ") + _el("version", __version__, "    "))
    fh.write("    <execution_environment>\n")
    if command_line:
        fh.write(_el("command_line", command_line, "      "))
    fh.write(_el("start_time", _time(datetime.now(UTC).timestamp()) or "", "      "))
    fh.write("    </execution_environment>\n  </creator>\n")
    fh.write("  <source>\n")
    if source:
        fh.write(_el("image_filename", source, "    "))
    fh.write(_el("tessera:device", device_id, "    ") + _el("tessera:device_kind", kind, "    "))
    fh.write(_el("tessera:case", case_name, "    "))
    if evidence_hash:
        fh.write(_el("tessera:evidence_hash", evidence_hash, "    "))
    fh.write("  </source>\n")
    count = 0
    for row in _rows(case, device_id):
        fh.write(fileobject(row))
        count += 1
    fh.write("</dfxml>\n")
    return count


def export_dfxml(case: CaseHandle, device_id: str, out: Path, command_line: str | None = None) -> int:
    """Write ``out`` (via a temporary file, so a failed export leaves no half document)."""
    tmp = out.with_name(out.name + ".part")
    try:
        with open(tmp, "w", encoding="utf-8", newline="\n") as fh:
            count = write_dfxml(case, device_id, fh, command_line)
        tmp.replace(out)
    finally:
        tmp.unlink(missing_ok=True)
    return count
