"""The records of an iTunes/Finder backup: its plists, its device facts and ``Files.file`` (MBFile).

``Manifest.db`` has one row per file, folder and link: ``Files(fileID, domain, relativePath, flags,
file)``, ``flags`` 1 file, 2 folder, 4 link, and ``file`` an NSKeyedArchiver binary plist of an
``MBFile`` (size, mode, times in Unix seconds, protection class, the wrapped per-file key of an
encrypted backup, a link's target). The data of ``fileID`` lies at ``<fileID[:2]>/<fileID>``; iOS 10+
makes ``fileID`` the SHA-1 of ``<domain>-<relativePath>`` (:func:`file_id`), so a file's backup name
can always be recovered from the domain and path its locator keeps.
"""

from __future__ import annotations

import hashlib
import plistlib
import struct
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tessera.evidence.base import Limits, open_readonly, report_fact

MANIFEST_DB = "Manifest.db"
MANIFEST_MBDB = "Manifest.mbdb"  # before iOS 10: recognised, not read
PLISTS = ("Manifest.plist", "Info.plist", "Status.plist")
FLAG_DIR = 2
FLAG_LINK = 4

#: Info.plist key -> device fact (names from tessera.evidence.base.FACT_NAMES).
INFO_FACTS = {
    "Device Name": "device_name",
    "Product Name": "model",
    "Product Type": "product_type",
    "Product Version": "os_version",
    "Build Version": "build",
    "Serial Number": "serial",
    "IMEI": "imei",
    "MEID": "meid",
    "ICCID": "iccid",
    "Phone Number": "phone_number",
    "Unique Identifier": "udid",
    "Last Backup Date": "last_backup",
}
#: Manifest.plist ``Lockdown`` key -> device fact (the same facts, as the backup's own index has them).
LOCKDOWN_FACTS = {
    "DeviceName": "device_name",
    "ProductType": "product_type",
    "ProductVersion": "os_version",
    "BuildVersion": "build",
    "SerialNumber": "serial",
    "UniqueDeviceID": "udid",
}


def file_id(domain: str, relative: str) -> str:
    """The backup name iOS 10+ gives ``(domain, relative)``."""
    return hashlib.sha1(f"{domain}-{relative}".encode()).hexdigest()


def read_plist(path: Path) -> dict[str, Any]:
    """A plist of the backup (XML or binary), read-only; ValueError when it is not a dictionary."""
    with open_readonly(path) as fh:
        try:
            data = plistlib.load(fh)
        except (plistlib.InvalidFileException, ValueError, TypeError, OverflowError) as exc:
            raise ValueError(f"{path.name} is not a readable plist ({exc})") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path.name} is not a dictionary plist")
    return data


def _fact_text(value: object) -> str | None:
    if isinstance(value, datetime):
        # plistlib reads dates as naive UTC
        return value.replace(tzinfo=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int):
        return str(value)
    return None


def report_facts(root: Path, limits: Limits, manifest: dict[str, Any] | None) -> None:
    """The device facts the backup states, each with the file that states it."""
    if manifest is not None:
        report_fact(
            limits, "/Manifest.plist", "backup_encrypted", _fact_text(bool(manifest.get("IsEncrypted")))
        )
        report_fact(limits, "/Manifest.plist", "extraction_type", "iTunes/Finder backup")
        lockdown = manifest.get("Lockdown")
        if isinstance(lockdown, dict):
            for key, name in LOCKDOWN_FACTS.items():
                report_fact(limits, "/Manifest.plist", name, _fact_text(lockdown.get(key)))
    try:
        info = read_plist(root / "Info.plist")
    except (OSError, ValueError):
        info = {}  # a missing or broken Info.plist is an item of the walk like any file; no facts
    for key, name in INFO_FACTS.items():
        report_fact(limits, "/Info.plist", name, _fact_text(info.get(key)))
    try:
        status = read_plist(root / "Status.plist")
    except (OSError, ValueError):
        status = {}
    report_fact(limits, "/Status.plist", "extraction_time", _fact_text(status.get("Date")))


@dataclass(frozen=True, slots=True)
class MBFile:
    """What a ``Files.file`` record says about one file."""

    size: int | None = None
    mode: int | None = None
    mtime: float | None = None
    ctime: float | None = None
    crtime: float | None = None
    protection_class: int | None = None
    #: The wrapped per-file key (4 bytes class + wrapped key); None in an unencrypted backup.
    key: bytes | None = None
    target: str | None = None


def _num(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


_TRAILER = struct.Struct(">6xBBQQQ")
_FROM = int.from_bytes
#: The MBFile fields read, by their key's raw bytes in the archive.
_FIELDS = {
    k.encode(): k
    for k in (
        "Size",
        "Mode",
        "LastModified",
        "LastStatusChange",
        "Birth",
        "ProtectionClass",
        "EncryptionKey",
        "Target",
    )
}


class _Bplist:
    """Just enough of a binary plist reader to pull a few values out of an ``MBFile`` archive.

    ``plistlib`` decodes every object of every record, which made it most of a backup walk's time
    (50,000 records: 10 of 17 s); this decodes only the objects asked for, with few calls per
    object. Anything unexpected raises, and :func:`parse_mbfile` falls back to ``plistlib``."""

    __slots__ = ("blob", "off_size", "ref_size", "table", "top")

    def __init__(self, blob: bytes) -> None:
        if blob[:8] != b"bplist00" or len(blob) < 40:
            raise ValueError("not a binary plist")
        self.off_size, self.ref_size, _n, self.top, self.table = _TRAILER.unpack_from(blob, len(blob) - 32)
        self.blob = blob

    def _start(self, index: int) -> tuple[int, int, int]:
        """Where object ``index``'s payload starts, its type and its count (length, entries)."""
        b, size = self.blob, self.off_size
        at = self.table + index * size
        pos = _FROM(b[at : at + size], "big")
        marker = b[pos]
        count = marker & 0xF
        pos += 1
        if count == 0xF and marker >> 4 >= 0x4:  # a long count follows as an int object
            width = 1 << (b[pos] & 0xF)
            count = _FROM(b[pos + 1 : pos + 1 + width], "big")
            pos += 1 + width
        return pos, marker >> 4, count

    def refs(self, pos: int, count: int) -> list[int]:
        b, size = self.blob, self.ref_size
        return [_FROM(b[p : p + size], "big") for p in range(pos, pos + count * size, size)]

    def keyed(self, index: int) -> dict[bytes, int]:
        """A dictionary as ``{raw key bytes: value reference}`` (keys are ASCII strings)."""
        pos, kind, count = self._start(index)
        if kind != 0xD:
            raise ValueError("not a dictionary")
        out: dict[bytes, int] = {}
        values = self.refs(pos + count * self.ref_size, count)
        for key, value in zip(self.refs(pos, count), values, strict=True):
            kpos, kkind, klen = self._start(key)
            if kkind == 0x5:
                out[self.blob[kpos : kpos + klen]] = value
        return out

    def get(self, index: int) -> Any:
        """A scalar, bytes, string or UID; an array as a list of references."""
        b = self.blob
        pos, kind, count = self._start(index)
        if kind == 0x1:
            width = 1 << count
            return _FROM(b[pos : pos + width], "big", signed=width >= 8)
        if kind == 0x2:
            return struct.unpack(">d" if count == 3 else ">f", b[pos : pos + (1 << count)])[0]
        if kind == 0x8:
            return plistlib.UID(_FROM(b[pos : pos + count + 1], "big"))
        if kind == 0x4:
            return b[pos : pos + count]
        if kind == 0x5:
            return b[pos : pos + count].decode("ascii")
        if kind == 0x6:
            return b[pos : pos + 2 * count].decode("utf-16-be")
        if kind == 0xA:
            return self.refs(pos, count)
        if kind == 0xD:
            return self.keyed(index)
        raise ValueError(f"binary plist object type {kind:#x} not read here")


def _fast_mbfile(blob: bytes) -> MBFile:
    p = _Bplist(blob)
    top = p.keyed(p.top)
    objects = p.get(top[b"$objects"])
    root = p.keyed(objects[p.get(p.keyed(top[b"$top"])[b"root"]).data])
    fields = {name: p.get(root[raw]) for raw, name in _FIELDS.items() if raw in root}

    def deref(v: Any) -> Any:
        return p.get(objects[v.data]) if isinstance(v, plistlib.UID) else v

    key = deref(fields.get("EncryptionKey"))
    if isinstance(key, dict):
        key = deref(p.get(key[b"NS.data"])) if b"NS.data" in key else None
    return _mbfile(fields, key, deref(fields.get("Target")))


def _mbfile(fields: dict[str, Any], key: object, target: object) -> MBFile:
    size, mode, klass = (
        _num(fields.get("Size")),
        _num(fields.get("Mode")),
        _num(fields.get("ProtectionClass")),
    )
    return MBFile(
        size=int(size) if size is not None else None,
        mode=int(mode) if mode is not None else None,
        mtime=_num(fields.get("LastModified")),
        ctime=_num(fields.get("LastStatusChange")),
        crtime=_num(fields.get("Birth")),
        protection_class=int(klass) if klass is not None else None,
        key=key if isinstance(key, bytes) else None,
        target=target if isinstance(target, str) else None,
    )


def parse_mbfile(blob: bytes | None) -> MBFile:
    """The ``MBFile`` in a ``Files.file`` blob; ValueError when it is not one."""
    if not blob:
        return MBFile()
    try:
        return _fast_mbfile(blob)
    except Exception:  # noqa: BLE001  (anything odd: the full reader decides, and names the problem)
        pass
    try:
        arch = plistlib.loads(blob)
    except (plistlib.InvalidFileException, ValueError, TypeError, OverflowError) as exc:
        raise ValueError(f"file record is not a plist ({exc})") from None
    try:
        objects = arch["$objects"]
        root = objects[arch["$top"]["root"].data]
    except (KeyError, TypeError, IndexError, AttributeError):
        raise ValueError("file record is not an archived MBFile") from None

    def deref(value: object) -> object:
        return objects[value.data] if isinstance(value, plistlib.UID) else value

    key = deref(root.get("EncryptionKey"))
    if isinstance(key, dict):
        key = deref(key.get("NS.data"))  # the bytes, or a reference to them
    return _mbfile(root, key, deref(root.get("Target")))
