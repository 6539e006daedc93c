"""Single compressed files (``.gz``, ``.bz2``, ``.xz``): a container holding one member.

The member is named after the file without its compression suffix (``log.txt.gz`` holds
``log.txt``; ``x.tgz`` that is not a tar holds ``x.tar``); a file without a known suffix holds
``NAME.out``. A damaged stream (truncated download, bad CRC) keeps the bytes decompressed before
the damage, hashed as found, with an error that names the damage and how much was read: what was
recovered is evidence too, and the error says it is not the whole file.
"""

from __future__ import annotations

import bz2
import lzma
import zlib
from collections.abc import Iterator
from typing import IO, Any, ClassVar

from tessera.evidence.base import (
    CONTAINERS,
    SPARSE_PROBE,
    LimitHit,
    Limits,
    MemberSink,
    bomb_error,
    member_cap,
    member_locator,
    open_item,
    ratio_exempt,
)
from tessera.records import EvidenceItem, Opener

GZIP_MAGIC = b"\x1f\x8b\x08"
XZ_MAGIC = b"\xfd7zXZ\x00"
_STRIP = {".gz": "", ".tgz": ".tar", ".bz2": "", ".tbz": ".tar", ".tbz2": ".tar", ".xz": "", ".txz": ".tar"}
_CHUNK = 1 << 16
_OUT = 1 << 20  # most bytes one decompression step may make


def is_bzip2(head: bytes) -> bool:
    # "BZh" + block size digit + the magic of the first block (pi) or of an empty stream (sqrt pi).
    return head[:3] == b"BZh" and head[3:4].isdigit() and head[4:10] in (b"1AY&SY", b"\x17rE8P\x90")


def is_compressed(head: bytes) -> bool:
    return head.startswith(GZIP_MAGIC) or head.startswith(XZ_MAGIC) or is_bzip2(head)


def kind_of(head: bytes) -> str:
    if head.startswith(GZIP_MAGIC):
        return "gzip"
    return "xz" if head.startswith(XZ_MAGIC) else "bzip2"


def peek_decompressed(head: bytes) -> bytes | None:
    """The first bytes of a gzip or xz stream's content; None when they cannot be had from ``head``.

    Bzip2 cannot be peeked: it emits nothing until a whole block (up to 900 kB) has been read.
    """
    try:
        if head.startswith(GZIP_MAGIC):
            return zlib.decompressobj(31).decompress(head, 1024)
        if head.startswith(XZ_MAGIC):
            return lzma.LZMADecompressor().decompress(head, 1024)
    except (zlib.error, lzma.LZMAError):
        return None
    return None


def decompressing(head: bytes, fh: IO[bytes]) -> IO[bytes]:
    """A file-like decompressing reader (what tarfile and others are handed): see :class:`Decompressed`."""
    return Decompressed(head, fh)  # type: ignore[return-value]


class CountingReader:
    """A file read through, counting the bytes handed over, never seekable.

    Wrapped around an archive file, it counts the compressed bytes consumed while one member
    streams out: that member's own expansion ratio, so a zero-filled member is caught without
    blaming the members around it. Wrapped around a decompressing reader, it gives the position
    in the decompressed stream. Not seekable, so a reader (libarchive) never asks a decompressor
    to seek, which would mean decompressing again from the start.
    """

    def __init__(self, fh: IO[bytes]) -> None:
        self.fh = fh
        self.count = 0
        #: the exception the file raised (damaged or truncated compressed data), kept for the report
        #: where the reader is a C library that would only see an early end
        self.error: Exception | None = None

    def read(self, size: int = -1) -> bytes:
        data = self.fh.read(size)
        self.count += len(data)
        return data

    def readinto(self, buf: Any) -> int:
        # read1: one read from the decompressor, so the bytes it produced before damage come out
        # first (a buffered read() that meets the damage while filling ``buf`` drops them).
        read = getattr(self.fh, "read1", self.fh.read)
        try:
            data = read(len(buf))
        except Exception as exc:  # hostile compressed data raises from zlib, bz2, lzma, gzip
            self.error = exc
            return 0
        buf[: len(data)] = data
        self.count += len(data)
        return len(data)

    def seekable(self) -> bool:
        return False


class RatioGuard:
    """The compression-ratio check on one archive member read out of a compressed stream.

    ``spent`` is the compressed bytes consumed since the member began, plus the reader's read-ahead
    (one buffer that may hold part of this member). A member past ``max_ratio`` times that (and
    past ``ratio_min_bytes``) raises :class:`LimitHit`, unless it starts like a sparse format (a
    disk image), which only the byte budget bounds (see :func:`ratio_exempt`).
    """

    def __init__(self, limits: Limits, name: str) -> None:
        self.limits = limits
        self.name = name
        self.head = bytearray()
        self.exempt: bool | None = None

    def check(self, chunk: bytes, size: int, spent: int) -> None:
        """After ``chunk`` was written, with ``size`` bytes of the member out so far."""
        limits = self.limits
        if len(self.head) < SPARSE_PROBE:
            self.head += chunk[: SPARSE_PROBE - len(self.head)]
        if size > limits.ratio_min_bytes and size > limits.max_ratio * spent:
            if self.exempt is None:
                self.exempt = ratio_exempt(bytes(self.head), self.name)
            if not self.exempt:
                raise LimitHit(bomb_error(limits))


class StreamDamage(Exception):
    """The compressed stream is damaged; every byte decompressed before the damage was yielded."""


def _decompressor(kind: str) -> Any:
    if kind == "gzip":
        return zlib.decompressobj(31)
    return lzma.LZMADecompressor() if kind == "xz" else bz2.BZ2Decompressor()


def decompressed_chunks(kind: str, fh: IO[bytes], read_size: int = _CHUNK) -> Iterator[bytes]:
    """The content of a gzip/bzip2/xz file, streams one after another (as gzip -d reads them).

    Driven by hand rather than through :class:`gzip.GzipFile`, which drops the last bytes it
    decompressed when the input ends early (and :class:`lzma.LZMAFile`/:class:`bz2.BZ2File`, which drop
    whatever follows the last stream): here everything before the damage comes out first. Zero padding
    after the last stream is ignored, as the tools do; other trailing bytes are damage. No step makes
    more than ``_OUT`` bytes: 2 KiB of bzip2 holds 3 GiB of zeros, which one unbounded call would
    hold in memory at once.
    """
    dec = _decompressor(kind)
    offset = 0  # compressed bytes consumed, for the error message
    data = b""  # compressed bytes read and not yet handed to the decompressor
    hungry = True  # the decompressor has no output pending: it needs more input
    while True:
        if hungry and not data:
            data = fh.read(read_size)
            if not data:
                raise StreamDamage(f"the file ends inside the {kind} stream (truncated at byte {offset})")
        try:
            out = dec.decompress(data, _OUT)
        except (zlib.error, lzma.LZMAError, OSError, EOFError) as exc:
            raise StreamDamage(f"damaged {kind} data near byte {offset}: {exc}") from None
        if kind == "gzip":  # zlib hands back what it did not take; bz2 and lzma keep it inside
            left, hungry = dec.unconsumed_tail, len(out) < _OUT
        else:
            left, hungry = b"", dec.needs_input
        offset += len(data) - len(left)
        data = left
        if out:
            yield out
        if not dec.eof:
            continue
        more = dec.unused_data + data
        offset -= len(dec.unused_data)
        while len(more) < 16 and (block := fh.read(_CHUNK)):
            more += block
        if not more:
            return
        if is_compressed(more[:16]) and kind_of(more[:16]) == kind:
            dec, data, hungry = _decompressor(kind), more, True  # the next stream of a concatenation
            continue
        if not more.strip(b"\x00") and not any(
            block.strip(b"\x00") for block in iter(lambda: fh.read(_CHUNK), b"")
        ):
            return  # zero padding after the last stream, as tape blocking leaves it
        raise StreamDamage(
            f"the bytes after the end of the {kind} stream (from byte {offset}) are not {kind}"
        )


class Decompressed:
    """A gzip, bzip2 or xz file's content as a read-only stream (what tarfile and libarchive read).

    Read through :func:`decompressed_chunks`, so concatenated streams are read on and bytes after the
    last stream are damage, for all three kinds alike. Damage raises :class:`StreamDamage` from the
    read after the one that returned the last good bytes: a reader gets everything before it first.
    """

    def __init__(self, head: bytes, fh: IO[bytes], read_size: int = _CHUNK) -> None:
        self._chunks = decompressed_chunks(kind_of(head), fh, read_size)
        self._buf = b""
        self._pos = 0
        self._done = False
        self._error: StreamDamage | None = None

    def _more(self) -> bool:
        if self._error is not None:
            raise self._error
        if self._done:
            return False
        try:
            self._buf, self._pos = next(self._chunks), 0
        except StopIteration:
            self._done = True
            return False
        except StreamDamage as exc:
            self._error = exc
            raise
        return True

    def read1(self, size: int = -1) -> bytes:
        if self._pos >= len(self._buf) and not self._more():
            return b""
        end = len(self._buf) if size < 0 else self._pos + size
        out = self._buf[self._pos : end]
        self._pos += len(out)
        return out

    def read(self, size: int = -1) -> bytes:
        parts: list[bytes] = []
        got = 0
        while size < 0 or got < size:
            try:
                part = self.read1(-1 if size < 0 else size - got)
            except StreamDamage:
                if parts:
                    break  # these bytes first; the next read raises
                raise
            if not part:
                break
            parts.append(part)
            got += len(part)
        return b"".join(parts)

    def readinto(self, buf: Any) -> int:
        data = self.read1(len(buf))
        buf[: len(data)] = data
        return len(data)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False


def member_name(raw_parent: bytes) -> bytes:
    """The one member's name: the container's file name without its compression suffix."""
    lower = raw_parent.lower()
    for suffix, repl in _STRIP.items():
        if lower.endswith(suffix.encode()) and len(raw_parent) > len(suffix):
            return raw_parent[: -len(suffix)] + repl.encode()
    return raw_parent + b".out"


class CompressedFormat:
    """A single gzip, bzip2 or xz compressed file (concatenated streams read as one, as gzip does)."""

    name: ClassVar[str] = "compressed"
    priority: ClassVar[int] = 30  # after "tar": a .tar.gz is one tar, not a gzip of a tar

    def sniff(self, head: bytes, name: str) -> bool:
        return is_compressed(head)

    def members(self, opener: Opener, parent: EvidenceItem, limits: Limits) -> Iterator[EvidenceItem]:
        loc, raw_path = member_locator(parent, member_name(parent.raw_path.rsplit(b"/", 1)[-1]))
        cap, cap_error = member_cap(limits, parent.size, 0)
        sink = MemberSink(limits, max_bytes=cap, too_big=cap_error)
        error: str | None = None
        keep = True
        with open_item(opener) as fh:
            head = fh.read(16)
            fh.seek(0)
            kind = kind_of(head)
            try:
                for chunk in decompressed_chunks(kind, fh):
                    sink.write(chunk)
            except LimitHit as exc:
                error, keep = str(exc), False  # the sink discarded itself: a bomb's prefix is no file
            except StreamDamage as exc:  # keep what came out before the damage
                keep = sink.size > 0
                error = f"corrupt {kind} stream: {exc}; the {sink.size} bytes before it are kept (partial)"
        yield EvidenceItem(
            loc,
            raw_path,
            sink.size if keep else None,
            sink.opener() if keep else None,
            mtime=parent.mtime,
            error=error,
            depth=parent.depth + 1,
        )
        if not keep:
            sink.discard()


CONTAINERS.register("compressed")(CompressedFormat())
