"""Telegram Desktop export objects -> records: messages, service messages, text entities, media,
memberships, the owner and saved contacts.

Kept apart from the stream reader and the two-pass parser (``telegram``) so that the vocabulary
tables and their mapping can grow without touching the JSON handling. Every function here takes one
small, already-built object; nothing here reads the file. An object that cannot be read raises
:class:`Unreadable`, which the parser counts as skipped and goes on.

Every era of the format is read (docs/messaging-telegram.md, *Eras*): ``from_id``/``actor_id`` as
strings (``"user123"``, late 2020 on), as integers (user ids, 2019-2020) or absent (2018: names
only); ``date_unixtime`` (late 2021 on) or only the local ``date``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from pathlib import PurePosixPath
from typing import Any

from tessera.messaging.records import (
    AccountRecord,
    MediaRef,
    MembershipRecord,
    MessageRecord,
    ParseError,
)

PLATFORM = "telegram"
#: Exporters that wrote ``from_id`` as a number wrote a 32-bit user id (Telegram's ``from_id:int`` of
#: the time); a number outside it is kept as written, its kind of peer unknown.
_INT32 = 2**31

#: The exporter writes one of these instead of a path when it did not save the file.
_SKIPPED = re.compile(r"^(?:.* )?\((?:File|Photo) (?:not included|exceeds maximum size|unavailable)\b")


def table(spec: str) -> dict[str, str]:
    """``"a=b c=d"`` -> ``{"a": "b", "c": "d"}``: the lookup tables below, kept short."""
    return dict(pair.split("=", 1) for pair in spec.split())


#: Chat ``type`` -> the peer prefix Telegram writes in ``from_id`` for such a peer.
_CHAT_PREFIX = table(
    "private_group=chat private_supergroup=channel public_supergroup=channel private_channel=channel "
    "public_channel=channel personal_chat=user bot_chat=user saved_messages=user replies=user"
)
CHAT_KIND = table(
    "private_group=group private_supergroup=group public_supergroup=group "
    "private_channel=channel public_channel=channel"
)
#: Service actions in the vocabulary of ``MessageRecord.action``; others are kept as written.
_ACTIONS = table(
    "create_group=created create_channel=created invite_members=added join_group_by_link=joined "
    "join_group_by_request=joined remove_members=removed migrate_from_group=migrated "
    "migrate_to_supergroup=migrated pin_message=pinned edit_group_title=title_changed "
    "edit_group_photo=photo_changed delete_group_photo=photo_deleted clear_history=cleared"
)
_MEDIA_KINDS = table(
    "video_file=video video_message=video animation=video voice_message=audio audio_file=audio "
    "sticker=sticker"
)
_OTHER_MEDIA = frozenset(("contact_information", "location_information", "poll", "place_name"))
#: Fields of a message worth keeping in ``raw`` (small values the records do not model).
_RAW_KEYS = frozenset(
    table(
        "type= action= members= inviter= title= message_id= reply_to_message_id= reply_to_peer_id= "
        "saved_from= author= via_bot= media_type= width= height= duration_seconds= sticker_emoji= "
        "edited_unixtime= photo= file= from= actor="
    )
)


@dataclass
class Chat:
    section: str  # "chats" | "left_chats" | "" (single-chat export)
    index: int
    name: str | None = None
    type: str | None = None
    id: int | None = None
    created_at: datetime | None = None
    creator: str | None = None
    #: The actor's name of a creation message without ``actor_id``, resolved once all names are known.
    creator_name: str | None = None
    #: The bare id when ``id`` is the 2019-2020 encoding (peer kind in bits 32+), else None.
    bare: int | None = None
    #: The identifier of a chat the export gives no id (2018): its name, or failing that its locator.
    fallback: str | None = None
    #: Why the chat cannot be read (its messages are skipped with it); None when it can.
    bad: str | None = None

    @property
    def raw_id(self) -> str:
        if self.id is None:
            return self.fallback or self.anchor
        return chat_raw_id(self.type, self.bare if self.bare is not None else self.id)

    @property
    def anchor(self) -> str:
        """The chat's part of a locator: ``chat/<id as written>``, else its place in the file."""
        if self.id is not None:
            return f"chat/{self.id}"
        return f"{self.section}/{self.index}" if self.section else "chat"

    @property
    def where(self) -> str:
        return f"{self.section or 'chat'}[{self.index}]" + (f" (id {self.id})" if self.id is not None else "")


class Unreadable(ParseError):
    """One element (message, chat, contact) that cannot be read: skipped and counted, never fatal to
    the file. ``reason`` is generic (no values) so that skips group by reason in the coverage."""

    def __init__(self, where: object, reason: str) -> None:
        super().__init__(f"{where}: {reason}")
        self.reason = reason


class _Where:
    """Names a message in an error; formatted only when an error is raised."""

    __slots__ = ("chat", "mid")

    def __init__(self, chat: Chat, mid: Any) -> None:
        self.chat, self.mid = chat, mid

    def __str__(self) -> str:
        return f"{self.chat.where} message {self.mid!r:.30}"


def chat_raw_id(chat_type: str | None, chat_id: int) -> str:
    """The chat identifier: the export's bare id with Telegram's peer prefix for its type."""
    return f"{_CHAT_PREFIX.get(chat_type or '', 'chat')}{chat_id}"


def user_peer(chat_type: str | None) -> bool | None:
    """Whether a chat of this type is a user peer (True), a group or channel (False), or unknown."""
    prefix = _CHAT_PREFIX.get(chat_type or "")
    return None if prefix is None else prefix == "user"


def resolve(name: str, names: dict[str, set[str]]) -> str | None:
    """An account named but not identified: a name given to exactly one account id in this export is
    that id; a name never tied to an id is itself the identifier; a name shared by several ids is
    None (ambiguous: left to the examiner, the name stays in ``raw``/``targets``)."""
    ids = names.get(name)
    if not ids:
        return name
    return next(iter(ids)) if len(ids) == 1 else None


def account_id(value: Any, where: object, key: str) -> tuple[str | None, bool]:
    """``from_id``/``actor_id`` -> (account raw id, whether the number was outside the user range).

    A string is kept as written. A number is what exporters before late 2020 wrote: always a user id
    (the peer kind was not written; channel posts had no ``from_id``), so ``user<id>``, the identifier
    newer exports give the same account. A number those exporters could not have written as a user id
    is kept as written (``"8589934593"``): its kind of peer is unknown and is not guessed."""
    if value is None or isinstance(value, str):
        return value or None, False
    if not is_int(value):
        raise Unreadable(where, f"{key} is neither a string nor an integer")
    if 0 < value < _INT32:
        return f"user{value}", False
    return str(value), True


def is_skipped(value: str) -> bool:
    """Whether a ``photo``/``file`` value is the exporter's "(File not included...)" placeholder."""
    return bool(_SKIPPED.match(value))


def flatten_text(value: Any, where: object = "message") -> str:
    """``text`` is a string, or a list of strings and entity objects ``{type, text}``: joined."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        parts: list[str] = []
        for part in value:
            if isinstance(part, str):
                parts.append(part)
            elif isinstance(part, dict) and isinstance(part.get("text", ""), str):
                parts.append(part.get("text", ""))
            else:
                raise Unreadable(where, "text part is neither a string nor an entity")
        return "".join(parts)
    raise Unreadable(where, "text is neither a string nor a list")


def message_record(msg: Any, chat: Chat, loc: str, local_tz: tzinfo | None) -> MessageRecord | None:
    """One element of ``messages`` -> a MessageRecord, or None for an ``unsupported`` message (the
    exporter writes only its id and type). Raises :class:`Unreadable` for an element that cannot be
    read. The sender is left None where the export names it without an id (``from``/``actor``
    only): the parser resolves names once it knows them all (:func:`resolve`)."""
    if not isinstance(msg, dict):
        raise Unreadable(f"{chat.where} message", "not a JSON object")
    where = _Where(chat, msg.get("id"))
    mid = msg.get("id")
    if not is_int(mid):
        raise Unreadable(where, "id is not an integer")
    mtype = msg.get("type", "message")
    if not isinstance(mtype, str):
        raise Unreadable(where, "type is not a string")
    if mtype == "unsupported":
        return None
    service = mtype == "service"
    raw = {k: v for k, v in msg.items() if k in _RAW_KEYS}
    time = _time(msg, where, local_tz, raw)
    key = "actor_id" if service else "from_id"
    sender, unknown_kind = account_id(msg.get(key), where, key)
    if sender is not None and not isinstance(msg[key], str):
        raw[key] = msg[key]  # the id as written: a number, before late 2020
        if unknown_kind:
            raw["peer_kind_unknown"] = True
    members = msg.get("members")
    if members is not None and not isinstance(members, list):
        raise Unreadable(where, "members is not a list")
    text = flatten_text(msg.get("text"), where)
    kind = "system" if service else "text"
    rec = MessageRecord(PLATFORM, chat.raw_id, sender, time, kind, text or None, raw_id=str(mid), raw=raw)
    rec.locator = loc
    if service:
        action = msg.get("action")
        rec.action = _ACTIONS.get(action, action) if isinstance(action, str) else "other"
        rec.targets = [m for m in members or () if isinstance(m, str)]
        if action == "remove_members" and rec.targets == [msg.get("actor")]:
            rec.action = "left"  # the exporter writes leaving as removing oneself
        return rec
    if "forwarded_from" in msg:
        rec.forwarded = True
        fwd = msg["forwarded_from"]
        rec.forwarded_from = fwd if isinstance(fwd, str) else None
    rec.kind, rec.media = _media(msg, where)
    return rec


def _time(msg: dict[str, Any], where: _Where, local_tz: tzinfo | None, raw: dict[str, Any]) -> datetime:
    unix = msg.get("date_unixtime")
    if unix is not None:  # UTC seconds as a string; exports before late 2021 lack it
        if isinstance(unix, bool) or not isinstance(unix, str | int):
            raise Unreadable(where, "date_unixtime is not a number of seconds")
        try:
            return datetime.fromtimestamp(int(unix), UTC)
        except (ValueError, OverflowError, OSError):
            raise Unreadable(where, "date_unixtime is not a number of seconds") from None
    date = msg.get("date")
    if not isinstance(date, str):
        raise Unreadable(where, "no date_unixtime and no date")
    try:
        local = datetime.fromisoformat(date)
    except ValueError:
        raise Unreadable(where, "date is not an ISO date") from None
    if local.tzinfo is not None:
        return local.astimezone(UTC)
    # The local time of the computer that made the export. Read in the zone the examiner set; with
    # none set, in UTC, and the record says so (a wrong zone shifts every time by whole hours).
    raw["date"] = date
    raw["date_zone"] = str(local_tz) if local_tz is not None else "UTC"
    if local_tz is None:
        raw["date_zone_assumed"] = True
    return local.replace(tzinfo=local_tz or UTC).astimezone(UTC)


def _media(msg: dict[str, Any], where: _Where) -> tuple[str, MediaRef | None]:
    key = "photo" if "photo" in msg else "file" if "file" in msg else None
    if key is None:
        if not _OTHER_MEDIA.isdisjoint(msg):
            return "other", None
        return "text", None
    value = msg[key]
    if not isinstance(value, str):
        raise Unreadable(where, f"{key} is not a string")
    mime = msg.get("mime_type") if isinstance(msg.get("mime_type"), str) else None
    size = msg.get("file_size", msg.get("photo_file_size"))
    omitted = is_skipped(value)
    name = msg.get("file_name")  # newer exports name documents; else the exported file's name
    name = name if isinstance(name, str) else None if omitted else PurePosixPath(value).name
    size = size if is_int(size) else None
    ref = MediaRef(path=None if omitted else value, file_name=name, mime=mime, size=size, omitted=omitted)
    if key == "photo":
        return "image", ref
    kind = _MEDIA_KINDS.get(str(msg.get("media_type")))
    if kind is None:
        major = (mime or "").partition("/")[0]
        kind = {"image": "image", "video": "video", "audio": "audio"}.get(major, "document")
    return kind, ref


def memberships(
    msg: MessageRecord, chat: str, names: dict[str, set[str]]
) -> Iterator[tuple[str | None, MembershipRecord]]:
    """Memberships a service message shows. Members are written as display names, resolved to
    account ids by :func:`resolve`; a name shared by several ids is left out (it stays in
    ``targets``)."""
    if msg.kind != "system" or msg.action not in ("created", "added", "joined", "removed", "left"):
        return
    loc = msg.locator
    actor = msg.raw.get("actor")
    if msg.action in ("created", "joined") and msg.sender:
        role = "creator" if msg.action == "created" else "member"
        yield actor, MembershipRecord(PLATFORM, chat, msg.sender, role, msg.time, locator=loc)
    if msg.action in ("created", "added", "removed", "left"):
        for name in msg.targets:
            account = resolve(name, names)
            if account is None or (msg.action == "created" and account == msg.sender):
                continue
            if msg.action in ("removed", "left"):
                yield name, MembershipRecord(PLATFORM, chat, account, left_at=msg.time, locator=loc)
            else:
                yield name, MembershipRecord(PLATFORM, chat, account, "member", msg.time, locator=loc)


def owner_record(info: dict[str, Any], locator: str) -> AccountRecord:
    uid = info.get("user_id")
    if not is_int(uid):
        raise ParseError(f"{locator}: personal_information.user_id is not an integer")
    username, phone = info.get("username"), info.get("phone_number")
    rec = AccountRecord(PLATFORM, f"user{uid}", display_name=_full_name(info), is_device_owner=True)
    rec.phone = phone if isinstance(phone, str) and phone else None
    # the exporter adds the "@"; the username itself is without it
    rec.username = username.removeprefix("@") if isinstance(username, str) and username else None
    rec.locator = f"{locator}#personal_information"
    return rec


def contact_record(info: Any, index: int, locator: str) -> AccountRecord | None:
    """A saved contact: ``user<id>`` when the export gives ``user_id``, else the phone number as
    written. None for an entry with neither (the exporter writes only a ``date`` for a contact with no
    name and no phone): nothing to tie it to. Raises :class:`Unreadable` for an unreadable entry."""
    where = f"contacts.list[{index}]"
    if not isinstance(info, dict):
        raise Unreadable(where, "not a JSON object")
    uid, phone = info.get("user_id"), info.get("phone_number")
    if uid is not None and not is_int(uid):
        raise Unreadable(where, "user_id is not an integer")
    if phone is not None and not isinstance(phone, str):
        raise Unreadable(where, "phone_number is not a string")
    raw_id = f"user{uid}" if uid else phone or None
    if raw_id is None:
        return None
    loc = f"{locator}#contacts/{index}"
    return AccountRecord(PLATFORM, raw_id, phone=phone or None, display_name=_full_name(info), locator=loc)


def _full_name(info: dict[str, Any]) -> str | None:
    return " ".join(str(info.get(k) or "") for k in ("first_name", "last_name")).strip() or None


def is_int(value: Any) -> bool:
    # bool is an int subclass, and a JSON true is never an id or a size
    return isinstance(value, int) and not isinstance(value, bool)
