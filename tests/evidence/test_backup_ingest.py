"""``tessera ingest`` on iTunes/Finder backups, as a user runs it: the real encrypted vector with
``--password``, synthetic backups stored under their device paths with the device's facts, and the
refusals (no password, wrong password, truncated Manifest.db): exit 1, one named line, nothing stored."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

from sqlalchemy import func, select

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


@needs_vector
def test_vector_refused_without_or_with_a_wrong_password(sqlite_case: CaseHandle) -> None:
    for extra, message in [
        ((), "encrypted backup: give --password"),
        (("--password", "1234"), "wrong password"),
    ]:
        r = _ingest(sqlite_case, VECTOR, "P08", *extra)
        # exit 2: the CLI's "unusable input" (as for a missing source); 1 means "finished, with errors"
        assert r.returncode == 2, r.stdout
        assert message in r.stderr and "Traceback" not in r.stderr
    with sqlite_case.session() as s:
        assert s.scalar(select(func.count()).select_from(m.File)) == 0
        assert s.get(m.Device, "P08") is None  # nothing half-stored


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


def test_truncated_backup_is_refused(sqlite_case: CaseHandle, tmp_path: Path) -> None:
    written = write_backup(tmp_path / "b", [("HomeDomain", "a.txt", b"a")])
    db = written.root / "Manifest.db"
    db.write_bytes(db.read_bytes()[:3000])
    r = _ingest(sqlite_case, written.root, "P09")
    assert r.returncode == 2
    assert "Manifest.db unreadable" in r.stderr and "Traceback" not in r.stderr
    with sqlite_case.session() as s:
        assert s.scalar(select(func.count()).select_from(m.File)) == 0


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
