"""EWF (E01) specifics dfVFS leaves to its caller: a complete segment set, and the stored MD5 checked.

libewf opens an image whose later segments are missing and only fails on the first read that falls
in one (dfVFS then reports a read error deep in a file), so the set is checked up front: every EWF1
segment but the last ends with a ``next`` section, the last with ``done``. The MD5 an acquisition
tool stored is compared with the media's own MD5 by reading the media once in full.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from tessera.evidence.base import open_readonly

EWF1_MAGIC = b"EVF\x09\x0d\x0a\xff\x00"
EWF2_MAGIC = b"EVF2\x0d\x0a\x81\x00"
_SECTION = struct.Struct("<16sQQ")  # type, offset of the next section, size (then padding, checksum)
_CHUNK = 1 << 20


def segment_number(head: bytes) -> int | None:
    """Segment number an EWF1 file header states (1 for ``.E01``); None when not EWF1."""
    if not head.startswith(EWF1_MAGIC) or len(head) < 11:
        return None
    return int(struct.unpack_from("<H", head, 9)[0])


def segment_name(first: str, number: int) -> str:
    """libewf's name for segment ``number`` of the set whose first segment is named ``first``."""
    stem, _, ext = first.rpartition(".")
    letter = ext[:1] or "E"
    upper = letter.isupper()
    if number <= 99:
        suffix = f"{letter}{number:02d}"
    else:  # E99 is followed by EAA .. EZZ, then FAA ..
        n = number - 100
        base = ord("A" if upper else "a")
        first_letter = chr(ord(letter) + n // (26 * 26))
        suffix = f"{first_letter}{chr(base + (n // 26) % 26)}{chr(base + n % 26)}"
    return f"{stem}.{suffix}"


def _last_section(fh: BinaryIO) -> bytes | None:
    """Type of the final section of an EWF1 segment (``next`` or ``done``), following the chain."""
    offset, seen = 13, set()
    size = os.fstat(fh.fileno()).st_size
    while offset not in seen and offset + _SECTION.size <= size:
        seen.add(offset)
        fh.seek(offset)
        kind, nxt, _ = _SECTION.unpack(fh.read(_SECTION.size))
        kind = kind.rstrip(b"\x00")
        if kind in (b"next", b"done") or nxt == offset:
            return kind
        offset = nxt
    return None


def missing_segment(path: Path) -> str | None:
    """``"segment file X.E02 missing"`` when the EWF1 set that starts at ``path`` is incomplete."""
    number = 1
    current = path
    while True:
        try:
            with open_readonly(current) as fh:
                head = fh.read(16)
                if segment_number(head) != number:
                    return f"segment file {current.name} is not segment {number} of this image"
                last = _last_section(fh)
        except FileNotFoundError:
            return f"segment file {current.name} missing"
        if last != b"next":
            return None  # "done", or an EWF variant we cannot follow: libewf will judge it
        number += 1
        current = path.with_name(segment_name(path.name, number))


def segments(path: Path) -> list[Path]:
    """Every segment file of the image that starts at ``path`` (libewf's own naming rules)."""
    import pyewf

    return [Path(p) for p in pyewf.glob(os.fspath(path))]


@contextlib.contextmanager
def _handle(path: Path) -> Iterator[Any]:
    import pyewf

    files = [open_readonly(p) for p in segments(path)]
    handle = pyewf.handle()
    try:
        handle.open_file_objects(files)
        yield handle
    finally:
        with contextlib.suppress(OSError):
            handle.close()
        for fh in files:
            fh.close()


def verify(path: Path) -> tuple[str, str] | None:
    """(stored, computed) MD5 of the media, or None when the image stores no MD5."""
    with _handle(path) as handle:
        stored = (handle.get_hash_value("MD5") or "").lower()
        if not stored:
            return None
        md5 = hashlib.md5()  # noqa: S324 - EWF stores MD5; this is verification, not security
        size = handle.get_media_size()
        done = 0
        while done < size:
            block = handle.read_buffer_at_offset(min(_CHUNK, size - done), done)
            if not block:
                break
            md5.update(block)
            done += len(block)
        return stored, md5.hexdigest()
