"""A synthetic phone, and that phone written as a Cellebrite UFDR (``report.xml`` + ``files/``).

:class:`Phone` describes a seized phone independently of any extraction format: device facts, the
owner's app accounts, chats with their participants and messages, and files with their device paths
(attachments point at files by device path). :func:`write_ufdr` writes it as Physical Analyzer lays
out a UFDR: a zip with ``report.xml`` (namespace ``http://pa.cellebrite.com/report/2.0``: project,
extraction metadata, ``taggedFiles`` mapping device paths to ``files/<Category>/<name>`` members with
SHA-256/MD5 and times, ``decodedData`` with ``Chat``/``InstantMessage``/``Party``/``Attachment`` and
``UserAccount`` models) and the files. The same description can later be written as a full-file-
system zip or a backup by writers of those formats. :func:`example_phone` builds a deterministic
phone with abstract images (``tessera.synth.images``); everything in it is invented.
"""

from __future__ import annotations

import hashlib
import random
import uuid
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from xml.sax.saxutils import quoteattr

from tessera.synth.images import jpeg_bytes

NAMESPACE = "http://pa.cellebrite.com/report/2.0"
WA_MEDIA = "/private/var/mobile/Containers/Shared/AppGroup/3F2A1C9E-0B7D-4E51-9A66-2C4D8E1F0A77/Message/Media"


@dataclass
class PhoneFile:
    device_path: str
    data: bytes
    category: str = "Image"  # the UFDR folder: files/<category>/<name>
    mtime: datetime = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    deleted: bool = False
    content_type: str = "image/jpeg"

    @property
    def name(self) -> str:
        return self.device_path.rsplit("/", 1)[-1]


@dataclass
class Account:
    app: str  # "WhatsApp", "Telegram"
    identifier: str  # as the app writes it: a JID, a numeric Telegram id
    name: str | None = None
    owner: bool = False


@dataclass
class Message:
    sender: str  # an Account identifier
    time: datetime
    body: str | None = None
    attachment: str | None = None  # a PhoneFile device path
    forwarded: bool = False
    identifier: str = ""


@dataclass
class Chat:
    app: str
    chat_id: str
    participants: list[str]
    messages: list[Message] = field(default_factory=list)
    name: str | None = None
    kind: str = "OneOnOne"  # UFED ChatType: OneOnOne | Group


@dataclass
class Phone:
    model: str = "iPhone 13"
    manufacturer: str = "Apple"
    os_version: str = "17.4.1"
    imei: str = "356789104563217"
    serial: str = "F2LZK0Q1N72J"
    extraction_time: str = "14/05/2024 10:15:02(UTC+0)"
    tool_version: str = "7.69.0.21"
    extraction_type: str = "FileSystem"
    accounts: list[Account] = field(default_factory=list)
    chats: list[Chat] = field(default_factory=list)
    files: list[PhoneFile] = field(default_factory=list)

    def account(self, identifier: str) -> Account:
        return next(a for a in self.accounts if a.identifier == identifier)


def _id(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _iso(t: datetime) -> str:
    return t.astimezone(UTC).isoformat(timespec="milliseconds")


def _value(name: str, value: str | None, kind: str = "String") -> str:
    if value is None:
        return f'<field name="{name}" type="{kind}"><empty /></field>'
    if kind == "TimeStamp":
        stamp = f'<value type="TimeStamp" format="TimeStampKnown">{value}</value>'
        return f'<field name="{name}" type="TimeStamp">{stamp}</field>'
    return f'<field name="{name}" type="{kind}"><value type="{kind}"><![CDATA[{value}]]></value></field>'


def _party(rng: random.Random, acc: Account, role: str | None = None) -> str:
    parts = [_value("Identifier", acc.identifier)]
    if role:
        parts.append(_value("Role", role, "PartyRole"))
    parts += [_value("Name", acc.name), _value("IsPhoneOwner", str(acc.owner), "Boolean")]
    return f'<model type="Party" id="{_id(rng)}" deleted_state="Unknown">{"".join(parts)}</model>'


@dataclass
class _Layout:
    """Where each file lies in the zip and the id the report gives it."""

    local: dict[str, str] = field(default_factory=dict)  # device path -> zip member
    ids: dict[str, str] = field(default_factory=dict)  # device path -> file id


def _layout(phone: Phone, rng: random.Random) -> _Layout:
    out = _Layout()
    used: set[str] = set()
    for f in phone.files:
        local = f"files/{f.category}/{f.name}"
        n = 1
        while local in used:  # two device files of one name: UFED numbers the later copy
            n += 1
            stem, dot, ext = f.name.rpartition(".")
            local = f"files/{f.category}/{stem or ext}({n}){dot}{ext if stem else ''}"
        used.add(local)
        out.local[f.device_path] = local
        out.ids[f.device_path] = _id(rng)
    return out


def _header(phone: Phone) -> Iterator[str]:
    yield '<?xml version="1.0" encoding="utf-8"?>\n'
    yield (
        f'<project id="{uuid.UUID(int=7)}" name="Synthetic" reportVersion="5.2.0.0" '
        f'extractionType={quoteattr(phone.extraction_type)} xmlns="{NAMESPACE}">\n'
    )
    yield (
        '<sourceExtractions><extractionInfo id="0" name="File System" type="FileSystem" index="0" />'
        "</sourceExtractions>\n"
    )
    yield '<metadata section="Extraction Data">'
    for name, value in (
        ("DeviceInfoExtractionStartDateTime", phone.extraction_time),
        ("DeviceInfoUnitVersion", phone.tool_version),
        ("DeviceInfoSelectedManufacturer", phone.manufacturer),
        ("DeviceInfoSelectedDeviceName", phone.model),
    ):
        yield f'<item name="{name}" sourceExtraction="0"><![CDATA[{value}]]></item>'
    yield '</metadata>\n<metadata section="Device Info">'
    for name, value in (
        ("DeviceInfoDetectedPhoneModel", phone.model),
        ("DeviceInfoDetectedPhoneVendor", phone.manufacturer),
        ("DeviceInfoOSVersion", phone.os_version),
        ("IMEI", phone.imei),
        ("Serial Number", phone.serial),
    ):
        yield f'<item name="{name}" sourceExtraction="0"><![CDATA[{value}]]></item>'
    yield "</metadata>\n"


def _tagged(phone: Phone, lay: _Layout) -> Iterator[str]:
    yield "<taggedFiles>\n"
    for f in phone.files:
        t = _iso(f.mtime)
        yield (
            f'<file fs="Synthetic iPhone" path={quoteattr(f.device_path)} size="{len(f.data)}" '
            f'id="{lay.ids[f.device_path]}" deleted="{"Deleted" if f.deleted else "Intact"}" '
            'embedded="false">'
            f'<accessInfo><timestamp name="CreationTime">{t}</timestamp>'
            f'<timestamp name="ModifyTime">{t}</timestamp></accessInfo>'
            '<metadata section="File">'
            f'<item name="Local Path"><![CDATA[{lay.local[f.device_path].replace("/", chr(92))}]]></item>'
            f'<item name="SHA256"><![CDATA[{hashlib.sha256(f.data).hexdigest().upper()}]]></item>'
            f'<item name="MD5"><![CDATA[{hashlib.md5(f.data).hexdigest()}]]></item>'  # noqa: S324 - as UFED writes
            "</metadata></file>\n"
        )
    yield "</taggedFiles>\n"


def _message(phone: Phone, chat: Chat, msg: Message, lay: _Layout, rng: random.Random) -> str:
    sender = phone.account(msg.sender)
    parts = [
        _value("Source", chat.app),
        f'<modelField name="From" type="Party">{_party(rng, sender, "From")}</modelField>',
        _value("Body", msg.body),
        _value("Identifier", msg.identifier or None),
        _value("TimeStamp", _iso(msg.time), "TimeStamp"),
    ]
    atts = ""
    if msg.attachment is not None:
        f = next(x for x in phone.files if x.device_path == msg.attachment)
        atts = (
            f'<model type="Attachment" id="{_id(rng)}" deleted_state="Intact" '
            f'file_id="{lay.ids[f.device_path]}">'
            + _value("Filename", f.name)
            + _value("ContentType", f.content_type)
            + f'<dataField name="Data" type="MemoryRange"><source length="{len(f.data)}" /></dataField>'
            + _value("attachment_extracted_path", lay.local[f.device_path].replace("/", "\\"))
            + "</model>"
        )
    parts.append(f'<multiModelField name="Attachments" type="Attachment">{atts}</multiModelField>')
    if msg.forwarded:
        label = f'<model type="MessageLabel" id="{_id(rng)}">{_value("Label", "Forwarded", "Label")}</model>'
        parts.append(
            '<multiModelField name="MessageExtraData" type="InstantMessageExtraData">'
            f"{label}</multiModelField>"
        )
    parts.append(_value("SourceApplication", chat.app))
    return f'<model type="InstantMessage" id="{_id(rng)}" deleted_state="Intact">{"".join(parts)}</model>\n'


def _decoded(phone: Phone, lay: _Layout, rng: random.Random) -> Iterator[str]:
    yield '<decodedData>\n<modelType type="Chat">\n'
    for chat in phone.chats:
        parties = "".join(_party(rng, phone.account(p)) for p in chat.participants)
        yield (
            f'<model type="Chat" id="{_id(rng)}" deleted_state="Intact">'
            + _value("Source", chat.app)
            + _value("Id", chat.chat_id)
            + _value("Name", chat.name)
            + _value("ChatType", chat.kind, "ChatType")
            + f'<multiModelField name="Participants" type="Party">{parties}</multiModelField>'
            + '<multiModelField name="Messages" type="InstantMessage">\n'
        )
        for msg in chat.messages:
            yield _message(phone, chat, msg, lay, rng)
        yield "</multiModelField></model>\n"
    yield '</modelType>\n<modelType type="UserAccount">\n'
    for acc in phone.accounts:
        if acc.owner:
            yield (
                f'<model type="UserAccount" id="{_id(rng)}" deleted_state="Intact">'
                + _value("Source", acc.app)
                + _value("Name", acc.name)
                + _value("Username", acc.identifier)
                + "</model>\n"
            )
    yield "</modelType>\n</decodedData>\n</project>\n"


def report_xml(phone: Phone, seed: int = 0) -> Iterator[str]:
    """The text of the phone's ``report.xml``, in pieces (a big phone is never one string)."""
    rng = random.Random(seed)
    lay = _layout(phone, rng)
    yield from _header(phone)
    yield from _tagged(phone, lay)
    yield from _decoded(phone, lay, rng)


def write_ufdr(
    phone: Phone,
    path: str | Path,
    *,
    seed: int = 0,
    missing: frozenset[str] = frozenset(),
    extra: dict[str, bytes] | None = None,
    break_report_at: int | None = None,
) -> Path:
    """Write ``phone`` as a UFDR at ``path``. ``missing``: device paths listed in the report but left
    out of the zip; ``extra``: untagged members (name -> bytes); ``break_report_at``: cut the report
    at that character and append a stray ``<`` (a report whose XML breaks there)."""
    out = Path(path)
    lay = _layout(phone, random.Random(seed))
    text = "".join(report_xml(phone, seed))
    if break_report_at is not None:
        text = text[:break_report_at] + "<<"
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for f in phone.files:
            if f.device_path not in missing:
                zf.writestr(lay.local[f.device_path], f.data)
        for name, data in (extra or {}).items():
            zf.writestr(name, data)
        zf.writestr("report.xml", text.encode("utf-8"))
    return out


def example_phone(seed: int = 1, chats: int = 3, messages: int = 6) -> Phone:
    """A deterministic iPhone with a WhatsApp owner, contacts, chats (one a group) and images."""
    rng = random.Random(seed)
    base = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)
    owner = Account("WhatsApp", "34600000001@s.whatsapp.net", "Owner Synth", owner=True)
    people = [
        Account("WhatsApp", f"3460000{1000 + i:04d}@s.whatsapp.net", f"Contact {i}") for i in range(chats + 1)
    ]
    tg_owner = Account("Telegram", "5000000001", "Owner TG", owner=True)
    tg_friend = Account("Telegram", "5000000777", "TG Friend")
    phone = Phone(accounts=[owner, *people, tg_owner, tg_friend])
    n = 0
    for c in range(chats):
        group = c == chats - 1
        members = [owner.identifier, *(p.identifier for p in (people if group else [people[c]]))]
        chat_id = f"1203630{seed:03d}{c:05d}@g.us" if group else people[c].identifier
        chat = Chat(
            "WhatsApp",
            chat_id,
            members,
            name=f"Group {c}" if group else None,
            kind="Group" if group else "OneOnOne",
        )
        for i in range(messages):
            n += 1
            t = base + timedelta(hours=n, seconds=rng.randrange(3600))
            sender = members[i % len(members)]
            msg = Message(sender, t, body=f"synthetic message {n}", identifier=f"3EB0{n:016X}")
            if i % 3 == 2:
                img = PhoneFile(
                    f"{WA_MEDIA}/{n % 10}/{n:04d}/IMG-{n:04d}.jpg",
                    jpeg_bytes(seed * 1000 + n, 64, 48),
                    mtime=t,
                )
                phone.files.append(img)
                msg.body, msg.attachment = None, img.device_path
            chat.messages.append(msg)
        phone.chats.append(chat)
    tg = Chat("Telegram", "5000000777", [tg_owner.identifier, tg_friend.identifier])
    for i in range(3):
        n += 1
        sender = (tg_owner, tg_friend)[i % 2].identifier
        tg.messages.append(
            Message(sender, base + timedelta(days=2, minutes=i), body=f"tg {i}", identifier=f"5000000777:{i}")
        )
    phone.chats.append(tg)
    phone.files.append(
        PhoneFile("/private/var/mobile/Media/DCIM/100APPLE/IMG_0001.JPG", jpeg_bytes(seed, 80, 60))
    )
    return phone


def expected_messages(phone: Phone) -> int:
    return sum(len(c.messages) for c in phone.chats)


__all__ = ["Account", "Chat", "Message", "Phone", "PhoneFile", "example_phone", "report_xml", "write_ufdr"]
