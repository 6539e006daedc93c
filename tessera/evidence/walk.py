"""The entry point: pick a source, walk it, and open every container found in it, recursively."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from dataclasses import replace
from functools import lru_cache
from pathlib import Path

from tessera.evidence.base import (
    CONTAINERS,
    SOURCES,
    ContainerFormat,
    EvidenceError,
    EvidenceSource,
    Limits,
    depth_error,
    display_name,
    read_head,
    with_error,
)
from tessera.records import LOCATOR_SEP, EvidenceItem


def _by_priority(obj: object) -> int:
    return int(getattr(obj, "priority", 50))


def pick_source(root: Path, source: str = "auto") -> type[EvidenceSource]:
    """The source class for ``root``: the one named, or the first (by priority) that accepts it."""
    if source != "auto":
        try:
            cls = SOURCES.get(source)
        except KeyError as exc:
            raise EvidenceError(str(exc.args[0])) from None
        if not cls.accepts(root):
            raise EvidenceError(f"evidence source {source!r} cannot read {root}")
        return cls
    for _, cls in sorted(SOURCES, key=lambda kv: (_by_priority(kv[1]), kv[0])):
        if cls.accepts(root):
            return cls
    raise EvidenceError(f"no evidence source can read {root}")


def sniff_container(head: bytes, name: str) -> ContainerFormat | None:
    """The container format whose magic bytes ``head`` carries, if any."""
    for fmt in _in_order(CONTAINERS.name_tuple()):
        if fmt.sniff(head, name):
            return fmt
    return None


@lru_cache(maxsize=4)
def _in_order(_names: tuple[str, ...]) -> tuple[ContainerFormat, ...]:
    # Called for every file of a walk: the order is worked out once per set of registered formats.
    return tuple(fmt for _, fmt in sorted(CONTAINERS, key=lambda kv: (_by_priority(kv[1]), kv[0])))


def _check_scratch(root: Path, limits: Limits) -> None:
    # Spooling writes files; they must never land inside the evidence.
    scratch = Path(os.path.realpath(limits.scratch_dir or tempfile.gettempdir()))
    real_root = Path(os.path.realpath(root))
    if real_root.is_dir() and (scratch == real_root or real_root in scratch.parents):
        raise EvidenceError(
            f"the working directory {scratch} (the case's scratch space) is inside the evidence {real_root}: "
            "keep the case directory outside the evidence"
        )


def follow_root(root: Path) -> Path:
    """The evidence the examiner named, through a symbolic link if the name is one.

    Only the root is followed (once, to its final target); links inside the evidence are recorded as
    links, never followed. Without this, every open below (``O_NOFOLLOW``) would refuse the root.
    """
    if not os.path.islink(root):
        return root
    target = Path(os.path.realpath(root))
    if not target.exists():
        raise EvidenceError(f"evidence source {root} is a link to {target}, which does not exist")
    return target


def iter_evidence(
    root: Path | str, limits: Limits | None = None, source: str = "auto"
) -> Iterator[EvidenceItem]:
    """Every file in the evidence at ``root``, containers opened and their members walked in place.

    Raises :class:`EvidenceError` at once (not on first iteration) when ``root`` is unusable. Problems
    with single files, archives or limits are recorded on the items (``error``) and the walk goes on.
    """
    root = Path(root)
    limits = limits or Limits()
    if not os.path.lexists(root):
        raise EvidenceError(f"no such evidence source: {root}")
    root = follow_root(root)
    cls = pick_source(root, source)
    _check_scratch(root, limits)
    return expand(cls(root, limits).walk(), limits)


def expand(items: Iterator[EvidenceItem], limits: Limits) -> Iterator[EvidenceItem]:
    """Each item followed, when it is a container, by its members (and theirs)."""
    for item in items:
        yield from expand_item(item, limits)


def expand_item(item: EvidenceItem, limits: Limits) -> Iterator[EvidenceItem]:
    if item.opener is None or item.error is not None:
        yield item
        return
    try:
        head = read_head(item.opener)
    except OSError as exc:
        yield with_error(item, f"cannot read: {exc.strerror or exc}", keep_opener=False)
        return
    name = display_name(item.raw_path.rsplit(b"/", 1)[-1])
    fmt = sniff_container(head, name)
    if fmt is None:
        yield item
        return
    if item.depth + 1 > limits.max_depth:
        yield with_error(item, depth_error(item.depth + 1, limits))
        return
    members = fmt.members(item.opener, item, limits)
    first = _next(members, item)
    if first is not None and _is_note(first, item):
        # A problem known before any member was read belongs on the container item itself.
        item = with_error(item, first.error or "")
        first = _next(members, item)
    yield item
    current = first
    while current is not None:
        if _is_note(current, item):
            # Found part-way through: reported at "container!/", the archive's inside as a whole.
            yield replace(
                current,
                locator=item.locator + LOCATOR_SEP + "/",
                raw_path=item.raw_path + LOCATOR_SEP.encode() + b"/",
                depth=item.depth + 1,
            )
        else:
            yield from expand_item(current, limits)
        current = _next(members, item)


def _is_note(candidate: EvidenceItem, container: EvidenceItem) -> bool:
    return candidate.locator == container.locator and candidate.error is not None


def _next(members: Iterator[EvidenceItem], container: EvidenceItem) -> EvidenceItem | None:
    try:
        return next(members, None)
    except Exception as exc:  # a parser bug on hostile input must not end the whole walk
        return EvidenceItem(
            container.locator,
            container.raw_path,
            None,
            None,
            error=f"corrupt archive: {type(exc).__name__}: {exc}",
            depth=container.depth,
        )
