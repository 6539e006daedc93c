"""cpio archives (newc, crc, odc, old binary), read with libarchive through ``libarchive-c``.

Why libarchive: it is the maintained reader behind bsdtar/bsdcpio that knows every cpio dialect
(and their hard-link conventions), and ``libarchive-c`` is a thin, maintained ctypes binding to the
system's ``libarchive13``, so nothing is compiled. The archive is streamed (one pass, no seeking
needed); names are taken as the raw bytes stored, not through the locale.

A compressed cpio (an initramfs ``.cpio.gz``, gzip, bzip2 or xz) is read here as one stream, as a
``.tar.gz`` is by the tar format, so each member's own expansion can be measured: decompressing the
whole cpio into one spooled member first would copy a zero-filled member up to the byte budget, or
refuse the whole archive for the ratio of one member. Limits as for tar: a member over a limit (the
ratio, the byte budget) is recorded as not read, with the limit, and the walk goes on to every later
member; the only stop is a compressed stream that would decompress past ``max_skip_bytes`` to reach
the next header, named in a note on the archive.

One file may hold several archives: an initramfs with early microcode is a plain cpio, NUL padding
and a compressed cpio; ``cat a.cpio b.cpio | gzip`` is one stream of two. libarchive stops at the
first trailer, so each archive is read in turn from where its trailer ends (found from libarchive's
last header position in the bytes it was given), and whatever follows that is not an archive is
named with its size.
"""

from __future__ import annotations

import ctypes
import struct
from collections import deque
from collections.abc import Generator, Iterator
from dataclasses import replace
from typing import Any, ClassVar

from tessera.evidence.base import (
    CONTAINERS,
    LimitHit,
    Limits,
    MemberNames,
    MemberSink,
    container_note,
    display_name,
    members_error,
    open_item,
    total_error,
)
from tessera.evidence.compressed import (
    CountingReader,
    RatioGuard,
    decompressing,
    is_compressed,
    peek_decompressed,
)
from tessera.records import EvidenceItem, Opener

_ASCII_MAGIC = (b"070701", b"070702", b"070707")  # newc, newc with CRC, odc (portable ASCII)
_BINARY = {b"\xc7\x71": "<", b"\x71\xc7": ">"}  # old binary, little or big endian
_SUFFIXES = (".cpio.gz", ".cpgz", ".cpio.bz2", ".cpio.xz")  # for bzip2, which cannot be peeked
#: Compressed bytes a decompressor may have read ahead when a member starts (Python's readers take
#: 8 KiB to 128 KiB at a time): counted as the member's own, so a member is never blamed for them.
_READ_AHEAD = 128 * 1024
#: The trailer entry's name and its NUL; an archive ends with it (and padding).
_TRAILER = b"TRAILER!!!\0"
#: libarchive's last reads kept to find what follows a trailer (it reads 4 KiB blocks, and stops
#: within a block or two of the trailer).
_KEEP_BLOCKS = 16
#: Archives read one after another from one file (an initramfs holds two or three).
_MAX_SEGMENTS = 64
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
        if is_compressed(head):
            inner = peek_decompressed(head)
            if inner is not None and len(inner) >= 26:
                return _plain_cpio(inner)
            return name.lower().endswith(_SUFFIXES)  # bzip2, or a head too short to decide
        return _plain_cpio(head)

    def members(self, opener: Opener, parent: EvidenceItem, limits: Limits) -> Iterator[EvidenceItem]:
        lib = _libarchive()
        if lib is None:
            yield container_note(parent, _MISSING)
            return
        with open_item(opener) as fh:
            yield from _segments(lib, _Chain(b"", fh), parent, limits, MemberNames(), None)


def _segments(
    lib: Any, src: _Chain, parent: EvidenceItem, limits: Limits, names: MemberNames, stream: _Stream | None
) -> Iterator[EvidenceItem]:
    """Every cpio archive in ``src``, one after another. libarchive stops at the first trailer, but
    a file may hold several: an initramfs with early microcode is a plain cpio followed by a
    compressed one, and ``cat a.cpio b.cpio | gzip`` makes one stream of two archives. What follows
    a trailer (after NUL padding) is read as the next archive, or named, never dropped."""
    for _ in range(_MAX_SEGMENTS):
        zeros = src.skip_zeros()
        head = src.peek(26)
        if not head:
            if stream is not None and stream.out.error is not None:
                # Every member came out whole, but the stream is damaged after them (a cut trailer,
                # bytes appended that are not compressed data: something may be hidden there).
                yield container_note(
                    parent, f"corrupt compressed stream after the last member: {stream.out.error}"
                )
            return
        if is_compressed(head) and stream is None:
            # Decompressed here, not by libarchive, so the compressed bytes each member costs are
            # counted (the ratio) and the decompressed position is known (the skip budget).
            counting = CountingReader(src)  # type: ignore[arg-type]
            inner = _Stream(counting, CountingReader(decompressing(head, counting)))  # type: ignore[arg-type]
            yield from _segments(lib, _Chain(b"", inner.out), parent, limits, names, inner)
            if inner.out.error is None and (left := _drain(src, limits)):
                yield container_note(parent, f"{left:,} bytes after the compressed stream not read")
            return
        if not _plain_cpio(head):
            # Only after an archive (the file itself was sniffed as cpio or compressed cpio).
            left = _drain(src, limits)
            where = "the compressed stream" if stream is not None else "the file"
            yield container_note(
                parent,
                f"{left:,} bytes after the cpio trailer (and {zeros:,} NUL bytes of padding) in {where} are "
                "neither a cpio archive nor a compressed stream: not read",
            )
            return
        keep = _Keep(src)
        try:
            reader = lib.stream_reader(keep, format_name="cpio", filter_name="none")
            archive = reader.__enter__()
        except Exception as exc:  # libarchive refuses the header
            yield container_note(parent, f"corrupt archive: {_why(exc, stream)}")
            return
        try:
            whole = yield from _members(lib, archive, parent, limits, stream, names)
            trailer_at = _header_position(lib, archive) if whole else None
        finally:
            reader.__exit__(None, None, None)
        if not whole:
            return
        # Not found among the kept bytes (it always is: libarchive stops within a block of it), what
        # comes next is still looked at, so it is read or named, never passed over.
        src = _Chain(keep.after(trailer_at) or b"", src)
    yield container_note(parent, f"more than {_MAX_SEGMENTS} cpio archives in one file: the rest not read")


class _Chain:
    """Bytes already read (``prefix``), then the rest of ``rest``: a stream with look-ahead."""

    def __init__(self, prefix: bytes, rest: Any) -> None:
        self.buf, self.rest = bytearray(prefix), rest

    def _fill(self, n: int) -> None:
        while len(self.buf) < n:
            more = bytearray(max(n - len(self.buf), 1 << 16))
            got = self.rest.readinto(more)
            if not got:
                return
            self.buf += more[:got]

    def peek(self, n: int) -> bytes:
        self._fill(n)
        return bytes(self.buf[:n])

    def skip_zeros(self) -> int:
        """Drop NUL padding (archives are padded to 512-byte blocks); how many were dropped."""
        dropped = 0
        while True:
            self._fill(1)
            if not self.buf:
                return dropped
            keep = self.buf.lstrip(b"\0")
            dropped += len(self.buf) - len(keep)
            self.buf = keep
            if keep:
                return dropped

    def readinto(self, out: Any) -> int:
        if not self.buf:
            return int(self.rest.readinto(out))
        n = min(len(out), len(self.buf))
        out[:n] = self.buf[:n]
        del self.buf[:n]
        return n

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            size = 1 << 30
        self._fill(min(size, 1 << 16))
        data = bytes(self.buf[:size])
        del self.buf[: len(data)]
        return data

    def seekable(self) -> bool:
        return False


class _Keep:
    """``src`` as libarchive reads it, keeping the last blocks: libarchive stops at a trailer with the
    bytes after it already read and never reported, and those are where a next archive starts."""

    def __init__(self, src: _Chain) -> None:
        # The last blocks as read, joined only once at the end: re-slicing one growing tail per block
        # copied ~64 KiB for every 4 KiB libarchive read.
        self.src, self.blocks, self.count = src, deque[bytes](maxlen=_KEEP_BLOCKS), 0

    def readinto(self, buf: Any) -> int:
        n = self.src.readinto(buf)
        if n:
            self.blocks.append(bytes(memoryview(buf)[:n]))
            self.count += n
        return n

    def seekable(self) -> bool:
        return False

    def after(self, trailer_at: int | None) -> bytes | None:
        """The bytes libarchive read past the trailer that starts at ``trailer_at`` (its position in
        the data read); None when that is not among the kept bytes."""
        if trailer_at is None:
            return None
        tail = b"".join(self.blocks)
        start = trailer_at - (self.count - len(tail))
        at = tail.find(_TRAILER, start) if start >= 0 else -1
        return None if at < 0 else tail[at + len(_TRAILER) :]


def _header_position(lib: Any, archive: Any) -> int | None:
    """Where libarchive read the last header (at the end: the trailer), in the data it was given."""
    fn = getattr(lib.ffi.libarchive, "archive_read_header_position", None)
    if fn is None:
        return None
    fn.restype, fn.argtypes = ctypes.c_int64, [ctypes.c_void_p]
    pos = int(fn(archive._pointer))
    return pos if pos >= 0 else None


def _drain(src: Any, limits: Limits) -> int:
    """Bytes left in ``src``, read through within the skip budget (to count them, never kept)."""
    room, total = max(limits.max_skip_bytes, limits.max_total_bytes), 0
    buf = bytearray(1 << 16)
    while total < room and (n := src.readinto(buf)):
        total += n
    return total


class _Stream:
    """A compressed cpio's two positions: ``raw`` counts compressed bytes, ``out`` decompressed."""

    def __init__(self, raw: CountingReader, out: CountingReader) -> None:
        self.raw, self.out = raw, out


def _why(exc: Exception, stream: _Stream | None) -> str:
    """libarchive only sees an early end where the decompressor raised: that error says more."""
    return str(stream.out.error) if stream is not None and stream.out.error is not None else str(exc)


def _plain_cpio(head: bytes) -> bool:
    if head[:6] in _ASCII_MAGIC:
        return True
    order = _BINARY.get(head[:2])
    return order is not None and _binary_header_ok(head, order)


def _members(
    lib: Any, archive: Any, parent: EvidenceItem, limits: Limits, stream: _Stream | None, names: MemberNames
) -> Generator[EvidenceItem, None, bool]:
    """One archive's members; returns True when its trailer was reached (the walk may go on)."""
    whole = False
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
            yield container_note(parent, f"corrupt archive: {_why(exc, stream)}")
            break
        if entry is None:
            whole = True
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
        skip = max(limits.max_skip_bytes, limits.max_total_bytes)
        if stream is not None and stream.out.count + size > skip:
            # Even skipping it would decompress past what a listing may cost.
            yield replace(item, size=size, error=total_error(limits))
            yield container_note(
                parent,
                f"the rest of the archive was not read: reaching it means decompressing "
                f"past {skip} bytes (limit max_skip_bytes)",
            )
            break
        if used + size > limits.max_total_bytes:
            yield replace(item, size=size, error=total_error(limits))
            continue  # libarchive skips the data by itself
        sink = MemberSink(limits)
        try:
            _read(entry, size, sink, stream, RatioGuard(limits, loc.rsplit("/", 1)[-1]))
        except LimitHit as exc:
            sink.discard()
            yield replace(item, size=size, error=f"{exc}; not read, later members are")
            continue  # libarchive decompresses through the rest of it to the next header
        except Exception as exc:
            sink.discard()
            yield replace(item, size=size, error=f"corrupt member: {_why(exc, stream)}")
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
    return whole


def _read(entry: Any, size: int, sink: MemberSink, stream: _Stream | None, guard: RatioGuard) -> None:
    """The member's bytes into ``sink``; in a compressed stream, checked against its own ratio."""
    start = stream.raw.count if stream is not None else 0
    for block in entry.get_blocks():
        sink.write(block)
        if stream is not None:
            guard.check(block, sink.size, stream.raw.count - start + _READ_AHEAD)
    if stream is not None and stream.out.error is not None and sink.size < size:
        # libarchive saw an early end inside the member; damage found reading ahead past a whole
        # member is the next header's (named on the archive), not this member's.
        raise stream.out.error


def _second(opener: Opener, limits: Limits) -> Opener:
    """Another opener on the same bytes (a spool file is deleted once its item is hashed)."""
    if opener.path is None:
        return opener
    sink = MemberSink(limits)
    with open_item(opener) as fh:
        sink.copy_from(fh)
    return sink.opener()


CONTAINERS.register("cpio")(CpioFormat())
