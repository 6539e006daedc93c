"""Generated forensic images for tests: FAT in an MBR partition, bare ext4, and E01 copies.

Built with the Debian tools an examiner would use (dosfstools, mtools, e2fsprogs' debugfs, ewf-tools'
ewfacquire), all on image files: nothing is mounted and nothing needs root.
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path

SECTOR = 512
FAT_START = 2048  # sectors: the usual 1 MiB alignment


def tools_missing() -> list[str]:
    need = ["mkfs.vfat", "mcopy", "mmd", "mdel", "mkfs.ext4", "debugfs", "ewfacquire"]
    return [t for t in need if shutil.which(t) is None]


def _run(*cmd: str) -> None:
    env = dict(os.environ, MTOOLS_SKIP_CHECK="1")
    subprocess.run(cmd, check=True, capture_output=True, env=env)


def _mbr(path: Path, start: int, sectors: int, kind: int) -> None:
    """A one-partition MBR (written by hand: a 16-byte entry and the 0x55AA signature)."""
    entry = struct.pack("<B3sB3sII", 0, b"\x00\x02\x00", kind, b"\xfe\xff\xff", start, sectors)
    with path.open("r+b") as fh:
        fh.seek(446)
        fh.write(entry + bytes(48) + b"\x55\xaa")


def fat_image(
    path: Path, files: Mapping[str, bytes], deleted: Mapping[str, bytes] | None = None, size_mb: int = 24
) -> Path:
    """A disk with an MBR and one FAT16 partition holding ``files``; ``deleted`` files are written,
    then deleted (their directory entries and clusters stay recoverable)."""
    with path.open("wb") as fh:
        fh.truncate(size_mb << 20)
    sectors = (size_mb << 20) // SECTOR - FAT_START
    _mbr(path, FAT_START, sectors, 0x0E)
    _run("mkfs.vfat", "-F", "16", "--offset", str(FAT_START), str(path), str(sectors // 2))
    target = f"{path}@@{FAT_START * SECTOR}"
    with tempfile.TemporaryDirectory() as tmp:
        for name, data in [*files.items(), *(deleted or {}).items()]:
            parts = name.strip("/").split("/")
            for i in range(1, len(parts)):
                subprocess.run(
                    ["mmd", "-i", target, "::/" + "/".join(parts[:i])],
                    capture_output=True,
                    env=dict(os.environ, MTOOLS_SKIP_CHECK="1"),
                )
            src = Path(tmp) / parts[-1]
            src.write_bytes(data)
            _run("mcopy", "-i", target, str(src), "::/" + "/".join(parts))
        for name in deleted or {}:
            _run("mdel", "-i", target, "::/" + name.strip("/"))
    return path


def ext4_image(path: Path, files: Mapping[str, bytes], size_mb: int = 16) -> Path:
    """A bare ext4 file system (no partition table) holding ``files``."""
    with path.open("wb") as fh:
        fh.truncate(size_mb << 20)
    _run("mkfs.ext4", "-q", "-F", str(path))
    with tempfile.TemporaryDirectory() as tmp:
        for name, data in files.items():
            parts = name.strip("/").split("/")
            for i in range(1, len(parts)):
                subprocess.run(
                    ["debugfs", "-w", "-R", "mkdir /" + "/".join(parts[:i]), str(path)], capture_output=True
                )
            src = Path(tmp) / parts[-1]
            src.write_bytes(data)
            _run("debugfs", "-w", "-R", f"write {src} /{'/'.join(parts)}", str(path))
    return path


def to_e01(raw: Path, target: Path) -> Path:
    """An EWF (EnCase 6) copy of ``raw`` at ``target`` (.E01 added), with its MD5 stored."""
    _run("ewfacquire", "-u", "-t", str(target), "-f", "encase6", "-c", "none", "-S", "0", str(raw))
    return target.with_suffix(".E01") if target.suffix != ".E01" else target


def ntfs_tools_missing() -> list[str]:
    return [t for t in ("mkntfs", "ntfs-3g", "fusermount") if shutil.which(t) is None]


def ntfs_image(
    path: Path,
    files: Mapping[str, bytes],
    *,
    streams: Mapping[str, bytes] | None = None,
    deleted: Mapping[str, bytes] | None = None,
    deleted_dirs: tuple[str, ...] = (),
    orphans: Mapping[str, bytes] | None = None,
    size_mb: int = 16,
) -> Path:
    """A bare NTFS file system (mkntfs on an image file) filled through ntfs-3g, a FUSE mount.

    ``streams`` keys are ``path:stream`` (alternate data streams, written through ntfs-3g's Windows
    stream names); ``deleted`` files are written and then removed, and each folder in
    ``deleted_dirs`` removed with everything in it. ``orphans`` are written into a folder that is then
    deleted and whose MFT entry a new file (``filler.txt``) takes over: their parent reference then
    names another file, which is what makes The Sleuth Kit list them under ``$OrphanFiles``.
    Raises :class:`OSError` when the mount is refused (no FUSE here): callers skip.
    """
    with path.open("wb") as fh:
        fh.truncate(size_mb << 20)
    _run("mkntfs", "-F", "-f", "-q", str(path))
    with tempfile.TemporaryDirectory() as tmp:
        mnt = Path(tmp) / "mnt"
        mnt.mkdir()

        def mount() -> None:
            done = subprocess.run(
                ["ntfs-3g", "-o", "streams_interface=windows", str(path), str(mnt)], capture_output=True
            )
            if done.returncode != 0:
                raise OSError(f"ntfs-3g mount refused: {done.stderr.decode(errors='replace').strip()}")

        def umount() -> None:
            _run("fusermount", "-u", str(mnt))

        def write(rel: str, data: bytes) -> None:
            target = mnt / rel.split(":", 1)[0]
            target.parent.mkdir(parents=True, exist_ok=True)
            (mnt / rel).write_bytes(data)

        mount()
        try:
            # MFT entries are handed out lowest free first: everything that must survive is created
            # before the orphans' folder, so the filler below can only reuse that folder's entry.
            for rel, data in [*files.items(), *(streams or {}).items(), *(deleted or {}).items()]:
                write(rel, data)
            for rel, data in (orphans or {}).items():
                write("Lost/" + rel, data)
            if orphans:
                shutil.rmtree(mnt / "Lost")
        finally:
            umount()
        mount()
        try:
            if orphans:
                (mnt / "filler.txt").write_bytes(b"takes over the deleted folder's MFT entry\n")
            for rel in deleted or {}:
                (mnt / rel).unlink()
            for rel in deleted_dirs:
                shutil.rmtree(mnt / rel)
        finally:
            umount()
    return path


def qemu_copy(raw: Path, target: Path, fmt: str) -> Path:
    """``raw`` converted by qemu-img to ``fmt`` (qcow2, vhdx, vmdk, vpc: Virtual PC's VHD)."""
    _run("qemu-img", "convert", "-f", "raw", "-O", fmt, str(raw), str(target))
    return target


def gpt_image(path: Path, volume: Path, start: int = FAT_START) -> Path:
    """A disk with a GPT (written by sfdisk, on the image file) whose one partition holds ``volume``."""
    size = volume.stat().st_size
    sectors = -(-size // SECTOR)
    with path.open("wb") as fh:
        fh.truncate((start + sectors + 64) * SECTOR)
    table = f"label: gpt\nstart={start}, size={sectors}, type=EBD0A0A2-B9E5-4433-87C0-68B6B7C7EB1D\n"
    subprocess.run(["sfdisk", "-q", str(path)], input=table.encode(), check=True, capture_output=True)
    with path.open("r+b") as fh:
        fh.seek(start * SECTOR)
        fh.write(volume.read_bytes())
    return path


def luks_image(path: Path, passphrase: str, size_mb: int = 20) -> Path:
    """An (empty) LUKS1 volume: formatting writes only the header, so no device mapper or root."""
    with path.open("wb") as fh:
        fh.truncate(size_mb << 20)
    subprocess.run(
        [
            "cryptsetup",
            "luksFormat",
            "-q",
            "--type",
            "luks1",
            "--pbkdf-force-iterations",
            "1000",
            str(path),
            "-",
        ],
        input=passphrase.encode(),
        check=True,
        capture_output=True,
    )
    return path


def xfs_image(path: Path, files: Mapping[str, bytes], size_mb: int = 300) -> Path:
    """A bare XFS file system holding ``files``, populated by ``mkfs.xfs -p`` from a prototype file
    (no mount needed). XFS needs about 300 MB at the least."""
    with tempfile.TemporaryDirectory() as tmp:
        tree: dict[str, object] = {}
        for n, (name, data) in enumerate(sorted(files.items())):
            src = Path(tmp) / f"src{n}"
            src.write_bytes(data)
            node = tree
            *dirs, leaf = name.strip("/").split("/")
            for d in dirs:
                node = node.setdefault(d, {})  # type: ignore[assignment]
            node[leaf] = src

        def lines(node: dict[str, object], indent: str) -> list[str]:
            out = []
            for name, child in sorted(node.items()):
                if isinstance(child, dict):
                    out += [f"{indent}{name} d--755 0 0", *lines(child, indent + " "), f"{indent}$"]
                else:
                    out.append(f"{indent}{name} ---644 0 0 {child}")
            return out

        proto = Path(tmp) / "proto"
        proto.write_text("\n".join(["/dev/null", "0 0", "d--755 0 0", *lines(tree, " "), "$", ""]))
        with path.open("wb") as fh:
            fh.truncate(size_mb << 20)
        _run("mkfs.xfs", "-q", "-p", str(proto), str(path))
    return path
