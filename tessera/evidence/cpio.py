"""cpio archives (newc, crc, odc, old binary), read with libarchive through ``libarchive-c``.

Why libarchive: it is the maintained reader behind bsdtar/bsdcpio that knows every cpio dialect
(and their hard-link conventions), and ``libarchive-c`` is a thin, maintained ctypes binding to the
system's ``libarchive13``, so nothing is compiled. The archive is streamed (one pass, no seeking
needed); names are taken as the raw bytes stored, not through the locale.

A compressed cpio (an initramfs ``.cpio.gz``) is a gzip container holding a cpio: the compressed
format opens the outer layer and this one the inner. Limits as for tar: a member over a limit is
recorded as not read and the walk goes on.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import replace
from typing import Any, ClassVar

from tessera.evidence.base import (
    CONTAINERS,
    Limits,
    MemberNames,
    MemberSink,
    container_note,
    display_name,
    members_error,
    open_item,
    total_error,
)
from tessera.records import EvidenceItem, Opener

_ASCII_MAGIC = (b"070701", b"070702", b"070707")  # newc, newc with CRC, odc (portable ASCII)
_BINARY = {b"\xc7\x71": "<", b"\x71\xc7": ">"}  # old binary, little or big endian
_MISSING = (
    "cpio archive not read: the libarchive-c package (and the system's libarchive13) is needed "
    "for cpio; install it"
)


def _libarchive() -> Any | None:
    try:
        import libarchive  # noqa: PLC0415 (optional at import time: its absence is reported per archive)
        import libarchive.ffi  # noqa: PLC0415
    except (ImportError, OSError):  # OSError: the binding is there but libarchive.so is not
        return None
    return libarchive


def _binary_header_ok(head: bytes, order: str) -> bool:
    # The two-byte magic alone matches too much: also require a sane name length with its NUL.
    if len(head) < 26:
        return False
    namesize = struct.unpack_from(order + "H", head, 20)[0]
    return 1 < namesize <= 4096 and (26 + namesize > len(head) or head[26 + namesize - 1] == 0)


class CpioFormat:
    name: ClassVar[str] = "cpio"
    priority: ClassVar[int] = 25

    def sniff(self, head: bytes, name: str) -> bool:
        if head[:6] in _ASCII_MAGIC:
            return True
        order = _BINARY.get(head[:2])
        return order is not None and _binary_header_ok(head, order)

    def members(self, opener: Opener, parent: EvidenceItem, limits: Limits) -> Iterator[EvidenceItem]:
        lib = _libarchive()
        if lib is None:
            yield container_note(parent, _MISSING)
            return
        with open_item(opener) as fh:
            try:
                reader = lib.stream_reader(fh, format_name="cpio", filter_name="none")
                archive = reader.__enter__()
            except Exception as exc:  # libarchive refuses the header
                yield container_note(parent, f"corrupt archive: {exc}")
                return
            try:
                yield from _members(lib, archive, parent, limits)
            finally:
                reader.__exit__(None, None, None)


def _members(lib: Any, archive: Any, parent: EvidenceItem, limits: Limits) -> Iterator[EvidenceItem]:
    names = MemberNames()
    depth = parent.depth + 1
    used = count = 0
    # newc stores a hard-linked file's bytes once, with its last name; libarchive reports the
    # earlier names as empty files and the last as a hard link to the first. Empty files wait
    # here until the end, so an earlier name gets the bytes when its last name brings them.
    empty: dict[bytes, EvidenceItem] = {}
    entries = iter(archive)
    while True:
        try:
            entry = next(entries, None)
        except Exception as exc:  # a damaged header or a truncated archive
            yield container_note(parent, f"corrupt archive: {exc}")
            break
        if entry is None:
            break
        if not (entry.isreg or entry.issym or entry.islnk):
            continue  # directories, devices, fifos: no content
        raw = lib.ffi.entry_pathname(entry._entry_p) or b""
        loc, raw_path = names.locate(parent, raw)
        mtime = entry.mtime
        item = EvidenceItem(
            loc, raw_path, None, None, mtime=None if mtime is None else float(mtime), depth=depth
        )
        count += 1
        size = int(entry.size or 0)
        if count > limits.max_members:
            yield replace(item, size=size, error=members_error(limits))
            break
        if entry.issym:
            target = display_name(lib.ffi.entry_symlink(entry._entry_p) or b"")
            yield replace(item, is_symlink=True, link_target=target, link_kind="symlink")
            continue
        link_raw = lib.ffi.entry_hardlink(entry._entry_p) if entry.islnk else None
        if link_raw is not None:
            item = replace(item, link_target=display_name(link_raw), link_kind="hard")
        elif size == 0:
            empty[raw] = item
            continue
        if used + size > limits.max_total_bytes:
            yield replace(item, size=size, error=total_error(limits))
            continue  # libarchive skips the data by itself
        sink = MemberSink(limits)
        try:
            for block in entry.get_blocks():
                sink.write(block)
        except Exception as exc:
            sink.discard()
            yield replace(item, size=size, error=f"corrupt member: {exc}")
            break  # the position in the archive is lost with the member's bytes
        used += sink.size
        opener = sink.opener()
        first = empty.pop(link_raw, None) if link_raw is not None and sink.size else None
        if first is not None:
            yield replace(
                first,
                size=sink.size,
                opener=_second(opener, limits),
                link_kind="hard",
                link_target=display_name(raw),
            )
        yield replace(item, size=sink.size, opener=opener)
    for item in empty.values():
        yield replace(item, size=0, opener=Opener(data=b""))


def _second(opener: Opener, limits: Limits) -> Opener:
    """Another opener on the same bytes (a spool file is deleted once its item is hashed)."""
    if opener.path is None:
        return opener
    sink = MemberSink(limits)
    with open_item(opener) as fh:
        sink.copy_from(fh)
    return sink.opener()


CONTAINERS.register("cpio")(CpioFormat())
