"""``tessera ingest`` on iTunes/Finder backups, as a user runs it: the real encrypted vector with
``--password``, synthetic backups stored under their device paths with the device's facts, and the
backups whose index cannot be opened (no password, a wrong one, a truncated Manifest.db): exit 1, the
folder's own files stored under their hashed names, the named error on ``/Manifest.db``, listed in the
case."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from tessera.evidence import open_readonly
from tessera.ingest.runs import device_facts
from tessera.store import models as m
from tessera.store.case import CaseHandle
from tessera.synth.backups import WHATSAPP_GROUP, write_backup
from tests.evidence.test_backup import VECTOR, needs_vector

WA = "/private/var/mobile/Containers/Shared/AppGroup/group.net.whatsapp.WhatsApp.shared"


def tessera(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tessera", *args], capture_output=True, text=True)


def _ingest(case: CaseHandle, source: Path, device: str, *extra: str) -> subprocess.CompletedProcess[str]:
    return tessera(
        "ingest", str(source), "--device", device, "--kind", "phone", "--workers", "0",
        "--case", str(case.directory), *extra,
    )  # fmt: skip


def _files(case: CaseHandle, device: str) -> dict[str, m.File]:
    with case.session() as s:
        return {f.locator: f for f in s.scalars(select(m.File).where(m.File.device_id == device))}


@needs_vector
def test_real_encrypted_vector_through_ingest(case: CaseHandle) -> None:
    r = _ingest(case, VECTOR, "P07", "--password", "0000")
    assert r.returncode == 0, r.stderr + r.stdout
    files = _files(case, "P07")
    test_txt = files["/Manifest.db!/MyTestDomain/Media/Test.txt"]
    assert test_txt.sha256 == hashlib.sha256(b"Test data").hexdigest()
    assert test_txt.raw_path == b"/Manifest.db!/MyTestDomain/Media/Test.txt" and test_txt.error is None
    assert {"/Manifest.db", "/Manifest.plist", "/Info.plist", "/Status.plist"} <= set(files)
    facts = {(name, value, source) for name, value, source in device_facts(case, "P07")}
    assert ("backup_encrypted", "true", "/Manifest.plist") in facts
    assert ("os_version", "10.3", "/Manifest.plist") in facts


def _kept_hashed(case: CaseHandle, root: Path, device: str, r: subprocess.CompletedProcess[str]) -> str:
    """After an ingest whose backup index could not be opened: exit 1 ("done, with errors"), the
    device's files are exactly the folder's own files under their own (hashed) names, each hashed as
    found, the one error on ``/Manifest.db`` (printed, and listed by ``tessera report``), the device
    facts stored. Returns the error."""
    assert r.returncode == 1, r.stdout + r.stderr
    assert "Traceback" not in r.stderr
    stored = _files(case, device)
    on_disk = {
        "/" + os.path.relpath(os.path.join(d, f), root): os.path.join(d, f)
        for d, _, names in os.walk(root)
        for f in names
    }
    assert set(stored) == set(on_disk), "the folder's own files, nothing under a device path"
    for loc, path in on_disk.items():
        with open_readonly(path) as fh:
            assert stored[loc].sha256 == hashlib.sha256(fh.read()).hexdigest(), loc
    errors = {loc: row.error for loc, row in stored.items() if row.error}
    assert set(errors) == {"/Manifest.db"}, errors
    error = errors["/Manifest.db"]
    assert error in " ".join((r.stdout + r.stderr).split()), "the named error is printed"
    report = case.directory.parent / f"report-{device}.json"
    listed = tessera("report", "--format", "json", "--out", str(report), "--case", str(case.directory))
    assert listed.returncode == 0, listed.stderr
    (dev,) = [d for d in json.loads(report.read_text())["devices"] if d["id"] == device]
    assert {"locator": "/Manifest.db", "error": error} in dev["problems"]
    facts = {(name, source) for name, _value, source in device_facts(case, device)}
    assert {("backup_encrypted", "/Manifest.plist"), ("extraction_type", "/Manifest.plist")} <= facts
    return error


@needs_vector
def test_vector_without_or_with_a_wrong_password(sqlite_case: CaseHandle) -> None:
    for device, extra, reason in [
        ("P08", (), "no password given (--password)"),
        ("P09", ("--password", "1234"), "wrong password (the --password given does not unwrap its keys)"),
    ]:
        r = _ingest(sqlite_case, VECTOR, device, *extra)
        error = _kept_hashed(sqlite_case, VECTOR, device, r)
        assert error.startswith(f"encrypted iTunes/Finder backup: {reason}: ")
        assert "data files (1) are kept under their hashed names, not decrypted" in error
        assert "ingest again with the right --password under a new device id" in error
        assert "1234" not in error
        files = _files(sqlite_case, device)
        assert files["/57/5727bd1c5fa1055e15d8b4a75a74793c84b5ffdc"].size == 16  # the ciphertext, kept
        facts = {(name, value, source) for name, value, source in device_facts(sqlite_case, device)}
        assert {
            ("backup_encrypted", "true", "/Manifest.plist"),
            ("os_version", "10.3", "/Manifest.plist"),
        } <= facts
    # the same backup with its password, as a new device: read in full
    r = _ingest(sqlite_case, VECTOR, "P10", "--password", "0000")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "/Manifest.db!/MyTestDomain/Media/Test.txt" in _files(sqlite_case, "P10")


def test_synthetic_backups_through_ingest(case: CaseHandle, tmp_path: Path) -> None:
    files = [
        (WHATSAPP_GROUP, "ChatStorage.sqlite", b"not really a database"),
        ("HomeDomain", "Library/SMS/sms.db", b"sms"),
        ("CameraRollDomain", "Media/DCIM/100APPLE/notes.dat", bytes(range(256)) * 20),
    ]
    for device, password in [("P01", None), ("P02", "pw 2")]:
        written = write_backup(tmp_path / device, files, password=password, info={"Device Name": device})
        r = _ingest(case, written.root, device, *(("--password", password) if password else ()))
        assert r.returncode == 0, r.stderr + r.stdout
        stored = _files(case, device)
        for (domain, rel), (_fid, content) in written.files.items():
            loc = {
                WHATSAPP_GROUP: WA,
                "HomeDomain": "/private/var/mobile",
                "CameraRollDomain": "/private/var/mobile",
            }[domain]
            row = stored[f"/Manifest.db!{loc}/{rel}"]
            assert row.sha256 == hashlib.sha256(content).hexdigest() and row.error is None
            assert row.raw_path == f"/Manifest.db!/{domain}/{rel}".encode()
            assert row.depth == 1 and row.mtime is not None
        facts = {name: value for name, value, source in device_facts(case, device) if source == "/Info.plist"}
        assert facts["device_name"] == device
        assert facts["product_type"] == "iPhone12,1" and facts["serial"] == "SYNTH00000001"
        assert facts["udid"] == written.udid.upper()
    r = tessera("sources", "--case", str(case.directory), "--device", "P02")
    assert r.returncode == 0, r.stderr
    assert "Device facts" in r.stdout and "iPhone12,1" in r.stdout and "SYNTH00000001" in r.stdout


@pytest.mark.parametrize("password", [None, "pw"])
def test_truncated_backup(sqlite_case: CaseHandle, tmp_path: Path, password: str | None) -> None:
    written = write_backup(tmp_path / "b", [("HomeDomain", "a.txt", b"a")], password=password)
    db = written.root / "Manifest.db"
    db.write_bytes(db.read_bytes()[:3001])
    r = _ingest(sqlite_case, written.root, "P11", *(("--password", password) if password else ()))
    error = _kept_hashed(sqlite_case, written.root, "P11", r)
    assert "Manifest.db unreadable" in error and "truncated or corrupt" in error
    assert "data files (1) are kept under their hashed names" in error
    facts = {(name, value, source) for name, value, source in device_facts(sqlite_case, "P11")}
    assert ("udid", written.udid.upper(), "/Info.plist") in facts


def test_missing_data_file_is_an_item_error(sqlite_case: CaseHandle, tmp_path: Path) -> None:
    written = write_backup(tmp_path / "b", [("HomeDomain", "a.txt", b"a"), ("HomeDomain", "b.txt", b"b")])
    fid = written.files[("HomeDomain", "a.txt")][0]
    (written.root / fid[:2] / fid).unlink()
    r = _ingest(sqlite_case, written.root, "P10")
    assert r.returncode == 1 and "could not be fully processed" in r.stderr  # finished, one file short
    stored = _files(sqlite_case, "P10")
    gone = stored["/Manifest.db!/private/var/mobile/a.txt"]
    assert gone.sha256 is None and gone.error and "missing from the backup folder" in gone.error
    assert stored["/Manifest.db!/private/var/mobile/b.txt"].sha256 == hashlib.sha256(b"b").hexdigest()
    assert "Traceback" not in r.stderr
