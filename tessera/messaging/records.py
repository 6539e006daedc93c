"""Records the messaging parsers return; the pipeline normalises identities and stores them.

Parsers keep raw values (``raw_id`` exactly as found: ``34612345678@s.whatsapp.net``,
``1234567890@lid``, ``user123456789``, a display name in a chat export) and provenance (``locator``:
the evidence file plus a position in it, e.g. ``/sdcard/.../msgstore.db#message/4711`` or
``/chat.zip!/WhatsApp Chat with G.txt#L120``). Identities are resolved late, by the pipeline.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

PLATFORMS = ("whatsapp", "telegram")


@dataclass(slots=True)
class AccountRecord:
    """An account as one source names it. ``raw_id`` is the source's identifier for it."""

    platform: str
    raw_id: str
    phone: str | None = None  # a phone number as written (any local form); normalised later
    username: str | None = None
    display_name: str | None = None
    #: Other identifiers the source says are the same account (a WhatsApp ``@lid`` and its phone JID).
    aliases: list[str] = field(default_factory=list)
    is_device_owner: bool = False
    locator: str | None = None


@dataclass(slots=True)
class ChatRecord:
    platform: str
    raw_id: str
    title: str | None = None
    kind: str = "group"  # group | private | channel | broadcast
    created_at: datetime | None = None
    creator: str | None = None  # account raw id
    locator: str | None = None


@dataclass(slots=True)
class MembershipRecord:
    platform: str
    chat: str  # chat raw id
    account: str  # account raw id
    role: str | None = None  # admin | member | creator
    joined_at: datetime | None = None
    left_at: datetime | None = None
    locator: str | None = None


@dataclass(slots=True)
class MediaRef:
    """What a message says about its attachment. The file itself may be gone."""

    sha256: str | None = None  # lower hex (WhatsApp file_hash is base64 of it: decoded by the parser)
    path: str | None = None  # as the source writes it (relative to the app's folder, or in the export zip)
    file_name: str | None = None
    mime: str | None = None
    size: int | None = None
    #: The source says the file was not kept ("<Media omitted>", "(File not included...)").
    omitted: bool = False


@dataclass(slots=True)
class MessageRecord:
    platform: str
    chat: str  # chat raw id
    sender: str | None  # account raw id; None for system lines without an actor
    time: datetime  # timezone-aware UTC
    kind: str = "text"  # text | image | video | audio | document | sticker | system | call | other
    text: str | None = None
    forwarded: bool = False
    forwarded_from: str | None = None  # raw id or name of the original sender when the source says
    media: MediaRef | None = None
    raw_id: str | None = None  # the source's message key
    #: For system/service messages: what happened (created, joined, added, left, removed, invited ...)
    action: str | None = None
    #: Accounts a system message is about (the added or removed members).
    targets: list[str] = field(default_factory=list)
    from_me: bool = False
    locator: str | None = None
    raw: dict[str, Any] = field(default_factory=dict)


MessagingRecord = AccountRecord | ChatRecord | MembershipRecord | MessageRecord


class ParseError(ValueError):
    """Input a parser cannot read: the message names the file and, where known, the line or table."""


class NotParsed(Exception):
    """A source recognised but deliberately not read (a format Tessera knows but has no parser for):
    recorded "not parsed" with this reason, not failed, and nothing of it stored."""
