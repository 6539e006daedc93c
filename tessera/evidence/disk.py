"""Forensic disk images (raw/dd and EWF/E01) through The Sleuth Kit (pytsk3) and libewf (pyewf).

A disk image found in the evidence is a container: its partitions (MBR or GPT) and the file systems TSK
reads in them (FAT, exFAT, NTFS, ext2/3/4, ...) are walked read-only, and every file becomes a member
with a chained locator ``/disk.E01!/p2/Users/x/a.jpg`` (``p<n>`` numbers the allocated partitions in
table order; an image holding a bare file system has no ``p<n>`` part). Deleted files whose content TSK
can still reach are yielded with ``deleted=True``. An EWF image's media is read once more in full to
check the MD5 it carries; a mismatch is recorded against the image as "EWF verification failed".
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from typing import Any, ClassVar

import pytsk3

from tessera.evidence.base import (
    CONTAINERS,
    LimitHit,
    Limits,
    MemberSink,
    container_note,
    member_locator,
    members_error,
)
from tessera.records import EvidenceItem, Opener

_EWF_MAGIC = b"EVF\x09\x0d\x0a\xff\x00"
_RAW_SUFFIXES = (".dd", ".raw", ".img", ".001", ".image")
_CHUNK = 1 << 20
#: TSK's virtual files describing FAT structures, not content anyone stored.
_VIRTUAL = {b"$MBR", b"$FAT1", b"$FAT2"}


def _looks_like_disk(head: bytes) -> bool:
    return (
        head[510:512] == b"\x55\xaa"  # MBR, or a FAT/NTFS boot sector
        or head[1080:1082] == b"\x53\xef"  # ext2/3/4 superblock magic
    )


class _Image(pytsk3.Img_Info):
    """TSK reads the image through this: a plain file, bytes in memory, or an open EWF handle."""

    def __init__(self, read: Any, size: int) -> None:
        self._read, self._size = read, size
        super().__init__(url="", type=pytsk3.TSK_IMG_TYPE_EXTERNAL)

    def close(self) -> None:  # noqa: D102 - TSK calls it
        pass

    def read(self, offset: int, size: int) -> bytes:
        return bytes(self._read(offset, size))

    def get_size(self) -> int:
        return self._size


def _ewf_handle(path: str) -> Any:
    import pyewf

    handle = pyewf.handle()
    handle.open(pyewf.glob(path))  # split segments: disk.E01, disk.E02, ...
    return handle


def _verify_ewf(handle: Any) -> tuple[str, str] | None:
    """(stored, computed) MD5 of the media, or None when the image stores no MD5."""
    stored = (handle.get_hash_value("MD5") or "").lower()
    if not stored:
        return None
    md5 = hashlib.md5()  # noqa: S324 - EWF stores MD5; this is verification, not security
    size = handle.get_media_size()
    handle.seek(0)
    done = 0
    while done < size:
        block = handle.read(min(_CHUNK, size - done))
        if not block:
            break
        md5.update(block)
        done += len(block)
    return stored, md5.hexdigest()


class DiskImageFormat:
    name: ClassVar[str] = "disk-image"
    #: Tried before the archive formats: a raw image can start with anything.
    priority: ClassVar[int] = 5

    def sniff(self, head: bytes, name: str) -> bool:
        if head.startswith(_EWF_MAGIC):
            return True
        return name.lower().endswith(_RAW_SUFFIXES) and _looks_like_disk(head)

    def members(self, opener: Opener, parent: EvidenceItem, limits: Limits) -> Iterator[EvidenceItem]:
        handle: Any = None
        fd: int | None = None
        try:
            if opener.data is not None:
                if opener.data.startswith(_EWF_MAGIC):
                    yield container_note(
                        parent, "EWF image inside an archive: give the image itself as evidence"
                    )
                    return
                data = opener.data
                img = _Image(lambda off, n: data[off : off + n], len(data))
            elif opener.path is not None and open(opener.path, "rb").read(8) == _EWF_MAGIC:  # noqa: SIM115
                handle = _ewf_handle(opener.path)
                checked = _verify_ewf(handle)
                if checked and limits.on_verify is not None:
                    limits.on_verify(parent.locator, "md5", *checked)
                if checked and checked[0] != checked[1]:
                    stored, computed = checked
                    yield container_note(
                        parent, f"EWF verification failed: stored MD5 {stored}, computed {computed}"
                    )
                    # libewf keeps a chunk's checksum error as handle state: read on with a fresh handle.
                    handle.close()
                    handle = _ewf_handle(opener.path)

                def read_ewf(off: int, n: int) -> bytes:
                    handle.seek(off)
                    return bytes(handle.read(n))

                img = _Image(read_ewf, handle.get_media_size())
            else:
                assert opener.path is not None
                fd = os.open(opener.path, os.O_RDONLY)
                size = os.fstat(fd).st_size
                img = _Image(lambda off, n: os.pread(fd, n, off), size)
            yield from _walk_image(img, parent, limits)
        except OSError as exc:
            yield container_note(parent, f"unreadable disk image: {exc}")
        finally:
            if fd is not None:
                os.close(fd)
            if handle is not None:
                handle.close()


CONTAINERS.register("disk-image")(DiskImageFormat())


def _partitions(img: _Image) -> list[tuple[str, int]]:
    try:
        volume = pytsk3.Volume_Info(img)
    except OSError:
        return [("", 0)]  # no partition table: a bare file system
    out = []
    n = 0
    for part in volume:
        if part.flags != pytsk3.TSK_VS_PART_FLAG_ALLOC or part.len <= 0:
            continue
        n += 1
        out.append((f"p{n}", part.start * volume.info.block_size))
    return out


def _walk_image(img: _Image, parent: EvidenceItem, limits: Limits) -> Iterator[EvidenceItem]:
    count = 0
    for label, offset in _partitions(img):
        try:
            fs = pytsk3.FS_Info(img, offset=offset)
        except OSError:
            continue  # swap, unformatted or a file system TSK does not read: nothing to list
        prefix = (label.encode() + b"/") if label else b""
        stack: list[tuple[bytes, Any, int]] = [(prefix, fs.open_dir(path="/"), 0)]
        seen: set[int] = set()
        while stack:
            rel, directory, depth = stack.pop()
            for entry in directory:
                name = entry.info.name.name
                meta = entry.info.meta
                if name in (b".", b"..") or meta is None or (depth == 0 and name in _VIRTUAL):
                    continue
                deleted = bool(entry.info.name.flags & pytsk3.TSK_FS_NAME_FLAG_UNALLOC)
                if meta.type == pytsk3.TSK_FS_META_TYPE_DIR:
                    if meta.addr not in seen and depth < 64 and not deleted:
                        seen.add(meta.addr)
                        stack.append((rel + name + b"/", entry.as_directory(), depth + 1))
                    continue
                if meta.type != pytsk3.TSK_FS_META_TYPE_REG:
                    continue
                count += 1
                if count > limits.max_members:
                    yield container_note(parent, members_error(limits))
                    return
                yield _member(entry, parent, rel + name, deleted, limits)


def _member(entry: Any, parent: EvidenceItem, raw: bytes, deleted: bool, limits: Limits) -> EvidenceItem:
    meta = entry.info.meta
    locator, raw_path = member_locator(parent, raw)
    times = {
        "mtime": float(meta.mtime or 0) or None,
        "atime": float(meta.atime or 0) or None,
        "ctime": float(meta.ctime or 0) or None,
        "crtime": float(meta.crtime or 0) or None,
    }
    sink = MemberSink(
        limits, limits.max_total_bytes, f"disk image member past {limits.max_total_bytes} bytes"
    )
    error = None
    try:
        done = 0
        while done < meta.size:
            block = entry.read_random(done, min(_CHUNK, meta.size - done))
            if not block:
                break
            sink.write(block)
            done += len(block)
        if done < meta.size:
            error = f"content unrecoverable past byte {done} of {meta.size}"
    except (OSError, LimitHit) as exc:
        error = f"content unrecoverable: {exc}" if deleted else f"unreadable: {exc}"
    return EvidenceItem(
        locator,
        raw_path,
        meta.size,
        sink.opener(),
        mtime=times["mtime"],
        atime=times["atime"],
        ctime=times["ctime"],
        crtime=times["crtime"],
        deleted=deleted,
        error=error,
        depth=parent.depth + 1,
    )
