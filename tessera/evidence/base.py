"""Protocols, limits and read-only file helpers shared by every evidence source and container format.

Evidence is read-only: every open here is ``O_RDONLY``, refuses to follow a symbolic link
(``O_NOFOLLOW``), never blocks on a fifo (``O_NONBLOCK``) and asks the kernel not to update the access
time (``O_NOATIME``, which Linux only grants to the file's owner or a privileged process; without it we
fall back silently to a plain read-only open).
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import re
import stat
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import BinaryIO, ClassVar, NamedTuple, Protocol

from tessera.plugins import Registry
from tessera.records import LOCATOR_SEP, EvidenceItem, Opener

MiB = 1024 * 1024
GiB = 1024 * MiB

#: How many leading bytes container sniffing looks at (tar magic sits at offset 257; compressed tar
#: headers need a little more to decompress the first tar block).
HEAD_SIZE = 8192

#: Spooled member files are named with this prefix so that :func:`discard_spool` only ever deletes
#: files this module created.
SPOOL_PREFIX = "tessera-spool-"

_O_NOATIME: int = getattr(os, "O_NOATIME", 0)
_READ_FLAGS: int = (
    os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
)
_DIR_FLAGS: int = _READ_FLAGS | getattr(os, "O_DIRECTORY", 0)


class EvidenceError(ValueError):
    """An evidence source that cannot be used at all (missing, no source accepts it, bad settings)."""


@dataclass(frozen=True, slots=True)
class Limits:
    """Guards against hostile or broken containers. Hitting one is recorded on an item, never fatal."""

    #: Deepest container nesting walked (members of a top-level archive are depth 1).
    max_depth: int = 8
    #: Largest member held in memory; bigger members are spooled to a file in ``scratch_dir``.
    max_member_bytes: int = 256 * MiB
    #: Uncompressed bytes read out of one container, all members together.
    max_total_bytes: int = 16 * GiB
    #: Uncompressed bytes a compressed tar or cpio is decompressed through, unkept, to reach the members after
    #: ones not read (too big, a bomb): a limit on reading must not hide what follows (64 GiB of zeros
    #: is a few minutes of inflating; bzip2 and xz can expand a million-fold, hence a bound at all).
    max_skip_bytes: int = 64 * GiB
    #: Largest uncompressed/compressed ratio accepted for a member bigger than ``ratio_min_bytes``.
    max_ratio: float = 200.0
    ratio_min_bytes: int = 1 * MiB
    #: Members listed per container; the first member past this is recorded with the error.
    max_members: int = 1_000_000
    #: Where oversized members are spooled; never inside the evidence. ``None``: the system temp dir.
    scratch_dir: Path | None = None
    #: Walk folders that usually hold media (messaging media, camera, pictures) before the rest, so
    #: the first hit on a device comes early. Every file is still walked exactly once.
    media_first: bool = False
    #: Told ``(locator, algorithm, stored, computed)`` each time a forensic image's own stored hash
    #: (EWF's MD5) is checked against its content, so the pipeline can record a pass as well as a fail.
    on_verify: Callable[[str, str, str, str], None] | None = None
    #: Passwords or recovery keys for encrypted volumes (BitLocker, LUKS, FileVault), tried on each
    #: one; never stored, logged or shown (``repr`` hides them).
    volume_keys: tuple[str, ...] = field(default=(), repr=False)
    #: Told ``(locator, name, value)`` for each fact an extraction states about the phone it came
    #: from (``name`` from :data:`FACT_NAMES`; ``locator`` the file that states it, ``value`` its raw
    #: text). The pipeline stores them on the device with their source.
    on_fact: Callable[[str, str, str], None] | None = None


#: The device facts an extraction plugin may report (see ``Limits.on_fact``); names are permanent.
FACT_NAMES = frozenset(
    {
        "device_name",
        "model",
        "product_type",
        "os",
        "os_version",
        "build",
        "serial",
        "imei",
        "meid",
        "iccid",
        "phone_number",
        "udid",
        "extraction_time",
        "extraction_tool",
        "extraction_tool_version",
        "extraction_type",
        "backup_encrypted",
        "last_backup",
    }
)


def report_fact(limits: Limits, locator: str, name: str, value: object) -> None:
    """Hand one device fact to the pipeline (ignored when nobody listens or the value is empty)."""
    if name not in FACT_NAMES:
        raise ValueError(f"unknown device fact {name!r} (known: {', '.join(sorted(FACT_NAMES))})")
    if limits.on_fact is not None and value is not None and str(value).strip():
        limits.on_fact(locator, name, str(value))


class EvidenceSource(Protocol):
    """A kind of evidence (a directory tree, later disk images) that yields every file it holds.

    ``priority`` (optional class attribute, default 50) orders automatic selection: lower is tried
    first, so specific sources (disk images) win over the catch-all directory source.
    """

    name: ClassVar[str]

    def __init__(self, root: Path, limits: Limits) -> None: ...

    @classmethod
    def accepts(cls, path: Path) -> bool: ...

    def walk(self) -> Iterator[EvidenceItem]:
        """Every file in the source, in a deterministic order, streamed (never collected)."""
        ...


class ContainerFormat(Protocol):
    """A file format holding other files (archives, compressed streams).

    ``members`` yields one item per member with a chained locator (``parent!/member``) and
    ``depth = parent.depth + 1``. A problem with the container as a whole is yielded as
    :func:`container_note` (an item whose locator is the parent's); the walker attaches a note that
    comes first to the container item itself and turns a later one into a ``parent!/`` item.
    ``priority`` (optional, default 50) orders sniffing: lower is tried first.
    """

    name: ClassVar[str]

    def sniff(self, head: bytes, name: str) -> bool: ...

    def members(self, opener: Opener, parent: EvidenceItem, limits: Limits) -> Iterator[EvidenceItem]: ...


#: How much of a member's start is looked at to tell a sparse format (see :func:`ratio_exempt`).
SPARSE_PROBE = 64 * 1024


def ratio_exempt(head: bytes, name: str) -> bool:
    """Is a member that starts with ``head`` of a format whose files are legitimately almost empty?

    A format plugin says so with a class attribute ``sparse = True`` (disk images: a 2 GiB volume
    holding a few files compresses past any bomb ratio). Such a member is bounded by the container's
    byte budget (``max_total_bytes``) instead of the compression ratio, so a zipped seized disk is
    walked, not refused as a bomb; a bomb dressed as a disk image still stops at the budget.
    """
    return any(getattr(fmt, "sparse", False) and fmt.sniff(head, name) for _, fmt in CONTAINERS)


SOURCES: Registry[type[EvidenceSource]] = Registry("evidence source")
CONTAINERS: Registry[ContainerFormat] = Registry("container format")


# --- names and locators -------------------------------------------------------------------------


def display_name(raw: bytes) -> str:
    """Text for raw name bytes: UTF-8, undecodable bytes written as ``\\xNN`` (deterministic)."""
    return raw.decode("utf-8", errors="backslashreplace")


# Locator escaping. A locator is layers joined by "!" (every layer after the first starts with
# "/"). Inside a layer "!" is written "%21"; "#" is written "%23" only where it would otherwise read
# as an occurrence marker (followed by digits to the end of the layer); "%" is written "%25" only
# where it would otherwise read as one of these three escapes. Everything else is left alone, so a
# locator whose names hold no "!" reads exactly as it did before escaping existed.
_ESCAPES = {"%21": "!", "%23": "#", "%25": "%"}
_MARKER = re.compile(r"#([0-9]+)\Z")
_TRAILING_HASH = re.compile(r"#(?=[0-9]+\Z)")


class Layer(NamedTuple):
    """One layer of a locator: the name as shown (escapes undone) and its occurrence (1 = first)."""

    name: str
    occurrence: int = 1


def escape_layer(text: str) -> str:
    """``text`` (one layer's display name) with ``!``, and where needed ``#`` and ``%``, escaped."""
    if "!" not in text and "#" not in text and "%" not in text:
        return text  # the common case, and the guarantee that such names never change
    out: list[str] = []
    hash_at = {m.start() for m in _TRAILING_HASH.finditer(text)}
    for i, c in enumerate(text):
        if c == "!":
            out.append("%21")
        elif c == "#" and i in hash_at:
            out.append("%23")
        elif c == "%" and text[i : i + 3] in _ESCAPES:
            out.append("%25")
        else:
            out.append(c)
    return "".join(out)


def unescape_layer(text: str) -> str:
    """Undo :func:`escape_layer`."""
    if "%" not in text:
        return text
    out: list[str] = []
    i = 0
    while i < len(text):
        code = text[i : i + 3]
        if code in _ESCAPES:
            out.append(_ESCAPES[code])
            i += 3
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def layer_text(name: str, occurrence: int = 1) -> str:
    """One escaped layer: the name, and ``#N`` for the N-th member of that name (N > 1)."""
    return escape_layer(name) + (f"#{occurrence}" if occurrence > 1 else "")


def path_locator(rel: bytes) -> str:
    """The display locator of a path directly in a source (``/a!b.png`` is ``/a%21b.png``)."""
    return escape_layer(display_name(rel))


def parse_locator(locator: str) -> list[Layer]:
    """Every layer of ``locator``, outermost first, escapes undone and occurrence markers read."""
    layers: list[Layer] = []
    for part in locator.split(LOCATOR_SEP):
        m = _MARKER.search(part)
        if m is not None:
            layers.append(Layer(unescape_layer(part[: m.start()]), int(m.group(1))))
        else:
            layers.append(Layer(unescape_layer(part)))
    return layers


def last_name(locator: str) -> str:
    """The innermost layer's name of ``locator``, escapes undone: what is called for every file of a
    walk (is this a messaging source?), so the common case (no escape, no marker) costs one split."""
    part = locator.rsplit(LOCATOR_SEP, 1)[-1]
    if "%" not in part and "#" not in part:
        return part
    return parse_locator(part)[0].name


def split_locator(locator: str) -> list[str]:
    """The layers' names of ``locator`` (see :func:`parse_locator` for occurrence numbers)."""
    return [layer.name for layer in parse_locator(locator)]


def join_locator(layers: list[Layer]) -> str:
    """The locator of ``layers`` (the inverse of :func:`parse_locator`)."""
    return LOCATOR_SEP.join(layer_text(layer.name, layer.occurrence) for layer in layers)


def split_raw_path(raw_path: bytes, locator: str) -> list[bytes]:
    """``raw_path`` cut into its layers' exact name bytes, guided by ``locator``.

    Raw paths keep names byte for byte, so a ``!`` inside a name is not escaped there; the display
    locator says how many ``!`` each layer's name holds (a ``!`` byte always shows as ``!``, in
    UTF-8, code page 437 and ``\\xNN`` display text alike), which is enough to cut exactly.
    """
    pieces = raw_path.split(LOCATOR_SEP.encode())
    out: list[bytes] = []
    pos = 0
    for name in split_locator(locator):
        take = name.count(LOCATOR_SEP) + 1
        if pos + take > len(pieces):
            raise ValueError(f"raw path does not match locator {locator!r}")
        out.append(LOCATOR_SEP.encode().join(pieces[pos : pos + take]))
        pos += take
    if pos != len(pieces):
        raise ValueError(f"raw path does not match locator {locator!r}")
    return out


def member_locator(
    parent: EvidenceItem, raw_name: bytes, text: str | None = None, occurrence: int = 1
) -> tuple[str, bytes]:
    """Chained (locator, raw_path) of a member called ``raw_name`` inside ``parent``.

    The display layer drops leading slashes (``/x.tar!/etc/passwd`` for the absolute member
    ``/etc/passwd`` and the relative ``etc/passwd`` alike: never ``!//``) and is escaped
    (:func:`escape_layer`); ``occurrence`` > 1 marks a later member of the same display name
    (``#2``). ``raw_path`` keeps the member's name bytes exactly, after one ``/``.
    """
    shown = display_name(raw_name) if text is None else text
    layer = layer_text("/" + shown.lstrip("/"), occurrence)
    return parent.locator + LOCATOR_SEP + layer, parent.raw_path + LOCATOR_SEP.encode() + b"/" + raw_name


class MemberNames:
    """Locators for one container's members, later members of an already seen name numbered.

    Two members count as the same name when their display layers are equal (so ``/etc/passwd`` and
    ``etc/passwd`` in one tar are ``/etc/passwd`` and ``/etc/passwd#2``); the first keeps the plain
    locator, which is what it had before duplicates were numbered.
    """

    def __init__(self) -> None:
        self._seen: dict[str, int] = {}

    def locate(self, parent: EvidenceItem, raw_name: bytes, text: str | None = None) -> tuple[str, bytes]:
        shown = (display_name(raw_name) if text is None else text).lstrip("/")
        n = self._seen.get(shown, 0) + 1
        self._seen[shown] = n
        return member_locator(parent, raw_name, shown, n)


def container_note(parent: EvidenceItem, error: str) -> EvidenceItem:
    """A problem with a whole container (see :class:`ContainerFormat`)."""
    return EvidenceItem(parent.locator, parent.raw_path, None, None, error=error, depth=parent.depth)


def bomb_error(limits: Limits) -> str:
    return f"zip bomb guard: member expands past ratio {limits.max_ratio:g} (limit max_ratio)"


def total_error(limits: Limits) -> str:
    return f"container expands past {limits.max_total_bytes} bytes (limit max_total_bytes)"


def members_error(limits: Limits) -> str:
    return f"container has more than {limits.max_members} members; rest not listed (limit max_members)"


def depth_error(depth: int, limits: Limits) -> str:
    return f"nesting depth {depth} exceeds limit max_depth={limits.max_depth}"


def member_cap(limits: Limits, compressed: int | None, used: int) -> tuple[int, str]:
    """Most bytes a member may expand to, and the error to report when it goes past that.

    The ratio is measured against the compressed size; tiny members are exempt (a 1 KiB file of
    zeros legitimately compresses 100:1).
    """
    budget = max(limits.max_total_bytes - used, 0)
    if compressed is not None:
        by_ratio = max(int(limits.max_ratio * compressed), limits.ratio_min_bytes)
        if by_ratio < budget:
            return by_ratio, bomb_error(limits)
    return budget, total_error(limits)


# --- read-only opening --------------------------------------------------------------------------


def _os_open(path: str | bytes, flags: int) -> int:
    if _O_NOATIME:
        try:
            return os.open(path, flags | _O_NOATIME)
        except PermissionError as exc:
            # EPERM: not the owner, so the kernel refuses O_NOATIME; EACCES is a real denial.
            if exc.errno != errno.EPERM:
                raise
    return os.open(path, flags)


def open_readonly(path: str | bytes | os.PathLike[str]) -> BinaryIO:
    """Open a regular file read-only without following links, blocking or touching its atime."""
    fd = _os_open(os.fspath(path), _READ_FLAGS)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise OSError(errno.EINVAL, "not a regular file", os.fsdecode(os.fspath(path)))
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def open_dir_fd(path: bytes) -> int:
    """A directory descriptor for listing without following a link or touching the atime."""
    return _os_open(path, _DIR_FLAGS)


def open_item(opener: Opener) -> BinaryIO:
    """The bytes of an item: workers call this with the opener the walker yielded."""
    if opener.data is not None:
        return io.BytesIO(opener.data)
    if opener.path is None:
        raise ValueError("opener has neither data nor path")
    return open_readonly(os.fsencode(opener.path))


def read_head(opener: Opener, size: int = HEAD_SIZE) -> bytes:
    if opener.data is not None:
        return opener.data[:size]
    if opener.path is None:
        raise ValueError("opener has neither data nor path")
    last = getattr(_last_head, "entry", None)
    if last is not None and last[0] is opener and (len(last[1]) >= size or last[2]):
        return last[1][:size]
    # A bare descriptor read: the walker sniffs every file, so no buffered file object per file.
    # Openers with a path are only made for regular files (the source checked with lstat).
    fd = _os_open(os.fsencode(opener.path), _READ_FLAGS)
    try:
        head = os.read(fd, size)
    finally:
        os.close(fd)
    _last_head.entry = (opener, head, len(head) < size)
    return head


#: The last head read on this thread, by opener: the walk sniffs each file's head for containers and
#: the ingest then looks at the same head for a messaging parser, one open and read instead of two.
#: (opener, head, whether the head is the whole file)
_last_head = threading.local()


# --- bounded member reading ---------------------------------------------------------------------


class LimitHit(Exception):
    """Raised by :class:`MemberSink` when a member would pass a limit; the message names it."""


class MemberSink:
    """Collects one member's bytes: in memory up to ``max_member_bytes``, then in a spool file.

    ``max_bytes`` (when given) stops the read once the member expands past it, which is how
    compression-ratio and per-container budgets are enforced while streaming.
    """

    def __init__(self, limits: Limits, max_bytes: int | None = None, too_big: str = "") -> None:
        self.limits = limits
        self.max_bytes = max_bytes
        self.too_big = too_big
        self.size = 0
        self._buf = bytearray()
        self._spool: BinaryIO | None = None
        self._spool_path: str | None = None

    def write(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.max_bytes is not None and self.size > self.max_bytes:
            self.discard()
            raise LimitHit(self.too_big)
        if self._spool is None and self.size > self.limits.max_member_bytes:
            scratch = self.limits.scratch_dir or Path(tempfile.gettempdir())
            fd, self._spool_path = tempfile.mkstemp(prefix=SPOOL_PREFIX, dir=scratch)
            self._spool = os.fdopen(fd, "wb")
            self._spool.write(self._buf)
            self._buf = bytearray()
        if self._spool is not None:
            self._spool.write(chunk)
        else:
            self._buf += chunk

    def copy_from(self, fh: BinaryIO, chunk: int = 1 * MiB) -> None:
        while block := fh.read(chunk):
            self.write(block)

    def opener(self) -> Opener:
        if self._spool is not None:
            self._spool.close()
            self._spool = None
            return Opener(path=self._spool_path)
        data = bytes(self._buf)
        self._buf = bytearray()
        return Opener(data=data)

    def discard(self) -> None:
        if self._spool is not None:
            self._spool.close()
            self._spool = None
        if self._spool_path is not None:
            with contextlib.suppress(OSError):
                os.unlink(self._spool_path)
            self._spool_path = None
        self._buf = bytearray()


def is_spooled(opener: Opener | None) -> bool:
    return bool(opener and opener.path and os.path.basename(opener.path).startswith(SPOOL_PREFIX))


def discard_spool(item: EvidenceItem) -> None:
    """Delete the spool file behind a member once it has been processed (no-op for other items).

    The walker cannot delete spool files itself: workers may read an item after the walk moved on.
    """
    if item.opener is not None and item.depth > 0 and is_spooled(item.opener):
        with contextlib.suppress(OSError):
            os.unlink(item.opener.path or "")


def with_error(item: EvidenceItem, error: str, *, keep_opener: bool = True) -> EvidenceItem:
    """The item with ``error`` set (appended when it already has one)."""
    msg = f"{item.error}; {error}" if item.error else error
    return replace(item, error=msg, opener=item.opener if keep_opener else None)
