"""Zip archives, read in place with :mod:`zipfile`; a damaged archive is scanned for local headers.

Names: the raw bytes of each name are kept in ``raw_path``. The display name is UTF-8 when the
archive says so (flag bit 11); without the flag it is UTF-8 when the bytes are valid UTF-8 (what most
tools on Linux and macOS write without setting the flag) and code page 437 otherwise (the format's
default). Times come from the extended-timestamp (UTC) or NTFS extra fields when present, else from
the zone-less DOS time, taken as UTC.
"""

from __future__ import annotations

import calendar
import stat
import struct
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO, ClassVar

from tessera.evidence.base import (
    CONTAINERS,
    SPARSE_PROBE,
    LimitHit,
    Limits,
    MemberNames,
    MemberSink,
    bomb_error,
    container_note,
    member_cap,
    members_error,
    open_item,
    ratio_exempt,
)
from tessera.records import EvidenceItem, Opener

_MAGIC = (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")
_FLAG_ENCRYPTED = 0x1
_FLAG_DESCRIPTOR = 0x8
_FLAG_UTF8 = 0x800
_LOCAL = struct.Struct("<4sHHHHHIIIHH")
_NTFS_EPOCH = 116444736000000000  # 1970-01-01 in 100 ns ticks since 1601-01-01


def _names(raw: bytes, utf8_flag: bool) -> str:
    if utf8_flag:
        return raw.decode("utf-8", errors="backslashreplace")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("cp437")


def _raw_name(info: zipfile.ZipInfo) -> bytes:
    # zipfile decoded the name with exactly one of these codecs; both are lossless, so this
    # re-encoding gives back the bytes stored in the archive.
    return info.orig_filename.encode("utf-8" if info.flag_bits & _FLAG_UTF8 else "cp437")


@dataclass(frozen=True, slots=True)
class _Times:
    mtime: float | None = None
    atime: float | None = None
    crtime: float | None = None

    def item(
        self,
        locator: str,
        raw_path: bytes,
        depth: int,
        size: int | None,
        opener: Opener | None,
        error: str | None = None,
        link_target: str | None = None,
    ) -> EvidenceItem:
        return EvidenceItem(
            locator,
            raw_path,
            size,
            opener,
            mtime=self.mtime,
            atime=self.atime,
            crtime=self.crtime,
            error=error,
            depth=depth,
            is_symlink=link_target is not None,
            link_target=link_target,
            link_kind="symlink" if link_target is not None else None,
        )


def _times(date_time: tuple[int, int, int, int, int, int], extra: bytes) -> _Times:
    out: dict[str, float | None] = {}
    try:
        out["mtime"] = float(calendar.timegm((*date_time, 0, 0, 0)))
    except (ValueError, OverflowError):  # DOS fields of zero (month 0) in hand-made archives
        out["mtime"] = None
    pos = 0
    while pos + 4 <= len(extra):
        tag, size = struct.unpack_from("<HH", extra, pos)
        body = extra[pos + 4 : pos + 4 + size]
        if tag == 0x5455 and len(body) >= 5 and body[0] & 1:  # extended timestamp, UTC seconds
            out["mtime"] = float(struct.unpack_from("<i", body, 1)[0])
        elif tag == 0x000A and len(body) >= 32:  # NTFS: reserved, then attribute 1 = 3 FILETIMEs
            attr, asize = struct.unpack_from("<HH", body, 4)
            if attr == 1 and asize >= 24:
                m, a, c = struct.unpack_from("<QQQ", body, 8)
                out["mtime"], out["atime"], out["crtime"] = ((t - _NTFS_EPOCH) / 1e7 for t in (m, a, c))
        pos += 4 + size
    return _Times(out.get("mtime"), out.get("atime"), out.get("crtime"))


class ZipFormat:
    name: ClassVar[str] = "zip"
    priority: ClassVar[int] = 10

    def sniff(self, head: bytes, name: str) -> bool:
        return head[:4] in _MAGIC

    def members(self, opener: Opener, parent: EvidenceItem, limits: Limits) -> Iterator[EvidenceItem]:
        with open_item(opener) as fh:
            try:
                zf = zipfile.ZipFile(fh)
            except Exception as exc:  # hostile input can raise almost anything from the parser
                yield container_note(parent, f"corrupt archive: {exc}; members recovered from local headers")
                fh.seek(0)
                yield from _recover(fh, parent, limits)
                return
            with zf:
                yield from _listed(zf, parent, limits)


def _listed(zf: zipfile.ZipFile, parent: EvidenceItem, limits: Limits) -> Iterator[EvidenceItem]:
    used = count = 0
    depth = parent.depth + 1
    names = MemberNames()  # a name stored twice is two members, both kept (zipfile allows it)
    for info in zf.infolist():
        if info.is_dir():
            continue
        raw = _raw_name(info)
        loc, raw_path = names.locate(parent, raw, _names(raw, bool(info.flag_bits & _FLAG_UTF8)))
        times = _times(info.date_time, info.extra)

        def item(size: int | None, opener: Opener | None, error: str | None = None) -> EvidenceItem:
            return times.item(loc, raw_path, depth, size, opener, error)  # noqa: B023 (used at once)

        count += 1
        if count > limits.max_members:
            yield item(info.file_size, None, members_error(limits))
            return
        if info.flag_bits & _FLAG_ENCRYPTED:
            yield item(info.file_size, None, "encrypted member")
            continue
        cap, cap_error = member_cap(limits, info.compress_size, used)
        if info.file_size > cap and cap_error == bomb_error(limits) and _sparse(zf, info, loc):
            cap, cap_error = member_cap(limits, None, used)  # a zipped disk image: the budget bounds it
        if info.file_size > cap:
            yield item(info.file_size, None, cap_error)
            continue
        used += info.file_size
        sink = MemberSink(limits, max_bytes=info.file_size, too_big=cap_error)
        try:
            with zf.open(info) as member:
                sink.copy_from(member)  # type: ignore[arg-type]
        except Exception as exc:
            sink.discard()
            yield item(info.file_size, None, f"corrupt member: {exc}")
            continue
        if stat.S_ISLNK(info.external_attr >> 16):
            # A link stored by a Unix zip: the member's bytes are the target; recorded, not followed.
            data = sink.opener().data or b""
            target = data.decode("utf-8", "backslashreplace")
            yield times.item(loc, raw_path, depth, None, None, link_target=target)
            continue
        yield item(sink.size, sink.opener())


def _sparse(zf: zipfile.ZipFile, info: zipfile.ZipInfo, locator: str) -> bool:
    """Does the member start like a format that is legitimately almost empty (a disk image)?"""
    try:
        with zf.open(info) as member:
            head = member.read(SPARSE_PROBE)  # bounded: safe even from a bomb
    except Exception:  # noqa: BLE001 - a member that cannot even start is no disk image
        return False
    return ratio_exempt(head, locator.rsplit("/", 1)[-1])


def _recover(fh: BinaryIO, parent: EvidenceItem, limits: Limits) -> Iterator[EvidenceItem]:
    """Members of an archive whose central directory is missing (truncated download, carved file).

    Walks the local headers from the start; stops at the first thing that is not one, or at a member
    whose end cannot be found.
    """
    used = count = 0
    depth = parent.depth + 1
    names = MemberNames()
    while True:
        head = fh.read(_LOCAL.size)
        if len(head) < _LOCAL.size or head[:4] != b"PK\x03\x04":
            return
        _, _, flags, method, dos_t, dos_d, header_crc, csize, usize, nlen, xlen = _LOCAL.unpack(head)
        raw = fh.read(nlen)
        extra = fh.read(xlen)
        if len(raw) < nlen or len(extra) < xlen:
            yield container_note(parent, "corrupt archive: truncated local header")
            return
        if 0xFFFFFFFF in (csize, usize):
            usize, csize = _zip64_sizes(extra, usize, csize)
        described = bool(flags & _FLAG_DESCRIPTOR)  # sizes follow the data, not in the header
        if raw.endswith(b"/") and not described:
            fh.seek(csize, 1)
            continue
        loc, raw_path = names.locate(parent, raw, _names(raw, bool(flags & _FLAG_UTF8)))
        date_time = (
            (dos_d >> 9) + 1980,
            (dos_d >> 5) & 0xF,
            dos_d & 0x1F,
            dos_t >> 11,
            (dos_t >> 5) & 0x3F,
            (dos_t & 0x1F) * 2,
        )
        times = _times(date_time, extra)
        size = None if described else usize

        def _err(error: str) -> EvidenceItem:
            return times.item(loc, raw_path, depth, size, None, error)  # noqa: B023 (used at once)

        count += 1
        if count > limits.max_members:
            yield _err(members_error(limits))
            return
        if flags & _FLAG_ENCRYPTED or method not in (0, 8) or (described and method == 0):
            why = f"cannot recover compression method {method}"
            if flags & _FLAG_ENCRYPTED:
                why = "encrypted member"
            yield _err(why)
            if described:
                return  # the end of this member is unknown, so nothing after it can be found
            fh.seek(csize, 1)
            continue
        cap, cap_error = member_cap(limits, None if described else csize, used)
        if cap_error == bomb_error(limits):
            # The ratio is checked while the member streams, where a disk image's start is seen.
            cap, cap_error = member_cap(limits, None, used)
        if not described and usize > cap:
            yield _err(cap_error)
            fh.seek(csize, 1)
            continue
        sink = MemberSink(limits, max_bytes=cap, too_big=cap_error)
        try:
            got_crc, _ = _inflate(
                fh, sink, method, None if described else csize, limits, loc.rsplit("/", 1)[-1]
            )
        except LimitHit as exc:
            yield _err(str(exc))
            return
        except (zlib.error, EOFError) as exc:
            sink.discard()
            yield _err(f"corrupt member: {exc}")
            return
        crc: int | None = header_crc
        if described:  # descriptor: optional signature, CRC-32, two 32-bit sizes
            tail = fh.read(16)
            signed = tail[:4] == b"PK\x07\x08"
            crc = int.from_bytes(tail[4:8] if signed else tail[:4], "little") if len(tail) >= 12 else None
            if not signed and len(tail) == 16:
                fh.seek(-4, 1)  # unsigned descriptor is 12 bytes: give back the next header's start
        used += sink.size
        if crc is not None and got_crc != crc:
            sink.discard()
            yield _err("corrupt member: bad CRC-32")
            continue
        yield times.item(loc, raw_path, depth, sink.size, sink.opener())


def _zip64_sizes(extra: bytes, usize: int, csize: int) -> tuple[int, int]:
    """Real sizes from a local header's Zip64 extra field (both present when either overflowed)."""
    pos = 0
    while pos + 4 <= len(extra):
        tag, size = struct.unpack_from("<HH", extra, pos)
        if tag == 0x0001 and size >= 16:
            big_u, big_c = struct.unpack_from("<QQ", extra, pos + 4)
            return big_u, big_c
        pos += 4 + size
    return usize, csize


def _inflate(
    fh: BinaryIO, sink: MemberSink, method: int, csize: int | None, limits: Limits, name: str = ""
) -> tuple[int, int]:
    """Copy one member's data into ``sink``; returns (CRC-32, compressed bytes consumed).

    With ``csize`` None (data descriptor) the deflate stream's own end marks the member's end, and
    the compression ratio is checked as the data streams in.
    """
    inflater = zlib.decompressobj(-15) if method == 8 else None
    crc = consumed = 0
    head = bytearray()
    exempt: bool | None = None
    while csize is None or consumed < csize:
        want = 1 << 16 if csize is None else min(1 << 16, csize - consumed)
        chunk = fh.read(want)
        if not chunk:
            raise EOFError("truncated member")
        consumed += len(chunk)
        out = inflater.decompress(chunk) if inflater is not None else chunk
        if inflater is not None and inflater.unused_data:
            # The stream ended inside this chunk: give the rest back to the header scan.
            fh.seek(-len(inflater.unused_data), 1)
            consumed -= len(inflater.unused_data)
        crc = zlib.crc32(out, crc)
        sink.write(out)
        if len(head) < SPARSE_PROBE:
            head += out[: SPARSE_PROBE - len(head)]
        # Checked even when sizes were declared: in a damaged archive the header may lie.
        if sink.size > limits.ratio_min_bytes and sink.size > limits.max_ratio * consumed:
            if exempt is None:
                exempt = ratio_exempt(bytes(head), name)
            if not exempt:
                sink.discard()
                raise LimitHit(bomb_error(limits))
        if inflater is not None and inflater.eof:
            break
    if csize is not None and consumed < csize:
        fh.seek(csize - consumed, 1)  # padding after the deflate end: skip to the next header
    return crc, consumed


CONTAINERS.register("zip")(ZipFormat())
