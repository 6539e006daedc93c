"""Synthetic Android full-file-system extractions: one phone packed in the layouts real tools write.

The phone is :func:`tessera.synth.msgstore.write_phone_tree` (WhatsApp's databases under
``data/data/com.whatsapp/`` and its media under shared storage), packed into a zip or a tar whose
member names follow one extraction layout: the device's own paths (``data/data``, shared storage
as ``data/media/0``), Android 7+'s ``data/user/0`` with ``storage/emulated/0``, a tool's extra
folder (``Dump/``), a Cellebrite data partition (``blk0_mmcblk0/userdata/``), absolute members.
The database's media hashes are removed, so a message reaches its file only through the path it
names, found wherever the layout put it. ``decoy`` adds a second extraction's media folder in the
same archive, with other bytes under the same names: linking must stay in the source's extraction.
"""

from __future__ import annotations

import io
import sqlite3
import tarfile
import tempfile
import zipfile
from pathlib import Path
from typing import Any

from tessera.synth.msgstore import write_phone_tree
from tessera.synth.network import Network, Seizure

#: layout -> (prefix of the device's ``data/data``, prefix of its shared storage)
LAYOUTS: dict[str, tuple[str, str]] = {
    "data": ("data/data/", "data/media/0/"),
    "user0": ("data/user/0/", "storage/emulated/0/"),
    "dump": ("Dump/data/data/", "Dump/data/media/0/"),
    "userdata": ("blk0_mmcblk0/userdata/data/", "blk0_mmcblk0/userdata/media/0/"),
    "absolute": ("/data/data/", "/sdcard/"),
}
_DECOY = "Other phone/data/media/0/"
#: Where older WhatsApp versions' absolute paths point (the media root on shared storage).
ABSOLUTE_ROOT = "/storage/emulated/0/Android/media/com.whatsapp/WhatsApp"


def _strip_hashes(db: Path, absolute: bool = False) -> None:
    """Remove the media hashes (both schemas): the file is then found by its path only. ``absolute``:
    the paths written as older versions did, absolute on the device's shared storage."""
    conn = sqlite3.connect(db)
    try:
        have = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if "message_media" in have:
            conn.execute("UPDATE message_media SET file_hash = NULL")
            if absolute:
                conn.execute(
                    "UPDATE message_media SET file_path = ? || file_path WHERE file_path IS NOT NULL",
                    (ABSOLUTE_ROOT + "/",),
                )
        if "messages" in have:
            cols = {r[1] for r in conn.execute("PRAGMA table_info(messages)")}
            if "media_hash" in cols:
                conn.execute("UPDATE messages SET media_hash = NULL")
        conn.commit()
    finally:
        conn.close()


def _member(rel: str, layout: str) -> str | None:
    app, shared = LAYOUTS[layout]
    if rel.startswith("data/data/"):
        return app + rel[len("data/data/") :]
    if rel.startswith("sdcard/"):
        return shared + rel[len("sdcard/") :]
    return None


def write_android_ffs(
    net: Network,
    seizure: Seizure,
    out: Path,
    *,
    layout: str = "data",
    fmt: str = "zip",
    decoy: bool = False,
    absolute: bool = False,
) -> dict[str, Any]:
    """The phone of ``seizure`` as an FFS archive at ``out`` (``fmt`` zip or tar).

    Returns ``archive``, ``members`` (tree path -> member name), ``msgstore`` (its member name),
    ``present`` and ``deleted`` (media file_path -> sha256, as :func:`write_phone_tree` gives them;
    with ``absolute`` the paths are the absolute ones the database then holds).
    """
    if fmt == "zip" and layout == "absolute":
        raise ValueError("absolute member names are a tar layout")
    with tempfile.TemporaryDirectory(prefix="tessera-ffs-") as tmp:
        root = Path(tmp)
        info = write_phone_tree(net, seizure, root)
        _strip_hashes(Path(info["msgstore"]), absolute)
        members: dict[str, str] = {}
        files = sorted(p for p in root.rglob("*") if p.is_file())
        for p in files:
            rel = p.relative_to(root).as_posix()
            name = _member(rel, layout)
            if name is not None:
                members[rel] = name
        out.parent.mkdir(parents=True, exist_ok=True)
        decoys = {
            _DECOY + rel[len("sdcard/") :]: b"decoy " + rel.encode()
            for rel in members
            if decoy and rel.startswith("sdcard/") and "/Media/" in rel
        }
        if fmt == "zip":
            with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
                for name, data in decoys.items():  # first in the archive: order must not decide
                    zf.writestr(name, data)
                for rel, name in members.items():
                    zf.write(root / rel, name)
        elif fmt == "tar":
            with tarfile.open(out, "w") as tf:
                for name, data in decoys.items():
                    ti = tarfile.TarInfo(name)
                    ti.size = len(data)
                    tf.addfile(ti, io.BytesIO(data))
                for rel, name in members.items():
                    tf.add(root / rel, name)
        else:
            raise ValueError(f"unknown archive format {fmt!r}")
    msgstore = members["data/data/com.whatsapp/databases/msgstore.db"]

    def named(paths: dict[str, str]) -> dict[str, str]:
        return {f"{ABSOLUTE_ROOT}/{p}" if absolute else p: sha for p, sha in paths.items()}

    return {
        "archive": out,
        "members": members,
        "msgstore": msgstore,
        "present": named(info["present"]),
        "deleted": named(info["deleted"]),
    }
