"""Read evidence bytes once, read-only, and compute MD5, SHA-1 and SHA-256 in the same pass."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass

from tessera.hashing.magic import HEAD_SIZE

#: Files up to this size are read into memory once; the same bytes then feed the digests, the type
#: sniffer and the image decoder (no second read of evidence). Bigger files are streamed.
MAX_IN_MEMORY = 64 * 1024 * 1024
#: Streaming read size for bigger files: large enough that syscall overhead is negligible and
#: hashlib releases the GIL on each update, small enough to stay in cache.
CHUNK = 1024 * 1024

_BASE_FLAGS = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
_NOATIME = getattr(os, "O_NOATIME", 0)


@dataclass(frozen=True, slots=True)
class Digests:
    md5: str
    sha1: str
    sha256: str
    size: int


def open_readonly(path: str) -> int:
    """A read-only file descriptor for ``path``, with O_NOATIME where the OS allows it.

    O_NOATIME keeps the evidence's access time unchanged on mounts without ``noatime``. Linux only
    grants it to the file's owner (or CAP_FOWNER); otherwise the open fails with EPERM and we fall
    back silently to a plain read-only open (evidence should be on a read-only mount anyway).
    """
    if _NOATIME:
        try:
            return os.open(path, _BASE_FLAGS | _NOATIME)
        except PermissionError:
            pass
    return os.open(path, _BASE_FLAGS)


def digest_bytes(data: bytes) -> Digests:
    # usedforsecurity=False: MD5/SHA-1 identify content here; this keeps them available on
    # FIPS-mode systems where they are otherwise refused.
    return Digests(
        hashlib.md5(data, usedforsecurity=False).hexdigest(),
        hashlib.sha1(data, usedforsecurity=False).hexdigest(),
        hashlib.sha256(data).hexdigest(),
        len(data),
    )


def _read_all(fd: int, size: int) -> bytes:
    # One read asks for one byte more than fstat reported: a short read means EOF, so the usual
    # small file costs a single read() syscall. Loop in case the file is larger than stat said.
    first = os.read(fd, size + 1)
    if len(first) <= size:
        return first
    parts = [first]
    while block := os.read(fd, CHUNK):
        parts.append(block)
    return b"".join(parts)


def read_path(path: str) -> tuple[Digests, bytes | None, bytes]:
    """Digest the file at ``path`` in one read.

    Returns ``(digests, data, head)``: ``data`` is the whole content when the file is at most
    :data:`MAX_IN_MEMORY` (callers reuse it instead of reading again), otherwise ``None`` and only
    ``head`` (the first ``magic.HEAD_SIZE`` bytes) is kept. ``OSError`` from opening or reading is
    raised to the caller: without the bytes there is no record to return.
    """
    fd = open_readonly(path)
    try:
        size = os.fstat(fd).st_size
        if size <= MAX_IN_MEMORY:
            data = _read_all(fd, size)
            if len(data) <= MAX_IN_MEMORY:
                return digest_bytes(data), data, data[:HEAD_SIZE]
            # Grew past the limit while we read it: hash what we have, keep streaming below.
            return _stream(fd, data)
        return _stream(fd, b"")
    finally:
        os.close(fd)


def _stream(fd: int, already: bytes) -> tuple[Digests, None, bytes]:
    md5 = hashlib.md5(already, usedforsecurity=False)
    sha1 = hashlib.sha1(already, usedforsecurity=False)
    sha256 = hashlib.sha256(already)
    total = len(already)
    head = already[:HEAD_SIZE]
    buf = bytearray(CHUNK)
    view = memoryview(buf)
    # Unbuffered: readinto goes straight to read(2) into our reused buffer.
    with open(fd, "rb", buffering=0, closefd=False) as raw:
        while n := raw.readinto(buf):
            chunk = view[:n]
            md5.update(chunk)
            sha1.update(chunk)
            sha256.update(chunk)
            if len(head) < HEAD_SIZE:
                head += bytes(chunk[: HEAD_SIZE - len(head)])
            total += n
    return Digests(md5.hexdigest(), sha1.hexdigest(), sha256.hexdigest(), total), None, head
