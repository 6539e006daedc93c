"""Forensic disk and volume images as containers, read through dfVFS (with The Sleuth Kit underneath).

An image found in the evidence (or inside an archive) is a container: dfVFS opens its format (raw,
split raw, EWF, VHD/VHDX, VMDK, QCOW2, UDIF), its volume systems (MBR, GPT, APM, LVM, VSS, APFS,
encrypted volumes with a key) and its file systems, and every file becomes a member with a chained
locator ``/disk.E01!/p2/Users/x/a.jpg``: ``p<n>`` numbers the allocated partitions in table order,
``vss<n>``/``lvm<n>``/``apfs<n>`` the other volume layers, and an image holding a bare file system
has no volume part. Deleted files (also under deleted folders), orphans and NTFS alternate data
streams (``…/file.dll:stream``) are members too, flagged on the item (``deleted``, ``orphan``,
``stream``). What cannot be opened (a missing EWF segment or VHD parent, a locked volume, a
partition holding no known file system) is an item with the reason, at the layer's locator.

An EWF image's media is read once more in full to check the MD5 it carries; the result goes to
``Limits.on_verify`` and a mismatch is recorded against the image as "EWF verification failed".
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

from tessera.evidence import disk_ewf
from tessera.evidence.base import (
    CONTAINERS,
    SPOOL_PREFIX,
    Limits,
    container_note,
    display_name,
    is_spooled,
    open_readonly,
    read_head,
)
from tessera.records import EvidenceItem, Opener

#: Names a raw image usually carries. A raw image has no magic of its own, so one of these names plus
#: a volume or file-system signature is what makes a file an image.
_RAW_SUFFIXES = (".dd", ".raw", ".img", ".000", ".001", ".image", ".iso", ".dmg", ".vhd", ".dsk", ".bin")
#: Of those, formats whose signature lies past the sniffed head (ISO 9660 at 32 KiB; the VHD and UDIF
#: footers at the end): checked again in full before anything is reported.
_DEEP_SUFFIXES = (".iso", ".raw", ".dmg", ".vhd", ".img", ".dd")
_DEEP_HEAD = 34 * 1024


def _image_magic(head: bytes) -> bool:
    """Image formats that carry their own magic (always an image, whatever the name)."""
    if head.startswith(disk_ewf.EWF1_MAGIC):
        return disk_ewf.segment_number(head) == 1  # later segments are read with the first
    return head.startswith((disk_ewf.EWF2_MAGIC, b"vhdxfile", b"KDMV", b"COWD", b"QFI\xfb", b"conectix"))


def _structure(head: bytes) -> bool:
    """A volume system or file system starts in ``head``."""
    return (
        head[510:512] == b"\x55\xaa"  # MBR, or a FAT/NTFS/exFAT boot sector
        or head[512:520] == b"EFI PART"  # GPT
        or head[1080:1082] == b"\x53\xef"  # ext2/3/4
        or head[1024:1026] in (b"H+", b"HX")  # HFS+ / HFSX
        or head[32:36] == b"NXSB"  # APFS container
        or head[:4] == b"XFSB"
        or head[:6] == b"LUKS\xba\xbe"
        or head[3:11] == b"-FVE-FS-"  # BitLocker
        or head[:2] == b"ER"
        and head[512:514] == b"PM"  # Apple partition map
        or head[512:520] == b"LABELONE"  # LVM2
        or head[0x8001:0x8006] == b"CD001"  # ISO 9660 (when the head reaches that far)
    )


def _deep_structure(opener: Opener) -> bool:
    if opener.data is not None:
        head, tail = opener.data[:_DEEP_HEAD], opener.data[-512:]
    else:
        with open_readonly(opener.path or "") as fh:
            head = fh.read(_DEEP_HEAD)
            size = os.fstat(fh.fileno()).st_size
            fh.seek(max(size - 512, 0))
            tail = fh.read(512)
    return _structure(head) or tail.startswith((b"conectix", b"koly"))


@contextlib.contextmanager
def _image_file(opener: Opener, name: str, limits: Limits) -> Iterator[Path]:
    """A path to the image under its own name (dfVFS and libewf go by name for split sets).

    An image read out of an archive is written to a scratch folder (never the evidence) and removed
    afterwards; an image that is a file of the evidence is used in place.
    """
    if opener.path is not None and not is_spooled(opener):
        yield Path(opener.path)
        return
    scratch = limits.scratch_dir or Path(tempfile.gettempdir())
    folder = Path(tempfile.mkdtemp(prefix=SPOOL_PREFIX + "image-", dir=scratch))
    target = folder / (name.replace("/", "_") or "image")
    try:
        if opener.data is not None:
            target.write_bytes(opener.data)
        else:
            try:
                os.link(opener.path or "", target)
            except OSError:
                shutil.copyfile(opener.path or "", target)
        yield target
    finally:
        shutil.rmtree(folder, ignore_errors=True)


class DiskImageFormat:
    name: ClassVar[str] = "disk-image"
    #: Tried before the archive formats: a raw image can start with anything.
    priority: ClassVar[int] = 5
    #: A disk is mostly empty space: zipped, it compresses past any bomb ratio, so inside an archive
    #: it is bounded by the byte budget instead (``tessera.evidence.base.ratio_exempt``).
    sparse: ClassVar[bool] = True

    def sniff(self, head: bytes, name: str) -> bool:
        if _image_magic(head):
            return True
        lower = name.lower()
        if not lower.endswith(_RAW_SUFFIXES):
            return False
        if _structure(head):
            return True
        # Only the name says image (its signature may lie deeper, checked in full later). A head
        # another container recognises wins: an initramfs is named initrd.img and is a cpio, and
        # claimed here it would be hashed as one opaque file, its members never listed.
        return lower.endswith(_DEEP_SUFFIXES) and not any(
            fmt is not self and fmt.sniff(head, name) for _, fmt in CONTAINERS
        )

    def members(self, opener: Opener, parent: EvidenceItem, limits: Limits) -> Iterator[EvidenceItem]:
        name = display_name(parent.raw_path.rsplit(b"/", 1)[-1])
        head = read_head(opener)
        if not _image_magic(head) and not _structure(head) and not _deep_structure(opener):
            return  # only the name looked like an image: an ordinary file, hashed as such
        missing = _bindings_missing()
        if missing:
            yield container_note(parent, f"{name}: {missing}")
            return
        with _image_file(opener, name, limits) as path:
            if head.startswith(disk_ewf.EWF1_MAGIC):
                missing = disk_ewf.missing_segment(path)
                if missing:
                    yield container_note(parent, f"{name}: {missing}")
                else:
                    yield from _verify(path, parent, limits)
            # dfVFS and its bindings load here, on the first image: a walk of a plain tree (and every
            # command that merely imports the evidence package) does not pay their import time.
            from tessera.evidence.disk_walk import walk_image

            yield from walk_image(path, name, parent, limits)


def _bindings_missing() -> str | None:
    """Why disk images cannot be read here: a core install (``tessera[hub]``) has no dfVFS or TSK."""
    try:
        import dfvfs  # noqa: F401
        import pyewf  # noqa: F401
        import pytsk3  # noqa: F401
    except ImportError as exc:
        return f"disk image not read: {exc.name or exc} is not installed (pip install 'tessera[evidence]')"
    return None


def _verify(path: Path, parent: EvidenceItem, limits: Limits) -> Iterator[EvidenceItem]:
    try:
        checked = disk_ewf.verify(path)
    except OSError as exc:
        yield container_note(parent, f"EWF media unreadable: {exc}")
        return
    if checked is None:
        return
    if limits.on_verify is not None:
        limits.on_verify(parent.locator, "md5", *checked)
    stored, computed = checked
    if stored != computed:
        yield container_note(parent, f"EWF verification failed: stored MD5 {stored}, computed {computed}")


CONTAINERS.register("disk-image")(DiskImageFormat())
