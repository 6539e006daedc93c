"""File systems only dfVFS's libyal back-ends read (APFS, XFS, and any TSK cannot open), walked
through dfVFS file entries. These back-ends list allocated files only: deleted files on them are not
found (documented in docs/evidence.md; TSK, which finds them elsewhere, cannot read these file
systems).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from dfvfs.resolver import resolver

from tessera.evidence.base import LimitHit, Limits, MemberSink, member_locator, members_error
from tessera.evidence.dfvfs_volumes import DFVFS_ERRORS
from tessera.evidence.disk_tsk import Counter
from tessera.records import EvidenceItem

_CHUNK = 1 << 20
_MAX_DIR_DEPTH = 256


def _time(entry: Any, attr: str) -> float | None:
    value = getattr(entry, attr, None)
    try:
        return float(value.CopyToPosixTimestampWithFractionOfSecond()[0]) if value else None
    except (AttributeError, TypeError, ValueError):
        return None


def _item(parent: EvidenceItem, raw: bytes, entry: Any, **kw: Any) -> EvidenceItem:
    locator, raw_path = member_locator(parent, raw)
    return EvidenceItem(
        locator,
        raw_path,
        kw.pop("size", None),
        kw.pop("opener", None),
        mtime=_time(entry, "modification_time"),
        atime=_time(entry, "access_time"),
        ctime=_time(entry, "change_time"),
        crtime=_time(entry, "creation_time"),
        depth=parent.depth + 1,
        **kw,
    )


def _read(entry: Any, stream: str, limits: Limits) -> tuple[Any, int | None, str | None]:
    sink = MemberSink(
        limits, limits.max_total_bytes, f"disk image member past {limits.max_total_bytes} bytes"
    )
    try:
        fh = entry.GetFileObject(data_stream_name=stream)
        if fh is None:
            return None, None, "content not reachable through dfVFS"
        try:
            while block := fh.read(_CHUNK):
                sink.write(block)
        finally:
            fh.close()
    except LimitHit as exc:
        return None, None, str(exc)
    except DFVFS_ERRORS as exc:
        sink.discard()
        return None, None, f"content unreadable: {' '.join(str(exc).split())[:200]}"
    size = sink.size
    return sink.opener(), size, None


def walk(
    fs_spec: Any, prefix: bytes, parent: EvidenceItem, limits: Limits, counter: Counter
) -> Iterator[EvidenceItem]:
    """Every allocated file (and named data stream) of a dfVFS file system."""
    root = resolver.Resolver.OpenFileEntry(fs_spec)
    stack: list[tuple[Any, bytes, int]] = [(root, prefix, 0)]
    while stack:
        directory, rel, depth = stack.pop()
        try:
            children = sorted(directory.sub_file_entries, key=lambda e: e.name or "")
        except DFVFS_ERRORS as exc:
            yield _item(parent, rel.rstrip(b"/"), None, error=f"cannot list folder: {exc}")
            continue
        subdirs = []
        for entry in children:
            raw = rel + (entry.name or "").encode("utf-8", "surrogateescape")
            if entry.IsDirectory():
                if depth < _MAX_DIR_DEPTH:
                    subdirs.append((entry, raw + b"/", depth + 1))
                continue
            counter.n += 1
            if counter.n > limits.max_members:
                counter.stopped = True
                yield _item(parent, raw, None, error=members_error(limits))
                return
            if entry.IsLink():
                yield _item(parent, raw, entry, is_symlink=True, link_target=entry.link or None)
                continue
            for stream in [s.name for s in entry.data_streams] or [""]:
                path = raw + b":" + stream.encode("utf-8", "surrogateescape") if stream else raw
                if not entry.IsFile() and not stream:
                    yield _item(parent, path, entry, error="not a regular file")
                    continue
                opener, size, error = _read(entry, stream, limits)
                yield _item(parent, path, entry, size=size, opener=opener, error=error, stream=stream or None)
        stack.extend(reversed(subdirs))
