"""iTunes/Finder backups as an evidence source: synthetic backups (plain and encrypted) round-trip
under their device paths, the real encrypted test vector opens with its password, and every broken
backup is a named error or an item error, never a traceback: a backup whose index cannot be opened
(no password, a wrong one, a truncated ``Manifest.db``) keeps its files under their hashed names with
the error on the index file; the evidence is never changed."""

from __future__ import annotations

import hashlib
import json
import os
import plistlib
import re
import time
from dataclasses import replace
from pathlib import Path

import pytest

from tessera.evidence import Limits, iter_evidence, open_item, pick_source
from tessera.evidence.backup_domains import candidates, device_path
from tessera.evidence.backup_manifest import file_id
from tessera.evidence.resolve import reopen
from tessera.records import EvidenceItem
from tessera.synth.backups import WHATSAPP_GROUP, Written, write_backup
from tests.evidence.conftest import snapshot

VECTOR = Path("/work/shared/corpus/phones/ios_backup/pyiosbackup_encrypted_vector")
VECTOR_EXPECTED = VECTOR.parent / "pyiosbackup_encrypted_vector.expected.json"
needs_vector = pytest.mark.skipif(not VECTOR.is_dir(), reason="phone corpus not present")

FILES = [
    (WHATSAPP_GROUP, "ChatStorage.sqlite", b"chat storage bytes"),
    (WHATSAPP_GROUP, "ChatStorage.sqlite-wal", b""),
    (WHATSAPP_GROUP, "Message/Media/1/a/abc.jpg", b"\xff\xd8" + bytes(range(256)) * 40),
    ("AppDomain-net.whatsapp.WhatsApp", "Library/Preferences/group.plist", b"prefs"),
    ("HomeDomain", "Library/SMS/sms.db", b"sms"),
    ("MediaDomain", "Library/SMS/sms.db", b"same path, other domain"),
    ("CameraRollDomain", "Media/DCIM/100APPLE/IMG_0001.HEIC", os.urandom(70_000)),
    ("RootDomain", "Library/Caches/locationd/cache.plist", b"root"),
    ("SystemPreferencesDomain", "SystemConfiguration/preferences.plist", b"sys"),
    ("WirelessDomain", "Library/CallHistory/call_history.db", b"calls"),
    ("SomeFutureDomain", "x/y.bin", b"unknown domain"),
]
WHATSAPP_DIR = "/private/var/mobile/Containers/Shared/AppGroup/group.net.whatsapp.WhatsApp.shared"


def _settled(root: Path) -> dict[bytes, tuple[object, ...]]:
    """A snapshot after ageing every file's access time (a read would now update it, even under
    "relatime"); the os.walk also settles the folders' atimes so the snapshots' own listings keep them."""
    old = time.time() - 3 * 86400
    for dirpath, _, files in os.walk(root):
        for name in files:
            path = os.path.join(dirpath, name)
            if not os.path.islink(path):
                os.utime(path, (old, os.lstat(path).st_mtime))
    return snapshot(root)


def _walk(root: Path, limits: Limits) -> dict[str, EvidenceItem]:
    items = list(iter_evidence(root, limits))
    by_loc = {i.locator: i for i in items}
    assert len(by_loc) == len(items), "locators are unique"
    return by_loc


def _sha(item: EvidenceItem) -> str:
    assert item.opener is not None, item
    with open_item(item.opener) as fh:
        return hashlib.sha256(fh.read()).hexdigest()


def _expected_locators(written: Written) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    for (domain, rel), (_fid, content) in written.files.items():
        loc = "/Manifest.db!" + device_path(domain, rel)
        if loc in out:
            loc += "#2"  # the second entry of one device path, in (domain, path) order
        out[loc] = content
    return out


@pytest.fixture(params=[None, "correct horse"], ids=["plain", "encrypted"])
def backup(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[Written, str | None]:
    return write_backup(tmp_path / "backup", FILES, password=request.param), request.param


def test_domain_table() -> None:
    assert device_path(WHATSAPP_GROUP, "ChatStorage.sqlite") == WHATSAPP_DIR + "/ChatStorage.sqlite"
    assert device_path("AppDomain-com.x.y", "Documents/a") == (
        "/private/var/mobile/Containers/Data/Application/com.x.y/Documents/a"
    )
    assert device_path("HomeDomain", "Library/SMS/sms.db") == "/private/var/mobile/Library/SMS/sms.db"
    assert device_path("WirelessDomain", "x") == "/private/var/wireless/x"
    assert device_path("MyTestDomain", "Media/Test.txt") == "/MyTestDomain/Media/Test.txt"
    path = "/private/var/mobile/Library/SMS/sms.db"
    assert {("HomeDomain", "Library/SMS/sms.db"), ("MediaDomain", "Library/SMS/sms.db")} <= set(
        candidates(path)
    )
    assert (WHATSAPP_GROUP, "ChatStorage.sqlite") in candidates(WHATSAPP_DIR + "/ChatStorage.sqlite")


def test_round_trip(backup: tuple[Written, str | None], limits: Limits) -> None:
    written, password = backup
    before = _settled(written.root)
    facts: list[tuple[str, str, str]] = []
    keys = (password,) if password else ()
    limits = replace(limits, volume_keys=keys, on_fact=lambda *f: facts.append(f))
    assert pick_source(written.root).name == "itunes-backup"
    items = _walk(written.root, limits)
    expected = _expected_locators(written)
    members = {loc: i for loc, i in items.items() if "!" in loc}
    assert set(members) == set(expected)
    for loc, content in expected.items():
        item = members[loc]
        assert item.error is None, item
        assert item.size == len(content)
        assert _sha(item) == hashlib.sha256(content).hexdigest()
        assert item.mtime is not None and item.crtime is not None
        # the backup's own name for the file stays recoverable from the raw path
        domain, _, rel = item.raw_path.split(b"!", 1)[1][1:].decode().partition("/")
        assert written.files[(domain, rel)][0] == file_id(domain, rel)
    # the backup's own files under their own paths; no hashed name shows up twice
    assert {loc for loc in items if "!" not in loc} == {
        "/Manifest.db",
        "/Manifest.plist",
        "/Info.plist",
        "/Status.plist",
    }
    assert WHATSAPP_DIR + "/ChatStorage.sqlite-wal" in "".join(members)  # sibling locators for parsers
    by_name = {(loc, name): value for loc, name, value in facts}
    assert by_name[("/Info.plist", "device_name")] == "Synthetic iPhone"
    assert by_name[("/Info.plist", "imei")] == "000000000000001"
    assert by_name[("/Info.plist", "phone_number")] == "+1 555 0100"
    assert by_name[("/Info.plist", "last_backup")] == "2026-03-14T09:26:53Z"
    assert by_name[("/Manifest.plist", "backup_encrypted")] == ("true" if password else "false")
    assert by_name[("/Info.plist", "udid")] == written.udid.upper()
    assert snapshot(written.root) == before, "the backup was changed"
    assert os.listdir(limits.scratch_dir or "") == [], "scratch copies are cleaned up"


def test_resolver_reopens_every_locator(backup: tuple[Written, str | None], limits: Limits) -> None:
    written, password = backup
    limits = replace(limits, volume_keys=(password,) if password else ())
    items = _walk(written.root, limits)
    roots = [(str(written.root), "")]
    for loc, item in items.items():
        if item.opener is None:
            continue
        assert _sha(reopen(roots, loc, item.raw_path, limits)) == _sha(item)
        assert _sha(reopen(roots, loc, None, limits)) == _sha(item)  # from the display locator alone
    # a backup added to a device as a further source is stored under /<its name>
    loc = "/Manifest.db!" + WHATSAPP_DIR + "/ChatStorage.sqlite"
    again = reopen([("/nowhere", ""), (str(written.root), "/backup")], "/backup" + loc, None, limits)
    assert again.locator == "/backup" + loc and _sha(again) == _sha(items[loc])


def _folder_files(root: Path) -> set[str]:
    """Every file of the backup folder, as the locator it has when kept under its own name."""
    return {"/" + os.path.relpath(os.path.join(d, f), root) for d, _, files in os.walk(root) for f in files}


def _kept_hashed(root: Path, limits: Limits, on: str, *reasons: str) -> dict[str, EvidenceItem]:
    """The walk of a backup whose index cannot be opened: the folder's own files under their own
    (hashed) names, nothing under a device path, and the one named error on ``on``."""
    before = _settled(root)
    facts: list[tuple[str, str, str]] = []
    items = _walk(root, replace(limits, on_fact=lambda *f: facts.append(f)))
    assert not [loc for loc in items if "!" in loc], "nothing under a device path"
    assert set(items) == _folder_files(root), "every file of the folder, under its own name"
    failed = {loc: i.error for loc, i in items.items() if i.error}
    assert set(failed) == {on}, failed
    error = failed[on]
    data = sum(1 for loc in items if re.match(r"/[0-9a-f]{2}/", loc))
    assert f"the backup's data files ({data:,}) are kept under their hashed names" in error
    for reason in reasons:
        assert reason in error, error
    for password in limits.volume_keys:
        assert password not in error, "the password never shows"
    for loc, item in items.items():
        if item.opener is not None and loc != on:  # kept as found: the bytes of the folder's file
            assert _sha(item) == before[os.fsencode(f"{root}{loc}")][6]  # the snapshot's digest
    assert ("/Info.plist", "device_name", "Synthetic iPhone") in facts, "device facts still reported"
    assert snapshot(root) == before, "the backup was changed"
    assert os.listdir(limits.scratch_dir or "") == [], "scratch copies are cleaned up"
    return items


def test_wrong_and_missing_password(tmp_path: Path, limits: Limits) -> None:
    written = write_backup(tmp_path / "enc", FILES[:2], password="right")
    missing = _kept_hashed(
        written.root,
        limits,
        "/Manifest.db",
        "encrypted iTunes/Finder backup: no password given (--password)",
        "not decrypted; ingest again with the right --password under a new device id",
    )
    assert missing["/Manifest.db"].opener is not None, "the encrypted index is still stored as found"
    wrong = _kept_hashed(
        written.root,
        replace(limits, volume_keys=("wrong-pw",)),
        "/Manifest.db",
        "encrypted iTunes/Finder backup: wrong password (the --password given does not unwrap its keys)",
        "not decrypted",
    )
    assert set(wrong) == set(missing)
    for fid, _content in written.files.values():
        assert f"/{fid[:2]}/{fid}" in wrong  # each encrypted data file, under its hashed name
    assert ("/Manifest.plist", "backup_encrypted", "true") in _facts(written.root, limits)
    # several keys given: the one that fits is used
    items = _walk(written.root, replace(limits, volume_keys=("wrong", "right")))
    assert sum(1 for loc in items if "!" in loc) == 2


def _facts(root: Path, limits: Limits) -> list[tuple[str, str, str]]:
    facts: list[tuple[str, str, str]] = []
    list(iter_evidence(root, replace(limits, on_fact=lambda *f: facts.append(f))))
    return facts


@pytest.mark.parametrize("password", [None, "pw"])
def test_truncated_manifest_is_a_named_error(tmp_path: Path, limits: Limits, password: str | None) -> None:
    written = write_backup(tmp_path / "b", FILES, password=password)
    db = written.root / "Manifest.db"
    data = db.read_bytes()
    db.write_bytes(data[: len(data) // 2 + 7])  # cut inside a page (and inside an AES block)
    limits = replace(limits, volume_keys=(password,) if password else ())
    kind = "encrypted iTunes/Finder backup" if password else "iTunes/Finder backup"
    items = _kept_hashed(
        written.root, limits, "/Manifest.db", f"{kind}: Manifest.db unreadable", "truncated or corrupt"
    )
    assert _sha(items["/Manifest.db"]) == hashlib.sha256(data[: len(data) // 2 + 7]).hexdigest()
    assert ("not decrypted" in (items["/Manifest.db"].error or "")) == bool(password)


def test_unusable_keybag_and_unreadable_manifest_plist(tmp_path: Path, limits: Limits) -> None:
    written = write_backup(tmp_path / "b", FILES[:3], password="pw")
    plist = written.root / "Manifest.plist"
    manifest = plistlib.loads(plist.read_bytes())
    del manifest["ManifestKey"]
    plist.write_bytes(plistlib.dumps(manifest, fmt=plistlib.FMT_BINARY))
    _kept_hashed(
        written.root,
        replace(limits, volume_keys=("pw",)),
        "/Manifest.db",
        "keybag unusable (Manifest.plist has no ManifestKey)",
    )
    # Manifest.plist unreadable: whether the backup is encrypted is unknown, the same fallback
    plist.write_bytes(b"bplist00 cut short")
    items = _kept_hashed(written.root, limits, "/Manifest.plist", "Manifest.plist unreadable")
    assert "Manifest.db is not read" in (items["/Manifest.plist"].error or "")
    # a folder where Manifest.plist should be: the error still has its item
    plist.unlink()
    (written.root / "Manifest.plist").mkdir()
    (written.root / "Manifest.plist" / "x").write_bytes(b"x")
    items = _walk(written.root, limits)
    assert items["/Manifest.plist"].opener is None and "Manifest.plist unreadable" in (
        items["/Manifest.plist"].error or ""
    )
    assert items["/Manifest.plist/x"].error is None and not [loc for loc in items if "!" in loc]


@pytest.mark.parametrize("password", [None, "pw"])
def test_missing_truncated_and_extra_files(tmp_path: Path, limits: Limits, password: str | None) -> None:
    written = write_backup(tmp_path / "b", FILES, password=password)
    gone_fid = written.files[("HomeDomain", "Library/SMS/sms.db")][0]
    (written.root / gone_fid[:2] / gone_fid).unlink()
    cut_fid = written.files[("CameraRollDomain", "Media/DCIM/100APPLE/IMG_0001.HEIC")][0]
    cut = written.root / cut_fid[:2] / cut_fid
    cut.write_bytes(cut.read_bytes()[:1000] + b"\x01")  # not a whole block either, when encrypted
    (written.root / "notes.txt").write_bytes(b"left by the examiner's tool")
    (written.root / "ab").mkdir(exist_ok=True)
    (written.root / "ab" / ("ab" + "0" * 38)).write_bytes(b"a data file the manifest does not list")
    items = _walk(written.root, replace(limits, volume_keys=(password,) if password else ()))
    gone = items["/Manifest.db!/private/var/mobile/Library/SMS/sms.db"]
    assert (
        gone.opener is None and gone.error and f"fileID {gone_fid}" in gone.error and "missing" in gone.error
    )
    truncated = items["/Manifest.db!/private/var/mobile/Media/DCIM/100APPLE/IMG_0001.HEIC"]
    assert truncated.error and "truncated" in truncated.error
    assert items["/notes.txt"].error is None and _sha(items["/notes.txt"])
    assert items["/ab/ab" + "0" * 38].error is None
    other = items["/Manifest.db!/private/var/mobile/Library/SMS/sms.db#2"]
    assert _sha(other) == hashlib.sha256(b"same path, other domain").hexdigest()


def test_links_and_folders(tmp_path: Path, limits: Limits) -> None:
    import sqlite3

    written = write_backup(tmp_path / "b", FILES[:1])
    db = sqlite3.connect(written.root / "Manifest.db")
    blob = plistlib.dumps(
        {
            "$version": 100000,
            "$archiver": "NSKeyedArchiver",
            "$top": {"root": plistlib.UID(1)},
            "$objects": ["$null", {"Mode": 0o120755, "Size": 0, "Target": plistlib.UID(2)}, "../real"],
        },
        fmt=plistlib.FMT_BINARY,
    )
    db.execute("INSERT INTO Files VALUES (?, 'HomeDomain', 'Library/link', 4, ?)", ("f" * 40, blob))
    db.commit()
    db.close()
    items = _walk(written.root, limits)
    link = items["/Manifest.db!/private/var/mobile/Library/link"]
    assert link.is_symlink and link.link_target == "../real" and link.opener is None and link.error is None
    # folders (flags 2) are not items; the one file is
    assert sum(1 for loc in items if "!" in loc) == 2


def test_pre_ios10_backup_is_recognised_not_read(tmp_path: Path, limits: Limits) -> None:
    root = tmp_path / "old"
    (root / "ab").mkdir(parents=True)
    (root / "Manifest.mbdb").write_bytes(b"mbdb\x05\x00" + b"\x00" * 20)
    (root / "Info.plist").write_bytes(plistlib.dumps({"Device Name": "Old phone"}))
    (root / "ab" / ("ab" + "1" * 38)).write_bytes(b"data")
    facts: list[tuple[str, str, str]] = []
    items = _walk(root, replace(limits, on_fact=lambda *f: facts.append(f)))
    assert pick_source(root).name == "itunes-backup"
    assert "Manifest.mbdb" in (items["/Manifest.mbdb"].error or "")
    assert items["/ab/ab" + "1" * 38].error is None  # kept under its hashed name, nothing lost
    assert ("/Info.plist", "device_name", "Old phone") in facts


def test_directory_without_manifest_is_not_a_backup(tmp_path: Path) -> None:
    (tmp_path / "Info.plist").write_bytes(plistlib.dumps({}))
    assert pick_source(tmp_path).name == "directory"


@needs_vector
def test_real_encrypted_vector(limits: Limits) -> None:
    expected = json.loads(VECTOR_EXPECTED.read_text())["expected"]
    before = snapshot(VECTOR)
    facts: list[tuple[str, str, str]] = []
    password = expected["password"]["value"]
    items = _walk(VECTOR, replace(limits, volume_keys=(password,), on_fact=lambda *f: facts.append(f)))
    (want,) = expected["files"]["value"]
    item = items["/Manifest.db!" + device_path(want["domain"], want["relativePath"])]
    assert item.locator == "/Manifest.db!/MyTestDomain/Media/Test.txt"
    assert item.raw_path == b"/Manifest.db!/MyTestDomain/Media/Test.txt"
    assert item.error is None and item.size == want["size"]
    with open_item(item.opener) as fh:  # type: ignore[arg-type]
        assert fh.read() == want["content"].encode()
    assert file_id(want["domain"], want["relativePath"]) == want["fileID"]
    assert item.mtime is not None and _utc(item.mtime) == want["last_modified_utc"]
    assert item.crtime is not None and _utc(item.crtime) == want["birth_utc"]
    assert ("/Manifest.plist", "backup_encrypted", "true") in facts
    assert (
        "/Manifest.plist",
        "os_version",
        expected["manifest_plist"]["value"]["Lockdown.ProductVersion"],
    ) in facts
    assert snapshot(VECTOR) == before
    # a wrong password: the vector's own files under their own names, the error on /Manifest.db
    items = _walk(VECTOR, replace(limits, volume_keys=("1234",)))
    assert set(items) == _folder_files(VECTOR)
    hashed = f"/{want['fileID'][:2]}/{want['fileID']}"
    assert items[hashed].error is None and items[hashed].opener is not None
    assert "wrong password" in (items["/Manifest.db"].error or "")
    assert "1234" not in (items["/Manifest.db"].error or "")
    assert snapshot(VECTOR) == before


def _utc(ts: float) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_linked_data_folder_is_not_followed(tmp_path: Path, limits: Limits) -> None:
    written = write_backup(tmp_path / "b", [("HomeDomain", "a.txt", b"inside")])
    fid = written.files[("HomeDomain", "a.txt")][0]
    elsewhere = tmp_path / "elsewhere"
    (written.root / fid[:2]).rename(elsewhere)
    (written.root / fid[:2]).symlink_to(elsewhere, target_is_directory=True)
    items = _walk(written.root, limits)
    entry = items["/Manifest.db!/private/var/mobile/a.txt"]
    assert entry.opener is None and entry.error and "missing" in entry.error
    link = items["/" + fid[:2]]
    assert link.is_symlink and link.link_target == str(elsewhere)


def test_hostile_manifest_rows(tmp_path: Path, limits: Limits) -> None:
    import sqlite3

    secret = tmp_path / "secret.txt"
    secret.write_bytes(b"outside the evidence")
    written = write_backup(tmp_path / "b", [("HomeDomain", "a.txt", b"a")])
    fid = written.files[("HomeDomain", "a.txt")][0]
    db = sqlite3.connect(written.root / "Manifest.db")
    rows = [
        (f"{fid[:2]}/../../secret.txt", "HomeDomain", "escape.txt", 1, None),  # a path, not a name
        ("0" * 40, None, None, None, b"not a plist"),  # NULL domain/path/flags, a broken record
    ]
    db.executemany("INSERT INTO Files VALUES (?, ?, ?, ?, ?)", rows)
    db.commit()
    db.close()
    items = _walk(written.root, limits)
    escape = items["/Manifest.db!/private/var/mobile/escape.txt"]
    assert escape.opener is None and "not a backup data name" in (escape.error or "")
    broken = items["/Manifest.db!/"]
    assert broken.opener is None and "file record is not a plist" in (broken.error or "")
    assert _sha(items["/Manifest.db!/private/var/mobile/a.txt"]) == hashlib.sha256(b"a").hexdigest()
