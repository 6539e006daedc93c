"""Walking one disk image through dfVFS: media, volume layers, then each file system (TSK first, dfVFS's
native back ends for what TSK cannot open). Loaded by ``tessera.evidence.disk`` on the first image, so
dfVFS's import time is paid only by walks that meet an image.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from dfvfs.helpers import source_scanner
from dfvfs.resolver import context, resolver

from tessera.evidence import dfvfs_native, disk_tsk
from tessera.evidence.base import Limits, container_note, member_locator
from tessera.evidence.dfvfs_volumes import DFVFS_ERRORS, MediaError, Problem, forget_keys, open_media, volumes
from tessera.records import EvidenceItem


def _keys(limits: Limits) -> tuple[str, ...]:
    # Passwords or recovery keys for encrypted volumes, from --key / --key-file.
    return tuple(limits.volume_keys)


def _problem(parent: EvidenceItem, label: str, error: str) -> EvidenceItem:
    if not label:
        return container_note(parent, error)
    locator, raw_path = member_locator(parent, label.encode())
    return EvidenceItem(locator, raw_path, None, None, error=f"{label}: {error}", depth=parent.depth + 1)


_OPEN_ERRORS: tuple[type[BaseException], ...] = (MediaError, *DFVFS_ERRORS)


def walk_image(path: Path, name: str, parent: EvidenceItem, limits: Limits) -> Iterator[EvidenceItem]:
    ctx = context.Context()
    scanner = source_scanner.SourceScanner(resolver_context=ctx)
    counter = disk_tsk.Counter()
    try:
        try:
            media = open_media(path, scanner)
        except _OPEN_ERRORS as exc:
            yield container_note(parent, f"{name}: {exc}")
            return
        layers = volumes(media, scanner, _keys(limits))
        while not counter.stopped:
            try:
                layer = next(layers, None)
            except DFVFS_ERRORS as exc:
                yield container_note(parent, f"{name}: volume layers unreadable: {exc}")
                return
            if layer is None:
                return
            if isinstance(layer, Problem):
                yield _problem(parent, layer.label, layer.error)
                continue
            yield from _walk_volume(layer.path_spec, layer.label, scanner, ctx, parent, limits, counter)
    finally:
        ctx.Empty()
        forget_keys()


def _walk_volume(
    spec: Any,
    label: str,
    scanner: source_scanner.SourceScanner,
    ctx: Any,
    parent: EvidenceItem,
    limits: Limits,
    counter: disk_tsk.Counter,
) -> Iterator[EvidenceItem]:
    prefix = label + "/" if label else ""
    try:
        file_object = resolver.Resolver.OpenFileObject(spec, resolver_context=ctx)
        found = disk_tsk.open_file_systems(file_object)
    except DFVFS_ERRORS as exc:
        yield _problem(parent, label, f"volume unreadable: {exc}")
        return
    for n, (fs_name, fs) in enumerate(found):
        layer = prefix + (f"@{fs_name}/" if n else "")
        yield from disk_tsk.walk(fs, layer.encode(), parent, limits, counter)
        if counter.stopped:
            return
    if found:
        return
    try:
        fs_spec = scanner.ScanForFileSystem(spec)
    except DFVFS_ERRORS as exc:
        yield _problem(parent, label, f"file system unreadable: {exc}")
        return
    if fs_spec is None:
        yield _problem(parent, label, "no file system found that The Sleuth Kit or dfVFS can read")
        return
    try:
        yield from dfvfs_native.walk(fs_spec, prefix.encode(), parent, limits, counter)
    except DFVFS_ERRORS as exc:
        yield _problem(parent, label, f"{fs_spec.type_indicator} file system unreadable: {exc}")
