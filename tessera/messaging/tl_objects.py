"""TL layouts of the objects ``cache4.db`` stores whole: Message (regular, secret, service), its
forward and reply headers and service actions (``TLRPC.java`` of DrKLO/Telegram); users and chats are
read by ``tl_peers`` (re-exported here).

Messages are read up to and including their media (everything a record needs: sender, peer, date,
text, forward header, reply, media), then their formatting entities where nothing unread stands
before them, then, where every later field is a plain value, the local attach path the app writes
after the object (see ``_trailer``). Views, edit dates and the like are stepped over, not kept.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from tessera.messaging import tl_media  # noqa: F401  (registers the media constructors)
from tessera.messaging.tl import TL, Reader, TLError, UnknownConstructor, bare_user, entities, tl
from tessera.messaging.tl_peers import chat, user

__all__ = ["chat", "message", "user"]

# --- forward headers ---------------------------------------------------------------------------


def _fwd(r: Reader, *, peer_from: bool, name: bool, channel: bool, author: bool, saved: bool, psa: bool,
         saved_from: bool = False) -> TL:  # fmt: skip
    flags = r.int32()
    out: TL = {}
    if flags & 1:
        out["from_id"] = r.obj("Peer") if peer_from else bare_user(r.int32())
    if name and flags & 32:
        out["from_name"] = r.string()
    out["date"] = r.int32()
    if channel and flags & 2:
        out["channel_id"] = r.int32()
    if flags & 4:
        out["channel_post"] = r.int32()
    if author and flags & 8:
        out["post_author"] = r.string()
    if saved and flags & 16:
        out["saved_from_peer"] = r.obj("Peer")
        out["saved_from_msg_id"] = r.int32()
    if saved_from:
        if flags & 256:
            out["saved_from_id"] = r.obj("Peer")
        if flags & 512:
            out["saved_from_name"] = r.string()
        if flags & 1024:
            out["saved_date"] = r.int32()
    if psa and flags & 64:
        out["psa_type"] = r.string()
    return out


_FWD = {
    # cid: (name, peer_from, from_name, channel_id, post_author, saved_from_peer, psa_type, saved_from)
    0x4E4DF4BB: ("messageFwdHeader", True, True, False, True, True, True, True),
    0x5F777DCE: ("messageFwdHeader_layer169", True, True, False, True, True, True, False),
    0x353A686B: ("messageFwdHeader_layer118", False, True, True, True, True, True, False),
    0xEC338270: ("messageFwdHeader_layer112", False, True, True, True, True, False, False),
    0x559EBE6D: ("messageFwdHeader_layer96", False, False, True, True, True, False, False),
    0xFADFF4AC: ("messageFwdHeader_layer72", False, False, True, True, False, False, False),
    0xC786DDCB: ("messageFwdHeader_layer69", False, False, True, False, False, False, False),
}


def _fwd_reader(spec: tuple[str, bool, bool, bool, bool, bool, bool, bool]) -> Callable[[Reader], TL]:
    _, pf, nm, ch, au, sv, ps, sf = spec
    return lambda r: _fwd(r, peer_from=pf, name=nm, channel=ch, author=au, saved=sv, psa=ps, saved_from=sf)


for _cid, _spec in _FWD.items():
    tl(_cid, "MessageFwdHeader", _spec[0])(_fwd_reader(_spec))


# --- reply headers -----------------------------------------------------------------------------


@tl(0xA6D57763, "MessageReplyHeader", "messageReplyHeader_layer165")
def _reply_165(r: Reader) -> TL:
    flags = r.int32()
    out: TL = {"reply_to_msg_id": r.int32()}
    if flags & 1:
        out["reply_to_peer_id"] = r.obj("Peer")
    if flags & 2:
        out["reply_to_top_id"] = r.int32()
    return out


def _reply(r: Reader, level: int) -> TL:
    flags = r.int32()
    out: TL = {}
    if flags & 16:
        out["reply_to_msg_id"] = r.int32()
    if flags & 1:
        out["reply_to_peer_id"] = r.obj("Peer")
    if flags & 32:
        out["reply_from"] = r.obj("MessageFwdHeader")
    if flags & 256:
        out["reply_media"] = r.obj("MessageMedia")
    if flags & 2:
        out["reply_to_top_id"] = r.int32()
    if flags & 64:
        out["quote_text"] = r.string()
    if flags & 128:
        out["quote_entities"] = entities(r)
    if level >= 207 and flags & 1024:
        out["quote_offset"] = r.int32()
    if level >= 223 and flags & 2048:
        out["todo_item_id"] = r.int32()
    if level >= 224 and flags & 4096:
        raise TLError("reply header field not read (flag 4096)")
    return out


tl(0x6EEBCABD, "MessageReplyHeader", "messageReplyHeader_layer166")(lambda r: _reply(r, 166))
tl(0xAFBC09DB, "MessageReplyHeader", "messageReplyHeader_layer207")(lambda r: _reply(r, 207))
tl(0x6917560B, "MessageReplyHeader", "messageReplyHeader_layer223")(lambda r: _reply(r, 223))
tl(0x1B97DD66, "MessageReplyHeader", "messageReplyHeader")(lambda r: _reply(r, 224))


@tl(0x0E5AF939, "MessageReplyHeader", "messageReplyStoryHeader")
def _reply_story(r: Reader) -> TL:
    return {"story_peer": r.obj("Peer"), "story_id": r.int32()}


@tl(0x9C98BFC1, "MessageReplyHeader", "messageReplyStoryHeader_layer173")
def _reply_story_173(r: Reader) -> TL:
    return {"story_user_id": r.int64(), "story_id": r.int32()}


# --- messages ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Layout:
    """How one TL_message class lays out the fields before its date (see ``TLRPC.java``)."""

    name: str
    bare: bool = False  # from_id a bare int32, reply a bare int32 msg id (layers <= 118)
    via32: bool = False  # via_bot_id int32 (layers <= 131)
    flags2: bool = False
    boosts: bool = False  # from_boosts_applied (flags bit 29)
    rank: bool = False  # from_rank (flags2 bit 12)
    saved_peer: bool = False  # saved_peer_id (flags bit 28)
    guest: bool = False  # guestchat_via_from (flags2 bit 19)


_OLD = {"bare": True, "via32": True}
_F2 = {"flags2": True, "boosts": True, "saved_peer": True}
MESSAGES: dict[int, Layout] = {
    0xC09BE45F: Layout("message_layer69", **_OLD),
    0x90DDDC11: Layout("message_layer72", **_OLD),
    0x44F9B43D: Layout("message_layer104", **_OLD),
    0x452C0E65: Layout("message_layer118", **_OLD),
    0x58AE39C9: Layout("message_layer123", via32=True),
    0xBCE383D2: Layout("message_layer132", via32=True),
    0x85D6CBE2: Layout("message_layer135"),
    0x38116EE0: Layout("message_layer169"),
    0x76BEC211: Layout("message_layer173", saved_peer=True),
    0x1E4C8A69: Layout("message_layer175", boosts=True, saved_peer=True),
    0xA66C7EFC: Layout("message_layer176", boosts=True, saved_peer=True),
    **{
        cid: Layout(f"message_layer{layer}", **_F2)
        for cid, layer in {
            0x2357BF25: 179,
            0xA4E97F37: 179,
            0xBDE09C2E: 180,
            0x94345242: 195,
            0x96FDBBE9: 196,
            0xEABCDD4D: 204,
            0x9815CEC8: 205,
            0xB92F76CF: 213,
            0x9CB490E9: 218,
        }.items()  # fmt: skip
    },
    0x3AE56482: Layout("message_layer224", rank=True, **_F2),
    0x95EF6F2B: Layout("message_layer226", rank=True, guest=True, **_F2),
    0x7600B9D3: Layout("message", rank=True, guest=True, **_F2),
}
#: Messages of layers 33-47: (name, from_id flagged, forward source a Peer (else a user id),
#: via_bot_id present, media flagged (else always there)).
OLD = {
    0xC992E15C: ("message_layer47", True, True, True, True),
    0x5BA66C13: ("message_layer44", True, True, False, True),
    0x2BEBFA86: ("message_layer37", False, False, False, True),
    0xF07814C8: ("message_layer35", False, False, False, False),
    0xC3060325: ("message_layer33", False, False, False, False),
}
#: Secret-chat messages: flags, id, ttl, from_id (int32), peer, date, text, media, entities.
SECRET = {
    0x555555F8: "message_secret_old",
    0x555555F9: "message_secret",
    0x555555FA: "message_secret_layer101",
}
#: Service messages: (name, flags, from/reply bare int32, saved_peer_id).
SERVICE = {
    0x7A800E0A: ("messageService", True, False, True),
    0xD3D28540: ("messageService_layer204", True, False, False),
    0x2B085862: ("messageService_layer195", True, False, False),
    0x286FA604: ("messageService_layer123", True, False, False),
    0x9E19A1F6: ("messageService_layer118", True, True, False),
    0xC06B9607: ("messageService_layer48", True, True, False),
    0x1D86F70E: ("messageService_layer37", True, True, False),
}
#: Old service messages without a reply field; the second also with an unconditional sender.
_NO_REPLY, _FROM_ALWAYS = frozenset({0xC06B9607, 0x1D86F70E}), frozenset({0x1D86F70E})
EMPTY = {0x90A6CA84: "messageEmpty", 0x83E5DE54: "messageEmpty_layer122"}

#: Service actions: constructor -> (action as MessageRecord.action, target users field width or 0).
ACTIONS: dict[int, tuple[str, str, int]] = {
    0xBD47CBAD: ("messageActionChatCreate", "created", 64),
    0xA6638B9A: ("messageActionChatCreate_layer132", "created", 32),
    0x15CEFD00: ("messageActionChatAddUser", "added", 64),
    0x488A7337: ("messageActionChatAddUser_layer132", "added", 32),
    0xA43F30CC: ("messageActionChatDeleteUser", "removed", 64),
    0xB2AE9B0C: ("messageActionChatDeleteUser_layer132", "removed", 32),
    0x031224C3: ("messageActionChatJoinedByLink", "joined", 0),
    0xF89CF5E8: ("messageActionChatJoinedByLink_layer132", "joined", 0),
    0xEBBCA3CB: ("messageActionChatJoinedByRequest", "joined", 0),
    0xB5A1CE5A: ("messageActionChatEditTitle", "title_changed", 0),
    0x7FCB13A8: ("messageActionChatEditPhoto", "photo_changed", 0),
    0x95E3FBEF: ("messageActionChatDeletePhoto", "photo_deleted", 0),
    0x95D2AC92: ("messageActionChannelCreate", "created", 0),
    0xE1037F92: ("messageActionChatMigrateTo", "migrated", 0),
    0x51BDB021: ("messageActionChatMigrateTo_layer132", "migrated", 0),
    0xEA3948E9: ("messageActionChannelMigrateFrom", "migrated", 0),
    0xB055EAEE: ("messageActionChannelMigrateFrom_layer132", "migrated", 0),
    0x94BD38ED: ("messageActionPinMessage", "pinned", 0),
    0x9FBAB604: ("messageActionHistoryClear", "cleared", 0),
    0x80E11A7F: ("messageActionPhoneCall", "call", 0),
    0x4792929B: ("messageActionScreenshotTaken", "screenshot", 0),
    0xFAE69F56: ("messageActionCustomAction", "other", 0),
    0xF3F25F76: ("messageActionContactSignUp", "joined_telegram", 0),
    0xB6AEF7B0: ("messageActionEmpty", "other", 0),
    0xAA1AFBFD: ("messageActionSetMessagesTTL_layer148", "ttl_changed", 0),
    0x3C134D7B: ("messageActionSetMessagesTTL", "ttl_changed", 0),
    0x7A0D7F42: ("messageActionGroupCall", "group_call", 0),
    0xB3A07661: ("messageActionGroupCallScheduled", "group_call", 0),
    0x502F92F7: ("messageActionInviteToGroupCall", "group_call", 0),
    0x76B9F11A: ("messageActionInviteToGroupCall_layer132", "group_call", 0),
}


def message(data: bytes) -> TL:
    """Decode one ``messages_v2.data`` / ``messages.data`` blob (see the module docstring)."""
    r = Reader(data)
    cid = r.uint32()
    if cid in MESSAGES:
        return _regular(r, cid, MESSAGES[cid])
    if cid in SECRET:
        return _secret(r, cid)
    if cid in OLD:
        return _old(r, cid)
    if cid in SERVICE:
        return _service(r, cid)
    if cid in EMPTY:
        return {"_": EMPTY[cid], "cid": cid, "id": r.int32()}
    raise UnknownConstructor(cid, "Message")


def _tail(r: Reader, out: TL, flags: int, flags2: int = 0, views: int = 0) -> TL:
    """Text, media and (when reachable) entities, after the date; then, where every field between
    is a plain value, the local attach path (``views``: 0 no trailer read, 1 or 2 ints of views)."""
    out["message"] = r.string()
    if flags & 512:
        out["media"] = r.obj("MessageMedia")
    media_read = "media" not in out or out["media"]["_"] not in tl_media.NOT_READ
    # reply_markup (64) is not read; an unknown entity type ends the reading here
    if flags & 128 and not flags & 64 and media_read and not _entities(r, out):
        return out
    if views:
        _trailer(r, out, flags, flags2, views)
    return out


def _entities(r: Reader, out: TL) -> bool:
    """Formatting entities, after everything a record needs: an entity type this reader does not
    know (a newer app) leaves them and what follows unread, noted, and the message is kept. A
    truncated vector is a damaged blob and is raised."""
    try:
        out["entities"] = entities(r)
    except UnknownConstructor as exc:
        out["entities_unread"] = exc.reason
        return False
    return True


@tl(0xD072ACB4, "RestrictionReason", "restrictionReason")
def _restriction(r: Reader) -> TL:
    return {"platform": r.string(), "reason": r.string(), "text": r.string()}


#: Fields after the entities this reader does not step over: reply markup (64), replies (bit 23),
#: reactions (bit 20); flags2: fact check (8), suggested post (128).
_OPAQUE, _OPAQUE2 = 64 | (1 << 23) | (1 << 20), 8 | 128


def _trailer(r: Reader, out: TL, flags: int, flags2: int, views: int) -> None:
    """Step over the plain fields after the entities (TL_message of layers 44-213, in their order)
    to the local attach path Telegram for Android writes after the object (``writeAttachPath``: the
    path, or ``||key|=|value||...||path``). A field not read here leaves the path unread; a
    truncated or unknown trailer is noted on the message, whose own fields were read whole."""
    if flags & _OPAQUE or flags2 & _OPAQUE2 or (flags & 128 and "entities" not in out):
        return
    try:
        if flags & 1024:
            for _ in range(views):
                r.int32()  # views, forwards
        if flags & (1 << 15):
            r.int32()  # edit_date
        if flags & (1 << 16):
            r.string()  # post_author
        if flags & (1 << 17):
            r.int64()  # grouped_id
        if flags & (1 << 22):
            r.vector(lambda x: x.obj("RestrictionReason"))
        for bit in (25, 30):  # ttl_period, quick_reply_shortcut_id
            if flags & (1 << bit):
                r.int32()
        for bit2, wide in ((4, True), (32, False), (64, True), (1024, False)):
            if flags2 & bit2:  # effect, report_delivery_until_date, paid_message_stars, repeat period
                r.int64() if wide else r.int32()
        attach_path(r, out)
    except TLError as exc:
        out["trailer"] = f"not read: {exc.reason}"


def attach_path(r: Reader, out: TL) -> None:
    if r.remaining() == 0:
        return  # stored before the app kept a local path
    path = r.string()
    if path.startswith("||"):
        path = path.split("||")[-1]  # parameters of a message being sent come first
    if path.strip():
        out["attach_path"] = path.strip()


def _regular(r: Reader, cid: int, lay: Layout) -> TL:
    flags = r.int32()
    out: TL = {"_": lay.name, "cid": cid, "flags": flags, "out": bool(flags & 2), "post": bool(flags & 16384)}
    flags2 = r.int32() if lay.flags2 else 0
    out["id"] = r.int32()
    if flags & 256:
        out["from_id"] = bare_user(r.int32()) if lay.bare else r.obj("Peer")
    if lay.boosts and flags & (1 << 29):
        r.int32()
    if lay.rank and flags2 & (1 << 12):
        r.string()
    out["peer_id"] = r.obj("Peer")
    if lay.saved_peer and flags & (1 << 28):
        out["saved_peer_id"] = r.obj("Peer")
    if flags & 4:
        out["fwd_from"] = r.obj("MessageFwdHeader")
    if flags & 2048:
        out["via_bot_id"] = r.int32() if lay.via32 else r.int64()
    if lay.flags2 and flags2 & 1:
        r.int64()  # via_business_bot_id
    if lay.guest and flags2 & (1 << 19):
        r.obj("Peer")
    if flags & 8:
        out["reply_to"] = {"reply_to_msg_id": r.int32()} if lay.bare else r.obj("MessageReplyHeader")
    out["date"] = r.int32()
    # The fields after the entities are known up to layer 213; views come with forwards from 123.
    views = 0 if lay.rank or cid == 0x9CB490E9 else (1 if lay.bare else 2)
    return _tail(r, out, flags, flags2, views)


def _old(r: Reader, cid: int) -> TL:
    name, from_flagged, fwd_peer, via, media_flagged = OLD[cid]
    flags = r.int32()
    out: TL = {"_": name, "cid": cid, "flags": flags, "out": bool(flags & 2), "post": False, "id": r.int32()}
    if not from_flagged or flags & 256:
        out["from_id"] = bare_user(r.int32())
    out["peer_id"] = r.obj("Peer")
    if flags & 4:  # fwd_from_id and fwd_date, before MessageFwdHeader existed
        source = r.obj("Peer") if fwd_peer else bare_user(r.int32())
        out["fwd_from"] = {"from_id": source, "date": r.int32()}
    if via and flags & 2048:
        out["via_bot_id"] = r.int32()
    if flags & 8:
        out["reply_to"] = {"reply_to_msg_id": r.int32()}
    out["date"] = r.int32()
    return _tail(r, out, flags if media_flagged else flags | 512, 0, 1)


def _secret(r: Reader, cid: int) -> TL:
    flags = r.int32()
    out: TL = {"_": SECRET[cid], "cid": cid, "flags": flags, "out": bool(flags & 2), "post": False}
    out["id"] = r.int32()
    out["ttl"] = r.int32()
    out["from_id"] = bare_user(r.int32())
    out["peer_id"] = r.obj("Peer")
    out["date"] = r.int32()
    out["message"] = r.string()
    out["media"] = r.obj("MessageMedia")
    if out["media"]["_"] not in tl_media.NOT_READ and _entities(r, out):
        try:
            if flags & 2048:
                r.string()  # via_bot_name
            if flags & 8:
                out["reply_to_random_id"] = r.int64()
            if flags & (1 << 17) and cid == 0x555555FA:
                r.int64()  # grouped_id
            attach_path(r, out)
        except TLError as exc:
            out["trailer"] = f"not read: {exc.reason}"
    return out


def _service(r: Reader, cid: int) -> TL:
    name, _, bare, saved = SERVICE[cid]
    flags = r.int32()
    out: TL = {"_": name, "cid": cid, "flags": flags, "out": bool(flags & 2), "post": bool(flags & 16384)}
    out["id"] = r.int32()
    if flags & 256 or cid in _FROM_ALWAYS:
        out["from_id"] = bare_user(r.int32()) if bare else r.obj("Peer")
    out["peer_id"] = r.obj("Peer")
    if saved and flags & (1 << 28):
        out["saved_peer_id"] = r.obj("Peer")
    if flags & 8 and cid not in _NO_REPLY:
        out["reply_to"] = {"reply_to_msg_id": r.int32()} if bare else r.obj("MessageReplyHeader")
    out["date"] = r.int32()
    acid = r.uint32()
    if acid not in ACTIONS:
        raise UnknownConstructor(acid, "MessageAction")
    aname, action, width = ACTIONS[acid]
    out["action"] = {"_": aname, "cid": acid, "action": action}
    if aname.startswith(("messageActionChatCreate", "messageActionChatEditTitle")):
        out["action"]["title"] = r.string()
    if width and aname.startswith(("messageActionChatCreate", "messageActionChatAddUser")):
        out["action"]["users"] = r.vector(Reader.int64 if width == 64 else Reader.int32)
    elif width:  # ChatDeleteUser: one user
        out["action"]["users"] = [r.int64() if width == 64 else r.int32()]
    return out
