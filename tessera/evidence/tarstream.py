"""A tar stream read to its very end: archives concatenated after the first, and what else follows.

:mod:`tarfile` stops at the first end-of-archive block and never looks further, and it also ends the
listing, without a word, at a damaged header or a cut after a member. So ``cat a.tar b.tar`` (which
GNU tar reads whole with ``-i``), bytes appended after the archive, or a tar.xz with a second stream
would keep files out of a walk silently. Here the bytes after the end are looked at: zeros (the
record padding) are the normal end; a valid header starts the next archive, whose members follow
under the same container; anything else is named in a note with its offset and size.

A compressed tar is decompressed by :class:`tessera.evidence.compressed.Decompressed` (every
stream of a concatenation, damage and trailing bytes reported), not by tarfile, which reads only the
first stream of a bzip2 or xz file.
"""

from __future__ import annotations

import tarfile
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO

from tessera.evidence.base import Limits
from tessera.evidence.compressed import CountingReader, Decompressed, StreamDamage, is_compressed

#: Compressed bytes the decompressor reads at a time: the most of a member's compressed bytes that
#: can be consumed before the member starts (the ratio guard counts them as the member's own).
READ_AHEAD = 16 << 10
_BLOCK = tarfile.BLOCKSIZE
_BUFSIZE = 64 << 10  # tarfile's stream buffer: what it may have read past the end of an archive
_KEEP = 4 * _BUFSIZE  # bytes handed out that stay available to read again
_MAX_ARCHIVES = 4096


class TarSource:
    """The tar's bytes as tarfile reads them (decompressed here), the last ones kept to read again."""

    def __init__(self, fh: IO[bytes]) -> None:
        head = fh.read(16)
        fh.seek(0)
        #: compressed bytes consumed (the ratio guard's measure)
        self.counting = CountingReader(fh)
        self.compressed = is_compressed(head)
        self._src: Decompressed | CountingReader = (
            Decompressed(head, self.counting, read_size=READ_AHEAD)  # type: ignore[arg-type]
            if self.compressed
            else self.counting
        )
        self.pos = 0  # offset in the tar stream of the next byte read() hands out
        self._recent: deque[bytes] = deque()  # the last reads, at least _KEEP bytes (not copied)
        self._recent_len = 0
        self._pending = b""

    def read(self, size: int = -1) -> bytes:
        if self._pending:
            data = self._pending if size < 0 else self._pending[:size]
            self._pending = self._pending[len(data) :]
        else:
            data = self._src.read(size)
        self.pos += len(data)
        if data:
            self._recent.append(data)
            self._recent_len += len(data)
            while self._recent_len - len(self._recent[0]) >= _KEEP:
                self._recent_len -= len(self._recent.popleft())
        return data

    def unread(self, n: int) -> None:
        """The last ``n`` bytes handed out are handed out again by the next reads."""
        if n > self._recent_len:
            raise ValueError(f"cannot go back {n} bytes (only {self._recent_len} kept)")
        back: list[bytes] = []
        need = n
        while need:
            last = self._recent.pop()
            self._recent_len -= len(last)
            if len(last) > need:  # part of this read stays read
                keep, last = last[: len(last) - need], last[len(last) - need :]
                self._recent.append(keep)
                self._recent_len += len(keep)
            back.append(last)
            need -= len(last)
        self._pending = b"".join(reversed(back)) + self._pending
        self.pos -= n


@dataclass(frozen=True, slots=True)
class Header:
    tf: tarfile.TarFile
    info: tarfile.TarInfo
    #: where its archive starts in the stream (``info.offset`` is from there)
    base: int


def headers(source: TarSource, limits: Limits) -> Iterator[Header | str]:
    """Every member header of the tar and of the archives concatenated after it, in order; a string
    is a note on the container (damage, or bytes after the end that are not tar) and the last thing.

    The caller reads a member's content (``header.tf.extractfile``) before asking for the next.
    """
    for number in range(_MAX_ARCHIVES):
        base = source.pos
        try:
            tf = tarfile.open(  # type: ignore[call-overload]  # noqa: SIM115 (closed below)
                fileobj=source, mode="r|", bufsize=_BUFSIZE, encoding="utf-8", errors="surrogateescape"
            )
        except Exception as exc:  # hostile input can raise almost anything from the parser
            yield f"corrupt archive: {exc}" if number == 0 else f"corrupt archive from byte {base:,}: {exc}"
            return
        with tf:
            members = iter(tf)
            while True:
                try:
                    info = next(members, None)
                except Exception as exc:  # a damaged header or a truncated stream
                    yield f"corrupt archive: {exc}"
                    return
                if info is None:
                    break
                yield Header(tf, info, base)
            end = base + tf.offset
        after = _after_end(source, end, limits)
        if after is not None:
            yield after
            return
        if not _next_archive(source):
            return
    yield f"more than {_MAX_ARCHIVES} archives one after another: the rest not read"


def _after_end(source: TarSource, end: int, limits: Limits) -> str | None:
    """Reads past the end-of-archive at ``end``: None when only zeros follow (then ``source.pos`` is
    the stream's end) or a valid header does (``source`` is left at it); else the note to give."""
    source.unread(source.pos - end)  # tarfile read ahead past the end: those bytes are looked at again
    room = max(limits.max_skip_bytes, limits.max_total_bytes)
    zeros = 0
    try:
        while True:
            block = source.read(_BUFSIZE)
            if not block:
                return None
            rest = block.lstrip(b"\x00")
            if rest:
                break
            zeros += len(block)
            if zeros > room:
                return f"more than {room:,} zero bytes after the end of the archive: not read further"
        at = zeros + len(block) - len(rest)
        boundary = end + at - at % _BLOCK  # a header starts on a block boundary
        source.unread(source.pos - boundary)
        head = source.read(_BLOCK)
        source.unread(len(head))
        if len(head) == _BLOCK and _is_header(head):
            return None
        left = _drain(source, room)
    except StreamDamage as exc:
        return f"corrupt compressed stream after the end of the tar archive (byte {end:,}): {exc}"
    count = f"at least {left:,}" if left >= room else f"{left:,}"
    return f"{count} bytes after the end of the tar archive (from byte {boundary:,}) are not tar: not read"


def _next_archive(source: TarSource) -> bool:
    """Whether a header waits at ``source``'s position (left unread)."""
    head = source.read(_BLOCK)
    source.unread(len(head))
    return len(head) == _BLOCK and _is_header(head)


def _is_header(block: bytes) -> bool:
    try:
        tarfile.TarInfo.frombuf(block, "utf-8", "surrogateescape")
    except tarfile.HeaderError:
        return False
    return True


def _drain(source: TarSource, room: int) -> int:
    total = 0
    while total < room and (block := source.read(_BUFSIZE)):
        total += len(block)
    return total
