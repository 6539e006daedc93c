"""The layers under the file systems of an image, found with dfVFS: media, volume systems, encryption.

``volumes(path)`` opens the image file (raw, split raw, EWF, VHD/VHDX, VMDK, QCOW2, UDIF, ...), then
follows volume systems (MBR, GPT, APM, LVM, VSS, APFS containers, Core Storage) down to the byte
streams that hold file systems, each with its locator label (``p1``, ``p1/vss1``, ``lvm1``; ``""``
for an image with no volume system). Anything on the way that cannot be opened (a missing parent or
segment, a locked volume without a key, a damaged table) is yielded as a :class:`Problem` against its
label, never skipped.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dfvfs.helpers import source_scanner
from dfvfs.lib import definitions as dfdefs
from dfvfs.lib import errors as dferrors
from dfvfs.path import factory
from dfvfs.resolver import context, resolver

from tessera.evidence import dfvfs_os  # noqa: F401  (read-only OS layer for every dfVFS open)
from tessera.evidence.base import open_readonly

#: dfVFS errors that mean "this layer cannot be read" (never a bug in the caller).
DFVFS_ERRORS: tuple[type[BaseException], ...] = (
    dferrors.Error,
    OSError,
    IOError,
    RuntimeError,
    ValueError,
    KeyError,
)

_ENCRYPTION_NAMES = {
    dfdefs.TYPE_INDICATOR_BDE: "BitLocker",
    dfdefs.TYPE_INDICATOR_LUKSDE: "LUKS",
    dfdefs.TYPE_INDICATOR_CS: "FileVault / Core Storage",
    dfdefs.TYPE_INDICATOR_APFS_CONTAINER: "APFS",
}
_KEY_KINDS = ("password", "recovery_password")
#: Deepest volume-system nesting followed (an LVM in a partition in a VHD is 2).
_MAX_NESTING = 6


@dataclass(frozen=True, slots=True)
class Volume:
    label: str
    path_spec: Any  # dfVFS PathSpec of the volume's bytes


@dataclass(frozen=True, slots=True)
class Problem:
    label: str
    error: str


def _describe(exc: BaseException) -> str:
    # libyal messages chain every frame ("a: b. c: d."): the last frame says what failed.
    text = " ".join(str(exc).split())
    return text if len(text) <= 300 else text[:297] + "..."


def _os_spec(path: Path) -> Any:
    return factory.Factory.NewPathSpec(dfdefs.TYPE_INDICATOR_OS, location=str(path))


def _vhd_parent_missing(path: Path) -> str | None:
    """dfVFS opens a differencing VHD whose parent is absent and fails on the first read; say why."""
    import pyvhdi

    with open_readonly(path) as fh:
        vhd = pyvhdi.file()
        vhd.open_file_object(fh)
        try:
            if not vhd.parent_identifier:
                return None
            name = (vhd.parent_filename or "").replace("\\", "/").rsplit("/", 1)[-1]
        finally:
            vhd.close()
    if name and (path.parent / name).exists():
        return None
    return f"differencing VHD: parent image {name or '(unnamed)'} missing"


def open_media(path: Path, scanner: source_scanner.SourceScanner) -> Any:
    """The path spec of the image's media bytes; raises :class:`MediaError` with the reason."""
    spec = scanner.ScanForStorageMediaImage(_os_spec(path))
    if spec is None:
        # No image format and no split-raw naming: the file itself is the media (a plain .dd).
        spec = _os_spec(path)
    if spec.type_indicator == dfdefs.TYPE_INDICATOR_VHDI:
        why = _vhd_parent_missing(path)
        if why:
            raise MediaError(why)
    return spec


class MediaError(Exception):
    """The image file cannot be opened as media; the message says why."""


def _try_unlock(spec: Any, credential: tuple[str, str] | None) -> bool:
    # Each attempt in a throwaway context: a volume object that refused one key stays locked, and
    # the walk's own context must first open the volume with the key that works.
    trial = context.Context()
    chain = resolver.Resolver.key_chain
    unlocked = False
    try:
        if credential is not None:
            chain.SetCredential(spec, *credential)
        entry = resolver.Resolver.OpenFileEntry(spec, resolver_context=trial)
        unlocked = bool(entry is not None and entry.Unlock())
        return unlocked
    except KeyError:
        return False  # that kind of credential does not exist for this encryption
    finally:
        trial.Empty()
        if credential is not None and not unlocked:
            forget_keys(spec)


def forget_keys(spec: Any | None = None) -> None:
    """Drop the keys dfVFS holds (for one volume, or all): they must not outlive the image's walk."""
    chain = resolver.Resolver.key_chain
    if spec is None:
        chain.Empty()
    else:
        getattr(chain, "_credentials_per_path_spec", {}).pop(spec.comparable, None)


def _unlock(spec: Any, keys: Sequence[str]) -> bool:
    if _try_unlock(spec, None):
        return True
    return any(_try_unlock(spec, (kind, key)) for key in keys for kind in _KEY_KINDS)


def _join(label: str, part: str) -> str:
    part = part.strip("/")
    return f"{label}/{part}" if label else part


def volumes(
    media: Any, scanner: source_scanner.SourceScanner, keys: Sequence[str] = ()
) -> Iterator[Volume | Problem]:
    """Every byte stream under ``media`` that should hold a file system, with its label."""
    yield from _walk(media, "", scanner, keys, 0)


def _walk(
    spec: Any, label: str, scanner: source_scanner.SourceScanner, keys: Sequence[str], nesting: int
) -> Iterator[Volume | Problem]:
    if spec.type_indicator in _ENCRYPTION_NAMES and spec.type_indicator != dfdefs.TYPE_INDICATOR_CS:
        name = _ENCRYPTION_NAMES[spec.type_indicator]
        try:
            unlocked = _unlock(spec, keys)
        except DFVFS_ERRORS as exc:
            yield Problem(label, f"encrypted volume ({name}) cannot be opened: {_describe(exc)}")
            return
        if not unlocked:
            why = "no key given" if not keys else "none of the keys given opens it"
            yield Problem(label, f"encrypted volume ({name}): {why}")
            return
    try:
        found = scanner.ScanForVolumeSystem(spec) if nesting < _MAX_NESTING else None
    except DFVFS_ERRORS as exc:
        yield Problem(label, f"volume system unreadable: {_describe(exc)}")
        found = None
    if found is None:
        yield Volume(label, spec)
        return
    if not found.IsVolumeSystemRoot():
        # An encrypted container (BitLocker, LUKS) wrapping the volume: unlock, then look inside.
        yield from _walk(found, label, scanner, keys, nesting + 1)
        return
    if found.type_indicator == dfdefs.TYPE_INDICATOR_VSHADOW:
        yield Volume(label, spec)  # the current volume; each shadow copy below gets its own label
    try:
        root = resolver.Resolver.OpenFileEntry(found, resolver_context=scanner._resolver_context)
        entries = list(root.sub_file_entries) if root is not None else []
    except DFVFS_ERRORS as exc:
        yield Problem(label, f"{found.type_indicator} volume system unreadable: {_describe(exc)}")
        return
    for entry in entries:
        location = getattr(entry.path_spec, "location", None)
        if not location:
            continue  # unallocated space between partitions: no file system, not asked for
        sub = _join(label, location)
        if entry.path_spec.type_indicator == dfdefs.TYPE_INDICATOR_CS:
            try:
                locked = not _unlock(entry.path_spec, keys)
            except DFVFS_ERRORS as exc:
                yield Problem(sub, f"encrypted volume (FileVault / Core Storage): {_describe(exc)}")
                continue
            if locked:
                yield Problem(sub, "encrypted volume (FileVault / Core Storage): no key given")
                continue
        if entry.path_spec.type_indicator == dfdefs.TYPE_INDICATOR_APFS_CONTAINER:
            yield from _walk_apfs(entry.path_spec, sub, keys)
            continue
        yield from _walk(entry.path_spec, sub, scanner, keys, nesting + 1)


def _walk_apfs(spec: Any, label: str, keys: Sequence[str]) -> Iterator[Volume | Problem]:
    try:
        unlocked = _unlock(spec, keys)
    except DFVFS_ERRORS as exc:
        yield Problem(label, f"APFS volume cannot be opened: {_describe(exc)}")
        return
    if not unlocked:
        why = "no key given" if not keys else "none of the keys given opens it"
        yield Problem(label, f"encrypted volume (APFS): {why}")
        return
    yield Volume(label, spec)
