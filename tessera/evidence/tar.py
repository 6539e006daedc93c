"""Tar archives, plain or compressed (gzip, bzip2, xz).

Tar is read in :mod:`tarfile`'s streaming mode: one pass, no seeking, so a compressed tar is
decompressed once and never whole in memory (by :mod:`tessera.evidence.tarstream`, which also reads
archives concatenated after the first and names any other bytes after its end). Directory, device
and fifo members are skipped (they hold no content); symbolic links are recorded, never followed.

A member over a limit is recorded as not read, with its name and the limit, and the walk goes on to
every later member: one 300 MiB zero-filled swap file, or one bigger than ``max_total_bytes``, must not
hide what follows it. The only stop is a compressed stream that would decompress past
``max_skip_bytes`` just to reach the next header (skipping a member in a compressed stream means
decompressing it, though nothing is kept), and it is named in a note on the archive.

Hard links are names for content stored earlier in the archive under another name. A stream cannot
go back, so they are collected during the pass and, when there are any, one second pass reads the
targets they need; the links are listed after the other members, with their target's content.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tarfile
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import ClassVar

from tessera.evidence.base import (
    CONTAINERS,
    SPOOL_PREFIX,
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
from tessera.evidence.compressed import RatioGuard, is_compressed, peek_decompressed
from tessera.evidence.tarstream import READ_AHEAD, TarSource, headers
from tessera.records import EvidenceItem, Opener

_TAR_SUFFIXES = (".tar.gz", ".tgz", ".tar.bz2", ".tbz", ".tbz2", ".tb2", ".tar.xz", ".txz", ".tar")
_CHUNK = 1 << 16


def _is_ustar(block: bytes) -> bool:
    return block[257:262] == b"ustar"


class TarFormat:
    name: ClassVar[str] = "tar"
    priority: ClassVar[int] = 20  # before "compressed": a .tar.gz is one tar, not a gzip of a tar

    def sniff(self, head: bytes, name: str) -> bool:
        if _is_ustar(head):
            return True
        if not is_compressed(head):
            return False
        inner = peek_decompressed(head)
        if inner is not None and len(inner) >= 262:
            return _is_ustar(inner)
        return name.lower().endswith(_TAR_SUFFIXES)  # bzip2, or a head too short to decide

    def members(self, opener: Opener, parent: EvidenceItem, limits: Limits) -> Iterator[EvidenceItem]:
        links: list[_Link] = []
        with open_item(opener) as fh:
            source = TarSource(fh)
            first = _Pass(source, parent, limits)
            yield from first.run(links)
        if links:
            budget = limits.max_total_bytes - first.used
            yield from _hard_links(opener, replace(limits, max_total_bytes=budget), links)


@dataclass
class _Link:
    """A hard link met in the first pass. ``target``: the index of the member whose content it
    names, or why that content is not available."""

    item: EvidenceItem
    target: int | str | None


class _Pass:
    """The first (and usually only) pass over a tar stream."""

    def __init__(self, source: TarSource, parent: EvidenceItem, limits: Limits) -> None:
        self.counting, self.compressed = source.counting, source.compressed
        self.source, self.parent, self.limits = source, parent, limits
        self.used = 0

    def run(self, links: list[_Link]) -> Iterator[EvidenceItem]:
        limits, parent = self.limits, self.parent
        names = MemberNames()
        #: name in the archive -> index of the member a hard link to that name reaches (or why not)
        regular: dict[str, int | str | None] = {}
        count = 0
        for index, header in enumerate(headers(self.source, limits)):
            if isinstance(header, str):
                yield container_note(parent, header)
                return
            info = header.info
            if not (info.isreg() or info.issym() or info.islnk()):
                continue  # directories, devices, fifos: no content to read
            loc, raw_path = names.locate(parent, info.name.encode("utf-8", "surrogateescape"))
            item = _item(info, loc, raw_path, parent.depth + 1)
            count += 1
            if count > limits.max_members:
                yield replace(item, size=info.size, error=members_error(limits))
                return
            if info.issym():
                target = display_name(info.linkname.encode("utf-8", "surrogateescape"))
                yield replace(item, is_symlink=True, link_target=target, link_kind="symlink")
                continue
            if info.islnk():
                target = display_name(info.linkname.encode("utf-8", "surrogateescape"))
                hard = replace(item, link_target=target, link_kind="hard")
                reach = regular.get(info.linkname)
                links.append(_Link(hard, reach))
                regular[info.name] = reach  # a link to a link reaches the same content
                continue
            skip = max(limits.max_skip_bytes, limits.max_total_bytes)
            if self.compressed and header.base + info.offset_data + info.size > skip:
                # Even skipping it would decompress past what a listing may cost.
                yield replace(item, size=info.size, error=total_error(limits))
                yield container_note(
                    parent,
                    f"the rest of the archive was not read: reaching it means decompressing "
                    f"past {skip} bytes (limit max_skip_bytes)",
                )
                return
            got = self.read(header.tf, info, item)
            regular[info.name] = index if got.error is None else got.error
            yield got
            if self._corrupt:
                return  # a stream cannot skip past bytes it could not read

    _corrupt = False

    def read(self, tf: tarfile.TarFile, info: tarfile.TarInfo, item: EvidenceItem) -> EvidenceItem:
        """The member with its content, or recorded as not read (why) when a limit stops it."""
        limits = self.limits
        if self.used + info.size > limits.max_total_bytes:
            return replace(item, size=info.size, error=f"{total_error(limits)}; not read, later members are")
        sink = MemberSink(limits)
        start = self.counting.count
        guard = RatioGuard(limits, item.locator.rsplit("/", 1)[-1])
        try:
            data = tf.extractfile(info)
            while data is not None and (chunk := data.read(_CHUNK)):
                sink.write(chunk)
                if self.compressed:
                    # The decompressor's read-ahead (one read) may hold part of this member: counted as
                    # its own.
                    guard.check(chunk, sink.size, self.counting.count - start + READ_AHEAD)
        except LimitHit as exc:
            sink.discard()
            return replace(item, size=info.size, error=f"{exc}; not read, later members are")
        except Exception as exc:
            sink.discard()
            self._corrupt = True
            return replace(item, size=info.size, error=f"corrupt member: {exc}")
        self.used += sink.size
        return replace(item, size=sink.size, opener=sink.opener())


def _item(info: tarfile.TarInfo, loc: str, raw_path: bytes, depth: int) -> EvidenceItem:
    pax = info.pax_headers
    return EvidenceItem(
        loc,
        raw_path,
        None,
        None,
        mtime=float(info.mtime),
        atime=_pax_time(pax, "atime"),
        ctime=_pax_time(pax, "ctime"),
        depth=depth,
    )


def _pax_time(pax: Mapping[str, str], key: str) -> float | None:
    try:
        return float(pax[key]) if key in pax else None
    except ValueError:
        return None


def _hard_links(opener: Opener, limits: Limits, links: list[_Link]) -> Iterator[EvidenceItem]:
    """Each hard link with its target's content, read in a second pass over the archive."""
    wanted: dict[int, list[_Link]] = {}
    for link in links:
        if link.target is None:
            # The content is not in this archive (an incremental tar's earlier volume): nothing
            # here was left unread, so the link is listed as a link, without error.
            yield link.item
        elif isinstance(link.target, str):
            yield replace(link.item, error=f"hard link target not read: {link.target}")
        else:
            wanted.setdefault(link.target, []).append(link)
    if not wanted:
        return
    last = max(wanted)
    with open_item(opener) as fh:
        try:
            for index, header in enumerate(headers(TarSource(fh), limits)):
                if isinstance(header, str):
                    break  # named by the first pass
                if index in wanted:
                    yield from _with_content(header.tf, header.info, wanted.pop(index), limits)
                if index >= last:
                    break
        except Exception as exc:  # the first pass read this far, so this is unexpected damage
            for group in wanted.values():
                for link in group:
                    yield replace(link.item, error=f"hard link target not read: {exc}")
            wanted.clear()
    for group in wanted.values():
        for link in group:
            yield replace(link.item, error="hard link target not read (the archive ended before it)")


def _with_content(
    tf: tarfile.TarFile, info: tarfile.TarInfo, links: list[_Link], limits: Limits
) -> Iterator[EvidenceItem]:
    if info.size > limits.max_total_bytes:
        for link in links:
            yield replace(
                link.item, size=info.size, error=f"hard link target not read: {total_error(limits)}"
            )
        return
    sink = MemberSink(limits)
    try:
        data = tf.extractfile(info)
        if data is not None:
            sink.copy_from(data)  # type: ignore[arg-type]
    except Exception as exc:
        sink.discard()
        for link in links:
            yield replace(link.item, error=f"hard link target not read: corrupt member: {exc}")
        return
    first = sink.opener()
    for n, link in enumerate(links):
        yield replace(link.item, size=sink.size, opener=first if n == 0 else _copy(first, limits))


def _copy(opener: Opener, limits: Limits) -> Opener:
    """A second opener on the same bytes: spool files are deleted per item once hashed."""
    if opener.path is None:
        return opener
    scratch = limits.scratch_dir or Path(tempfile.gettempdir())
    fd, path = tempfile.mkstemp(prefix=SPOOL_PREFIX, dir=scratch)
    with os.fdopen(fd, "wb") as out, open(opener.path, "rb") as src:
        shutil.copyfileobj(src, out)
    with contextlib.suppress(OSError):
        os.chmod(path, 0o600)
    return Opener(path=path)


CONTAINERS.register("tar")(TarFormat())
