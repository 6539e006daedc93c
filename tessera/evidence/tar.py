"""Tar archives (plain, gzip, bzip2, xz) and single compressed files (``.gz``, ``.bz2``, ``.xz``).

Tar is read in :mod:`tarfile`'s streaming mode (``r|*``): one pass, no seeking, so a compressed tar
is decompressed once and never whole in memory. Links are recorded, not followed; device, fifo and
directory members are skipped (they hold no content).
"""

from __future__ import annotations

import bz2
import gzip
import lzma
import tarfile
import zlib
from collections.abc import Iterator, Mapping
from typing import IO, ClassVar

from tessera.evidence.base import (
    CONTAINERS,
    LimitHit,
    Limits,
    MemberSink,
    container_note,
    display_name,
    member_cap,
    member_locator,
    members_error,
    open_item,
)
from tessera.records import EvidenceItem, Opener

_GZIP = b"\x1f\x8b\x08"
_XZ = b"\xfd7zXZ\x00"
_TAR_SUFFIXES = (".tar.gz", ".tgz", ".tar.bz2", ".tbz", ".tbz2", ".tb2", ".tar.xz", ".txz", ".tar")
_STRIP = {".gz": "", ".tgz": ".tar", ".bz2": "", ".tbz": ".tar", ".tbz2": ".tar", ".xz": "", ".txz": ".tar"}


def _is_bzip2(head: bytes) -> bool:
    # "BZh" + block size digit + the magic of the first block (pi) or of an empty stream (sqrt pi).
    return head[:3] == b"BZh" and head[3:4].isdigit() and head[4:10] in (b"1AY&SY", b"\x17rE8P\x90")


def _is_ustar(block: bytes) -> bool:
    return block[257:262] == b"ustar"


def _peek_decompressed(head: bytes) -> bytes | None:
    """The first bytes of a gzip or xz stream's content; None when they cannot be had from ``head``.

    Bzip2 cannot be peeked: it emits nothing until a whole block (up to 900 kB) has been read.
    """
    try:
        if head.startswith(_GZIP):
            return zlib.decompressobj(31).decompress(head, 1024)
        if head.startswith(_XZ):
            return lzma.LZMADecompressor().decompress(head, 1024)
    except (zlib.error, lzma.LZMAError):
        return None
    return None


class TarFormat:
    name: ClassVar[str] = "tar"
    priority: ClassVar[int] = 20  # before "compressed": a .tar.gz is one tar, not a gzip of a tar

    def sniff(self, head: bytes, name: str) -> bool:
        if _is_ustar(head):
            return True
        if not (head.startswith(_GZIP) or head.startswith(_XZ) or _is_bzip2(head)):
            return False
        inner = _peek_decompressed(head)
        if inner is not None and len(inner) >= 262:
            return _is_ustar(inner)
        return name.lower().endswith(_TAR_SUFFIXES)  # bzip2, or a head too short to decide

    def members(self, opener: Opener, parent: EvidenceItem, limits: Limits) -> Iterator[EvidenceItem]:
        with open_item(opener) as fh:
            try:
                tf = tarfile.open(  # noqa: SIM115 (closed by the with below)
                    fileobj=fh, mode="r|*", encoding="utf-8", errors="surrogateescape"
                )
            except Exception as exc:  # hostile input can raise almost anything from the parser
                yield container_note(parent, f"corrupt archive: {exc}")
                return
            with tf:
                yield from _tar_members(tf, parent, limits)


def _tar_members(tf: tarfile.TarFile, parent: EvidenceItem, limits: Limits) -> Iterator[EvidenceItem]:
    depth = parent.depth + 1
    used = count = 0
    members = iter(tf)
    while True:
        try:
            info = next(members, None)
        except Exception as exc:  # a damaged header or a truncated stream
            yield container_note(parent, f"corrupt archive: {exc}")
            return
        if info is None:
            return
        if not (info.isreg() or info.issym() or info.islnk()):
            continue  # directories, devices, fifos: no content to read
        raw = info.name.encode("utf-8", "surrogateescape")
        loc, raw_path = member_locator(parent, raw)
        pax = info.pax_headers

        def item(
            size: int | None, opener: Opener | None, error: str | None = None, target: str | None = None
        ) -> EvidenceItem:
            return EvidenceItem(
                loc,  # noqa: B023 (used at once)
                raw_path,  # noqa: B023
                size,
                opener,
                mtime=float(info.mtime),  # noqa: B023
                atime=_pax_time(pax, "atime"),  # noqa: B023
                ctime=_pax_time(pax, "ctime"),  # noqa: B023
                error=error,
                depth=depth,
                is_symlink=target is not None,
                link_target=target,
            )

        count += 1
        if count > limits.max_members:
            yield item(info.size, None, members_error(limits))
            return
        if info.issym() or info.islnk():
            yield item(None, None, target=display_name(info.linkname.encode("utf-8", "surrogateescape")))
            continue
        # The tar stream's own position measures expansion: for a compressed tar it is how far the
        # decompressed stream has grown against the compressed file that produced it.
        end = info.offset_data + info.size
        cap, cap_error = member_cap(limits, parent.size, 0)
        if end > cap or used + info.size > limits.max_total_bytes:
            yield item(info.size, None, cap_error if end > cap else member_cap(limits, None, used)[1])
            yield container_note(parent, "the rest of the archive was not read")
            return
        used += info.size
        sink = MemberSink(limits)
        try:
            data = tf.extractfile(info)
            if data is not None:
                sink.copy_from(data)  # type: ignore[arg-type]
        except Exception as exc:
            sink.discard()
            yield item(info.size, None, f"corrupt member: {exc}")
            return  # a stream cannot skip past bytes it could not read
        yield item(sink.size, sink.opener())


def _pax_time(pax: Mapping[str, str], key: str) -> float | None:
    try:
        return float(pax[key]) if key in pax else None
    except ValueError:
        return None


def _decompressing(head: bytes, fh: IO[bytes]) -> IO[bytes]:
    if head.startswith(_GZIP):
        return gzip.GzipFile(fileobj=fh, mode="rb")  # type: ignore[return-value]
    if head.startswith(_XZ):
        return lzma.LZMAFile(fh)
    return bz2.BZ2File(fh)


class CompressedFormat:
    """A single gzip, bzip2 or xz compressed file: one member, named after the file without suffix."""

    name: ClassVar[str] = "compressed"
    priority: ClassVar[int] = 30

    def sniff(self, head: bytes, name: str) -> bool:
        return head.startswith(_GZIP) or head.startswith(_XZ) or _is_bzip2(head)

    def members(self, opener: Opener, parent: EvidenceItem, limits: Limits) -> Iterator[EvidenceItem]:
        raw_parent = parent.raw_path.rsplit(b"/", 1)[-1]
        stem = raw_parent
        for suffix, repl in _STRIP.items():
            if raw_parent.lower().endswith(suffix.encode()) and len(raw_parent) > len(suffix):
                stem = raw_parent[: -len(suffix)] + repl.encode()
                break
        else:
            stem = raw_parent + b".out"
        loc, raw_path = member_locator(parent, stem)
        cap, cap_error = member_cap(limits, parent.size, 0)
        sink = MemberSink(limits, max_bytes=cap, too_big=cap_error)
        error = None
        with open_item(opener) as fh:
            head = fh.read(8)
            fh.seek(0)
            try:
                with _decompressing(head, fh) as stream:
                    sink.copy_from(stream)  # type: ignore[arg-type]
            except LimitHit as exc:
                error = str(exc)
            except Exception as exc:  # truncated or damaged stream
                sink.discard()
                error = f"corrupt archive: {exc}"
        opener_out = None if error else sink.opener()
        yield EvidenceItem(
            loc,
            raw_path,
            sink.size if not error else None,
            opener_out,
            mtime=parent.mtime,
            error=error,
            depth=parent.depth + 1,
        )


CONTAINERS.register("tar")(TarFormat())
CONTAINERS.register("compressed")(CompressedFormat())
