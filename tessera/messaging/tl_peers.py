"""TL layouts of the users and chats ``cache4.db`` stores whole (``users.data``, ``chats.data``;
``TLRPC.java`` of DrKLO/Telegram): read up to a user's names, username and phone, a chat's or
channel's title and username. Users of layers 104-current; chats and channels of layers 37-current.
"""

from __future__ import annotations

from tessera.messaging.tl import TL, Reader, UnknownConstructor, tl

#: User constructors: (name, flags2 present, id int64). Read: id, first/last name, username, phone.
USERS = {
    0x2E13F4C3: ("user_layer104", False, False),
    0x938458C1: ("user_layer131", False, False),
    0x3FF6ECB0: ("user_layer144", False, True),
    0x5D99ADEE: ("user_layer147", False, True),
    0x8F97C628: ("user_layer159", True, True),
    0xABB5F120: ("user_layer165", True, True),
    0xEB602F25: ("user_layer184", True, True),
    0x83314FCA: ("user_layer195", True, True),
    0x215C4438: ("user_layer199", True, True),
    0x020B1422: ("user_layer216", True, True),
    0x4B46C37E: ("user_layer220", True, True),
    0x31774388: ("user", True, True),
}
USER_EMPTY = {0xD3BC4B7A: ("userEmpty", True), 0x200250BA: ("userEmpty_layer131", False)}


def user(data: bytes) -> TL:
    r = Reader(data)
    cid = r.uint32()
    if cid in USER_EMPTY:
        name, wide = USER_EMPTY[cid]
        return {"_": name, "cid": cid, "id": r.int64() if wide else r.int32()}
    if cid not in USERS:
        raise UnknownConstructor(cid, "User")
    name, flags2, wide = USERS[cid]
    flags = r.int32()
    if flags2:
        r.int32()
    out: TL = {"_": name, "cid": cid, "id": r.int64() if wide else r.int32(), "self": bool(flags & 1024)}
    out["bot"] = bool(flags & 16384)
    if flags & 1:
        r.int64()  # access_hash
    for bit, key in ((2, "first_name"), (4, "last_name"), (8, "username"), (16, "phone")):
        if flags & bit:
            out[key] = r.string()
    return out


_ALWAYS = -1  # an access_hash without a flag
#: Chat constructors: (name, kind, flags2, id int64, access_hash flag bit or 0, reads flags).
CHATS = {
    0x41CBF256: ("chat", "chat", False, True, 0, True),
    0x3BDA1BDE: ("chat_layer131", "chat", False, False, 0, True),
    0x6592A1A7: ("chatForbidden", "chat", False, True, 0, False),
    0x07328BDB: ("chatForbidden_layer131", "chat", False, False, 0, False),
    0xD31A961E: ("channel_layer131", "channel", False, False, 1 << 13, True),
    0x8261AC61: ("channel_layer147", "channel", False, True, 1 << 13, True),
    0x83259464: ("channel_layer165", "channel", True, True, 1 << 13, True),
    0x94F592DB: ("channel_layer166", "channel", True, True, 1 << 13, True),
    0x1981EA7E: ("channel_layer167", "channel", True, True, 1 << 13, True),
    0x0AADFC8F: ("channel_layer184", "channel", True, True, 1 << 13, True),
    0xFE4478BD: ("channel_layer195", "channel", True, True, 1 << 13, True),
    0xE00998B7: ("channel_layer199", "channel", True, True, 1 << 13, True),
    0x8E87CCD8: ("channel_layer167b", "channel", True, True, 1 << 13, True),
    0x7482147E: ("channel_layer216", "channel", True, True, 1 << 13, True),
    0x1C32B11C: ("channel", "channel", True, True, 1 << 13, True),
    0x678E9587: ("channel_layer43", "channel", False, False, _ALWAYS, True),
    0x2D85832C: ("channelForbidden_layer52", "channel", False, False, _ALWAYS, False),
    0x7312BC48: ("chat_layer40", "chat", False, False, 0, True),
    0x6E9C9BC7: ("chat_layer37", "chat", False, False, 0, False),
    0xFB0CCC41: ("chatForbidden_layer37", "chat", False, False, 0, False),
}
CHAT_EMPTY = {0x29562865: ("chatEmpty", True), 0x9BA2D800: ("chatEmpty_layer132", False)}


@tl(0x17D493D5, "ChatForbidden", "channelForbidden")
def _chf(r: Reader) -> TL:
    flags = r.int32()
    return {"id": r.int64(), "access_hash": r.int64(), "title": r.string(), "broadcast": bool(flags & 32)}


@tl(0x289DA732, "ChatForbidden", "channelForbidden_layer131")
def _chf_old(r: Reader) -> TL:
    flags = r.int32()
    return {"id": r.int32(), "access_hash": r.int64(), "title": r.string(), "broadcast": bool(flags & 32)}


def chat(data: bytes) -> TL:
    """A ``chats.data`` blob: a basic group (``chat``) or a supergroup/channel (``channel``)."""
    r = Reader(data)
    cid = r.uint32()
    if cid in (0x17D493D5, 0x289DA732):
        r.pos = 0
        forbidden = r.obj("ChatForbidden")
        forbidden["kind"] = "channel"
        return forbidden
    if cid in CHAT_EMPTY:
        name, wide = CHAT_EMPTY[cid]
        return {"_": name, "cid": cid, "kind": "chat", "id": r.int64() if wide else r.int32(), "title": None}
    if cid not in CHATS:
        raise UnknownConstructor(cid, "Chat")
    name, kind, flags2, wide, hash_bit, has_flags = CHATS[cid]
    flags = r.int32() if has_flags else 0
    if flags2:
        r.int32()
    out: TL = {"_": name, "cid": cid, "kind": kind, "id": r.int64() if wide else r.int32()}
    if kind == "channel":
        out["broadcast"], out["megagroup"] = bool(flags & 32), bool(flags & 256)
        if hash_bit == _ALWAYS or flags & hash_bit:
            r.int64()
    out["title"] = r.string()
    if kind == "channel" and flags & 64:
        out["username"] = r.string()
    return out
