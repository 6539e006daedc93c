"""File systems The Sleuth Kit reads (NTFS, FAT/exFAT, ext2/3/4, HFS+, ISO 9660, UFS), walked for every
file TSK can name: allocated, deleted (and everything under a deleted folder), orphans (TSK's virtual
``$OrphanFiles`` folder) and NTFS alternate data streams (``file:stream``, one item each).

Why TSK for these rather than dfVFS's own back-ends: dfVFS's directory listings drop deleted names,
and the libyal back-ends do not list deleted or orphan files at all. dfVFS still does everything under
the file system (image formats, volume systems, encryption); TSK reads the bytes dfVFS hands it.
Each volume is tried with every TSK file-system type rather than TSK's autodetection, which gives up
when a volume holds two valid file systems (DFTT test 10: NTFS and ext2 in one partition); every one
found is walked, the second and later under an ``@type`` layer (``p1/@ext/ext2.txt``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytsk3
from dfvfs.lib.tsk_image import TSKFileSystemImage

from tessera.evidence.base import LimitHit, Limits, MemberSink, member_locator, members_error
from tessera.records import EvidenceItem

_CHUNK = 1 << 20
_MAX_DIR_DEPTH = 256

#: (TSK type, short name) in the order a volume is tried; the first found keeps the plain locator.
TSK_TYPES: tuple[tuple[Any, str], ...] = (
    (pytsk3.TSK_FS_TYPE_NTFS_DETECT, "ntfs"),
    (pytsk3.TSK_FS_TYPE_FAT_DETECT, "fat"),
    (pytsk3.TSK_FS_TYPE_EXT_DETECT, "ext"),
    (pytsk3.TSK_FS_TYPE_HFS_DETECT, "hfs"),
    (pytsk3.TSK_FS_TYPE_ISO9660_DETECT, "iso9660"),
    (pytsk3.TSK_FS_TYPE_FFS_DETECT, "ufs"),
)

_DIR_TYPES = (pytsk3.TSK_FS_META_TYPE_DIR, pytsk3.TSK_FS_META_TYPE_VIRT_DIR)
_NAME_UNALLOC = int(pytsk3.TSK_FS_NAME_FLAG_UNALLOC)
_META_UNALLOC = int(pytsk3.TSK_FS_META_FLAG_UNALLOC)
_NTFS_DATA = int(pytsk3.TSK_FS_ATTR_TYPE_NTFS_DATA)
_NTFS_IDXROOT = int(pytsk3.TSK_FS_ATTR_TYPE_NTFS_IDXROOT)
#: NTFS's bad-cluster map is a sparse stream as long as the volume: recorded, never read (a 2 TB disk
#: would mean hashing 2 TB of zeros).
_NOT_READ = {b"$BadClus:$Bad": "NTFS bad-cluster map: a sparse stream the size of the volume, not read"}
_SPECIAL_TYPES = {
    int(pytsk3.TSK_FS_META_TYPE_CHR): "character device",
    int(pytsk3.TSK_FS_META_TYPE_BLK): "block device",
    int(pytsk3.TSK_FS_META_TYPE_FIFO): "fifo",
    int(pytsk3.TSK_FS_META_TYPE_SOCK): "socket",
    int(pytsk3.TSK_FS_META_TYPE_SHAD): "shadow inode",
    int(pytsk3.TSK_FS_META_TYPE_WHT): "whiteout",
}


def open_file_systems(file_object: Any) -> list[tuple[str, Any]]:
    """Every TSK file system found in the volume behind a dfVFS file object, as (type name, FS_Info)."""
    img = TSKFileSystemImage(file_object)
    found = []
    for fs_type, name in TSK_TYPES:
        try:
            found.append((name, pytsk3.FS_Info(img, offset=0, type=fs_type)))
        except OSError:
            continue
    return found


@dataclass(slots=True)
class Counter:
    """Members yielded for one image, all file systems together (``Limits.max_members``)."""

    n: int = 0
    stopped: bool = False
    errors: list[str] = field(default_factory=list)


def _time(meta: Any, name: str) -> float | None:
    if meta is None:
        return None
    secs = int(getattr(meta, name, 0) or 0)
    if not secs:
        return None
    return secs + int(getattr(meta, name + "_nano", 0) or 0) / 1e9


def _item(parent: EvidenceItem, raw: bytes, meta: Any, size: int | None, **kw: Any) -> EvidenceItem:
    locator, raw_path = member_locator(parent, raw)
    return EvidenceItem(
        locator,
        raw_path,
        size,
        kw.pop("opener", None),
        mtime=_time(meta, "mtime"),
        atime=_time(meta, "atime"),
        ctime=_time(meta, "ctime"),
        crtime=_time(meta, "crtime"),
        depth=parent.depth + 1,
        **kw,
    )


def _read(entry: Any, size: int, attr: tuple[int, int] | None, limits: Limits) -> tuple[Any, str | None]:
    """(opener, error) for ``size`` bytes of one data attribute (``None``: the file's default)."""
    sink = MemberSink(
        limits, limits.max_total_bytes, f"disk image member past {limits.max_total_bytes} bytes"
    )
    done = 0
    try:
        while done < size:
            want = min(_CHUNK, size - done)
            block = entry.read_random(done, want, *attr) if attr else entry.read_random(done, want)
            if not block:
                break
            sink.write(block)
            done += len(block)
    except LimitHit as exc:
        return None, str(exc)
    except OSError as exc:
        sink.discard()
        return None, f"content unreadable at byte {done} of {size}: {' '.join(str(exc).split())[:200]}"
    if done < size:
        sink.discard()
        return None, f"content unreadable past byte {done} of {size}"
    return sink.opener(), None


def _data_attrs(entry: Any) -> tuple[list[tuple[bytes, int, int, int]], bool]:
    """NTFS $DATA attributes of a file: (stream name, type, id, size), name b"" being the main
    stream; and whether the file holds an index instead (system files such as ``$Extend/$ObjId``)."""
    out, indexed = [], False
    for attr in entry:
        info = attr.info
        if int(info.type) == _NTFS_IDXROOT:
            indexed = True
        if int(info.type) == _NTFS_DATA:
            out.append((info.name or b"", int(info.type), int(info.id), int(info.size)))
    return out, indexed


def _file_items(
    entry: Any,
    raw: bytes,
    flags: dict[str, Any],
    parent: EvidenceItem,
    limits: Limits,
    ntfs: bool,
    is_dir: bool,
) -> Iterator[EvidenceItem]:
    meta = entry.info.meta
    streams, indexed = _data_attrs(entry) if ntfs else ([], False)
    if not ntfs:
        if not is_dir:
            opener, error = _read(entry, int(meta.size), None, limits)
            yield _item(parent, raw, meta, int(meta.size), opener=opener, error=error, **flags)
        return
    for stream, kind, ident, size in streams:
        if is_dir and not stream:
            continue  # a folder has no main data stream; its named streams are files of their own
        path = raw + b":" + stream if stream else raw
        extra = dict(flags, stream=stream.decode("utf-8", "backslashreplace")) if stream else flags
        if path.rsplit(b"/", 1)[-1] in _NOT_READ:
            yield _item(parent, path, meta, size, **extra)
            continue
        opener, error = _read(entry, size, (kind, ident), limits)
        yield _item(parent, path, meta, size, opener=opener, error=error, **extra)
    if not is_dir and not streams and not indexed:
        # No data at all (an MFT entry TSK lists under $OrphanFiles that holds no $DATA): the name
        # is recorded with no content. Index-only system files ($ObjId, $Quota) are indexes, not data.
        yield _item(parent, raw, meta, None, **flags)


def walk(
    fs: Any, prefix: bytes, parent: EvidenceItem, limits: Limits, counter: Counter
) -> Iterator[EvidenceItem]:
    """Every file of one TSK file system; ``prefix`` is the volume's locator part (``b"p1/"``)."""
    ntfs = bool(int(fs.info.ftype) & int(pytsk3.TSK_FS_TYPE_NTFS_DETECT))
    root = int(fs.info.root_inum)
    # (directory address, path so far, ancestors, under a deleted folder, under $OrphanFiles)
    stack: list[tuple[int, bytes, tuple[int, ...], bool, bool]] = [(root, prefix, (root,), False, False)]
    while stack:
        addr, rel, ancestors, gone, orphan = stack.pop()
        try:
            directory = fs.open_dir(inode=addr)
        except OSError as exc:
            yield _item(
                parent, rel.rstrip(b"/"), None, None, error=f"cannot list folder: {exc}", deleted=gone
            )
            continue
        subdirs = []
        for entry in directory:
            name_info = entry.info.name
            name = bytes(name_info.name or b"")
            if name in (b"", b".", b".."):
                continue
            meta = entry.info.meta
            if meta is None and int(name_info.meta_addr):
                # TSK lists some names without loading their metadata (entries under $OrphanFiles,
                # NTFS names found only in deleted MFT entries): load it by address, as icat does.
                try:
                    entry = fs.open_meta(inode=int(name_info.meta_addr))
                    meta = entry.info.meta
                except OSError:
                    meta = None
            deleted = gone or bool(int(name_info.flags) & _NAME_UNALLOC)
            deleted = deleted or bool(meta is not None and int(meta.flags) & _META_UNALLOC)
            raw = rel + name
            mtype = meta.type if meta is not None else None
            if mtype == pytsk3.TSK_FS_META_TYPE_VIRT:
                continue  # $MBR, $FAT1, $FAT2: TSK's views of FAT structures, not stored files
            if mtype not in _DIR_TYPES:
                counter.n += 1
                if counter.n > limits.max_members:
                    counter.stopped = True
                    yield _item(parent, raw, None, None, error=members_error(limits))
                    return
            flags: dict[str, Any] = {"deleted": deleted, "orphan": orphan}
            if meta is None:
                # A deleted name whose metadata is gone: the name is evidence, the content is not reachable.
                yield _item(parent, raw, None, None, **flags)
                continue
            if mtype in _DIR_TYPES:
                child = int(meta.addr)
                if child not in ancestors and len(ancestors) < _MAX_DIR_DEPTH:
                    subdirs.append(
                        (child, raw + b"/", (*ancestors, child), deleted, orphan or mtype != _DIR_TYPES[0])
                    )
                if ntfs:
                    yield from _file_items(entry, raw, flags, parent, limits, ntfs, True)
                continue
            if mtype == pytsk3.TSK_FS_META_TYPE_REG:
                yield from _file_items(entry, raw, flags, parent, limits, ntfs, False)
            elif mtype == pytsk3.TSK_FS_META_TYPE_LNK:
                target = bytes(getattr(meta, "link", b"") or b"").decode("utf-8", "backslashreplace")
                yield _item(parent, raw, meta, None, is_symlink=True, link_target=target or None, **flags)
            else:
                kind = _SPECIAL_TYPES.get(int(meta.type), "unknown type")
                yield _item(parent, raw, meta, None, error=f"not a regular file: {kind}", **flags)
        stack.extend(reversed(subdirs))
