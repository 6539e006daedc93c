"""Where a source's attachments lie: its media roots found among the device's stored files.

A parser names its media roots relative to the device's shared storage (``WhatsApp``,
``Android/media/com.whatsapp/WhatsApp``). In a full-file-system extraction the same root may be
found several times (``data/media/0/`` and ``sdcard/``, two extractions of one phone, a backup copy
on a memory card), so every place is looked for (a few queries, not one per message) and ordered:
the same extraction as the source first (the same container layers and tool prefix), then by how
much of its path the root shares with the source, shared storage before other folders.
"""

from __future__ import annotations

from sqlalchemy import and_, not_, select
from sqlalchemy.orm import Session

from tessera.evidence.base import LOCATOR_SEP
from tessera.evidence.devicepath import locate
from tessera.store import models as m

#: Distinct places one media root is looked for in (each costs one query).
MAX_ROOTS = 6


def _like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _find(session: Session, device_id: str, prefix: str, root: str, limit: int) -> list[str]:
    """Locators (under ``prefix``) of folders named by ``root``, each found by one stored file."""
    needle = f"/{root}/"
    found: list[str] = []
    conds = [
        m.File.device_id == device_id,
        m.File.locator.like(f"{_like(prefix)}%{_like(needle)}%", escape="\\"),
    ]
    for _ in range(limit):
        excl = [not_(m.File.locator.like(f"{_like(f)}/%", escape="\\")) for f in found]
        loc = session.scalar(select(m.File.locator).where(and_(*conds, *excl)).limit(1))
        if not loc:
            break
        found.append(loc[: loc.index(needle, len(prefix)) + len(root) + 1])
    return found


def _score(source: str, root: str) -> tuple[int, int, int]:
    src, got = locate(source), locate(root)
    same = src is not None and got is not None and src.root == got.root
    shared = got is not None and got.path.startswith("/storage/emulated/")
    common = len(_common(source, root))
    return (0 if same else 1, 0 if shared else 1, -common)


def _common(a: str, b: str) -> str:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return a[:n]


def media_root_candidates(session: Session, device_id: str, source: str, root: str) -> list[str]:
    """Locators of ``root`` on the device, most likely first (see the module's note)."""
    container = source.rsplit(LOCATOR_SEP, 1)[0] + LOCATOR_SEP if LOCATOR_SEP in source else ""
    found = _find(session, device_id, container, root, MAX_ROOTS) if container else []
    if not found:
        found = _find(session, device_id, "", root, MAX_ROOTS)
    return sorted(found, key=lambda r: _score(source, r))


def shared_storages(roots: list[str]) -> list[str]:
    """The shared-storage folders (``/storage/emulated/N`` on the device) the roots lie in."""
    out: list[str] = []
    for root in roots:
        got = locate(root)
        if got is None or not got.path.startswith("/storage/emulated/"):
            continue
        rest = got.path.split("/", 4)[4] if got.path.count("/") >= 4 else ""
        if rest and root.endswith("/" + rest):
            base = root[: -len(rest) - 1]
            if base not in out:
                out.append(base)
    return out


def on_storage(path: str, storages: list[str]) -> list[str]:
    """Locators an absolute device path (``/storage/emulated/0/WhatsApp/...``, ``/sdcard/...``)
    has under each shared-storage folder found."""
    got = locate(path)
    if got is None or not got.path.startswith("/storage/emulated/"):
        return []
    rest = got.path.split("/", 4)[4] if got.path.count("/") >= 4 else ""
    return [f"{base}/{rest}" for base in storages if rest]
