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


def parse_mbfile(blob: bytes | None) -> MBFile:
    """The ``MBFile`` in a ``Files.file`` blob; ValueError when it is not one."""
    if not blob:
        return MBFile()
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
    target = deref(root.get("Target"))
    size = _num(root.get("Size"))
    mode = _num(root.get("Mode"))
    klass = _num(root.get("ProtectionClass"))
    return MBFile(
        size=int(size) if size is not None else None,
        mode=int(mode) if mode is not None else None,
        mtime=_num(root.get("LastModified")),
        ctime=_num(root.get("LastStatusChange")),
        crtime=_num(root.get("Birth")),
        protection_class=int(klass) if klass is not None else None,
        key=key if isinstance(key, bytes) else None,
        target=target if isinstance(target, str) else None,
    )
