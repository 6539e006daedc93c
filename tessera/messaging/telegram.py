"""Telegram Desktop export (``result.json``): a whole-account export or one chat, read as a stream.

Telegram Desktop writes either the whole account (top level ``about``, ``personal_information``,
``contacts``, ``chats``/``left_chats`` {``about``, ``list``} and more) or one chat (the top level is
the chat object: ``name``, ``type``, ``id``, ``messages``). A whole-account export can be hundreds of
MB, so the file is read twice with ijson events and never held: the first pass reads the whole file
(so a truncated or invalid JSON file raises before any record is yielded), counts every chat, message
and contact it holds, learns the names the export gives each account id and which era of the format
wrote it; the second pass yields records and accounts for every element in ``ctx.coverage``: parsed,
ignored (an ``unsupported`` message, an empty contact) or skipped with its reason and locator (an
element that cannot be read is skipped, never fatal to the file). The event stream is
``telegram_stream``; turning its objects into records is ``telegram_records``.

Identifiers (see docs/messaging-telegram.md):

- accounts: ``from_id``/``actor_id`` as written (``user5000000000``, ``channel1700000001``); a number
  (exports before late 2020) is a user id, ``user<id>``; a sender named without an id (2018) is
  resolved by name (``resolve``); the owner (``personal_information.user_id``) is ``user<id>``.
- chats: the bare ``id`` of the export with the prefix Telegram uses for that kind of peer in
  ``from_id``: ``chat<id>`` (basic group), ``channel<id>`` (supergroup, channel), ``user<id>``
  (personal chat, bot, saved messages), so a channel that posts in itself has one identifier. The
  2019-2020 peer-id encoding of ``id`` is decoded to the bare id; a chat without an id (2018) is
  identified by its name, or by its locator where the name is missing or not unique.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar

from tessera.evidence.base import last_name
from tessera.messaging.base import PARSERS, ParseContext
from tessera.messaging.coverage import Coverage
from tessera.messaging.records import AccountRecord, ChatRecord, MessagingRecord, ParseError
from tessera.messaging.telegram_records import (
    CHAT_KIND,
    PLATFORM,
    Chat,
    Unreadable,
    chat_raw_id,
    contact_record,
    flatten_text,
    is_int,
    is_skipped,
    memberships,
    message_record,
    owner_record,
    resolve,
    user_peer,
)
from tessera.messaging.telegram_stream import walk

# Other code imports these from here, where they lived before the helpers had modules of their own.
__all__ = ["PLATFORM", "TelegramExportParser", "chat_raw_id", "flatten_text", "is_skipped"]

_HEAD_KEYS = re.compile(rb'"(?:personal_information|chats|left_chats|messages|date_unixtime|from_id)"\s*:')
_FIRST_KEY = re.compile(rb'^\s*\{\s*"(?:about|name|type|id|personal_information|messages)"\s*:')
#: The exporter writes only the id and type of a message it cannot render: nothing else to read.
_UNSUPPORTED = "type unsupported: the exporter wrote only the message id (no date, sender or content)"
_SHIFT = 2**32


@dataclass
class _Survey:
    """What the first pass learns: layout, owner, chat headers, the names of account ids, how many
    elements the file holds (counted whether or not they can be read) and which era wrote it."""

    layout: str | None = None  # "account" | "chat"
    owner: dict[str, Any] | None = None
    chats: list[Chat] = field(default_factory=list)
    names: dict[str, set[str]] = field(default_factory=dict)
    messages: int = 0
    contacts: int | None = None  # None: no contacts section
    int_ids: int = 0  # messages whose from_id/actor_id is a number (2019-2020)
    unknown_kind: int = 0  # ... a number outside the user-id range: kept as written
    name_only: int = 0  # messages naming a sender or actor without any id (2018)
    local_dates: int = 0  # messages with a local date and no date_unixtime (before late 2021)


class TelegramExportParser:
    name: ClassVar[str] = "telegram-export"
    patterns: ClassVar[tuple[str, ...]] = ("*.json",)
    companions: ClassVar[tuple[str, ...]] = ()
    #: ``photos/``, ``files/``, ``video_files/`` ... are relative to the export's folder.
    media_roots: ClassVar[tuple[str, ...]] = (".",)

    def detect(self, locator: str, head: bytes) -> bool:
        base = last_name(locator).rsplit("/", 1)[-1]
        if base.lower() != "result.json":
            return False
        head = head.removeprefix(b"\xef\xbb\xbf")
        return bool(_FIRST_KEY.match(head) and _HEAD_KEYS.search(head))

    def parse(self, ctx: ParseContext) -> Iterator[MessagingRecord]:
        survey = self._survey(ctx)
        return self._records(ctx, survey)

    # --- pass 1: check everything, count everything, yield nothing -----------------------------------

    def _survey(self, ctx: ParseContext) -> _Survey:
        survey = _Survey()
        chat: Chat | None = None
        for kind, payload in walk(ctx):
            if kind == "root_key":
                if payload in ("chats", "left_chats", "personal_information", "contacts"):
                    survey.layout = survey.layout or "account"
                elif payload == "messages":
                    survey.layout = survey.layout or "chat"
                if payload == "contacts":
                    survey.contacts = survey.contacts or 0
            elif kind == "personal":
                survey.owner = payload
                owner = owner_record(payload, ctx.locator)
                if owner.display_name:
                    survey.names.setdefault(owner.display_name, set()).add(owner.raw_id)
            elif kind == "contact":
                survey.contacts = (survey.contacts or 0) + 1
                try:
                    contact = contact_record(payload[1], payload[0], ctx.locator)
                except Unreadable:
                    continue  # counted as skipped by the second pass
                if contact and contact.display_name and contact.raw_id.startswith("user"):
                    survey.names.setdefault(contact.display_name, set()).add(contact.raw_id)
            elif kind == "chat_begin" or kind == "chat_bad":
                chat = Chat(payload, sum(c.section == payload for c in survey.chats))
                survey.chats.append(chat)
                if kind == "chat_bad":
                    chat.bad, chat = "not a JSON object", None
            elif kind == "chat_field":
                chat = chat or _single(survey)
                _set_chat_field(chat, *payload)
            elif kind == "message":
                chat = chat or _single(survey)
                survey.messages += 1
                if chat.bad is None:
                    _learn(survey, chat, payload, ctx)
            elif kind == "chat_end":
                chat = None
        if survey.layout is None:
            raise ParseError(
                f"{ctx.locator}: not a Telegram Desktop export (no chats, left_chats, messages or "
                "personal_information at the top level)"
            )
        if survey.layout == "chat":
            _single(survey)
        _settle(survey, ctx)
        return survey

    # --- pass 2: records ---------------------------------------------------------------------------

    def _records(self, ctx: ParseContext, survey: _Survey) -> Iterator[MessagingRecord]:
        cov = ctx.coverage
        seen: set[str] = set()
        owner_id: str | None = None
        if survey.owner is not None:
            owner = owner_record(survey.owner, ctx.locator)
            owner_id = owner.raw_id
            seen.add(owner_id)
            yield owner
        chats = iter(survey.chats)
        chat: Chat | None = None
        pos = 0  # the element's place in its messages array, for a locator where the id is unusable
        for kind, payload in walk(ctx):
            if kind == "contact":
                rec = _contact(cov, ctx.locator, *payload)
                if rec is not None and rec.raw_id in seen:
                    cov.ignore("contacts", "the same account as the owner or an earlier contact", rec.locator)
                elif rec is not None:
                    seen.add(rec.raw_id)
                    cov.parsed("contacts")
                    yield rec
            elif kind == "chat_bad":
                _chat_record(cov, ctx.locator, next(chats))
            elif kind == "chat_begin" or (kind in ("chat_field", "message") and chat is None):
                chat, pos = next(chats), 0
                if (header := _chat_record(cov, ctx.locator, chat)) is not None:
                    yield header
            if kind == "message":
                assert chat is not None
                mid = payload.get("id") if isinstance(payload, dict) else None
                at = f"message/{mid}" if is_int(mid) else f"messages/{pos}"
                loc, pos = f"{ctx.locator}#{chat.anchor}/{at}", pos + 1
                if chat.bad is not None:
                    cov.skip("messages", f"in a chat that cannot be read ({chat.bad})", loc)
                    continue
                try:
                    msg = message_record(payload, chat, loc, ctx.local_tz)
                except Unreadable as exc:
                    cov.skip("messages", exc.reason, loc)
                    continue
                if msg is None:
                    cov.ignore("messages", _UNSUPPORTED, loc)
                    continue
                name = msg.raw.get("actor" if msg.kind == "system" else "from")
                if msg.sender is None and isinstance(name, str) and name:
                    msg.sender = resolve(name, survey.names)  # 2018: a name and no id
                    if msg.sender is None:
                        msg.raw["sender_ambiguous"] = True
                msg.from_me = owner_id is not None and msg.sender == owner_id
                if msg.sender and msg.sender not in seen:
                    seen.add(msg.sender)
                    yield AccountRecord(PLATFORM, msg.sender, display_name=name, locator=loc)
                cov.parsed("messages")
                yield msg
                for member, ms in memberships(msg, chat.raw_id, survey.names):
                    if ms.account not in seen:  # a member who neither wrote nor acted before this
                        seen.add(ms.account)
                        yield AccountRecord(PLATFORM, ms.account, display_name=member, locator=loc)
                    yield ms
            elif kind == "chat_end":
                chat = None
        for rest in chats:  # a single-chat export with no fields or messages to announce it
            if (header := _chat_record(cov, ctx.locator, rest)) is not None:
                yield header


PARSERS.register(TelegramExportParser.name)(TelegramExportParser())


def _single(survey: _Survey) -> Chat:
    """The chat of a single-chat export (its fields and messages sit at the top level)."""
    if not survey.chats:
        survey.chats.append(Chat("", 0))
    return survey.chats[0]


def _set_chat_field(chat: Chat, key: str, value: Any) -> None:
    if key == "id":
        if is_int(value):
            chat.id = value
        else:
            chat.bad = chat.bad or "id is not an integer"
    elif value is not None and not isinstance(value, str):
        chat.bad = chat.bad or f"{key} is not a string"
    elif key == "name":
        chat.name = value
    else:
        chat.type = value


def _learn(survey: _Survey, chat: Chat, payload: Any, ctx: ParseContext) -> None:
    """What one message tells the first pass: the names of ids, the chat's creation, the era."""
    try:
        rec = message_record(payload, chat, "", ctx.local_tz)
    except Unreadable:
        return  # counted as skipped by the second pass
    if rec is None:
        return
    key, name_key = ("actor_id", "actor") if rec.kind == "system" else ("from_id", "from")
    name = payload.get(name_key)
    if is_int(payload.get(key)):
        survey.int_ids += 1
        survey.unknown_kind += bool(rec.raw.get("peer_kind_unknown"))
    elif payload.get(key) is None and isinstance(name, str) and name:
        survey.name_only += 1
    survey.local_dates += "date_zone" in rec.raw
    if rec.sender and isinstance(name, str):
        survey.names.setdefault(name, set()).add(rec.sender)
    if rec.action == "created" and chat.created_at is None:
        chat.created_at, chat.creator = rec.time, rec.sender
        chat.creator_name = name if rec.sender is None and isinstance(name, str) else None


def _settle(survey: _Survey, ctx: ParseContext) -> None:
    """Once every name and era mark is known: chat identifiers, creators, counts and notes."""
    cov, notes = ctx.coverage, []
    decoded = 0
    # Exporters that wrote from_id as a number wrote a chat's id as its internal peer id: the kind in
    # bits 32 and up (1 user, 2 group or channel), the bare id below. Decoded only where the kind agrees
    # with the chat's type, so that the chat has the identifier every later export gives it.
    for chat in survey.chats:
        if survey.int_ids and chat.id is not None and chat.id >= _SHIFT:
            high, bare = divmod(chat.id, _SHIFT)
            if (high, user_peer(chat.type)) in ((1, True), (2, False)):
                chat.bare, decoded = bare, decoded + 1
        if chat.creator is None and chat.creator_name:
            chat.creator = resolve(chat.creator_name, survey.names)
    # A chat the export gives no id (2018) is identified by its name, as a chat export without ids
    # is; by its place in this file where the name is missing or shared with another such chat.
    idless = [c for c in survey.chats if c.id is None and c.bad is None]
    for chat in idless:
        unique = chat.name and sum(c.name == chat.name for c in idless) == 1
        chat.fallback = chat.name if unique else f"{ctx.locator}#{chat.anchor}"
    cov.holds("chats", len(survey.chats))
    cov.holds("messages", survey.messages)
    if survey.contacts is not None:
        cov.holds("contacts", survey.contacts)
    if survey.name_only or idless:
        notes.append("export era: 2018 (no ids: chats and senders identified by name)")
    elif survey.int_ids:
        notes.append("export era: 2019-2020 (ids as numbers, local dates)")
    elif survey.local_dates:
        notes.append("export era: late 2020-2021 (ids as strings, local dates)")
    elif survey.messages:
        notes.append("export era: late 2021 on (ids as strings, date_unixtime)")
    if survey.int_ids:
        notes.append(f"{survey.int_ids} messages give from_id/actor_id as a number: read as user<id>")
    if survey.unknown_kind:
        notes.append(
            f"{survey.unknown_kind} messages give a numeric from_id/actor_id outside the user-id range: "
            "kept as written, kind of peer unknown"
        )
    if decoded:
        notes.append(f"{decoded} chat ids in the 2019-2020 peer-id encoding: read as the bare id")
    if survey.name_only:
        notes.append(f"{survey.name_only} messages name their sender or actor without an id: read by name")
    if idless:
        by_name = sum(c.fallback == c.name for c in idless)
        notes.append(f"{len(idless)} chats have no id: {by_name} identified by name, the rest by locator")
    if survey.local_dates:
        zone = (
            f"read in {ctx.local_tz}"
            if ctx.local_tz is not None
            else "read as UTC because no time zone was set: set the zone the export was made in"
        )
        notes.append(f"{survey.local_dates} messages have only a local date (no date_unixtime): {zone}")
    for text in notes:
        cov.note(text)


def _chat_record(cov: Coverage, locator: str, chat: Chat) -> ChatRecord | None:
    loc = f"{locator}#{chat.anchor}"
    if chat.bad is not None:
        cov.skip("chats", chat.bad, loc)
        return None
    cov.parsed("chats")
    kind = CHAT_KIND.get(chat.type or "", "private")
    return ChatRecord(PLATFORM, chat.raw_id, chat.name, kind, chat.created_at, chat.creator, loc)


def _contact(cov: Coverage, locator: str, index: int, value: Any) -> AccountRecord | None:
    loc = f"{locator}#contacts/{index}"
    try:
        rec = contact_record(value, index, locator)
    except Unreadable as exc:
        cov.skip("contacts", exc.reason, loc)
        return None
    if rec is None:
        cov.ignore("contacts", "no user_id and no phone number (an empty contact)", loc)
    return rec
