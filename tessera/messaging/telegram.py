"""Telegram Desktop export (``result.json``): a whole-account export or one chat, read as a stream.

Telegram Desktop writes either the whole account (top level ``about``, ``personal_information``,
``contacts``, ``chats``/``left_chats`` {``about``, ``list``} and more) or one chat (the top level is
the chat object: ``name``, ``type``, ``id``, ``messages``). A whole-account export can be hundreds of
MB, so the file is read twice with ijson events and never held: the first pass checks the structure
and every message (so a truncated or malformed file raises before any record is yielded) and learns
the names the export gives each account id; the second pass yields records.

Identifiers (see docs/messaging-telegram.md):

- accounts: ``from_id``/``actor_id`` as written (``user5000000000``, ``channel1700000001``); the owner
  (``personal_information.user_id``) is ``user<id>``.
- chats: the bare ``id`` of the export with the prefix Telegram uses for that kind of peer in
  ``from_id``: ``chat<id>`` (basic group), ``channel<id>`` (supergroup, channel), ``user<id>``
  (personal chat, bot, saved messages), so a channel that posts in itself has one identifier.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from pathlib import PurePosixPath
from typing import Any, BinaryIO, ClassVar

import ijson

from tessera.evidence import open_item
from tessera.messaging.base import PARSERS, ParseContext
from tessera.messaging.records import (
    AccountRecord,
    ChatRecord,
    MediaRef,
    MembershipRecord,
    MessageRecord,
    MessagingRecord,
    ParseError,
)

PLATFORM = "telegram"

#: The exporter writes one of these instead of a path when it did not save the file.
_SKIPPED = re.compile(r"^(?:.* )?\((?:File|Photo) (?:not included|exceeds maximum size|unavailable)\b")
_HEAD_KEYS = re.compile(rb'"(?:personal_information|chats|left_chats|messages|date_unixtime|from_id)"\s*:')
_FIRST_KEY = re.compile(rb'^\s*\{\s*"(?:about|name|type|id|personal_information|messages)"\s*:')


def _table(spec: str) -> dict[str, str]:
    """``"a=b c=d"`` -> ``{"a": "b", "c": "d"}``: the lookup tables below, kept short."""
    return dict(pair.split("=", 1) for pair in spec.split())


#: Chat ``type`` -> the peer prefix Telegram writes in ``from_id`` for such a peer.
_CHAT_PREFIX = _table(
    "private_group=chat private_supergroup=channel public_supergroup=channel private_channel=channel "
    "public_channel=channel personal_chat=user bot_chat=user saved_messages=user replies=user"
)
_CHAT_KIND = _table(
    "private_group=group private_supergroup=group public_supergroup=group "
    "private_channel=channel public_channel=channel"
)
#: Service actions in the vocabulary of ``MessageRecord.action``; others are kept as written.
_ACTIONS = _table(
    "create_group=created create_channel=created invite_members=added join_group_by_link=joined "
    "join_group_by_request=joined remove_members=removed migrate_from_group=migrated "
    "migrate_to_supergroup=migrated pin_message=pinned edit_group_title=title_changed "
    "edit_group_photo=photo_changed delete_group_photo=photo_deleted clear_history=cleared"
)
_MEDIA_KINDS = _table(
    "video_file=video video_message=video animation=video voice_message=audio audio_file=audio "
    "sticker=sticker"
)
_OTHER_MEDIA = frozenset(("contact_information", "location_information", "poll", "place_name"))
#: Fields of a message worth keeping in ``raw`` (small values the records do not model).
_RAW_KEYS = frozenset(
    _table(
        "type= action= members= inviter= title= message_id= reply_to_message_id= reply_to_peer_id= "
        "saved_from= author= via_bot= media_type= width= height= duration_seconds= sticker_emoji= "
        "edited_unixtime= photo= file= from= actor="
    )
)
#: Containers whose JSON type the parser relies on: prefix -> the event that must open them.
_CONTAINERS = {
    k: "start_map" if v == "{" else "start_array"
    for k, v in _table(
        "personal_information={ contacts={ contacts.list=[ chats={ chats.list=[ chats.list.item={ "
        "chats.list.item.messages=[ left_chats={ left_chats.list=[ left_chats.list.item={ "
        "left_chats.list.item.messages=[ messages=["
    ).items()
}
_MESSAGE_PREFIXES = {"chats.list.item.messages.item", "left_chats.list.item.messages.item", "messages.item"}
_CHAT_PREFIXES = {"chats.list.item": "chats", "left_chats.list.item": "left_chats"}
_CHAT_FIELDS = {"name", "type", "id"}
_OBJECTS = {"personal_information": "personal", "contacts.list.item": "contact"}
_BUF = 16 * 1024  # small reads keep the byte offset reported for a syntax error close to the fault


class _Counting:
    """A read-only wrapper counting the bytes handed to the JSON parser (for error offsets)."""

    def __init__(self, raw: BinaryIO) -> None:
        self.raw = raw
        self.pos = 0

    def read(self, n: int = -1) -> bytes:
        data = self.raw.read(n)
        self.pos += len(data)
        return data


@dataclass
class _Chat:
    section: str  # "chats" | "left_chats" | "" (single-chat export)
    index: int
    name: str | None = None
    type: str | None = None
    id: int | None = None
    created_at: datetime | None = None
    creator: str | None = None

    @property
    def raw_id(self) -> str:
        return chat_raw_id(self.type, self.id if self.id is not None else 0)

    @property
    def where(self) -> str:
        return f"{self.section or 'chat'}[{self.index}]" + (f" (id {self.id})" if self.id is not None else "")


class _Where:
    """Names a message in an error; formatted only when an error is raised."""

    __slots__ = ("chat", "mid")

    def __init__(self, chat: _Chat, mid: Any) -> None:
        self.chat, self.mid = chat, mid

    def __str__(self) -> str:
        return f"{self.chat.where} message {self.mid!r:.30}"


@dataclass
class _Survey:
    """What the first pass learns: layout, owner, chat headers, and the names of account ids."""

    layout: str | None = None  # "account" | "chat"
    owner: dict[str, Any] | None = None
    chats: list[_Chat] = field(default_factory=list)
    names: dict[str, set[str]] = field(default_factory=dict)


def chat_raw_id(chat_type: str | None, chat_id: int) -> str:
    """The chat identifier: the export's bare id with Telegram's peer prefix for its type."""
    return f"{_CHAT_PREFIX.get(chat_type or '', 'chat')}{chat_id}"


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
        parts = []
        for part in value:
            if isinstance(part, str):
                parts.append(part)
            elif isinstance(part, dict) and isinstance(part.get("text", ""), str):
                parts.append(part.get("text", ""))
            else:
                raise ParseError(f"{where}: text part is neither a string nor an entity: {part!r:.80}")
        return "".join(parts)
    raise ParseError(f"{where}: text is {type(value).__name__}, not a string or list")


class TelegramExportParser:
    name: ClassVar[str] = "telegram-export"

    def detect(self, locator: str, head: bytes) -> bool:
        base = locator.rsplit("!", 1)[-1].rsplit("/", 1)[-1]
        if base.lower() != "result.json":
            return False
        head = head.removeprefix(b"\xef\xbb\xbf")
        return bool(_FIRST_KEY.match(head) and _HEAD_KEYS.search(head))

    def parse(self, ctx: ParseContext) -> Iterator[MessagingRecord]:
        survey = self._survey(ctx)
        return self._records(ctx, survey)

    # --- pass 1: check everything, yield nothing ---------------------------------------------------

    def _survey(self, ctx: ParseContext) -> _Survey:
        survey = _Survey()
        chat: _Chat | None = None
        for kind, payload in _walk(ctx):
            if kind == "root_key":
                if payload in ("chats", "left_chats", "personal_information", "contacts"):
                    survey.layout = survey.layout or "account"
                elif payload == "messages":
                    survey.layout = survey.layout or "chat"
            elif kind == "personal":
                survey.owner = payload
                owner = _owner_record(payload, ctx.locator)
                if owner.display_name:
                    survey.names.setdefault(owner.display_name, set()).add(owner.raw_id)
            elif kind == "contact":
                contact = _contact_record(payload[1], payload[0], ctx.locator)
                if contact and contact.display_name and contact.raw_id.startswith("user"):
                    survey.names.setdefault(contact.display_name, set()).add(contact.raw_id)
            elif kind == "chat_begin":
                chat = _Chat(payload, sum(c.section == payload for c in survey.chats))
                survey.chats.append(chat)
            elif kind == "chat_field":
                chat = chat or _single(survey)
                _set_chat_field(chat, *payload)
            elif kind == "message":
                chat = chat or _single(survey)
                rec = _message(payload, chat, "", ctx.local_tz)
                if rec is None:
                    continue
                name = rec.raw.get("actor" if rec.kind == "system" else "from")
                if rec.sender and isinstance(name, str):
                    survey.names.setdefault(name, set()).add(rec.sender)
                if rec.action == "created" and chat.created_at is None:
                    chat.created_at, chat.creator = rec.time, rec.sender
            elif kind == "chat_end":
                _check_chat(chat)
                chat = None
        if survey.layout is None:
            raise ParseError(
                f"{ctx.locator}: not a Telegram Desktop export (no chats, left_chats, messages or "
                "personal_information at the top level)"
            )
        if survey.layout == "chat":
            _check_chat(survey.chats[0] if survey.chats else None)
        return survey

    # --- pass 2: records ---------------------------------------------------------------------------

    def _records(self, ctx: ParseContext, survey: _Survey) -> Iterator[MessagingRecord]:
        seen: set[str] = set()
        owner_id: str | None = None
        if survey.owner is not None:
            owner = _owner_record(survey.owner, ctx.locator)
            owner_id = owner.raw_id
            seen.add(owner_id)
            yield owner
        chats = iter(survey.chats)
        chat: _Chat | None = None
        for kind, payload in _walk(ctx):
            if kind == "contact":
                rec = _contact_record(payload[1], payload[0], ctx.locator)
                if rec is not None and rec.raw_id not in seen:
                    seen.add(rec.raw_id)
                    yield rec
            elif kind == "chat_begin" or (kind in ("chat_field", "message") and chat is None):
                chat = next(chats)
                ckind, cloc = _CHAT_KIND.get(chat.type or "", "private"), f"{ctx.locator}#chat/{chat.id}"
                yield ChatRecord(PLATFORM, chat.raw_id, chat.name, ckind, chat.created_at, chat.creator, cloc)
            if kind == "message":
                assert chat is not None
                loc = f"{ctx.locator}#chat/{chat.id}/message/{payload.get('id')}"
                msg = _message(payload, chat, loc, ctx.local_tz)
                if msg is None:
                    continue
                msg.from_me = owner_id is not None and msg.sender == owner_id
                if msg.sender and msg.sender not in seen:
                    seen.add(msg.sender)
                    name = msg.raw.get("actor" if msg.kind == "system" else "from")
                    yield AccountRecord(PLATFORM, msg.sender, display_name=name, locator=loc)
                yield msg
                for name, ms in _memberships(msg, chat.raw_id, survey.names):
                    if ms.account not in seen:  # a member who neither wrote nor acted before this
                        seen.add(ms.account)
                        yield AccountRecord(PLATFORM, ms.account, display_name=name, locator=loc)
                    yield ms
            elif kind == "chat_end":
                chat = None


PARSERS.register(TelegramExportParser.name)(TelegramExportParser())


def _single(survey: _Survey) -> _Chat:
    """The chat of a single-chat export (its fields and messages sit at the top level)."""
    if not survey.chats:
        survey.chats.append(_Chat("", 0))
    return survey.chats[0]


def _set_chat_field(chat: _Chat, key: str, value: Any) -> None:
    if key == "id":
        if not _is_int(value):
            raise ParseError(f"{chat.where}: id is {value!r:.40}, not an integer")
        chat.id = value
    elif value is not None and not isinstance(value, str):
        raise ParseError(f"{chat.where}: {key} is {type(value).__name__}, not a string")
    elif key == "name":
        chat.name = value
    else:
        chat.type = value


def _check_chat(chat: _Chat | None) -> None:
    if chat is None or chat.id is None:
        raise ParseError(f"{chat.where if chat else 'chat'}: no chat id")


def _walk(ctx: ParseContext) -> Iterator[tuple[str, Any]]:
    """The export as a stream of small items: top-level keys, the owner, contacts, chat headers
    and messages (each message built as one dict; nothing bigger is ever held)."""
    with open_item(ctx.opener) as raw:
        f = _Counting(raw)
        last: Any = None  # the id of the last message read, for error messages
        try:
            events = ijson.parse(f, buf_size=_BUF, use_float=True)
            try:
                _, event, _ = next(events)
            except StopIteration:
                raise ParseError(f"{ctx.locator}: empty file, not a Telegram Desktop export") from None
            if event != "start_map":
                raise ParseError(f"{ctx.locator}: top level is not a JSON object: not a Telegram export")
            # An object being built: a stack of its open containers (a hand-rolled builder: this loop
            # sees every event of the file, and ijson's ObjectBuilder costs a method call per event).
            stack: list[Any] = []
            key: Any = None
            skipping, skip = False, 0  # inside a skipped value (text_entities repeats text), its depth
            kind, contacts = "", -1
            for prefix, event, value in events:
                if stack:
                    if skipping:
                        if event == "start_map" or event == "start_array":
                            skip += 1
                        elif event == "end_map" or event == "end_array":
                            skip -= 1
                        skipping = skip > 0
                        continue
                    if event == "map_key":
                        key = value
                        skipping = value == "text_entities" and len(stack) == 1 and kind == "message"
                        continue
                    top = stack[-1]
                    if event == "end_map" or event == "end_array":
                        obj = stack.pop()
                        if not stack:
                            if kind == "message":
                                last = obj.get("id")
                                yield kind, obj
                            else:
                                yield kind, (contacts, obj) if kind == "contact" else obj
                        continue
                    if event == "start_map" or event == "start_array":
                        new: Any = {} if event == "start_map" else []
                        if type(top) is dict:
                            top[key] = new
                        else:
                            top.append(new)
                        stack.append(new)
                    elif type(top) is dict:
                        top[key] = value
                    else:
                        top.append(value)
                    continue
                expected = _CONTAINERS.get(prefix)
                if expected and event not in (expected, "map_key", "end_map", "end_array"):
                    want = "an object" if expected == "start_map" else "a list"
                    raise ParseError(f"{ctx.locator}: {prefix} is a JSON {event}, not {want}")
                if prefix == "" and event == "map_key":
                    yield "root_key", value
                elif event == "start_map" and (prefix in _MESSAGE_PREFIXES or prefix in _OBJECTS):
                    kind = _OBJECTS.get(prefix, "message")
                    contacts += kind == "contact"
                    stack.append({})
                elif prefix in _MESSAGE_PREFIXES:
                    raise ParseError(
                        f"{ctx.locator}: {_after(last)}a message is a JSON {event}, not an object"
                    )
                elif prefix in _CHAT_PREFIXES and (event == "start_map" or event == "end_map"):
                    yield (
                        ("chat_begin", _CHAT_PREFIXES[prefix]) if event == "start_map" else ("chat_end", None)
                    )
                    last = None
                elif event not in ("map_key", "start_map", "start_array", "end_map", "end_array"):
                    parent, _, field_name = prefix.rpartition(".")
                    if field_name in _CHAT_FIELDS and (parent in _CHAT_PREFIXES or parent == ""):
                        yield "chat_field", (field_name, value)
        except ParseError as exc:
            raise ParseError(f"{exc} (near byte {f.pos})") from None
        except (ijson.JSONError, UnicodeDecodeError, ValueError) as exc:
            detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise ParseError(
                f"{ctx.locator}: invalid JSON near byte {f.pos} ({_after(last)}{detail})"
            ) from None


def _after(last: Any) -> str:
    return "" if last is None else f"after message {last!r:.30}: "


def _message(msg: dict[str, Any], chat: _Chat, loc: str, local_tz: tzinfo | None) -> MessageRecord | None:
    """One message object -> a MessageRecord (None for what carries no message, e.g. "unsupported")."""
    where = _Where(chat, msg.get("id"))
    mid = msg.get("id")
    if not _is_int(mid):
        raise ParseError(f"{where}: id is not an integer")
    mtype = msg.get("type", "message")
    if not isinstance(mtype, str):
        raise ParseError(f"{where}: type is not a string")
    if mtype == "unsupported":  # the exporter writes only id and type for these
        return None
    service = mtype == "service"
    time = _time(msg, where, local_tz)
    sender = msg.get("actor_id" if service else "from_id")
    if sender is not None and not isinstance(sender, str):
        raise ParseError(f"{where}: {'actor_id' if service else 'from_id'} is not a string")
    raw = {k: v for k, v in msg.items() if k in _RAW_KEYS}
    members = msg.get("members")
    if members is not None and not isinstance(members, list):
        raise ParseError(f"{where}: members is not a list")
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


def _time(msg: dict[str, Any], where: _Where, local_tz: tzinfo | None) -> datetime:
    unix = msg.get("date_unixtime")
    if unix is not None:  # UTC seconds as a string; exports before late 2021 lack it
        try:
            return datetime.fromtimestamp(int(unix), UTC)
        except (TypeError, ValueError, OverflowError, OSError):
            raise ParseError(f"{where}: date_unixtime {unix!r:.30} is not a number of seconds") from None
    date = msg.get("date")
    if not isinstance(date, str):
        raise ParseError(f"{where}: no date_unixtime and no date")
    try:
        local = datetime.fromisoformat(date)
    except ValueError:
        raise ParseError(f"{where}: date {date!r:.40} is not an ISO date") from None
    if local.tzinfo is not None:
        return local.astimezone(UTC)
    if local_tz is None:
        # Guessing a zone would shift every time silently; the examiner must say which it was.
        raise ParseError(f"{where}: only a local date ({date}); set the time zone the export was made in")
    return local.replace(tzinfo=local_tz).astimezone(UTC)


def _media(msg: dict[str, Any], where: _Where) -> tuple[str, MediaRef | None]:
    key = "photo" if "photo" in msg else "file" if "file" in msg else None
    if key is None:
        if not _OTHER_MEDIA.isdisjoint(msg):
            return "other", None
        return "text", None
    value = msg[key]
    if not isinstance(value, str):
        raise ParseError(f"{where}: {key} is not a string")
    mime = msg.get("mime_type") if isinstance(msg.get("mime_type"), str) else None
    size = msg.get("file_size", msg.get("photo_file_size"))
    omitted = is_skipped(value)
    name = msg.get("file_name")  # newer exports name documents; else the exported file's name
    name = name if isinstance(name, str) else None if omitted else PurePosixPath(value).name
    size = size if _is_int(size) else None
    ref = MediaRef(path=None if omitted else value, file_name=name, mime=mime, size=size, omitted=omitted)
    if key == "photo":
        return "image", ref
    kind = _MEDIA_KINDS.get(str(msg.get("media_type")))
    if kind is None:
        major = (mime or "").partition("/")[0]
        kind = {"image": "image", "video": "video", "audio": "audio"}.get(major, "document")
    return kind, ref


def _memberships(
    msg: MessageRecord, chat: str, names: dict[str, set[str]]
) -> Iterator[tuple[str | None, MembershipRecord]]:
    """Memberships a service message shows. Members are written as display names: a name given to
    exactly one account id in this export is resolved to it; a name never tied to an id stays the
    account identifier; a name shared by several ids is left out (it stays in ``targets``)."""
    if msg.kind != "system" or msg.action not in ("created", "added", "joined", "removed", "left"):
        return
    loc = msg.locator

    def resolve(name: str) -> str | None:
        ids = names.get(name)
        if not ids:
            return name
        return next(iter(ids)) if len(ids) == 1 else None

    actor = msg.raw.get("actor")
    if msg.action in ("created", "joined") and msg.sender:
        role = "creator" if msg.action == "created" else "member"
        yield actor, MembershipRecord(PLATFORM, chat, msg.sender, role, msg.time, locator=loc)
    if msg.action in ("created", "added", "removed", "left"):
        for name in msg.targets:
            account = resolve(name)
            if account is None or (msg.action == "created" and account == msg.sender):
                continue
            if msg.action in ("removed", "left"):
                yield name, MembershipRecord(PLATFORM, chat, account, left_at=msg.time, locator=loc)
            else:
                yield name, MembershipRecord(PLATFORM, chat, account, "member", msg.time, locator=loc)


def _owner_record(info: dict[str, Any], locator: str) -> AccountRecord:
    uid = info.get("user_id")
    if not _is_int(uid):
        raise ParseError(f"{locator}: personal_information.user_id is not an integer")
    username, phone = info.get("username"), info.get("phone_number")
    rec = AccountRecord(PLATFORM, f"user{uid}", display_name=_full_name(info), is_device_owner=True)
    rec.phone = phone if isinstance(phone, str) and phone else None
    # the exporter adds the "@"; the username itself is without it
    rec.username = username.removeprefix("@") if isinstance(username, str) and username else None
    rec.locator = f"{locator}#personal_information"
    return rec


def _contact_record(info: dict[str, Any], index: int, locator: str) -> AccountRecord | None:
    """A saved contact: ``user<id>`` when the export gives ``user_id`` (newer versions), else the phone
    number as written; a contact with neither is dropped (nothing to tie it to)."""
    uid, phone = info.get("user_id"), info.get("phone_number")
    if uid is not None and not _is_int(uid):
        raise ParseError(f"{locator}: contacts.list[{index}].user_id is not an integer")
    if phone is not None and not isinstance(phone, str):
        raise ParseError(f"{locator}: contacts.list[{index}].phone_number is not a string")
    raw_id = f"user{uid}" if uid else phone or None
    if raw_id is None:
        return None
    loc = f"{locator}#contacts/{index}"
    return AccountRecord(PLATFORM, raw_id, phone=phone or None, display_name=_full_name(info), locator=loc)


def _full_name(info: dict[str, Any]) -> str | None:
    return " ".join(str(info.get(k) or "") for k in ("first_name", "last_name")).strip() or None


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
