"""Forensic images built by the tests themselves (mkfs + mtools / debugfs, ewfacquire, qemu-img, sfdisk,
cryptsetup on image files; the NTFS one through an ntfs-3g FUSE mount, skipped where FUSE is refused)."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import pytest

from tessera.evidence import Limits, iter_evidence
from tessera.synth.disks import (
    ext4_image,
    fat_image,
    gpt_image,
    luks_image,
    ntfs_image,
    ntfs_tools_missing,
    qemu_copy,
    to_e01,
    tools_missing,
)
from tessera.synth.images import jpeg_bytes

pytestmark = pytest.mark.skipif(
    bool(tools_missing()), reason=f"missing tools: {tools_missing()} (make test installs them)"
)

FILES = {
    "DCIM/Camera/IMG_1.jpg": jpeg_bytes(1, 96, 64),
    "Users/x/Pictures/b.jpg": jpeg_bytes(2, 96, 64),
    "notes.txt": b"invented notes\n" * 40,
}
GONE = {"DCIM/Camera/IMG_9.jpg": jpeg_bytes(9, 96, 64)}


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _found(root: Path) -> dict[str, tuple[str | None, bool, str | None]]:
    out = {}
    for item in iter_evidence(root):
        digest = None
        if item.opener is not None and item.opener.data is not None:
            digest = sha(item.opener.data)
        out[item.locator] = (digest, item.deleted, item.error)
    return out


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("disks") / "evidence"
    root.mkdir()
    fat_image(root / "disk.img", FILES, deleted=GONE)
    to_e01(root / "disk.img", root / "disk")
    ext4_image(root / "linux.img", {"home/u/c.jpg": jpeg_bytes(4, 96, 64)})
    to_e01(root / "linux.img", root / "linux")
    return root


def test_raw_and_e01_give_every_file_with_chained_locators(images: Path) -> None:
    found = _found(images)
    for container in ("/disk.img", "/disk.E01"):
        assert found[container][2] is None  # the E01's stored MD5 verified
        for name, data in FILES.items():
            assert found[f"{container}!/p1/{name}"] == (sha(data), False, None)
    for container in ("/linux.img", "/linux.E01"):
        assert found[f"{container}!/home/u/c.jpg"] == (sha(jpeg_bytes(4, 96, 64)), False, None)


def test_deleted_file_is_recovered_and_flagged(images: Path) -> None:
    found = _found(images)
    deleted = {loc: v for loc, v in found.items() if v[1]}
    # FAT replaces a deleted entry's first character; the content is still there.
    assert {v[0] for v in deleted.values()} == {sha(GONE["DCIM/Camera/IMG_9.jpg"])}
    assert {loc.split("!/")[0] for loc in deleted} == {"/disk.img", "/disk.E01"}  # FAT; ext4 clears them
    assert all(loc.rsplit("/", 1)[-1].endswith("MG_9.jpg") for loc in deleted)


def test_altered_e01_fails_verification(images: Path, tmp_path: Path) -> None:
    data = bytearray((images / "disk.E01").read_bytes())
    at = data.find(FILES["notes.txt"][:64])
    assert at > 0
    data[at + 10] ^= 0xFF
    (tmp_path / "ev").mkdir()
    (tmp_path / "ev" / "disk.E01").write_bytes(bytes(data))
    found = _found(tmp_path / "ev")
    assert "EWF verification failed" in (found["/disk.E01"][2] or "")


def test_evidence_images_are_not_modified(images: Path) -> None:
    before = {p.name: (sha(p.read_bytes()), p.stat().st_mtime_ns) for p in images.iterdir()}
    _found(images)
    after = {p.name: (sha(p.read_bytes()), p.stat().st_mtime_ns) for p in images.iterdir()}
    assert before == after


# --- NTFS: deleted files and folders, orphans, alternate data streams -------------------------------

NTFS_FILES = {"Users/x/a.jpg": jpeg_bytes(5, 96, 64), "Windows/file.dll": b"MZ" + bytes(300)}
NTFS_STREAMS = {"Windows/file.dll:hidden": jpeg_bytes(6, 96, 64)}
NTFS_DELETED = {"Users/x/gone.jpg": jpeg_bytes(7, 96, 64), "Old/sub/b.txt": b"in a deleted folder\n" * 5}
NTFS_ORPHANS = {"orphan.jpg": jpeg_bytes(8, 96, 64)}


@pytest.fixture(scope="module")
def ntfs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if ntfs_tools_missing():
        pytest.skip(f"missing tools: {ntfs_tools_missing()} (Debian ntfs-3g)")
    root = tmp_path_factory.mktemp("ntfs") / "evidence"
    root.mkdir()
    try:
        ntfs_image(
            root / "ntfs.img",
            NTFS_FILES,
            streams=NTFS_STREAMS,
            deleted=NTFS_DELETED,
            deleted_dirs=("Old",),
            orphans=NTFS_ORPHANS,
        )
    except OSError as exc:  # no FUSE in this sandbox
        pytest.skip(str(exc))
    return root


def test_ntfs_deleted_orphan_and_stream_are_found_and_flagged(ntfs: Path) -> None:
    items = {i.locator: i for i in iter_evidence(ntfs)}
    img = "/ntfs.img!/"

    def check(
        path: str, data: bytes, deleted: bool = False, orphan: bool = False, stream: str | None = None
    ) -> None:
        item = items[img + path]
        assert item.opener is not None and item.opener.data is not None, path
        got = (sha(item.opener.data), item.deleted, item.orphan, item.stream)
        assert got == (sha(data), deleted, orphan, stream)

    check("Users/x/a.jpg", NTFS_FILES["Users/x/a.jpg"])
    check("Windows/file.dll", NTFS_FILES["Windows/file.dll"])
    check("Windows/file.dll:hidden", NTFS_STREAMS["Windows/file.dll:hidden"], stream="hidden")
    check("Users/x/gone.jpg", NTFS_DELETED["Users/x/gone.jpg"], deleted=True)
    check("Old/sub/b.txt", NTFS_DELETED["Old/sub/b.txt"], deleted=True)  # inside a deleted folder
    check("$OrphanFiles/orphan.jpg", NTFS_ORPHANS["orphan.jpg"], deleted=True, orphan=True)
    assert not [loc for loc, i in items.items() if i.error]


def test_ntfs_image_equals_the_sleuth_kit(ntfs: Path) -> None:
    if shutil.which("fls") is None:
        pytest.skip("The Sleuth Kit's fls/icat missing (Debian sleuthkit)")
    from tests.evidence.test_corpus_disk import _oracle, _tessera

    got, errors = _tessera(ntfs / "ntfs.img")
    assert got == _oracle([str(ntfs / "ntfs.img")]) and not errors


def test_ntfs_system_files_hash_without_image_errors(ntfs: Path) -> None:
    """$UpCase starts 00 00 01 00, the ICO magic: it used to be reported as a corrupt image."""
    from tessera.hashing.item import hash_item

    records = {i.locator: hash_item(i.opener) for i in iter_evidence(ntfs) if i.opener is not None}
    assert records["/ntfs.img!/$UpCase"].kind == "other"
    assert not {loc: r.error for loc, r in records.items() if r.error}


def test_reading_an_image_keeps_its_access_time(images: Path) -> None:
    old = 1_000_000_000
    for p in images.iterdir():
        os.utime(p, (old, p.stat().st_mtime))
    _found(images)
    assert {p.name: p.stat().st_atime for p in images.iterdir()} == {p.name: old for p in images.iterdir()}


# --- image formats, GPT, encrypted volumes --------------------------------------------------------


@pytest.mark.skipif(shutil.which("qemu-img") is None, reason="qemu-img missing (Debian qemu-utils)")
@pytest.mark.parametrize("fmt", ["qcow2", "vhdx", "vmdk", "vpc"])
def test_virtual_disk_formats_give_the_raw_images_files(images: Path, tmp_path: Path, fmt: str) -> None:
    (tmp_path / "ev").mkdir()
    name = f"disk.{ {'vpc': 'vhd'}.get(fmt, fmt) }"
    qemu_copy(images / "disk.img", tmp_path / "ev" / name, fmt)
    raw = {loc.split("!", 1)[1]: v for loc, v in _found(images).items() if loc.startswith("/disk.img!")}
    got = {loc.split("!", 1)[1]: v for loc, v in _found(tmp_path / "ev").items() if "!" in loc}
    assert got == raw and len(got) == len(FILES) + len(GONE)


@pytest.mark.skipif(shutil.which("sfdisk") is None, reason="sfdisk missing (Debian fdisk)")
def test_gpt_partition_is_p1(images: Path, tmp_path: Path) -> None:
    (tmp_path / "ev").mkdir()
    gpt_image(tmp_path / "ev" / "gpt.img", images / "linux.img")
    found = _found(tmp_path / "ev")
    assert found["/gpt.img!/p1/home/u/c.jpg"] == (sha(jpeg_bytes(4, 96, 64)), False, None)


@pytest.mark.skipif(shutil.which("cryptsetup") is None, reason="cryptsetup missing (Debian cryptsetup-bin)")
def test_encrypted_volume_without_its_key_is_named(tmp_path: Path) -> None:
    (tmp_path / "ev").mkdir()
    luks_image(tmp_path / "ev" / "secret.img", "invented passphrase")
    assert _found(tmp_path / "ev")["/secret.img"][2] == "encrypted volume (LUKS): no key given"
    wrong = list(iter_evidence(tmp_path / "ev", Limits(volume_keys=("not it",))))
    assert wrong[0].error == "encrypted volume (LUKS): none of the keys given opens it"
    assert "not it" not in repr(Limits(volume_keys=("not it",)))
    right = list(iter_evidence(tmp_path / "ev", Limits(volume_keys=("not it", "invented passphrase"))))
    # Opened: the volume is empty (formatting only wrote the header), and that is what is reported.
    assert right[0].error == "no file system found that The Sleuth Kit or dfVFS can read"


@pytest.mark.skipif(shutil.which("cryptsetup") is None, reason="cryptsetup missing (Debian cryptsetup-bin)")
def test_key_file_on_the_command_line_opens_the_volume_and_is_never_kept(tmp_path: Path) -> None:
    import sqlite3
    import subprocess
    import sys

    (tmp_path / "ev").mkdir()
    luks_image(tmp_path / "ev" / "secret.img", "invented passphrase")
    (tmp_path / "keys.txt").write_text("not it\n\ninvented passphrase\n")
    case = tmp_path / "case"

    def tessera(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "tessera", *args], capture_output=True, text=True)

    assert tessera("case", "init", str(case), "--name", "Op", "--agency", "XX").returncode == 0
    run = tessera(
        "ingest",
        str(tmp_path / "ev"),
        "--device",
        "K1",
        "--case",
        str(case),
        "--workers",
        "0",
        "--key-file",
        str(tmp_path / "keys.txt"),
    )
    assert "invented passphrase" not in run.stdout + run.stderr
    con = sqlite3.connect(case / "case.db")
    (error,) = con.execute("SELECT error FROM file WHERE locator = '/secret.img'").fetchone()
    dump = "\n".join(con.iterdump())
    con.close()
    assert error == "no file system found that The Sleuth Kit or dfVFS can read"  # opened: it is empty
    assert "invented passphrase" not in dump


@pytest.mark.skipif(shutil.which("mkfs.xfs") is None, reason="mkfs.xfs missing (Debian xfsprogs)")
def test_xfs_is_walked_through_dfvfs(tmp_path: Path) -> None:
    from tessera.synth.disks import xfs_image

    files = {"a.txt": b"hello xfs\n", "sub/deeper/b.jpg": jpeg_bytes(9, 64, 48)}
    (tmp_path / "ev").mkdir()
    xfs_image(tmp_path / "ev" / "x.img", files)
    found = {i.locator: i for i in iter_evidence(tmp_path / "ev")}
    for name, data in files.items():
        item = found["/x.img!/" + name]
        assert item.error is None and item.opener is not None and item.opener.data == data, name
