"""A synthetic operation for the timeline and the map: the messaging network of tessera.synth.network
(phones, chat exports, Telegram), plus two camera devices whose abstract pictures carry invented EXIF
(capture time, GPS) written with Pillow, with file times set to known values."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select, update

from tessera.audit import append
from tessera.ingest.pipeline import IngestOptions, ingest
from tessera.records import ExifInfo
from tessera.store import models as m
from tessera.store.case import CaseHandle
from tessera.store.models_items import Item, ItemMember
from tessera.synth.images import invented_exif, photo_jpeg
from tessera.synth.network import Network, make_network
from tessera.synth.seizures import write_seizures

NET = make_network(5, n_people=12, n_wa_groups=2, n_tg_groups=1, n_items=4, n_posts=60)
BASE_MTIME = 1_700_000_000.0  # 2023-11-14T22:13:20Z
SEIZED = "2024-03-10"


@dataclass
class Picture:
    name: str
    sha256: str
    exif: ExifInfo
    #: device -> (locator, mtime, crtime)
    files: dict[str, tuple[str, float, float]] = field(default_factory=dict)


@dataclass
class Truth:
    net: Network
    pictures: dict[str, Picture]
    item_id: int = 0
    item_members: frozenset[str] = frozenset()
    suspect_account: int = 0
    unreadable: int = 0


def _camera_pictures() -> list[tuple[str, ExifInfo]]:
    located = [(f"cam{k}", invented_exif(700 + k)) for k in range(3)]
    no_gps = ExifInfo(make="Acme Synthetic", model="SynthCam 2", capture_time="2023:06:01 08:30:00")
    blank = ExifInfo(make="Acme Synthetic", model="SynthCam 2", capture_time="0000:00:00 00:00:00")
    return [*located, ("cam3", no_gps), ("cam4", blank)]


def build(case: CaseHandle, root: Path) -> Truth:
    truth = Truth(NET, {})
    for ev in write_seizures(NET, root / "net"):
        ingest(case, ev.path, IngestOptions(ev.seizure.device, kind=ev.kind, workers=0))
    n = 0
    for device, names in (("CAM-1", None), ("CAM-2", {"cam0"})):
        folder = root / device
        folder.mkdir(parents=True)
        for k, (name, exif) in enumerate(_camera_pictures()):
            if names is not None and name not in names:
                continue
            data = photo_jpeg(800 + k, 320, 240, exif=exif)
            path = folder / f"DCIM/{name}.jpg"
            path.parent.mkdir(exist_ok=True)
            path.write_bytes(data)
            mtime = BASE_MTIME + 3600 * n
            n += 1
            os.utime(path, (mtime, mtime))
            pic = truth.pictures.setdefault(name, Picture(name, hashlib.sha256(data).hexdigest(), exif))
            pic.files[device] = (f"/DCIM/{name}.jpg", mtime, mtime - 86400)
        ingest(case, folder, IngestOptions(device, kind="storage", suspect="S01", workers=0))
    with case.session() as s:
        # The directory walker on Linux has no birth time; a disk image's file system would give one.
        for pic in truth.pictures.values():
            for device, (locator, _mt, crtime) in pic.files.items():
                s.execute(
                    update(m.File)
                    .where(m.File.device_id == device, m.File.locator == locator)
                    .values(crtime=crtime)
                )
        s.execute(update(m.Device).where(m.Device.id == "P-01").values(seizure_date=SEIZED, suspect="S01"))
        owner = NET.people[NET.seizures[0].owner or ""].phone
        acc = s.scalar(select(m.Account.id).where(m.Account.phone == owner))
        assert acc is not None
        s.add(m.Suspect(id="S01", alias="invented"))
        s.add(m.SuspectAccount(suspect_id="S01", account_id=acc))
        append(s, "eva", "suspect.add", "S01", {"alias": "invented"})
        # An item grouping cam0 and cam1 (as the near-duplicate grouping would record it).
        members = [truth.pictures["cam0"].sha256, truth.pictures["cam1"].sha256]
        item = Item(key=min(members), kind="image", members=2)
        s.add(item)
        s.flush()
        for sha in members:
            s.add(
                ItemMember(sha256=sha, item_id=item.id, via="self" if sha == item.key else "pdq", distance=0)
            )
        s.commit()
        truth.item_id, truth.item_members, truth.suspect_account = item.id, frozenset(members), acc
    truth.unreadable = 1  # cam4's "0000:00:00 00:00:00"
    return truth
