"""Decoded Telegram for Android message objects -> records: the chat a row belongs to (from the
row's dialog id, as the app files it), the sender, forward header, media and service actions.

Kept apart from the database reader (``telegram_android``) so that the mapping can grow without
touching the SQL. Nothing here reads the file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from tessera.messaging.records import ChatRecord, MediaRef, MembershipRecord, MessageRecord
from tessera.messaging.tl import peer_id
from tessera.messaging.tl_media import media_summary

PLATFORM = "telegram"
#: Dialog ids of secret chats: ``enc_id << 32`` in the ``messages`` era (ids were 32-bit), bit 62
#: set in the ``messages_v2`` era (``DialogObject.makeEncryptedDialogId``).
_ENCRYPTED_V2 = 1 << 62
_MEDIA_KEYS = ("photo_id", "document_id", "mime_type", "size", "file_name", "media", "media_constructor")


@dataclass
class Book:
    """What the reader learnt before the messages: the owner and the chats already yielded."""

    owner: str | None
    device: str
    chat_kinds: dict[int, str] = field(default_factory=dict)  # chats.uid -> "chat" | "channel"
    chats: set[str] = field(default_factory=set)

    @property
    def me(self) -> str:
        """The owner's raw id, or a placeholder documented as such (never a real identifier)."""
        return self.owner or f"telegram:owner@{self.device}"


def _time(seconds: int) -> datetime:
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        return datetime(1970, 1, 1, tzinfo=UTC)


def chat_of(uid: int, msg: dict[str, Any], book: Book, old_era: bool) -> tuple[str, str]:
    """(chat raw id, kind) of a row from its dialog id ``uid`` and, for groups, the peer."""
    if uid > 0:
        if old_era and uid >> 32:
            return f"secret{uid >> 32}", "private"
        if not old_era and uid & _ENCRYPTED_V2:
            return f"secret{uid & 0xFFFFFFFF}", "private"
        return f"user{uid}", "private"
    peer = msg.get("peer_id") or {}
    if uid < 0:
        cid = -uid
        kind = peer.get("kind") if peer.get("id") == cid and peer.get("kind") != "user" else None
        kind = kind or book.chat_kinds.get(cid, "chat")
    else:  # no dialog id: the peer names the chat
        cid, kind = peer.get("id", 0), peer.get("kind", "user")
    if kind == "user":
        return f"user{cid}", "private"
    return f"{kind}{cid}", "channel" if kind == "channel" and msg.get("post") else "group"


def sender_of(msg: dict[str, Any], chat: str, out: bool, book: Book) -> str | None:
    if "from_id" in msg:
        return peer_id(msg["from_id"])
    if out:
        return book.me
    if chat.startswith("user"):
        return chat  # private chat: the other party wrote it
    if chat.startswith("channel"):
        return chat  # a channel post is signed by the channel, as in the desktop export
    return None


def message_record(
    msg: dict[str, Any], uid: int, out: bool, book: Book, where: str, old_era: bool
) -> tuple[MessageRecord, ChatRecord | None]:
    """The record of one decoded message, and the chat record when this chat is new."""
    chat, kind = chat_of(uid, msg, book, old_era)
    new_chat = None
    if chat not in book.chats:
        book.chats.add(chat)
        new_chat = ChatRecord(PLATFORM, chat, None, kind, locator=where)
    from_me = out or bool(msg.get("out"))
    raw: dict[str, Any] = {"constructor": f"0x{msg['cid']:08x}", "tl": msg["_"], "dialog_id": uid}
    rec = MessageRecord(
        PLATFORM,
        chat,
        sender_of(msg, chat, from_me, book),
        _time(msg["date"]),
        text=msg.get("message") or None,
        raw_id=str(msg["id"]),
        from_me=from_me,
        locator=where,
        raw=raw,
    )
    if "action" in msg:
        action = msg["action"]
        rec.kind, rec.action = "system", action["action"]
        raw["action"] = action["_"]
        rec.targets = [f"user{u}" for u in action.get("users", ())]
        if rec.action == "removed" and rec.targets == [rec.sender]:
            rec.action = "left"  # ChatDeleteUser of oneself: the member left
        if "title" in action:
            rec.text = action["title"]
    if "attach_path" in msg:
        raw["attach_path"] = msg["attach_path"]  # the file on the device the app stored for it
    if "trailer" in msg:
        raw["trailer"] = msg["trailer"]
    if "media" in msg:
        _media(rec, msg["media"], msg.get("attach_path"))
    fwd = msg.get("fwd_from")
    if fwd is not None:
        rec.forwarded = True
        rec.forwarded_from = peer_id(fwd.get("from_id")) or fwd.get("from_name")
        raw["fwd_date"] = _time(fwd["date"]).isoformat()
        for key in ("channel_post", "post_author", "from_name"):
            if key in fwd:
                raw[f"fwd_{key}"] = fwd[key]
        if "channel_id" in fwd:  # layers <= 118: the channel a post was forwarded from
            raw["fwd_channel"] = f"channel{fwd['channel_id']}"
            rec.forwarded_from = rec.forwarded_from or raw["fwd_channel"]
    reply = msg.get("reply_to") or {}
    if "reply_to_msg_id" in reply:
        raw["reply_to"] = reply["reply_to_msg_id"]
    if "via_bot_id" in msg:
        raw["via_bot"] = f"user{msg['via_bot_id']}"
    if "entities" in msg:
        raw["entities"] = [e["_"].removeprefix("messageEntity") for e in msg["entities"]]
    elif "entities_unread" in msg:
        raw["entities"] = f"not read: {msg['entities_unread']}"
    if "ttl" in msg:
        raw["ttl"] = msg["ttl"]
    return rec, new_chat


def memberships(rec: MessageRecord) -> list[MembershipRecord]:
    """What a group service message shows about its members, as the desktop export parser reads
    it: the creator and the members added at creation, members added, joined, removed or left."""
    if rec.kind != "system" or rec.chat.startswith(("user", "secret")):
        return []
    out: list[MembershipRecord] = []
    if rec.action in ("created", "joined") and rec.sender:
        role = "creator" if rec.action == "created" else "member"
        out.append(MembershipRecord(PLATFORM, rec.chat, rec.sender, role, rec.time, locator=rec.locator))
    for account in rec.targets:
        if rec.action in ("created", "added") and account != rec.sender:
            out.append(MembershipRecord(PLATFORM, rec.chat, account, "member", rec.time, locator=rec.locator))
        elif rec.action in ("removed", "left"):
            out.append(MembershipRecord(PLATFORM, rec.chat, account, left_at=rec.time, locator=rec.locator))
    return out


def _media(rec: MessageRecord, media: dict[str, Any], path: str | None) -> None:
    summary = media_summary(media)
    for key in _MEDIA_KEYS:
        if key in summary:
            rec.raw[key] = summary[key]
    kind = summary["kind"]
    if kind == "text":  # messageMediaEmpty
        return
    rec.kind = kind
    if kind != "other":
        rec.media = MediaRef(
            path=path,
            file_name=summary.get("file_name"),
            mime=summary.get("mime_type"),
            size=summary.get("size"),
        )
    if not rec.text and summary.get("caption"):
        rec.text = summary["caption"]  # layers <= 74 kept the caption in the media
