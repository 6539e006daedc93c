"""The directory source: a mounted file system, an extraction folder, or one single file.

Names are handled as bytes end to end so names that are not UTF-8 survive (``raw_path``); the
display locator writes undecodable bytes as ``\\xNN``. Links are recorded, never followed; special
files are recorded, never opened (opening a fifo would block the walk).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

from tessera.evidence.base import SOURCES, Limits, display_name, open_dir_fd, path_locator
from tessera.records import EvidenceItem, Opener

_SPECIAL = {
    stat.S_IFIFO: "fifo",
    stat.S_IFSOCK: "socket",
    stat.S_IFCHR: "character device",
    stat.S_IFBLK: "block device",
}


#: Folder names that usually hold media, most telling first (messaging media, then camera and pictures).
MEDIA_DIR_NAMES: list[bytes] = [
    b"whatsapp images",
    b"whatsapp video",
    b"whatsapp animated gifs",
    b"whatsapp documents",
    b"telegram images",
    b"telegram video",
    b"telegram",
    b"signal",
    b"dcim",
    b"camera",
    b"pictures",
    b"photos",
    b"images",
    b"videos",
    b"movies",
    b"screenshots",
    b"downloads",
    b"download",
]


def _list_sorted(path: bytes) -> list[bytes]:
    """Names in one directory, sorted so that the whole walk comes out in ``raw_path`` byte order.

    A directory sorts as ``name/`` (``a.txt`` before ``a/x``), which makes the pre-order walk equal
    to a plain sort of the full paths: handy for resuming and for comparing two runs.
    """
    return [key for key, _ in _list_stat(path, stat_files=False)]


def _list_stat(path: bytes, *, stat_files: bool = True) -> list[tuple[bytes, os.stat_result | OSError]]:
    """:func:`_list_sorted` with each entry's ``lstat`` (or the error it gave), taken while the
    directory's descriptor is open: ``fstatat`` on the descriptor, not a walk of the full path per file.
    """
    fd = open_dir_fd(path)  # O_NOATIME: listing does not update the directory's atime
    entries: list[tuple[bytes, os.stat_result | OSError]] = []
    try:
        with os.scandir(fd) as it:
            for e in it:
                is_dir = e.is_dir(follow_symlinks=False)
                st: os.stat_result | OSError = _NO_STAT
                if stat_files:
                    try:
                        st = e.stat(follow_symlinks=False)
                    except OSError as exc:  # vanished or unreadable between listing and stat
                        st = exc
                entries.append((os.fsencode(e.name) + (b"/" if is_dir else b""), st))
    finally:
        os.close(fd)
    entries.sort(key=_first)
    return entries


_NO_STAT = OSError("not asked for")


def _first(entry: tuple[bytes, object]) -> bytes:
    return entry[0]


def _stat_item(
    rel: bytes,
    st: os.stat_result,
    size: int | None = None,
    opener: Opener | None = None,
    error: str | None = None,
    link_target: str | None = None,
    is_symlink: bool = False,
) -> EvidenceItem:
    return EvidenceItem(
        path_locator(rel),  # "!" in a name escaped: the locator must split back into its layers
        rel,
        size,
        opener,
        mtime=st.st_mtime,
        atime=st.st_atime,
        ctime=st.st_ctime,
        crtime=getattr(st, "st_birthtime", None),  # only where the platform reports a birth time
        is_symlink=is_symlink,
        link_target=link_target,
        error=error,
    )


@SOURCES.register("directory")
class DirectorySource:
    name: ClassVar[str] = "directory"
    #: The catch-all: any directory or file is acceptable, so specific sources are tried first.
    priority: ClassVar[int] = 100

    def __init__(self, root: Path, limits: Limits) -> None:
        # A root named through a link is followed once (links inside the evidence never are).
        self.root = os.fsencode(os.path.realpath(root) if os.path.islink(root) else os.path.abspath(root))
        self.limits = limits

    @classmethod
    def accepts(cls, path: Path) -> bool:
        try:
            mode = os.stat(path).st_mode  # the root the examiner named may itself be a link
        except OSError:
            return False
        return stat.S_ISDIR(mode) or stat.S_ISREG(mode)

    def walk(self) -> Iterator[EvidenceItem]:
        st = os.stat(self.root)
        if not stat.S_ISDIR(st.st_mode):
            yield self._item(self.root, b"/" + os.path.basename(self.root), st)
            return
        if not self.limits.media_first:
            yield from self._walk_from(b"", frozenset())
            return
        first = self._media_dirs()
        for rel in first:
            yield from self._walk_from(rel, frozenset())
        yield from self._walk_from(b"", frozenset(first))

    def _media_dirs(self) -> list[bytes]:
        """Outermost folders whose name says media (``WhatsApp Images``, ``DCIM``, ``Telegram``...),
        found by listing folders only; walking them first brings the first hit forward."""
        found: list[bytes] = []
        stack = [b""]
        while stack:
            rel = stack.pop()
            try:
                names = [k.rstrip(b"/") for k in _list_sorted(self.root + rel) if k.endswith(b"/")]
            except OSError:
                continue
            for name in reversed(names):
                child = rel + b"/" + name
                if name.lower() in MEDIA_DIR_NAMES:
                    found.append(child)
                elif not os.path.islink(self.root + child):
                    stack.append(child)
        return sorted(found, key=lambda d: (MEDIA_DIR_NAMES.index(d.rsplit(b"/", 1)[-1].lower()), d))

    def _walk_from(self, start: bytes, skip: frozenset[bytes]) -> Iterator[EvidenceItem]:
        try:
            top = _list_stat(self.root + start)
        except OSError as exc:
            loc = path_locator(start) or "/"
            yield EvidenceItem(loc, start or b"/", None, None, error=f"cannot list directory: {exc.strerror}")
            return
        # An explicit stack instead of recursion: trees deeper than Python's recursion limit exist,
        # and only one sorted listing per level is held in memory.
        stack: list[tuple[bytes, Iterator[tuple[bytes, os.stat_result | OSError]]]] = [(start, iter(top))]
        while stack:
            rel_dir, entries = stack[-1]
            entry = next(entries, None)
            if entry is None:
                stack.pop()
                continue
            key, st = entry
            rel = rel_dir + b"/" + key.rstrip(b"/")
            if rel in skip:
                continue  # walked first, as a media folder
            full = self.root + rel
            if isinstance(st, OSError):
                yield EvidenceItem(path_locator(rel), rel, None, None, error=f"cannot stat: {st.strerror}")
                continue
            if stat.S_ISDIR(st.st_mode):
                try:
                    stack.append((rel, iter(_list_stat(full))))
                except OSError as exc:
                    yield _stat_item(rel, st, error=f"cannot list directory: {exc.strerror}")
                continue
            yield self._item(full, rel, st)

    def _item(self, full: bytes, rel: bytes, st: os.stat_result) -> EvidenceItem:
        mode = st.st_mode
        if stat.S_ISLNK(mode):
            try:
                return _stat_item(rel, st, is_symlink=True, link_target=display_name(os.readlink(full)))
            except OSError as exc:
                return _stat_item(rel, st, is_symlink=True, error=f"cannot read link: {exc.strerror}")
        if not stat.S_ISREG(mode):
            kind = _SPECIAL.get(stat.S_IFMT(mode), "unknown type")
            return _stat_item(rel, st, error=f"not a regular file: {kind}")
        return _stat_item(rel, st, st.st_size, Opener(path=os.fsdecode(full)))
