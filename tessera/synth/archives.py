"""Archive quirks that have hidden files from tools: tars and compressed streams one after another,
bytes appended after an archive's end. Everything here is generated, content and names alike."""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import tarfile
from collections.abc import Callable, Mapping, Sequence

#: Compressors by tar suffix; ``""`` is a plain tar.
COMPRESS: dict[str, Callable[[bytes], bytes]] = {
    "": lambda data: data,
    ".gz": lambda data: gzip.compress(data, mtime=0),
    ".bz2": bz2.compress,
    ".xz": lzma.compress,
}


def tar_bytes(members: Mapping[str, bytes], links: Mapping[str, str] | None = None) -> bytes:
    """A plain tar (padded to tar's 10 KiB record) of regular ``members`` and hard ``links``
    (name -> target), in that order."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size, info.mtime = len(data), 1_600_000_000
            tf.addfile(info, io.BytesIO(data))
        for name, target in (links or {}).items():
            info = tarfile.TarInfo(name)
            info.type, info.linkname, info.mtime = tarfile.LNKTYPE, target, 1_600_000_000
            tf.addfile(info)
    return buf.getvalue()


def concatenated(archives: Sequence[bytes], suffix: str, *, streams: bool) -> bytes:
    """Tars one after another (``cat a.tar b.tar``, which GNU tar reads whole with ``-i``):
    compressed as one stream (``cat a.tar b.tar | xz``) or, with ``streams``, each compressed on its
    own and the streams joined (``cat a.tar.xz b.tar.xz``), which xz, bzip2 and gzip all read as one."""
    compress = COMPRESS[suffix]
    if streams:
        return b"".join(compress(a) for a in archives)
    return compress(b"".join(archives))
