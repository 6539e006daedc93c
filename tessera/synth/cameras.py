"""A synthetic producer-leads case (issue 14): invented cameras, their pictures across seized devices.

Abstract images only (:func:`tessera.synth.images.photo_image` gradients and shapes, small), with EXIF
written by Pillow: make, model, body serial (0xA431), DNG camera serial (0xC62F), lens make/model/serial,
DateTimeOriginal with OffsetTimeOriginal, GPS latitude/longitude/altitude/date/time. Every maker, model,
serial, place and account is invented.

Devices: two phones written as Cellebrite UFDRs (an iPhone whose extraction states its model, and an
Android phone whose model fact is "Galaxy S21 5G (SM-G991B)"), a third phone whose extraction states no
model (so the most common camera of its camera folder stands in), and an SD card folder from a
stand-alone camera. Some of the phones' own pictures are later sent in a WhatsApp chat (the same bytes
under WhatsApp's media folder, the message pointing at them). :class:`Truth` holds the camera links,
capture places and "taken on this phone" flags the analysis must find.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from PIL import Image

from tessera.synth.images import _dms, encode, photo_image
from tessera.synth.ufdr import WA_MEDIA, Account, Chat, Message, Phone, PhoneFile, write_ufdr

IOS_DCIM = "/private/var/mobile/Media/DCIM/100APPLE"
ANDROID_DCIM = "/storage/emulated/0/DCIM/Camera"
ANDROID_WA = "/storage/emulated/0/Android/media/com.whatsapp/WhatsApp/Media/WhatsApp Images"


@dataclass(frozen=True)
class Shot:
    """What a camera writes into one picture (None: the tag is absent)."""

    make: str | None
    model: str | None
    body_serial: str | None = None
    camera_serial: str | None = None  # DNG CameraSerialNumber, IFD0
    lens_make: str | None = None
    lens_model: str | None = None
    lens_serial: str | None = None
    time: str | None = None  # DateTimeOriginal "YYYY:MM:DD HH:MM:SS"
    offset: str | None = None  # OffsetTimeOriginal "+02:00"
    gps: tuple[float, float, float] | None = None  # lat, lon, altitude in metres (negative: below)
    gps_time: datetime | None = None


def exif_block(shot: Shot) -> bytes:
    exif = Image.Exif()
    for tag, value in ((0x010F, shot.make), (0x0110, shot.model), (0xC62F, shot.camera_serial)):
        if value is not None:
            exif[tag] = value
    sub = exif.get_ifd(0x8769)
    for tag, value in (
        (0x9003, shot.time),
        (0x9011, shot.offset),
        (0xA431, shot.body_serial),
        (0xA433, shot.lens_make),
        (0xA434, shot.lens_model),
        (0xA435, shot.lens_serial),
    ):
        if value is not None:
            sub[tag] = value
    if shot.gps is not None:
        lat, lon, alt = shot.gps
        gps = exif.get_ifd(0x8825)
        gps[0] = b"\x02\x03\x00\x00"
        gps[1], gps[2] = ("N" if lat >= 0 else "S"), _dms(lat)
        gps[3], gps[4] = ("E" if lon >= 0 else "W"), _dms(lon)
        gps[5], gps[6] = (b"\x01" if alt < 0 else b"\x00"), round(abs(alt) * 10) / 10
        if shot.gps_time is not None:
            t = shot.gps_time
            gps[7] = (float(t.hour), float(t.minute), float(t.second))
            gps[29] = t.strftime("%Y:%m:%d")
    return exif.tobytes()


def recompressed(data: bytes) -> bytes:
    """``data`` as a messaging app re-sends a picture: decoded, re-encoded at lower quality, no EXIF."""
    with Image.open(io.BytesIO(data)) as im:
        return encode(im.convert("RGB"), "JPEG", quality=55)


def picture(seed: int, shot: Shot) -> bytes:
    """A small abstract JPEG carrying ``shot``'s EXIF."""
    return encode(photo_image(seed, 96, 72), "JPEG", quality=85, exif=exif_block(shot))


#: Invented cameras. NIMBUS and VIREO identify their bodies; KESTREL writes no body serial but its lens's.
NIMBUS = dict(make="Nimbus Optics", model="NX-7", body_serial="NB7-004127", lens_make="Nimbus",
              lens_model="Nimbus 35mm f/1.8", lens_serial="NL-778190")  # fmt: skip
KESTREL = dict(
    make="Kestrel", model="K2 Mirrorless", lens_make="Kestrel", lens_model="KL 50mm", lens_serial="KL-5521"
)
VIREO = dict(make="Vireo", model="V-One", camera_serial="VR1-990017")
IPHONE = dict(
    make="Apple", model="iPhone 13", lens_make="Apple", lens_model="iPhone 13 back dual wide camera"
)
GALAXY = dict(make="samsung", model="SM-G991B")
PIXEL = dict(make="Google", model="Pixel 7")


@dataclass
class Truth:
    #: camera label -> (serial, serial kind, {sha256}, {device})
    cameras: dict[str, tuple[str, str, set[str], set[str]]] = field(default_factory=dict)
    #: sha256 -> (lat, lon, alt) of every picture with GPS
    places: dict[str, tuple[float, float, float]] = field(default_factory=dict)
    #: (device, sha256) -> "taken here" | "taken here, then posted"
    taken_here: dict[tuple[str, str], str] = field(default_factory=dict)
    #: (device, sha256) -> the chat it was posted in
    posted_in: dict[tuple[str, str], str] = field(default_factory=dict)
    #: (device, sha256) of own pictures sent only as a re-encoded copy -> the copy's sha256: "taken here,
    #: then posted" once items are grouped (the copy joins the picture's item), "taken here" before
    via_item: dict[tuple[str, str], str] = field(default_factory=dict)
    #: pictures with make/model and no usable serial: never linked
    unlinked: set[str] = field(default_factory=set)
    #: sha256 -> the raw EXIF written (for "kept raw" checks)
    shots: dict[str, Shot] = field(default_factory=dict)


@dataclass
class Generated:
    root: Path
    devices: dict[str, Path]  # device id -> what to ingest
    truth: Truth


def _when(day: int, hour: int) -> datetime:
    return datetime(2024, 4, 1, tzinfo=UTC) + timedelta(days=day, hours=hour)


def _shot(cam: dict[str, str], day: int, hour: int, place: tuple[float, float, float] | None,
          offset: str | None = "+02:00") -> Shot:  # fmt: skip
    t = _when(day, hour)
    local = t + timedelta(hours=int(offset[:3])) if offset else t
    return Shot(**cam, time=local.strftime("%Y:%m:%d %H:%M:%S"), offset=offset, gps=place,
                gps_time=t if place else None)  # fmt: skip


class _Builder:
    def __init__(self, root: Path) -> None:
        self.root, self.truth, self.seed = root, Truth(), 0

    def add(self, shot: Shot, label: str | None) -> tuple[bytes, str]:
        self.seed += 1
        data = picture(self.seed, shot)
        sha = hashlib.sha256(data).hexdigest()
        self.truth.shots[sha] = shot
        if shot.gps is not None:
            self.truth.places[sha] = shot.gps
        if label is None and (shot.make or shot.model):
            self.truth.unlinked.add(sha)
        return data, sha

    def on(self, label: str | None, sha: str, device: str, shot: Shot) -> None:
        if label is None:
            return
        serial = shot.body_serial or shot.camera_serial or shot.lens_serial or ""
        kind = (
            "body" if shot.body_serial else "body (DNG CameraSerialNumber)" if shot.camera_serial else "lens"
        )
        entry = self.truth.cameras.setdefault(label, (serial, kind, set(), set()))
        entry[2].add(sha)
        entry[3].add(device)


#: (camera label or None when the picture has no serial, camera, device path) of a phone's other pictures.
Extra = list[tuple[str | None, dict[str, str], str]]


def _phone(b: _Builder, device: str, model: str, dcim: str, wa: str, own: dict[str, str], owner: str,
           extra: Extra, fact_model: bool = True, recompress: bool = False) -> Phone:  # fmt: skip
    """A phone with 3 own pictures in its camera folder (the 2nd posted to a chat), and ``extra``
    pictures (label, camera, device path) lying elsewhere or in its camera folder from other cameras."""
    me = Account("WhatsApp", f"{owner}@s.whatsapp.net", "Owner", owner=True)
    friend = Account("WhatsApp", f"{int(owner) + 1}@s.whatsapp.net", "Friend")
    phone = Phone(model=model if fact_model else "", manufacturer="Synth", accounts=[me, friend],
                  serial=f"SER{owner[-6:]}", imei=f"35{owner[-13:]:0>13}")  # fmt: skip
    chat = Chat("WhatsApp", friend.identifier, [me.identifier, friend.identifier])
    phone.chats.append(chat)
    for i in range(3):
        place = (40.0 + i * 0.01 + len(device) * 0.1, -3.7 - i * 0.01, 650.0 + i) if i != 2 else None
        shot = _shot(own, i, 9 + i, place)
        data, sha = b.add(shot, None)  # phones write no serial: never linked to a camera
        path = f"{dcim}/IMG_{i + 1:04d}.JPG"
        phone.files.append(PhoneFile(path, data, mtime=_when(i, 9 + i)))
        flag = "taken here"
        if i == 1:  # sent the next day: the same bytes under WhatsApp's media folder
            sent = f"{wa}/Sent/IMG-20240402-WA{i:04d}.jpg"
            t = _when(i + 1, 8)
            phone.files.append(PhoneFile(sent, data, mtime=t))
            chat.messages.append(
                Message(me.identifier, t, attachment=sent, identifier=f"3EB0{device}{i:010d}")
            )
            flag = "taken here, then posted"
            b.truth.posted_in[(device, sha)] = friend.identifier
        if i == 0 and recompress:  # sent two days later as the app sends it: re-encoded, EXIF stripped
            sent = f"{wa}/Sent/IMG-20240403-WA{i:04d}.jpg"
            t = _when(i + 2, 8)
            copy = recompressed(data)
            phone.files.append(PhoneFile(sent, copy, mtime=t))
            chat.messages.append(
                Message(me.identifier, t, attachment=sent, identifier=f"3EB0{device}R{i:09d}")
            )
            b.truth.via_item[(device, sha)] = hashlib.sha256(copy).hexdigest()
            flag = "taken here, then posted"  # once grouped: the copy is in the picture's item
        b.truth.taken_here[(device, sha)] = flag
    chat.messages.append(Message(friend.identifier, _when(5, 1), body="ok", identifier=f"3EB0{device}X"))
    for n, (label, cam, path) in enumerate(extra):
        shot = _shot(cam, 10 + n, 12, (51.5 + n * 0.01, -0.12, -4.5) if n % 2 == 0 else None, offset=None)
        data, sha = b.add(shot, label)
        b.on(label, sha, device, shot)
        phone.files.append(PhoneFile(path, data, mtime=_when(10 + n, 12)))
    return phone


def generate(root: Path) -> Generated:
    """Write the devices under ``root`` and return them with the ground truth."""
    root.mkdir(parents=True, exist_ok=True)
    b = _Builder(root)
    devices: dict[str, Path] = {}
    no_serial_nimbus = {k: v for k, v in NIMBUS.items() if k not in ("body_serial", "lens_serial")}
    zero_serial = {**no_serial_nimbus, "body_serial": "0000000000"}
    iphone = _phone(b, "PH-IOS", "iPhone 13", IOS_DCIM, f"{WA_MEDIA}/0/00", IPHONE, "34600111001", [
        ("nimbus", NIMBUS, f"{WA_MEDIA}/1/01/IMG-20240411-WA0001.jpg"),  # received, from the DSLR
        ("kestrel", KESTREL, f"{IOS_DCIM}/IMG_0009.JPG"),  # another camera's picture in DCIM: not own
        (None, no_serial_nimbus, f"{WA_MEDIA}/1/02/IMG-20240413-WA0002.jpg"),
    ], recompress=True)  # fmt: skip
    galaxy_model = "Galaxy S21 5G (SM-G991B)"
    galaxy = _phone(b, "PH-AND", galaxy_model, ANDROID_DCIM, ANDROID_WA, GALAXY, "34600222002", [
        ("nimbus", NIMBUS, f"{ANDROID_WA}/IMG-20240421-WA0003.jpg"),
        ("vireo", VIREO, "/storage/emulated/0/Download/VR1_0042.jpg"),
        (None, IPHONE, f"{ANDROID_DCIM}/IMG_7000.JPG"),  # an iPhone picture in a Galaxy's camera folder
    ])  # fmt: skip
    pixel = _phone(b, "PH-NOMODEL", "Pixel 7", ANDROID_DCIM, ANDROID_WA, PIXEL, "34600333003", [
        (None, zero_serial, "/storage/emulated/0/Download/NX7_0000.jpg"),  # a placeholder serial
        ("kestrel", KESTREL, "/storage/emulated/0/Pictures/K2_0100.jpg"),
    ], fact_model=False)  # fmt: skip
    for dev, phone in (("PH-IOS", iphone), ("PH-AND", galaxy), ("PH-NOMODEL", pixel)):
        folder = root / dev
        folder.mkdir(exist_ok=True)
        write_ufdr(phone, folder / f"{dev.lower()}.ufdr")
        devices[dev] = folder
    card = root / "SD-01"
    for n, (label, cam) in enumerate(
        (("nimbus", NIMBUS), ("nimbus", NIMBUS), ("vireo", VIREO), ("kestrel", KESTREL))
    ):
        shot = _shot(cam, 20 + n, 15, (48.85 + n * 0.001, 2.35, 35.0), offset="+01:00")
        data, sha = b.add(shot, label)
        b.on(label, sha, "SD-01", shot)
        path = card / "DCIM" / "100NIMBU" / f"DSC_{n:04d}.JPG"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    devices["SD-01"] = card
    return Generated(root=root, devices=devices, truth=b.truth)


__all__ = ["Generated", "Shot", "Truth", "exif_block", "generate", "picture"]
