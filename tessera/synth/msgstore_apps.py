"""WhatsApp for Android extraction folders in each app and storage layout a phone may have.

``write_app_tree`` renders a seized phone of a synthetic ``Network`` as WhatsApp's (``com.whatsapp``)
or WhatsApp Business's (``com.whatsapp.w4b``) data: the databases and shared preferences under the
app's package folder, and the images of the visible image posts under the app's media root on shared
storage, in the Android 11+ scoped-storage layout (``Android/media/<package>/<folder>/Media``) or the
older one (``<folder>/Media`` at the top of the storage). Both apps write the same database schema
(``tessera.synth.msgstore``); what differs is where things are, which is what these trees exercise.
Everything is invented: names, numbers, abstract images.
"""

from __future__ import annotations

import hashlib
import os
import random
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tessera.synth.msgstore import STORAGE, plan, write_msgstore, write_prefs, write_wa_db
from tessera.synth.network import Network, Seizure

LAYOUTS = ("android11", "legacy")


@dataclass(frozen=True)
class AppPaths:
    package: str  # com.whatsapp | com.whatsapp.w4b
    folder: str  # the app's folder on shared storage: "WhatsApp" | "WhatsApp Business"

    @property
    def db_dir(self) -> str:
        return f"data/data/{self.package}/databases"

    @property
    def prefs(self) -> str:
        # Android names an app's default preferences after its package.
        return f"data/data/{self.package}/shared_prefs/{self.package}_preferences_light.xml"

    def media_root(self, layout: str) -> str:
        """What ``message_media.file_path`` (``Media/WhatsApp Images/...``) is relative to."""
        if layout == "android11":
            return f"{STORAGE}/Android/media/{self.package}/{self.folder}"
        return f"{STORAGE}/{self.folder}"


WHATSAPP = AppPaths("com.whatsapp", "WhatsApp")
BUSINESS = AppPaths("com.whatsapp.w4b", "WhatsApp Business")


def write_app_tree(
    net: Network,
    seizure: Seizure,
    root: Path,
    *,
    business: bool = False,
    layout: str = "android11",
    file_hashes: bool = True,
    delete_fraction: float = 0.2,
) -> dict[str, Any]:
    """An Android extraction folder of one WhatsApp app (current schema).

    ``business``: WhatsApp Business's package, preferences and folders. ``layout``: ``android11``
    (media under ``Android/media/<package>/``) or ``legacy`` (media at the top of the storage).
    ``file_hashes=False`` leaves ``message_media.file_hash`` empty, as WhatsApp does for some rows, so
    an attachment can only be linked to its file by path through the app's media root.
    ``delete_fraction`` of the images are not written (deleted files whose messages still name them).

    Returns ``msgstore``, ``wa_db``, ``prefs``, ``media_root`` (absolute), ``media_locator`` (the
    media root as an ingest of ``root`` shows it: ``/sdcard/...``), ``present`` and ``deleted``
    (``file_path`` -> sha256).
    """
    if layout not in LAYOUTS:
        raise ValueError(f"unknown layout {layout!r} ({' | '.join(LAYOUTS)})")
    app = BUSINESS if business else WHATSAPP
    assert seizure.owner is not None, "a msgstore belongs to a phone with an owner"
    db = root / app.db_dir / "msgstore.db"
    write_msgstore(net, seizure, db, "current")
    if not file_hashes:
        conn = sqlite3.connect(db)
        try:
            with conn:
                conn.execute("UPDATE message_media SET file_hash = NULL")
        finally:
            conn.close()
    write_wa_db(net, seizure, root / app.db_dir / "wa.db")
    write_prefs(net.people[seizure.owner], root / app.prefs)
    images = [r for r in plan(net, seizure) if r.item is not None and r.file_path is not None]
    rng = random.Random(f"{net.seed}/{seizure.device}/{app.package}/deleted")
    gone = {r.key_id for r in rng.sample(images, round(len(images) * delete_fraction))}
    media_rel = app.media_root(layout)
    present: dict[str, str] = {}
    deleted: dict[str, str] = {}
    for r in images:
        assert r.item is not None and r.file_path is not None
        data = net.items[r.item].data
        digest = hashlib.sha256(data).hexdigest()
        if r.key_id in gone:
            deleted[r.file_path] = digest
            continue
        target = root / media_rel / r.file_path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        os.utime(target, (r.time.timestamp(), r.time.timestamp()))
        present[r.file_path] = digest
    return {
        "msgstore": db,
        "wa_db": root / app.db_dir / "wa.db",
        "prefs": root / app.prefs,
        "media_root": root / media_rel,
        "media_locator": "/" + media_rel,
        "present": present,
        "deleted": deleted,
    }
