"""Device paths: where a file lay on the phone, whatever layout the extraction tool wrote.

Full-file-system extractions arrive as folders, zips and tars whose member names carry the device
path under a tool-specific prefix: Cellebrite writes the iOS data partition as ``filesystem2/``
(= ``/private/var/``) and the root as ``filesystem1/``; Magnet/GrayKey archives hold absolute
``/private/var/...`` members, tar extractions relative ``private/var/...``; Android extractions hold
``data/data/<package>/``, ``data/user/0/<package>/``, the Magisk mirror
``sbin/.magisk/mirror/data/data/``, a Cellebrite data partition ``userdata/`` (often under a
``blk0_mmcblk0/`` disk folder), and shared storage as ``data/media/0/``, ``sdcard/`` or
``storage/emulated/0/``. All of these may sit under any folder the examiner or the tool added
(``Dump/``, ``Extraction_FFS/``).

Recognition is by structure only (the shape of the path inside a layer), never by the archive's
file name. The outermost layer that shows a layout wins: a zip that lay on the phone
(``.../sdcard/Download/x.zip!/a.txt``) has the device path ``/storage/emulated/0/Download/x.zip!/a.txt``,
the member named inside the file that the phone held.

The device path is computed when shown, never stored: it is a pure function of the locator, so a
better rule applies to every case already ingested, and no column has to be kept in step with it.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from tessera.evidence.base import LOCATOR_SEP, parse_locator, split_locator

#: Folders an Android data partition holds directly under ``/data`` (recognising ``data/`` needs one).
_DATA_CHILDREN = frozenset(
    {
        "data",
        "user",
        "user_de",
        "media",
        "app",
        "system",
        "system_ce",
        "system_de",
        "misc",
        "adb",
        "vendor",
        "local",
    }
)
#: Folders an app's private data folder holds: recognise a data partition rooted at ``/data``
#: (``data/<package>/databases/...``, the shape of some Android 7 images) only with one of them.
_APP_CHILDREN = frozenset({"databases", "files", "shared_prefs", "cache", "code_cache", "no_backup"})
_STORAGE_CHILDREN = frozenset(
    {"Android", "DCIM", "Download", "Pictures", "Movies", "Music", "Documents", "WhatsApp", "Telegram"}
)
_PACKAGE = re.compile(r"[A-Za-z][\w-]*(?:\.[\w-]+)+\Z")
#: Shared storage as the device names it for apps (``/sdcard`` and ``/data/media/N`` are the same).
_SHARED = re.compile(r"\A/(?:sdcard|storage/self/primary|mnt/sdcard|data/media/(\d+))(?=/|\Z)")


class DevicePath(NamedTuple):
    """A recognised device path: ``path`` on the device, the ``rule`` (layout) that gave it, and
    ``root``, the locator of what the tool put before the layout (``/x.zip!/Dump`` for
    ``/x.zip!/Dump/filesystem2/mobile/...``; ``""`` for a folder source laid out from its top), which
    the files of one extraction share."""

    path: str
    rule: str
    root: str


def _match(segs: list[str]) -> tuple[int, int, str, str] | None:
    """(anchor start, segments consumed, device prefix, rule) of the first layout in ``segs``."""
    n = len(segs)
    for i, seg in enumerate(segs):
        nxt = segs[i + 1] if i + 1 < n else None
        if seg == "filesystem2":
            return i, 1, "/private/var", "cellebrite filesystem2 (= /private/var)"
        if seg == "filesystem1":
            return i, 1, "", "cellebrite filesystem1 (= /)"
        if seg == "private" and nxt == "var":
            return i, 0, "", "private/var"
        if seg == "var" and nxt in ("mobile", "containers"):
            return i, 0, "/private", "var (= /private/var)"
        if seg == "mobile" and nxt in ("Containers", "Library", "Media"):
            # An archive rooted at the iOS data partition (/private/var) itself.
            return i, 0, "/private/var", "mobile (= /private/var/mobile)"
        if seg == "sbin" and segs[i + 1 : i + 4] == [".magisk", "mirror", "data"]:
            # The Magisk mirror is a bind mount of /data: the same files, the same device path.
            return i, 3, "", "magisk mirror (= /data)"
        if seg == "userdata" and nxt is not None:
            return i, 1, "/data", "userdata partition (= /data)"
        if seg == "data" and nxt is not None:
            if nxt in _DATA_CHILDREN:
                return i, 0, "", "data"
            after = segs[i + 2] if i + 2 < n else None
            if _PACKAGE.match(nxt) and after in _APP_CHILDREN:
                return i, 1, "/data/data", "data partition root (= /data)"
        if (
            seg == "media"
            and nxt is not None
            and nxt.isdigit()
            and i + 2 < n
            and segs[i + 2] in _STORAGE_CHILDREN
        ):
            # Shared storage of a data partition rooted at /data (beside ``data/<package>``).
            return i, 0, "/data", "data partition root (= /data)"
        if seg == "sdcard":
            return i, 0, "", "sdcard"
        if seg == "storage" and nxt in ("emulated", "self"):
            return i, 0, "", "storage"
    return None


def _shared(path: str) -> str:
    """Shared storage written the one way apps see it: ``/storage/emulated/<user>/...``."""
    m = _SHARED.match(path)
    if m is None:
        return path
    return f"/storage/emulated/{m.group(1) or '0'}{path[m.end() :]}"


def _layer_path(name: str) -> tuple[str, str, int] | None:
    """(device path, rule, segments before the anchor) of one layer's name, or None."""
    segs = [s for s in name.split("/") if s]
    found = _match(segs)
    if found is None:
        return None
    start, skip, prefix, rule = found
    rest = "/".join(segs[start + skip :])
    path = f"{prefix}/{rest}" if rest else (prefix or "/")
    return _shared(path), rule, start


def locate(locator: str) -> DevicePath | None:
    """The device path of ``locator`` and how it was recognised, or None (no layout found)."""
    layers = parse_locator(locator)
    raw = locator.split(LOCATOR_SEP)
    for k, layer in enumerate(layers):
        if "/" not in layer.name:
            continue
        got = _layer_path(layer.name)
        if got is None:
            continue
        path, rule, before = got
        inner = raw[k + 1 :]
        if inner:
            path = LOCATOR_SEP.join([path, *inner])
        elif layer.occurrence > 1:
            path = f"{path}#{layer.occurrence}"
        segs = [s for s in layer.name.split("/") if s]
        root_layer = "".join(f"/{s}" for s in segs[:before])
        return DevicePath(path, rule, LOCATOR_SEP.join([*raw[:k], root_layer]))
    return None


def device_path(locator: str) -> str | None:
    """Where the file of ``locator`` lay on the device (``/private/var/mobile/...``,
    ``/data/data/com.whatsapp/...``, ``/storage/emulated/0/...``), or None when no layout shows."""
    got = locate(locator)
    return got.path if got else None


#: Android app data folders: ``/data/data/<pkg>``, ``/data/user/<n>/<pkg>``, ``/data/user_de/<n>/<pkg>``,
#: and the app's folders in shared storage (``Android/data/<pkg>``, ``Android/media/<pkg>``).
_ANDROID_PKG = re.compile(
    r"\A/data/(?:data|user/\d+|user_de/\d+)/([^/]+)(?=/|\Z)"
    r"|\A/storage/emulated/\d+/Android/(?:data|media|obb)/([^/]+)(?=/|\Z)"
)


def android_package(path: str) -> tuple[str, str] | None:
    """(package, style) of an Android device path inside an app's folder, or None. ``style`` is the
    folder that holds packages (``/data/data``, ``/data/user/0``, ``/storage/emulated/0/Android/media``)."""
    m = _ANDROID_PKG.match(path)
    if m is None:
        return None
    pkg = m.group(1) or m.group(2)
    if not _PACKAGE.match(pkg):
        return None
    return pkg, path[: m.start(1 if m.group(1) else 2) - 1]


def canonical(path: str) -> str:
    """One name for the several device paths of one file: ``/data/user/0/<pkg>`` is ``/data/data/<pkg>``
    (Android 7+ links one to the other), so copies a tool wrote under both are seen as one."""
    return re.sub(r"\A/data/user/0/", "/data/data/", path)


def same_root(a: str, b: str) -> bool:
    """Do two locators lie in the same extraction (the same container layers)?"""
    return split_locator(a)[:-1] == split_locator(b)[:-1]


def package_root(locator: str) -> tuple[str, str] | None:
    """(package, style) of a file inside an Android app's folder, ``style`` being the folders the
    tool wrote between its own prefix and the package (``data/data``, ``data/user/0``,
    ``sbin/.magisk/mirror/data/data``, ``userdata/data``): how the extraction lays out app data."""
    got = locate(locator)
    if got is None:
        return None
    found = android_package(got.path)
    if found is None:
        return None
    pkg = found[0]
    name = parse_locator(locator)[len(split_locator(got.root)) - 1 if got.root else 0].name
    segs = [s for s in name.split("/") if s]
    laid = _layer_path(name)
    start = laid[2] if laid else 0
    try:
        at = segs.index(pkg, start)
    except ValueError:
        return None
    return pkg, "/".join(segs[start:at])
