"""Synthetic iTunes/Finder backups in the real layout, plain or encrypted with a password.

``write_backup(dest, files)`` writes ``Manifest.db`` (``Files`` and ``Properties`` as iOS 10+ has
them, a folder row for every parent folder, an NSKeyedArchiver ``MBFile`` per row), a binary
``Manifest.plist`` and ``Status.plist``, an XML ``Info.plist`` (as iTunes writes it) and each file's
data at ``<fileID[:2]>/<fileID>`` with ``fileID = SHA-1("<domain>-<relativePath>")``.

With ``password`` it follows the iOS >= 10.2 scheme: a backup keybag whose class keys are wrapped
(RFC 3394) with the password derived twice (PBKDF2-SHA256 over ``DPSL``/``DPIC``, then PBKDF2-SHA1 over
``SALT``/``ITER``), ``Manifest.db`` encrypted with the key in ``ManifestKey``, and a key of its own for
each file, wrapped with its protection class's key and kept in its ``MBFile``; data is AES-256-CBC
with a zero IV and PKCS#7 padding. ``dpic`` defaults low so tests stay fast (real backups: 10,000,000).

Everything random comes from ``seed``: one seed, one byte-identical backup. A later test writes a
whole synthetic phone this way (e.g. WhatsApp's ``ChatStorage.sqlite`` under
``AppDomainGroup-group.net.whatsapp.WhatsApp.shared``), see :data:`WHATSAPP_GROUP`.
"""

from __future__ import annotations

import hashlib
import plistlib
import random
import sqlite3
import struct
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.keywrap import aes_key_wrap

WHATSAPP_GROUP = "AppDomainGroup-group.net.whatsapp.WhatsApp.shared"
#: Protection class of ordinary files (NSFileProtectionCompleteUntilFirstUserAuthentication) and of
#: Manifest.db (as real backups use).
FILE_CLASS = 3
MANIFEST_CLASS = 4
BACKUP_TIME = datetime(2026, 3, 14, 9, 26, 53)  # naive UTC, as plistlib writes dates
FILE_TIME = 1_767_225_600  # 2026-01-01T00:00:00Z

DEFAULT_INFO: dict[str, Any] = {
    "Device Name": "Synthetic iPhone",
    "Display Name": "Synthetic iPhone",
    "Product Name": "iPhone 11",
    "Product Type": "iPhone12,1",
    "Product Version": "17.4",
    "Build Version": "21E219",
    "Serial Number": "SYNTH00000001",
    "IMEI": "000000000000001",
    "ICCID": "8900000000000000001",
    "Phone Number": "+1 555 0100",  # 555-01xx: reserved for fiction
    "Last Backup Date": BACKUP_TIME,
    "iTunes Version": "12.13",
}

Entry = tuple[str, str, bytes]


@dataclass
class Written:
    """What a synthetic backup holds: for tests to compare with what a reader finds."""

    root: Path
    #: (domain, relativePath) -> (fileID, content) for each file written
    files: dict[tuple[str, str], tuple[str, bytes]] = field(default_factory=dict)
    folders: list[tuple[str, str]] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)
    udid: str = ""


def file_id(domain: str, relative: str) -> str:
    return hashlib.sha1(f"{domain}-{relative}".encode()).hexdigest()


def _mbfile(relative: str, size: int, mode: int, key: bytes | None, klass: int, inode: int) -> bytes:
    """A ``Files.file`` blob: an NSKeyedArchiver binary plist of one ``MBFile``."""
    root: dict[str, Any] = {
        "$class": plistlib.UID(2),
        "RelativePath": plistlib.UID(3),
        "Size": size,
        "Mode": mode,
        "UserID": 501,
        "GroupID": 501,
        "InodeNumber": inode,
        "LastModified": FILE_TIME + inode,
        "LastStatusChange": FILE_TIME + inode + 1,
        "Birth": FILE_TIME,
        "ProtectionClass": klass,
        "Flags": 0,
    }
    cls = {"$classname": "MBFile", "$classes": ["MBFile", "NSObject"]}
    objects: list[Any] = ["$null", root, cls, relative]
    if key is not None:
        root["EncryptionKey"] = plistlib.UID(4)
        objects += [
            {"$class": plistlib.UID(5), "NS.data": plistlib.UID(6)},
            {"$classname": "NSMutableData", "$classes": ["NSMutableData", "NSData", "NSObject"]},
            key,
        ]
    archive = {"$version": 100000, "$archiver": "NSKeyedArchiver", "$top": {"root": plistlib.UID(1)}}
    archive["$objects"] = objects
    return plistlib.dumps(archive, fmt=plistlib.FMT_BINARY)


def _tlv(tag: bytes, value: bytes | int) -> bytes:
    raw = struct.pack(">L", value) if isinstance(value, int) else value
    return tag + struct.pack(">L", len(raw)) + raw


def _encrypt(data: bytes, key: bytes) -> bytes:
    padder = padding.PKCS7(128).padder()
    plain = padder.update(data) + padder.finalize()
    enc = Cipher(algorithms.AES(key), modes.CBC(b"\x00" * 16)).encryptor()
    return enc.update(plain) + enc.finalize()


class _Keys:
    """A backup keybag for ``password``: class keys 1-11 wrapped with the derived password key."""

    def __init__(self, password: str, rng: random.Random, dpic: int, iterations: int) -> None:
        self.rng = rng
        dpsl, salt = rng.randbytes(20), rng.randbytes(20)
        first = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), dpsl, dpic, 32)
        passcode_key = hashlib.pbkdf2_hmac("sha1", first, salt, iterations, 32)
        self.class_keys = {n: rng.randbytes(32) for n in range(1, 12)}
        blob = _tlv(b"VERS", 4) + _tlv(b"TYPE", 1) + _tlv(b"UUID", rng.randbytes(16))
        blob += _tlv(b"HMCK", rng.randbytes(40)) + _tlv(b"WRAP", 0) + _tlv(b"SALT", salt)
        blob += _tlv(b"ITER", iterations) + _tlv(b"DPWT", 1) + _tlv(b"DPIC", dpic) + _tlv(b"DPSL", dpsl)
        for n, key in self.class_keys.items():
            blob += _tlv(b"UUID", rng.randbytes(16)) + _tlv(b"CLAS", n) + _tlv(b"WRAP", 3)
            blob += _tlv(b"KTYP", 0) + _tlv(b"WPKY", aes_key_wrap(passcode_key, key))
        self.keybag = blob

    def new_wrapped(self, klass: int) -> tuple[bytes, bytes]:
        """A fresh key and its ``<class LE><wrapped key>`` field."""
        key = self.rng.randbytes(32)
        return key, struct.pack("<L", klass) + aes_key_wrap(self.class_keys[klass], key)


def _folders(entries: Iterable[Entry]) -> list[tuple[str, str]]:
    seen: set[tuple[str, str]] = set()
    for domain, rel, _ in entries:
        parts = rel.split("/")[:-1]
        seen.add((domain, ""))
        for i in range(1, len(parts) + 1):
            seen.add((domain, "/".join(parts[:i])))
    return sorted(seen)


def write_backup(
    dest: Path,
    files: Iterable[Entry],
    *,
    password: str | None = None,
    info: dict[str, Any] | None = None,
    seed: int = 13,
    dpic: int = 1000,
    iterations: int = 100,
) -> Written:
    """Write a backup of ``files`` (``(domain, relativePath, content)``) into the new folder ``dest``."""
    entries = list(files)
    rng = random.Random(seed)
    dest.mkdir(parents=True, exist_ok=False)
    udid = rng.randbytes(20).hex()
    info = {**DEFAULT_INFO, "Unique Identifier": udid.upper(), "Target Identifier": udid, **(info or {})}
    keys = _Keys(password, rng, dpic, iterations) if password is not None else None
    out = Written(dest, info=info, udid=udid)
    with tempfile.TemporaryDirectory() as tmp:
        db_path = Path(tmp) / "Manifest.db"
        db = sqlite3.connect(db_path)
        db.executescript(
            "CREATE TABLE Files (fileID TEXT PRIMARY KEY, domain TEXT, relativePath TEXT, flags INTEGER, "
            "file BLOB);"
            "CREATE INDEX FilesDomainIdx ON Files(domain);"
            "CREATE INDEX FilesRelativePathIdx ON Files(relativePath);"
            "CREATE INDEX FilesFlagsIdx ON Files(flags);"
            "CREATE TABLE Properties (key TEXT PRIMARY KEY, value BLOB);"
        )
        rows: list[tuple[str, str, str, int, bytes]] = []
        for inode, (domain, rel) in enumerate(_folders(entries), start=1):
            rows.append((file_id(domain, rel), domain, rel, 2, _mbfile(rel, 0, 0o40755, None, 0, inode)))
            out.folders.append((domain, rel))
        for inode, (domain, rel, content) in enumerate(entries, start=len(rows) + 1):
            fid = file_id(domain, rel)
            wrapped = None
            data = content
            if keys is not None:
                key, wrapped = keys.new_wrapped(FILE_CLASS)
                data = _encrypt(content, key)
            blob = _mbfile(rel, len(content), 0o100644, wrapped, FILE_CLASS, inode)
            rows.append((fid, domain, rel, 1, blob))
            folder = dest / fid[:2]
            folder.mkdir(exist_ok=True)
            (folder / fid).write_bytes(data)
            out.files[(domain, rel)] = (fid, content)
        db.executemany("INSERT INTO Files VALUES (?, ?, ?, ?, ?)", rows)
        db.commit()
        db.close()
        manifest_db = db_path.read_bytes()
    manifest: dict[str, Any] = {
        "Version": "10.0",
        "Date": BACKUP_TIME,
        "SystemDomainsVersion": "24.0",
        "IsEncrypted": keys is not None,
        "WasPasscodeSet": False,
        "Applications": {},
        "Lockdown": {
            "DeviceName": info.get("Device Name", ""),
            "ProductType": info.get("Product Type", ""),
            "ProductVersion": info.get("Product Version", ""),
            "BuildVersion": info.get("Build Version", ""),
            "SerialNumber": info.get("Serial Number", ""),
            "UniqueDeviceID": udid,
        },
    }
    if keys is not None:
        key, wrapped = keys.new_wrapped(MANIFEST_CLASS)
        manifest["BackupKeyBag"] = keys.keybag
        manifest["ManifestKey"] = wrapped
        manifest_db = _encrypt(manifest_db, key)
    (dest / "Manifest.db").write_bytes(manifest_db)
    (dest / "Manifest.plist").write_bytes(plistlib.dumps(manifest, fmt=plistlib.FMT_BINARY))
    (dest / "Info.plist").write_bytes(plistlib.dumps(info, fmt=plistlib.FMT_XML))
    status = {
        "BackupState": "new",
        "Date": BACKUP_TIME,
        "IsFullBackup": False,
        "SnapshotState": "finished",
        "UUID": rng.randbytes(16).hex().upper(),
        "Version": "3.3",
    }
    (dest / "Status.plist").write_bytes(plistlib.dumps(status, fmt=plistlib.FMT_BINARY))
    return out
