"""One synthetic iPhone, written three ways: a Cellebrite-style full-file-system zip, an iTunes/Finder
backup (plain or encrypted) and a Cellebrite UFDR.

The phone is built once (:func:`build_iphone`): WhatsApp's app-group container as
:func:`tessera.synth.chatstorage.write_chatstorage` writes it (``ChatStorage.sqlite``,
``ContactsV2.sqlite``, media under ``Message/Media/...``), a few other apps' files, and the device's
facts, described as a format-independent :class:`tessera.synth.ufdr.Phone` whose files carry their
device paths and whose chats are the decoded WhatsApp data of that same database (what Physical
Analyzer shows). Each writer then packs the same files:

- :func:`write_ffs_zip`: members under ``filesystem2/`` (= ``/private/var``) or
  ``filesystem1/private/var/`` as Cellebrite writes a full file system;
- :func:`write_iphone_backup`: :func:`tessera.synth.backups.write_backup` with each file in its
  domain (WhatsApp's in ``AppDomainGroup-group.net.whatsapp.WhatsApp.shared``), facts in Info.plist;
- :func:`write_iphone_ufdr`: :func:`tessera.synth.ufdr.write_ufdr`: ``report.xml`` with the
  decoded chats and every file tagged at its device path (``ChatStorage.sqlite`` included, as real
  UFDRs hold it), optionally with messages only the report has (a deleted message the tool carved).

On the phone an app's container folder is a random UUID; a backup names it by its group or bundle
id instead (:func:`backup_device_path`). The report decodes the user's messages (text, media with
their files, locations); group and status events and media whose file was never downloaded are
left out of it, as a decoding may hold less than the database.
"""

from __future__ import annotations

import copy
import sqlite3
import tempfile
import zipfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from tessera.synth.backups import WHATSAPP_GROUP, Written, write_backup
from tessera.synth.chatstorage import Truth, write_chatstorage
from tessera.synth.images import jpeg_bytes
from tessera.synth.ufdr import Account, Chat, Message, Phone, PhoneFile, write_ufdr

CORE_DATA_EPOCH = 978307200
MOBILE = "/private/var/mobile"
WA_UUID = "3F2A1C9E-0B7D-4E51-9A66-2C4D8E1F0A77"
NOTES_UUID = "8D1E0C55-4B7A-4C2E-9F10-6A3B2D4E5F61"
WA_GROUP = WHATSAPP_GROUP.removeprefix("AppDomainGroup-")
NOTES_BUNDLE = "com.example.notes"
WA_CONTAINER = f"{MOBILE}/Containers/Shared/AppGroup/{WA_UUID}"
NOTES_CONTAINER = f"{MOBILE}/Containers/Data/Application/{NOTES_UUID}"
#: Container folder on the phone -> (backup domain, the folder's name in a backup's device paths).
CONTAINERS: dict[str, tuple[str, str]] = {
    WA_CONTAINER: (WHATSAPP_GROUP, f"{MOBILE}/Containers/Shared/AppGroup/{WA_GROUP}"),
    NOTES_CONTAINER: (f"AppDomain-{NOTES_BUNDLE}", f"{MOBILE}/Containers/Data/Application/{NOTES_BUNDLE}"),
}
LAYOUTS = ("filesystem2", "filesystem1")


@dataclass
class IPhone:
    """The phone: its description (facts, files with device paths, decoded chats) and the ground
    truth of its WhatsApp database."""

    phone: Phone
    truth: Truth
    #: Z_PK of the ZWAMESSAGE rows the report leaves out (group and status events, media without a file).
    not_decoded: list[int] = field(default_factory=list)

    @property
    def files(self) -> list[PhoneFile]:
        return self.phone.files


def _category(path: str) -> tuple[str, str]:
    """(UFDR folder, content type) of a file, by its extension."""
    ext = path.rsplit(".", 1)[-1].lower()
    if ext in ("jpg", "jpeg"):
        return "Image", "image/jpeg"
    if ext in ("sqlite", "db"):
        return "Database", "application/x-sqlite3"
    if ext == "plist":
        return "Configuration", "application/x-plist"
    return "Text", "text/plain"


def _file(device_path: str, data: bytes) -> PhoneFile:
    category, ctype = _category(device_path)
    return PhoneFile(device_path, data, category=category, content_type=ctype)


def _decode(db: Path, truth: Truth, phone: Phone, names: dict[str, str]) -> list[int]:
    """The database's chats as Physical Analyzer decodes them: chats, participants, the user's
    messages. Returns the Z_PK of the rows left out (events, media without a file)."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        sessions = conn.execute(
            "SELECT Z_PK, ZCONTACTJID, ZPARTNERNAME, ZSESSIONTYPE FROM ZWACHATSESSION ORDER BY Z_PK"
        ).fetchall()
        members: dict[int, list[str]] = {}
        member_jid: dict[int, str] = {}
        for pk, session, jid in conn.execute(
            "SELECT Z_PK, ZCHATSESSION, ZMEMBERJID FROM ZWAGROUPMEMBER ORDER BY Z_PK"
        ):
            member_jid[pk] = jid
            if jid not in members.setdefault(session, []):
                members[session].append(jid)
        rows = conn.execute(
            "SELECT m.Z_PK, m.ZCHATSESSION, m.ZISFROMME, m.ZMESSAGETYPE, m.ZGROUPMEMBER, m.ZMESSAGEDATE, "
            "m.ZFROMJID, m.ZTEXT, m.ZSTANZAID, i.ZMEDIALOCALPATH FROM ZWAMESSAGE m "
            "LEFT JOIN ZWAMEDIAITEM i ON i.Z_PK = m.ZMEDIAITEM ORDER BY m.Z_PK"
        ).fetchall()
    finally:
        conn.close()
    owner = Account("WhatsApp", truth.owner, names.get(truth.owner), owner=True)
    accounts: dict[str, Account] = {truth.owner: owner}

    def account(jid: str) -> str:
        if jid not in accounts:
            accounts[jid] = Account("WhatsApp", jid, names.get(jid))
        return jid

    chats: dict[int, Chat] = {}
    for pk, jid, title, stype in sessions:
        if stype == 1:
            parts = [account(j) for j in members.get(pk, [])]
            chats[pk] = Chat("WhatsApp", jid, parts, name=title, kind="Group")
        else:
            chats[pk] = Chat("WhatsApp", jid, [truth.owner, account(jid)], kind="OneOnOne")
    left_out: list[int] = []
    planted = {p for p, sha in truth.media_paths.items() if sha}
    for pk, session, from_me, mtype, member, date, from_jid, text, stanza, path in rows:
        chat = chats.get(session)
        if chat is None or date is None or mtype in (6, 10) or (mtype == 1 and path not in planted):
            left_out.append(pk)
            continue
        if from_me:
            sender = truth.owner
        elif member:
            sender = account(member_jid[member])
        else:
            sender = account(from_jid or chat.chat_id)
        when = datetime.fromtimestamp(date + CORE_DATA_EPOCH, UTC)
        attachment = f"{WA_CONTAINER}/Message/{path}" if path in planted else None
        chat.messages.append(Message(sender, when, body=text, attachment=attachment, identifier=stanza or ""))
    phone.accounts = list(accounts.values())
    phone.chats = list(chats.values())
    return left_out


def _move_to_wal(db: Path, n: int) -> None:
    """Leave the last ``n`` message rows only in a ``-wal`` beside the database: deleted from the
    main file, then inserted again in WAL mode, and both files kept as they are before a checkpoint."""
    conn = sqlite3.connect(db)
    rows = conn.execute(f"SELECT * FROM ZWAMESSAGE ORDER BY Z_PK DESC LIMIT {int(n)}").fetchall()
    conn.execute("DELETE FROM ZWAMESSAGE WHERE Z_PK >= ?", (min(r[0] for r in rows),))
    conn.commit()
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA wal_autocheckpoint = 0")
    conn.executemany(f"INSERT INTO ZWAMESSAGE VALUES ({', '.join('?' * len(rows[0]))})", rows)
    conn.commit()
    wal = db.with_name(db.name + "-wal")
    kept = {p: p.read_bytes() for p in (db, wal)}  # before close() checkpoints the WAL away
    conn.close()
    for p, data in kept.items():
        p.write_bytes(data)
    db.with_name(db.name + "-shm").unlink(missing_ok=True)


def build_iphone(
    *,
    seed: int = 0,
    n_messages: int = 120,
    n_groups: int = 2,
    n_private: int = 3,
    members_per_group: int = 4,
    lids: bool = True,
    in_wal: int = 0,
) -> IPhone:
    """A deterministic iPhone with WhatsApp (owner ``phone_jid(0)``), media, and other apps' files.
    ``lids``: with WhatsApp's ``LID.sqlite`` (as newer versions have it; the writer plants one row
    whose number is no number, so the database's source is then ``partial``). ``in_wal``: the last
    messages committed in ``ChatStorage.sqlite-wal`` only (the phone seized with WhatsApp running)."""
    phone = Phone(model="iPhone 12", os_version="17.4", imei="356789104563217", serial="F2LZK0Q1N72J")
    with tempfile.TemporaryDirectory(prefix="tessera-iphone-") as tmp:
        folder = Path(tmp)
        truth = write_chatstorage(
            folder,
            n_messages=n_messages,
            n_groups=n_groups,
            n_private=n_private,
            members_per_group=members_per_group,
            seed=seed,
            plant_media=True,
            lids=lids,
        )
        if in_wal:
            _move_to_wal(truth.path, in_wal)
        for p in sorted(q for q in folder.rglob("*") if q.is_file()):
            phone.files.append(_file(f"{WA_CONTAINER}/{p.relative_to(folder).as_posix()}", p.read_bytes()))
        names = {**truth.push_names, **truth.contacts}  # the address book's name first, as the app shows
        left_out = _decode(truth.path, truth, phone, names)
    truth.path = Path(f"{WA_CONTAINER}/ChatStorage.sqlite")  # the folder it was written in is gone
    phone.files += [
        _file(f"{MOBILE}/Media/DCIM/100APPLE/IMG_0001.JPG", jpeg_bytes(seed + 1, 80, 60)),
        _file(f"{MOBILE}/Library/Preferences/com.example.synthetic.plist", b"<plist><dict/></plist>\n"),
        _file(f"{NOTES_CONTAINER}/Documents/notes.txt", b"shopping list: nothing of interest\n"),
    ]
    return IPhone(phone, truth, left_out)


def backup_device_path(device_path: str) -> str:
    """The device path a backup gives the file: its container named by group or bundle id."""
    for container, (_domain, named) in CONTAINERS.items():
        if device_path.startswith(container + "/"):
            return named + device_path[len(container) :]
    return device_path


def _backup_entry(device_path: str) -> tuple[str, str]:
    """(domain, relativePath) of a device path, as iOS backs it up."""
    for container, (domain, _named) in CONTAINERS.items():
        if device_path.startswith(container + "/"):
            return domain, device_path[len(container) + 1 :]
    rel = device_path.removeprefix(MOBILE + "/")
    if rel == device_path:
        raise ValueError(f"{device_path}: no backup domain holds it")
    return ("CameraRollDomain" if rel.startswith("Media/DCIM/") else "HomeDomain"), rel


def member_name(device_path: str, layout: str = "filesystem2") -> str:
    """The zip member of a device path in a Cellebrite full-file-system layout."""
    if layout == "filesystem2":
        return "filesystem2/" + device_path.removeprefix("/private/var/")
    if layout == "filesystem1":
        return "filesystem1" + device_path
    raise ValueError(f"unknown layout {layout!r}")


def write_ffs_zip(iphone: IPhone, path: Path, layout: str = "filesystem2") -> Path:
    """The phone as a full-file-system zip (``filesystem2/`` or ``filesystem1/private/var/``)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for f in iphone.files:
            info = zipfile.ZipInfo(member_name(f.device_path, layout), f.mtime.timetuple()[:6])
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, f.data)
    return path


def write_iphone_backup(iphone: IPhone, dest: Path, password: str | None = None) -> Written:
    """The phone as an iTunes/Finder backup folder ``dest`` (encrypted when ``password`` is given),
    its facts in Info.plist."""
    p = iphone.phone
    info = {
        "Product Name": p.model,
        "Product Version": p.os_version,
        "Serial Number": p.serial,
        "IMEI": p.imei,
    }
    entries = [(*_backup_entry(f.device_path), f.data) for f in iphone.files]
    return write_backup(dest, entries, password=password, info=info)


def write_iphone_ufdr(
    iphone: IPhone,
    path: Path,
    report_only: list[tuple[str, Message]] | None = None,
    root: str = "/private/var",
) -> Path:
    """The phone as a UFDR. ``report_only``: (chat id, message) pairs the report holds and the
    database does not (a message the tool carved from free pages). ``root``: what the report writes
    for ``/private/var`` (Physical Analyzer versions write ``/private/var``, ``/var`` or nothing)."""
    phone = iphone.phone
    if report_only or root != "/private/var":
        phone = copy.deepcopy(phone)
        for chat_id, msg in report_only or []:
            next(c for c in phone.chats if c.chat_id == chat_id).messages.append(msg)

        def moved(device_path: str) -> str:
            return root + device_path.removeprefix("/private/var")

        for f in phone.files:
            f.device_path = moved(f.device_path)
        for chat in phone.chats:
            for msg in chat.messages:
                msg.attachment = moved(msg.attachment) if msg.attachment else None
    return write_ufdr(phone, path)


def decoded_messages(iphone: IPhone) -> int:
    return sum(len(c.messages) for c in iphone.phone.chats)


__all__ = [
    "IPhone",
    "backup_device_path",
    "build_iphone",
    "decoded_messages",
    "member_name",
    "write_ffs_zip",
    "write_iphone_backup",
    "write_iphone_ufdr",
]
