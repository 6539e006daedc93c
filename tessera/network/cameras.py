"""Producer leads (issue 14): cameras across devices, capture places, pictures taken on a seized phone.

**Camera.** A camera is (make, model, body serial): the EXIF BodySerialNumber, else the DNG
CameraSerialNumber; where a picture carries neither, (make, model, lens serial) stands for it, since an
interchangeable lens moves between bodies far less often than a picture between phones. Make and model
compare case- and space-insensitively (firmware updates change "Canon" to "Canon "), the serial
exactly as written. A picture with make and model but no serial is **never** linked by make and model
alone: thousands of phones share "Apple iPhone 13"; such pictures are counted as unlinked. Serials of
only zeros are placeholders that firmware writes when it has none, and do not link either. Cameras are
computed when asked, never stored: the id is a digest of the key, so it is stable across runs and a
better rule applies to cases already ingested.

**Taken on this phone.** A picture lying in a phone's camera folder (``DCIM/Camera`` or a DCF folder
``DCIM/NNNXXXXX`` such as ``100APPLE``, on the device path) whose EXIF model is the phone's own. The
phone's own model is taken from the extraction's device facts (``model``, ``product_type``): the EXIF
model must equal one of them or, if it is a one-word model code, appear in it as a whole word
("SM-G991B" in "Galaxy S21 (SM-G991B)"; "iPhone 13" never matches "iPhone 13 Pro Max"). The make is
not compared: extractions state no manufacturer fact.
Only where the extraction states no model does the most common camera of the camera folder stand in,
and only when it is more than half of its pictures with a model; the flag names which basis applied.
A flagged picture that a chat message also carries (the same SHA-256, or the same near-duplicate item
when items were grouped) is "taken here, then posted", with the messages.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from tessera.evidence.devicepath import device_path
from tessera.hashing.exif_fields import camera_serial
from tessera.store import models as m
from tessera.store.models_device import DeviceFact
from tessera.store.models_items import ItemMember
from tessera.store.models_producer import MediaExif
from tessera.store.writes import chunks

#: ``DCIM/Camera/`` (Android) or a DCF directory ``DCIM/NNNXXXXX/`` (iOS ``100APPLE``, ``100ANDRO``).
CAMERA_FOLDER = re.compile(r"/DCIM/(?:Camera|[1-9][0-9]{2}[A-Z0-9_]{5})/[^/]+\Z", re.IGNORECASE)
_OFFSET = re.compile(r"\A([+-])(\d{2}):(\d{2})\Z")


def _norm(text: str | None) -> str:
    return " ".join((text or "").split()).casefold()


def in_camera_folder(path: str | None) -> bool:
    return bool(path and CAMERA_FOLDER.search(path))


def capture_utc(exif_time: str | None, offset: str | None, gps_time: str | None) -> datetime | None:
    """When the picture was taken, in UTC: DateTimeOriginal with OffsetTimeOriginal, else the GPS fix
    time; None when neither places it (a local time without offset is not guessed into UTC)."""
    match = _OFFSET.match(offset or "")
    if exif_time and match:
        try:
            local = datetime.strptime(exif_time[:19], "%Y:%m:%d %H:%M:%S")
        except ValueError:
            local = None
        if local is not None:
            delta = timedelta(hours=int(match[2]), minutes=int(match[3]))
            return (local - delta if match[1] == "+" else local + delta).replace(tzinfo=UTC)
    if gps_time:
        try:
            return datetime.strptime(gps_time, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        except ValueError:
            return None
    return None


@dataclass
class Picture:
    sha256: str
    make: str | None
    model: str | None
    body_serial: str | None
    exif_time: str | None
    gps_lat: float | None
    gps_lon: float | None
    exif: dict[str, Any] = field(default_factory=dict)  # the media_exif row (lens, offset, alt, raw)
    files: list[dict[str, Any]] = field(default_factory=list)  # device, locator, device_path
    camera_id: str | None = None

    def out(self) -> dict[str, Any]:
        return {
            "sha256": self.sha256,
            "make": self.make,
            "model": self.model,
            "body_serial": self.body_serial,
            "camera_serial": self.exif.get("camera_serial"),
            "lens_make": self.exif.get("lens_make"),
            "lens_model": self.exif.get("lens_model"),
            "lens_serial": self.exif.get("lens_serial"),
            "exif_time": self.exif_time,
            "offset_time_original": self.exif.get("offset_time_original"),
            "gps_lat": self.gps_lat,
            "gps_lon": self.gps_lon,
            "gps_alt": self.exif.get("gps_alt"),
            "gps_time": self.exif.get("gps_time"),
            "camera_id": self.camera_id,
            "raw": self.exif.get("raw"),
            "files": self.files,
        }


@dataclass
class Leads:
    cameras: list[dict[str, Any]] = field(default_factory=list)
    #: Pictures with a make or model but no serial to link them by (counted, never linked).
    unlinked: list[dict[str, Any]] = field(default_factory=list)
    places: list[dict[str, Any]] = field(default_factory=list)
    taken_here: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "cameras": self.cameras,
            "unlinked": self.unlinked,
            "places": self.places,
            "taken_here": self.taken_here,
        }


def camera_key(pic: Picture) -> tuple[str, str, str, str, str] | None:  # see CameraKey
    """(kind, make, model, serial, serial kind) of the camera that took ``pic``, or None."""
    ident = camera_serial(pic.exif, pic.body_serial)
    if ident is not None:
        return ("body", _norm(pic.make), _norm(pic.model), ident[0], ident[1])
    lens = pic.exif.get("lens_serial")
    if lens and lens.strip("0 "):
        return ("lens", _norm(pic.make), _norm(pic.model), lens, "lens")
    return None


CameraKey = tuple[str, str, str, str, str]


def camera_id(key: CameraKey) -> str:
    return "cam-" + hashlib.sha256("\x1f".join(key[:4]).encode()).hexdigest()[:12]


def _pictures(session: Session) -> dict[str, Picture]:
    """Every medium with producer EXIF (make, model, serial or GPS), with the files that hold it.

    Three whole-table scans (media, media_exif, files joined to media) rather than chunked IN lists:
    the filter is the same for all, and one pass each is what keeps 100,000 pictures to seconds."""
    has_exif = or_(
        m.Media.exif_make.is_not(None),
        m.Media.exif_model.is_not(None),
        m.Media.exif_serial.is_not(None),
        m.Media.gps_lat.is_not(None),
        m.Media.sha256.in_(select(MediaExif.sha256)),
    )
    cols = (
        m.Media.sha256,
        m.Media.exif_make,
        m.Media.exif_model,
        m.Media.exif_serial,
        m.Media.exif_time,
        m.Media.gps_lat,
        m.Media.gps_lon,
    )
    pics = {
        row[0]: Picture(*row)
        for row in session.execute(select(*cols).where(has_exif).order_by(m.Media.sha256))
    }
    names = [c.name for c in MediaExif.__table__.columns]
    for row in session.execute(select(*MediaExif.__table__.columns)):
        pic = pics.get(row[0])
        if pic is not None:
            pic.exif = dict(zip(names[1:], row[1:], strict=True))
    fq = (
        select(m.File.sha256, m.File.device_id, m.File.locator, m.File.deleted)
        .join(m.Media, m.Media.sha256 == m.File.sha256)
        .where(has_exif)
        .order_by(m.File.device_id, m.File.locator)
    )
    for sha, dev, loc, deleted in session.execute(fq):
        pic = pics.get(sha or "")
        if pic is not None:  # None only for media stored between the two reads
            pic.files.append(
                {"device": dev, "locator": loc, "device_path": device_path(loc), "deleted": bool(deleted)}
            )
    return pics


def _cameras(pics: dict[str, Picture]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    groups: dict[CameraKey, list[Picture]] = defaultdict(list)
    unlinked: list[dict[str, Any]] = []
    for pic in pics.values():
        found = camera_key(pic)
        if found is None:
            if pic.make or pic.model:
                unlinked.append(
                    {"sha256": pic.sha256, "make": pic.make, "model": pic.model, "reason": "no serial"}
                )
            continue
        pic.camera_id = camera_id(found)
        groups[found].append(pic)
    cameras: list[dict[str, Any]] = []
    for key, members in groups.items():
        first = members[0]
        serial = key[3]
        devices = sorted({f["device"] for p in members for f in p.files})
        cameras.append(
            {
                "id": camera_id(key),
                "make": first.make,  # as written on the first picture; variants below
                "model": first.model,
                "makes_written": sorted({p.make for p in members if p.make}),
                "models_written": sorted({p.model for p in members if p.model}),
                "serial": serial,
                "serial_kind": key[4],
                "lenses": sorted(
                    {
                        f"{p.exif.get('lens_model')} #{p.exif.get('lens_serial')}"
                        for p in members
                        if p.exif.get("lens_model")
                    }
                ),
                "pictures": [p.sha256 for p in members],
                "devices": devices,
                "files": [{"sha256": p.sha256, **f} for p in members for f in p.files],
            }
        )
    cameras.sort(key=lambda c: (-len(c["devices"]), -len(c["pictures"]), c["id"]))
    return cameras, unlinked


def _places(pics: dict[str, Picture]) -> list[dict[str, Any]]:
    return [
        {
            "sha256": p.sha256,
            "lat": p.gps_lat,
            "lon": p.gps_lon,
            "alt": p.exif.get("gps_alt"),
            "gps_time": p.exif.get("gps_time"),
            "exif_time": p.exif_time,
            "offset_time_original": p.exif.get("offset_time_original"),
            "camera_id": p.camera_id,
            "make": p.make,
            "model": p.model,
            "raw": {k: v for k, v in (p.exif.get("raw") or {}).items() if k.startswith("gps:")},
            "files": p.files,
        }
        for p in pics.values()
        if p.gps_lat is not None and p.gps_lon is not None
    ]


def model_matches(exif_model: str | None, fact: str) -> bool:
    """Does the EXIF model name the phone of ``fact`` (case- and space-insensitive)? Equal, or, for a
    one-word model code ("SM-G991B"), a whole word of the fact ("Galaxy S21 5G (SM-G991B)"). A name of
    several words must be equal: "iPhone 13" is a word prefix of "iPhone 13 Pro Max", another phone."""
    model, text = _norm(exif_model), _norm(fact)
    if not model or not text:
        return False
    if model == text:
        return True
    if " " in model:
        return False
    return re.search(rf"(?<![0-9a-z]){re.escape(model)}(?![0-9a-z])", text) is not None


def _device_models(session: Session) -> dict[str, list[tuple[str, str, str]]]:
    """device -> [(fact name, value, source)] of its model and product_type facts."""
    out: dict[str, list[tuple[str, str, str]]] = defaultdict(list)
    q = select(DeviceFact.device_id, DeviceFact.name, DeviceFact.value, DeviceFact.source).where(
        DeviceFact.name.in_(("model", "product_type"))
    )
    for dev, name, value, source in session.execute(q.order_by(DeviceFact.id)):
        out[dev].append((name, value, source))
    return out


def _utc(t: datetime) -> datetime:
    return t if t.tzinfo is not None else t.replace(tzinfo=UTC)


def _posts(session: Session, shas: list[str]) -> dict[str, list[dict[str, Any]]]:
    """sha256 -> the messages carrying it, the same file or (where items were grouped) the same item."""
    via: dict[str, dict[str, str]] = defaultdict(dict)  # posted sha -> {picture sha: how}
    for sha in shas:
        via[sha][sha] = "same file"
    for part in chunks(shas):
        q0 = select(ItemMember.sha256, ItemMember.item_id).where(ItemMember.sha256.in_(part))
        mine: dict[str, int] = {sha: item for sha, item in session.execute(q0)}
        if not mine:
            continue
        q = select(ItemMember.sha256, ItemMember.item_id, ItemMember.distance).where(
            ItemMember.item_id.in_(set(mine.values()))
        )
        by_item: dict[int, list[str]] = defaultdict(list)
        for pic, item in mine.items():
            by_item[item].append(pic)
        for other, item, dist in session.execute(q):
            for pic in by_item[item]:
                if other != pic:
                    via[other].setdefault(pic, f"same item #{item} (member distance {dist})")
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    posted = sorted(via)
    for part in chunks(posted):
        mq = (
            select(m.Message, m.Chat.key, m.Chat.title, m.Account.key)
            .join(m.Chat, m.Chat.id == m.Message.chat_id)
            .outerjoin(m.Account, m.Account.id == m.Message.sender_id)
            .where(m.Message.media_sha256.in_(part))
            .order_by(m.Message.time, m.Message.id)
        )
        for msg, chat_key, title, sender in session.execute(mq):
            for pic, how in via[msg.media_sha256 or ""].items():
                out[pic].append(
                    {
                        "message_id": msg.id,
                        "device": msg.device_id,
                        "locator": msg.locator,
                        "chat": chat_key,
                        "chat_title": title,
                        "sender": sender,
                        "time": _utc(msg.time).isoformat(),
                        "media_sha256": msg.media_sha256,
                        "link": how,
                    }
                )
    return out


def _taken_here(session: Session, pics: dict[str, Picture]) -> list[dict[str, Any]]:
    facts = _device_models(session)
    folder: dict[str, list[tuple[Picture, dict[str, Any]]]] = defaultdict(list)
    for pic in pics.values():
        for f in pic.files:
            if in_camera_folder(f["device_path"]):
                folder[f["device"]].append((pic, f))
    flags: list[dict[str, Any]] = []
    for dev in sorted(folder):
        entries = folder[dev]
        basis: str | None = None
        own: list[tuple[str, str, str]] = facts.get(dev, [])
        fallback: tuple[str, str] | None = None
        if not own:
            seen = Counter((_norm(p.make), _norm(p.model)) for p, _ in entries if p.model)
            total = sum(seen.values())
            if seen:
                (top, n) = seen.most_common(1)[0]
                if n * 2 > total:
                    fallback = top
                    basis = f"most common camera in the camera folder ({n} of {total} pictures)"
        for pic, f in entries:
            if own:
                hit = next((fact for fact in own if model_matches(pic.model, fact[1])), None)
                if hit is None:
                    continue
                why = f"EXIF model {pic.model!r} matches device fact {hit[0]} {hit[1]!r} ({hit[2]})"
            elif fallback is not None and (_norm(pic.make), _norm(pic.model)) == fallback:
                why = f"EXIF model {pic.model!r}: {basis}"
            else:
                continue
            flags.append(
                {
                    "device": dev,
                    "sha256": pic.sha256,
                    "locator": f["locator"],
                    "device_path": f["device_path"],
                    "make": pic.make,
                    "model": pic.model,
                    "exif_time": pic.exif_time,
                    "camera_id": pic.camera_id,
                    "basis": why,
                }
            )
    posts = _posts(session, sorted({fl["sha256"] for fl in flags}))
    for fl in flags:
        pic = pics[fl["sha256"]]
        taken = capture_utc(pic.exif_time, pic.exif.get("offset_time_original"), pic.exif.get("gps_time"))
        msgs = posts.get(fl["sha256"], [])
        # "then posted" unless the capture time is known in UTC and every post is earlier than it.
        later = [msg for msg in msgs if taken is None or datetime.fromisoformat(msg["time"]) >= taken]
        fl["captured_utc"] = taken.isoformat() if taken else None
        fl["messages"] = msgs
        fl["flag"] = "taken here, then posted" if later else "taken here"
    return flags


def producer_leads(session: Session) -> Leads:
    return _leads(session, _pictures(session))


def _leads(session: Session, pics: dict[str, Picture]) -> Leads:
    cameras, unlinked = _cameras(pics)
    return Leads(
        cameras=cameras, unlinked=unlinked, places=_places(pics), taken_here=_taken_here(session, pics)
    )


def report_section(session: Session, device: str | None = None) -> dict[str, Any] | None:
    """The report's producer-leads section, or None when no picture carries producer EXIF.

    For one device's report: the cameras that took a picture this device holds (each still with every
    device and file that links it: the link across devices is the lead), the capture places of its
    pictures and its own "taken here" flags; ``scope`` says which."""
    leads = producer_leads(session)
    cams, places, taken, unlinked = leads.cameras, leads.places, leads.taken_here, leads.unlinked
    if device is not None:
        cams = [c for c in cams if device in c["devices"]]
        places = [p for p in places if any(f["device"] == device for f in p["files"])]
        taken = [t for t in taken if t["device"] == device]
        pics = _pictures(session)
        unlinked = [u for u in unlinked if any(f["device"] == device for f in pics[u["sha256"]].files)]
    if not (cams or unlinked or places or taken):
        return None
    return {
        "scope": {"device": device},
        "cameras": cams,
        "unlinked": len(unlinked),
        "places": places,
        "taken_here": taken,
    }


__all__ = [
    "CAMERA_FOLDER",
    "Leads",
    "camera_id",
    "capture_utc",
    "in_camera_folder",
    "model_matches",
    "producer_leads",
    "report_section",
]
