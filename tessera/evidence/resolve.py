"""One resolver: a stored locator back to its bytes, through the same plugins that walked it.

A locator chains layers with ``!`` (``/Download/backup.zip!/photos/a.png``,
``/disk.E01!/p1/Users/x/a.jpg``), names escaped so the chain is unambiguous (``escape_layer``). To
reopen one, the outermost layer is opened on the source read-only, and each further layer is found
by asking the container format that the walk used for that layer (by the same magic-byte sniffing)
for its members, until the member whose locator is the one stored: the walker, the review
workstation's thumbnails and anything else that needs an occurrence's bytes read them the same way,
with the same limits and the same locators, so nothing reads a container differently from the walk.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from tessera.evidence.base import (
    SOURCES,
    Limits,
    discard_spool,
    display_name,
    read_head,
    split_locator,
    split_raw_path,
)
from tessera.evidence.walk import sniff_container
from tessera.records import LOCATOR_SEP, EvidenceItem, Opener


class ResolveError(LookupError):
    """The locator cannot be reopened (the source moved, a member is gone, a layer is no container)."""


def _top(roots: Sequence[tuple[str, str]], locator: str, raw_top: bytes) -> EvidenceItem:
    """The outermost layer as an item of the source it came from. ``roots`` are (source path,
    prefix) pairs: the device's primary source has prefix ``""``; a source added to the device is
    stored under ``/<its name>``."""
    top = locator.split(LOCATOR_SEP, 1)[0]
    for source, prefix in roots:
        src = os.fsencode(source)
        try:
            is_dir = stat.S_ISDIR(os.stat(src).st_mode)
        except OSError:
            continue
        if is_dir:
            if prefix and not raw_top.startswith(os.fsencode(prefix) + b"/"):
                continue
            path = src + raw_top[len(os.fsencode(prefix)) :]
        elif os.fsencode("/" + os.path.basename(source)) == raw_top:
            path = src
        else:
            continue
        try:
            st = os.stat(path, follow_symlinks=False)
        except OSError:
            continue
        if stat.S_ISREG(st.st_mode):
            return EvidenceItem(
                locator=top, raw_path=raw_top, size=st.st_size, opener=Opener(path=os.fsdecode(path))
            )
    raise ResolveError(f"{top}: not found in the device's sources ({', '.join(s for s, _ in roots)})")


def _source_layer(
    roots: Sequence[tuple[str, str]], locator: str, raw_path: bytes | None, limits: Limits
) -> EvidenceItem | None:
    """The first layers of ``locator`` from a source whose locators are not paths in its folder (an
    iTunes backup's ``/Manifest.db!/<device path>``): such a source class has a ``reopen`` method
    that answers None for locators it does not own."""
    for source, prefix in roots:
        if prefix and not locator.startswith(prefix + "/"):
            continue
        raw = raw_path[len(os.fsencode(prefix)) :] if raw_path is not None else None
        for _, cls in SOURCES:
            own = getattr(cls, "reopen", None)
            if own is None or not cls.accepts(Path(source)):
                continue
            item = own(Path(source), locator[len(prefix) :], raw, limits)
            if item is not None:
                return replace(
                    item, locator=prefix + item.locator, raw_path=os.fsencode(prefix) + item.raw_path
                )
    return None


def reopen(
    roots: Sequence[tuple[str, str]],
    locator: str,
    raw_path: bytes | None = None,
    limits: Limits | None = None,
) -> EvidenceItem:
    """The item stored at ``locator``, with an opener on its bytes.

    ``raw_path`` (the stored exact name bytes) is used for the outermost layer's path when given, so
    names that are not UTF-8 are found; without it the display locator is used. A member read out of
    a container may be spooled to ``limits.scratch_dir``: pass the result to ``discard_spool`` once
    its bytes are read.
    """
    limits = limits or Limits()
    if raw_path is not None:
        raw_top = split_raw_path(raw_path, locator)[0]
    else:
        raw_top = os.fsencode(split_locator(locator)[0])
    item = _source_layer(roots, locator, raw_path, limits) or _top(roots, locator, raw_top)
    while item.locator != locator:
        opener = item.opener
        assert opener is not None
        name = display_name(item.raw_path.rsplit(b"/", 1)[-1])
        fmt = sniff_container(read_head(opener), name)
        if fmt is None:
            raise ResolveError(f"{item.locator}: not a container, cannot hold {locator}")
        parent = item
        found: EvidenceItem | None = None
        # A format that can read one member without the others (a UFDR) is asked for that one.
        find = getattr(fmt, "find", None)
        members = (
            fmt.members(opener, parent, limits) if find is None else find(opener, parent, limits, locator)
        )
        try:
            for member in members:
                if member.locator == locator or locator.startswith(member.locator + LOCATOR_SEP):
                    found = member
                    break
                discard_spool(member)
        finally:
            close = getattr(members, "close", None)
            if close is not None:
                close()
        if found is not None and found.opener is not None and found.opener.data is not None:
            discard_spool(parent)  # the member's bytes are in memory: the spooled container can go
        if found is None or found.opener is None:
            why = found.error if found is not None and found.error else "no such member"
            raise ResolveError(f"{locator}: {why} in {parent.locator}")
        item = found
    return item
