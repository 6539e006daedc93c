"""A synthetic Telegram for Android ``cache4.db`` with TL-serialised bodies, and its ground truth.

``write_cache4`` writes users, a basic group, a supergroup and a broadcast channel, and ``n``
messages cycling through private messages both ways, group messages, channel posts, forwarded
messages (from a user and from a channel post), replies, photos and documents (file, video, voice),
a group-creation service message and a secret-chat message; with ``faults`` also a message whose
media has an unknown constructor and a truncated blob. Two eras: ``messages_v2`` (64-bit ids, layer
135 objects, ``user_version`` 110) and ``messages`` (32-bit ids, layer 72 objects, 78), text, forwards
and service messages only in the older one. ``owner_prefs`` writes the owner's ``userconfig`` file.

The writer is an independent TL encoder, so a round trip checks the reader against layouts written
out from ``TLRPC.java`` here, not against itself. Everything is invented: names, numbers, texts.
"""

from __future__ import annotations

import base64
import sqlite3
import struct
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

OWNER = 1000001
USERS = {OWNER: ("Ana", "Owner", "anaowner", "34600000001")} | {
    1000000 + i: (f"Person{i}", "Test", f"person{i}", f"3460000000{i}") for i in range(2, 7)
}
GROUP, SUPERGROUP, CHANNEL = 2001, 3001, 3002
SECRET_CHAT = 77
SECRET_PEER = 1000002  # the other party of the secret chat
GONE_CHAT = 1000099  # a private chat in the chat list whose messages were all deleted
T0 = 1_700_000_000
#: Where the app keeps the files it sends and receives (``attachPath`` is absolute on the device).
STORAGE = "/storage/emulated/0/Telegram"
_DDL = {
    "messages_v2": "CREATE TABLE messages_v2(mid INTEGER, uid INTEGER, read_state INTEGER, "
    "send_state INTEGER, date INTEGER, data BLOB, out INTEGER, ttl INTEGER, media INTEGER, "
    "replydata BLOB, imp INTEGER, "
    "mention INTEGER, forwards INTEGER, replies_data BLOB, thread_reply_id INTEGER, is_channel INTEGER, "
    "PRIMARY KEY(mid, uid))",
    "messages": "CREATE TABLE messages(mid INTEGER PRIMARY KEY, uid INTEGER, read_state INTEGER, "
    "send_state INTEGER, date INTEGER, data BLOB, out INTEGER, ttl INTEGER, media INTEGER, replydata BLOB, "
    "imp INTEGER, mention INTEGER, forwards INTEGER, replies_data BLOB, thread_reply_id INTEGER)",
}
_COMMON_DDL = (
    "CREATE TABLE users(uid INTEGER PRIMARY KEY, name TEXT, status INTEGER, data BLOB)",
    "CREATE TABLE chats(uid INTEGER PRIMARY KEY, name TEXT, data BLOB)",
    "CREATE TABLE enc_chats(uid INTEGER PRIMARY KEY, user INTEGER, name TEXT, data BLOB)",
    "CREATE TABLE dialogs(did INTEGER PRIMARY KEY, date INTEGER, unread_count INTEGER, last_mid INTEGER)",
    "CREATE TABLE user_contacts_v7(key TEXT PRIMARY KEY, uid INTEGER, fname TEXT, sname TEXT, "
    "imported INTEGER)",
    "CREATE TABLE user_phones_v7(key TEXT, phone TEXT, sphone TEXT, deleted INTEGER, "
    "PRIMARY KEY (key, phone))",
)
#: The address book Telegram imported: (key, uid, first, last, [(phone as written, deleted)]). One
#: contact on Telegram, one only a number (a deleted second number), one with neither.
CONTACTS: tuple[tuple[str, int, str, str, list[tuple[str, int]]], ...] = (
    ("c1", 1000002, "Bea", "Saved", [("+34 600 000 002", 0)]),
    ("c2", 0, "Not", "OnTelegram", [("+34 611 111 111", 0), ("+34 622 222 222", 1)]),
    ("c3", 0, "Name", "Only", []),
)


class W:
    """TL writer: the mirror image of the reader, written from the layouts, not from the reader."""

    def __init__(self) -> None:
        self.b = bytearray()

    def i32(self, v: int) -> W:
        self.b += struct.pack("<i", v)
        return self

    def u32(self, v: int) -> W:
        self.b += struct.pack("<I", v)
        return self

    def i64(self, v: int) -> W:
        self.b += struct.pack("<q", v)
        return self

    def s(self, v: str | bytes) -> W:
        data = v.encode() if isinstance(v, str) else v
        head = bytes([len(data)]) if len(data) < 254 else b"\xfe" + len(data).to_bytes(3, "little")
        self.b += head + data
        self.b += b"\x00" * ((4 - (len(head) + len(data)) % 4) % 4)
        return self

    def vec(self, items: list[Any], put: Any) -> W:
        self.u32(0x1CB5C415).i32(len(items))
        for it in items:
            put(self, it)
        return self

    def peer(self, kind: str, pid: int, wide: bool) -> W:
        cids = {
            "user": (0x59511722, 0x9DB1BC6D),
            "chat": (0x36C6019A, 0xBAD0E5BB),
            "channel": (0xA2A5371E, 0xBDDDE532),
        }
        self.u32(cids[kind][0 if wide else 1])
        return self.i64(pid) if wide else self.i32(pid)


def user_blob(uid: int, wide: bool, is_self: bool = False) -> bytes:
    first, last, username, phone = USERS[uid]
    flags = 1 | 2 | 4 | 8 | 16 | (1024 if is_self else 0)
    w = W().u32(0x3FF6ECB0 if wide else 0x938458C1).i32(flags)
    (w.i64(uid) if wide else w.i32(uid)).i64(uid * 7)
    return bytes(w.s(first).s(last).s(username).s(phone).b)


def chat_blob(kind: str, cid: int, title: str, wide: bool, broadcast: bool = False) -> bytes:
    if kind == "chat":
        w = W().u32(0x41CBF256 if wide else 0x3BDA1BDE).i32(0)
        (w.i64(cid) if wide else w.i32(cid)).s(title)
        return bytes(w.u32(0x37C1011C).i32(3).i32(T0).i32(1).b)  # chatPhotoEmpty, count, date, version
    flags = (1 << 13) | (32 if broadcast else 256)
    w = W().u32(0x8261AC61 if wide else 0xD31A961E).i32(flags)
    (w.i64(cid) if wide else w.i32(cid)).i64(cid * 11).s(title)
    return bytes(w.u32(0x37C1011C).i32(T0).b)


@dataclass
class Msg:
    """One message as written, and what a reader must find in it."""

    mid: int
    uid: int  # dialog id
    date: int
    out: bool
    chat: str
    sender: str | None
    text: str
    kind: str = "text"
    forwarded_from: str | None = None
    action: str | None = None
    targets: list[str] = field(default_factory=list)
    media: dict[str, Any] = field(default_factory=dict)
    reply_to: int | None = None
    blob: bytes = b""


def _photo_media(w: W, pid: int) -> None:
    w.u32(0x695150D7).i32(1).u32(0xFB197A65).i32(0).i64(pid).i64(pid * 3).s(b"\x01" * 20).i32(T0)
    w.vec(
        [("s", 90, 60, 1500), ("y", 1280, 853, 98765)],
        lambda x, p: x.u32(0x75C78E60).s(p[0]).i32(p[1]).i32(p[2]).i32(p[3]),
    )
    w.i32(2)  # dc_id


def _doc_media(w: W, did: int, mime: str, size: int, attrs: list[tuple[str, Any]], flags: int = 1) -> None:
    w.u32(0x9CB070D7).i32(flags).u32(0x8FD4C4D8).i32(0).i64(did).i64(did * 5).s(b"\x02" * 20).i32(T0)
    w.s(mime).i64(size).i32(4)

    def put(x: W, a: tuple[str, Any]) -> None:
        if a[0] == "file":
            x.u32(0x15590068).s(a[1])
        elif a[0] == "video":
            x.u32(0xD38FF1C2).i32(0).b.extend(struct.pack("<d", 12.5))
            x.i32(640).i32(480)
        elif a[0] == "audio":
            x.u32(0x9852F9C6).i32(1024 | 4).i32(7).s(b"\x10" * 12)

    w.vec(attrs, put)


def _message(m: Msg, wide: bool, spec: dict[str, Any], attach: str = " ") -> bytes:
    """A ``TL_message`` of layer 135 (wide) or 72, with Telegram's local attach path after it."""
    flags = (2 if m.out else 0) | (256 if spec.get("from") else 0) | (4 if "fwd" in spec else 0)
    flags |= (8 if m.reply_to else 0) | (512 if "media" in spec else 0) | (128 if spec.get("bold") else 0)
    flags |= 16384 if spec.get("post") else 0
    w = W().u32(0x38116EE0 if wide else 0x90DDDC11).i32(flags).i32(m.mid)
    if spec.get("from"):
        kind, pid = spec["from"]
        w.peer(kind, pid, True) if wide else w.i32(pid)
    w.peer(spec["peer"][0], spec["peer"][1], wide)
    if "fwd" in spec:
        fkind, fid, fdate, post = spec["fwd"]
        if wide:
            w.u32(0x5F777DCE).i32(1 | (4 if post else 0)).peer(fkind, fid, True).i32(fdate)
        else:  # layer 72: a user as from_id, a channel as channel_id
            ff = (1 if fkind == "user" else 2) | (4 if post else 0)
            w.u32(0x559EBE6D).i32(ff)
            if fkind == "user":
                w.i32(fid)
            w.i32(fdate)
            if fkind == "channel":
                w.i32(fid)
        if post:
            w.i32(post)
    if m.reply_to:
        w.u32(0xA6D57763).i32(0).i32(m.reply_to) if wide else w.i32(m.reply_to)
    w.i32(m.date).s(m.text)
    if "media" in spec:
        spec["media"](w)
    if spec.get("bold"):
        w.vec([0], lambda x, _i: x.u32(0xBD610BC9).i32(0).i32(4))
    return bytes(w.s(attach).b)  # the local attach path, as writeAttachPath appends it


def _service(m: Msg, wide: bool, users: list[int]) -> bytes:
    w = W().u32(0x2B085862 if wide else 0x9E19A1F6).i32(256 | (2 if m.out else 0)).i32(m.mid)
    w.peer("user", OWNER, True) if wide else w.i32(OWNER)
    w.peer("chat", GROUP, wide).i32(m.date)
    w.u32(0xBD47CBAD if wide else 0xA6638B9A).s(m.text)
    w.vec(users, lambda x, u: x.i64(u) if wide else x.i32(u))
    return bytes(w.b)


def _secret(m: Msg, other: int) -> bytes:
    w = W().u32(0x555555FA).i32(2 | 256 | 512).i32(m.mid).i32(0).i32(OWNER).peer("user", other, False)
    w.i32(m.date).s(m.text).u32(0x3DED6320).vec([], None)
    return bytes(w.s("").b)


def build(n: int, wide: bool) -> list[Msg]:
    """``n`` messages cycling through the shapes above (see the module docstring)."""
    others = [u for u in USERS if u != OWNER]
    out: list[Msg] = []
    for i in range(n):
        date, mid, shape = T0 + 60 * i, 100 + i, i % (12 if wide else 7)
        a = others[i % len(others)]
        if shape == 0:
            m = Msg(mid, a, date, True, f"user{a}", f"user{OWNER}", f"hello {i}")
            spec: dict[str, Any] = {"from": ("user", OWNER), "peer": ("user", a), "bold": wide}
        elif shape == 1:
            m = Msg(mid, a, date, False, f"user{a}", f"user{a}", f"reply {i}", reply_to=mid - 1)
            spec = {"peer": ("user", a)}  # no from_id: the other party of a private chat
        elif shape == 2:
            m = Msg(mid, -GROUP, date, False, f"chat{GROUP}", f"user{a}", f"group text {i}")
            spec = {"from": ("user", a), "peer": ("chat", GROUP)}
        elif shape == 3:
            m = Msg(mid, -SUPERGROUP, date, False, f"channel{SUPERGROUP}", f"user{a}", f"super {i}")
            spec = {"from": ("user", a), "peer": ("channel", SUPERGROUP)}
        elif shape == 4:
            m = Msg(mid, -CHANNEL, date, False, f"channel{CHANNEL}", f"channel{CHANNEL}", f"post {i}")
            spec = {"peer": ("channel", CHANNEL), "post": True}
        elif shape == 5:
            m = Msg(mid, a, date, True, f"user{a}", f"user{OWNER}", f"fwd post {i}")
            m.forwarded_from = f"channel{CHANNEL}"
            spec = {"from": ("user", OWNER), "peer": ("user", a), "fwd": ("channel", CHANNEL, date - 3600, 9)}
        elif shape == 6:
            m = Msg(mid, -GROUP, date, True, f"chat{GROUP}", f"user{OWNER}", f"Group {i}", kind="system")
            m.action, m.targets = "created", [f"user{u}" for u in others[:2]]
            m.blob = _service(m, wide, others[:2])
            out.append(m)
            continue
        elif shape == 7:
            m = Msg(mid, -GROUP, date, False, f"chat{GROUP}", f"user{a}", "fwd from a person")
            m.forwarded_from = f"user{others[0]}"
            spec = {"from": ("user", a), "peer": ("chat", GROUP), "fwd": ("user", others[0], date - 60, 0)}
        elif shape == 8:
            m = Msg(mid, a, date, False, f"user{a}", f"user{a}", "a photo", kind="image")
            m.media = {
                "photo_id": 5000 + i,
                "size": 98765,
                "path": f"{STORAGE}/Telegram Images/{5000 + i}.jpg",
            }
            spec = {"peer": ("user", a), "media": lambda w, p=5000 + i: _photo_media(w, p)}
        elif shape == 9:
            m = Msg(mid, -SUPERGROUP, date, False, f"channel{SUPERGROUP}", f"user{a}", "", kind="document")
            m.media = {
                "document_id": 6000 + i,
                "file_name": f"report-{i}.pdf",
                "mime_type": "application/pdf",
                "size": 123456,
                "path": f"{STORAGE}/Telegram Documents/report-{i}.pdf",
            }
            spec = {
                "from": ("user", a),
                "peer": ("channel", SUPERGROUP),
                "media": lambda w, d=6000 + i, f=f"report-{i}.pdf": _doc_media(
                    w, d, "application/pdf", 123456, [("file", f)]
                ),
            }
        elif shape == 10:
            m = Msg(mid, a, date, True, f"user{a}", f"user{OWNER}", "", kind="video")
            m.media = {"document_id": 7000 + i, "mime_type": "video/mp4", "size": 4_000_000_000}
            spec = {
                "from": ("user", OWNER),
                "peer": ("user", a),
                "media": lambda w, d=7000 + i: _doc_media(
                    w, d, "video/mp4", 4_000_000_000, [("video", None)]
                ),
            }
        else:
            m = Msg(
                -(200 + i),
                (1 << 62) | SECRET_CHAT,
                date,
                True,
                f"secret{SECRET_CHAT}",
                f"user{OWNER}",
                f"secret {i}",
            )
            m.blob = _secret(m, SECRET_PEER)
            out.append(m)
            continue
        m.blob = _message(m, wide, spec, m.media.get("path", " "))
        out.append(m)
    return out


@dataclass
class Written:
    path: Path
    table: str
    messages: list[Msg]
    #: (row locator suffix "<table>/<uid>/<mid>", reason) of the rows a reader must skip.
    faults: list[tuple[str, str]] = field(default_factory=list)


def write_cache4(path: Path, n: int = 24, *, era: str = "messages_v2", faults: bool = False) -> Written:
    """Write ``cache4.db`` at ``path`` (see the module docstring)."""
    wide = era == "messages_v2"
    path.parent.mkdir(parents=True, exist_ok=True)
    con = sqlite3.connect(path)
    for ddl in (_DDL[era], *_COMMON_DDL):
        con.execute(ddl)
    con.execute(f"PRAGMA user_version = {110 if wide else 78}")
    for uid, (first, last, username, _) in USERS.items():
        blob = user_blob(uid, wide, is_self=uid == OWNER)
        con.execute(
            "INSERT INTO users VALUES (?,?,?,?)", (uid, f"{first} {last}".lower() + f";;;{username}", 0, blob)
        )
    chats = (
        ("chat", GROUP, "Group A", False),
        ("channel", SUPERGROUP, "Supergroup B", False),
        ("channel", CHANNEL, "Channel C", True),
    )
    for kind, cid, title, bc in chats:
        con.execute(
            "INSERT INTO chats VALUES (?,?,?)", (cid, title.lower(), chat_blob(kind, cid, title, wide, bc))
        )
    # The secret chat's row: its id and the other party (key material is not written, nor read).
    con.execute(
        "INSERT INTO enc_chats(uid, user, name) VALUES (?,?,?)", (SECRET_CHAT, SECRET_PEER, "person2 test")
    )
    for key, uid, first, last, numbers in CONTACTS:
        con.execute("INSERT INTO user_contacts_v7 VALUES (?,?,?,?,1)", (key, uid, first, last))
        for phone, deleted in numbers:
            digits = "".join(c for c in phone if c.isdigit())
            con.execute("INSERT INTO user_phones_v7 VALUES (?,?,?,?)", (key, phone, digits[-9:], deleted))
    msgs = build(n, wide)
    # The chat list: every chat of the messages, and a private chat whose messages are all gone.
    dialogs = {m.uid for m in msgs} | {GONE_CHAT} | {-cid for cid in (GROUP, SUPERGROUP, CHANNEL)}
    con.executemany("INSERT INTO dialogs(did, date) VALUES (?, ?)", [(d, T0) for d in sorted(dialogs)])
    # The messages era keyed a channel's messages by id | channel_id << 32 (ids were per channel).
    rows = [(_row_mid(m, wide), m.uid, 0, 0, m.date, m.blob, int(m.out)) for m in msgs]
    bad: list[tuple[str, str]] = []
    if faults:
        a = next(u for u in USERS if u != OWNER)
        unknown = Msg(9001, a, T0, False, f"user{a}", f"user{a}", "x")
        blob = _message(unknown, wide, {"peer": ("user", a), "media": lambda w: w.u32(0xDEADBEEF).i32(0)})
        rows.append((9001, a, 0, 0, T0, blob, 0))
        bad.append((f"{era}/{a}/9001", "unknown TL constructor 0xdeadbeef (where a MessageMedia must be)"))
        cut = msgs[0].blob[: len(msgs[0].blob) // 2]
        rows.append((9002, a, 0, 0, msgs[0].date, cut, 1))
        bad.append((f"{era}/{a}/9002", "truncated TL blob"))
    con.executemany(
        f"INSERT INTO {era}(mid, uid, read_state, send_state, date, data, out) VALUES (?,?,?,?,?,?,?)", rows
    )
    con.commit()
    con.close()
    return Written(path, era, msgs, bad)


def _row_mid(m: Msg, wide: bool) -> int:
    return m.mid if wide or not m.chat.startswith("channel") else m.mid | (-m.uid << 32)


def owner_prefs(path: Path, wide: bool = True) -> None:
    """``userconfig<N>.xml`` as Telegram writes it: the owner's TL user, base64, under ``user``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    user = base64.b64encode(user_blob(OWNER, wide, is_self=True)).decode()
    path.write_text(
        "<?xml version='1.0' encoding='utf-8' standalone='yes' ?>\n<map>\n"
        f'    <string name="user">{user}</string>\n'
        '    <int name="lastSendMessageId" value="-210000" />\n</map>\n'
    )


def utc(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)
