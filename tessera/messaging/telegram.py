"""Telegram Desktop export (``result.json``): a whole-account export or one chat, read as a stream.

Telegram Desktop writes either the whole account (top level ``about``, ``personal_information``,
``contacts``, ``chats``/``left_chats`` {``about``, ``list``} and more) or one chat (the top level is
the chat object: ``name``, ``type``, ``id``, ``messages``). A whole-account export can be hundreds of
MB, so the file is read twice with ijson events and never held: the first pass checks the structure
and every message (so a truncated or malformed file raises before any record is yielded) and learns
the names the export gives each account id; the second pass yields records. The event stream is
``telegram_stream``; turning its objects into records is ``telegram_records``.

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
from typing import Any, ClassVar

from tessera.messaging.base import PARSERS, ParseContext
from tessera.messaging.records import AccountRecord, ChatRecord, MessagingRecord, ParseError
from tessera.messaging.telegram_records import (
    CHAT_KIND,
    PLATFORM,
    Chat,
    chat_raw_id,
    contact_record,
    flatten_text,
    is_int,
    is_skipped,
    memberships,
    message_record,
    owner_record,
)
from tessera.messaging.telegram_stream import walk

# Other code imports these from here, where they lived before the helpers had modules of their own.
__all__ = ["PLATFORM", "TelegramExportParser", "chat_raw_id", "flatten_text", "is_skipped"]

_HEAD_KEYS = re.compile(rb'"(?:personal_information|chats|left_chats|messages|date_unixtime|from_id)"\s*:')
_FIRST_KEY = re.compile(rb'^\s*\{\s*"(?:about|name|type|id|personal_information|messages)"\s*:')


@dataclass
class _Survey:
    """What the first pass learns: layout, owner, chat headers, and the names of account ids."""

    layout: str | None = None  # "account" | "chat"
    owner: dict[str, Any] | None = None
    chats: list[Chat] = field(default_factory=list)
    names: dict[str, set[str]] = field(default_factory=dict)


class TelegramExportParser:
    name: ClassVar[str] = "telegram-export"
    patterns: ClassVar[tuple[str, ...]] = ("*.json",)
    companions: ClassVar[tuple[str, ...]] = ()
    #: ``photos/``, ``files/``, ``video_files/`` ... are relative to the export's folder.
    media_roots: ClassVar[tuple[str, ...]] = (".",)

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
        chat: Chat | None = None
        for kind, payload in walk(ctx):
            if kind == "root_key":
                if payload in ("chats", "left_chats", "personal_information", "contacts"):
                    survey.layout = survey.layout or "account"
                elif payload == "messages":
                    survey.layout = survey.layout or "chat"
            elif kind == "personal":
                survey.owner = payload
                owner = owner_record(payload, ctx.locator)
                if owner.display_name:
                    survey.names.setdefault(owner.display_name, set()).add(owner.raw_id)
            elif kind == "contact":
                contact = contact_record(payload[1], payload[0], ctx.locator)
                if contact and contact.display_name and contact.raw_id.startswith("user"):
                    survey.names.setdefault(contact.display_name, set()).add(contact.raw_id)
            elif kind == "chat_begin":
                chat = Chat(payload, sum(c.section == payload for c in survey.chats))
                survey.chats.append(chat)
            elif kind == "chat_field":
                chat = chat or _single(survey)
                _set_chat_field(chat, *payload)
            elif kind == "message":
                chat = chat or _single(survey)
                rec = message_record(payload, chat, "", ctx.local_tz)
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
            owner = owner_record(survey.owner, ctx.locator)
            owner_id = owner.raw_id
            seen.add(owner_id)
            yield owner
        chats = iter(survey.chats)
        chat: Chat | None = None
        for kind, payload in walk(ctx):
            if kind == "contact":
                rec = contact_record(payload[1], payload[0], ctx.locator)
                if rec is not None and rec.raw_id not in seen:
                    seen.add(rec.raw_id)
                    yield rec
            elif kind == "chat_begin" or (kind in ("chat_field", "message") and chat is None):
                chat = next(chats)
                ckind, cloc = CHAT_KIND.get(chat.type or "", "private"), f"{ctx.locator}#chat/{chat.id}"
                yield ChatRecord(PLATFORM, chat.raw_id, chat.name, ckind, chat.created_at, chat.creator, cloc)
            if kind == "message":
                assert chat is not None
                loc = f"{ctx.locator}#chat/{chat.id}/message/{payload.get('id')}"
                msg = message_record(payload, chat, loc, ctx.local_tz)
                if msg is None:
                    continue
                msg.from_me = owner_id is not None and msg.sender == owner_id
                if msg.sender and msg.sender not in seen:
                    seen.add(msg.sender)
                    name = msg.raw.get("actor" if msg.kind == "system" else "from")
                    yield AccountRecord(PLATFORM, msg.sender, display_name=name, locator=loc)
                yield msg
                for name, ms in memberships(msg, chat.raw_id, survey.names):
                    if ms.account not in seen:  # a member who neither wrote nor acted before this
                        seen.add(ms.account)
                        yield AccountRecord(PLATFORM, ms.account, display_name=name, locator=loc)
                    yield ms
            elif kind == "chat_end":
                chat = None


PARSERS.register(TelegramExportParser.name)(TelegramExportParser())


def _single(survey: _Survey) -> Chat:
    """The chat of a single-chat export (its fields and messages sit at the top level)."""
    if not survey.chats:
        survey.chats.append(Chat("", 0))
    return survey.chats[0]


def _set_chat_field(chat: Chat, key: str, value: Any) -> None:
    if key == "id":
        if not is_int(value):
            raise ParseError(f"{chat.where}: id is {value!r:.40}, not an integer")
        chat.id = value
    elif value is not None and not isinstance(value, str):
        raise ParseError(f"{chat.where}: {key} is {type(value).__name__}, not a string")
    elif key == "name":
        chat.name = value
    else:
        chat.type = value


def _check_chat(chat: Chat | None) -> None:
    if chat is None or chat.id is None:
        raise ParseError(f"{chat.where if chat else 'chat'}: no chat id")
