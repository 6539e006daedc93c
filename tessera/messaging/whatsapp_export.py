"""WhatsApp "Export chat" text files (Android ``WhatsApp Chat with X.txt``, iOS ``_chat.txt``).

The file is read whole (exports are small: WhatsApp caps them at tens of thousands of messages) because
the date order (day or month first) can only be decided from all of its dates. Times are local without
a zone; they are read in ``ctx.local_tz`` (UTC when unset) and returned as aware UTC datetimes.
See ``docs/messaging-whatsapp-export.md`` for the rules on chat names, date orders and truncated files.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar

import phonenumbers

from tessera.evidence import open_item
from tessera.messaging import whatsapp_export_patterns as pat
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

PLATFORM = "whatsapp"
#: A file with no dated line among its first this-many non-empty lines is not an export.
HEAD_LINES = 50
#: Larger than any real export's text; a guard against reading a disk image as a chat.
MAX_BYTES = 512 * 1024 * 1024
#: Names WhatsApp gives an export (Android ``.txt`` and ``.zip``, iOS ``.zip``), per locale.
NAME_PREFIXES = (
    "WhatsApp Chat with ",
    "WhatsApp Chat - ",
    "Chat de WhatsApp con ",
    "Chat de WhatsApp - ",
    "Conversa do WhatsApp com ",
    "Conversa do WhatsApp - ",
)
_PHONE_TEXT = re.compile(r"\+?[\d\s\u00a0\u2010-\u2015().-]{6,}")
_LINE_BREAK = re.compile(r"\r\n|\r|\n")  # not str.splitlines: U+2028 and friends are message content


def chat_title(locator: str) -> str | None:
    """The chat's title from the export's name: ``WhatsApp Chat with Group 01.txt`` -> ``Group 01``;
    for iOS ``_chat.txt`` the enclosing zip or folder (``WhatsApp Chat - Group 01.zip``). A copy suffix
    a download added (``... (1).txt``) is dropped. None when the name is not one WhatsApp writes."""
    parts = [p for p in re.split(r"[/!]", locator) if p]
    if not parts:
        return None
    name = parts[-1]
    if name.lower() == "_chat.txt":
        if len(parts) < 2:
            return None
        name = re.sub(r"\.zip$", "", parts[-2], flags=re.IGNORECASE)
    else:
        name = re.sub(r"\.txt$", "", name, flags=re.IGNORECASE)
    name = re.sub(r" \(\d+\)$", "", name)
    for prefix in NAME_PREFIXES:
        if name.lower().startswith(prefix.lower()) and len(name) > len(prefix):
            return name[len(prefix) :].strip()
    return None


def looks_like_phone(text: str) -> bool:
    if not _PHONE_TEXT.fullmatch(text) or sum(c.isdigit() for c in text) < 6:
        return False
    if not text.startswith("+"):
        return True  # a local form: only the pipeline knows the case's default country
    try:
        return phonenumbers.is_possible_number(phonenumbers.parse(text, None))
    except phonenumbers.NumberParseException:
        return False


def _decode(data: bytes) -> str:
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return data.decode("utf-16", errors="replace")
    # A cut multi-byte character (truncated file) or stray bytes must not lose the rest of the chat.
    return data.decode("utf-8", errors="replace")


def _header(line: str, style: str | None) -> tuple[str, re.Match[str]] | None:
    clean = pat.strip_marks(line).lstrip()
    styles = (style,) if style else ("ios", "android")
    for s in styles:
        m = pat.HEADERS[s].fullmatch(clean)
        if m:
            return s, m
    return None


@dataclass
class _Entry:
    """One message as found: the header line and the continuation lines after it."""

    line_no: int
    raw_line: str
    style: str
    match: re.Match[str]
    time: datetime
    more: list[str] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict)


class WhatsAppExportParser:
    name: ClassVar[str] = "whatsapp-export"
    #: Any text file: an export is recognised by its content, whatever it was renamed to.
    patterns: ClassVar[tuple[str, ...]] = ("*.txt",)
    companions: ClassVar[tuple[str, ...]] = ()
    #: Attachments lie beside the text file (in the same folder or zip).
    media_roots: ClassVar[tuple[str, ...]] = (".",)

    def detect(self, locator: str, head: bytes) -> bool:
        base = re.split(r"[/!]", locator)[-1].lower()
        if base == "_chat.txt":
            return True
        if not base.endswith(".txt"):
            return False
        lines = [ln for ln in _LINE_BREAK.split(_decode(head[:8192])) if ln.strip()]
        return any(_header(ln, None) for ln in lines[:20])

    def parse(self, ctx: ParseContext) -> Iterator[MessagingRecord]:
        with open_item(ctx.opener) as fh:
            data = fh.read(MAX_BYTES + 1)
        if len(data) > MAX_BYTES:
            raise ParseError(f"not a WhatsApp chat export: {ctx.locator}: larger than {MAX_BYTES} bytes")
        text = _decode(data)
        lines = _LINE_BREAK.split(text)
        ends_cleanly = bool(lines) and lines[-1] == ""
        if ends_cleanly:
            lines.pop()
        entries = _read_entries(ctx, lines, ends_cleanly)
        yield from _Builder(ctx, entries).records()


def _hint(ctx: ParseContext) -> str | None:
    raw = ctx.options.get("date_order")
    if not raw:
        return None
    hint = re.sub(r"[^A-Z]", "", raw.upper())
    if hint not in pat.ORDERS:
        raise ParseError(f"{ctx.locator}: date_order option {raw!r} is not one of {', '.join(pat.ORDERS)}")
    return hint


def _read_entries(ctx: ParseContext, lines: list[str], ends_cleanly: bool) -> list[_Entry]:
    # First pass: header candidates, in the style of the first one (a file is all Android or all iOS;
    # fixing the style keeps a quoted "[date] ..." inside an Android message from starting a message).
    style: str | None = None
    candidates: dict[int, re.Match[str]] = {}
    seen_nonempty = 0
    for i, line in enumerate(lines):
        if style is None and line.strip():
            seen_nonempty += 1
            if seen_nonempty > HEAD_LINES:
                break
        found = _header(line, style)
        if found:
            style = found[0]
            candidates[i] = found[1]
    if style is None:
        what = (
            "empty file"
            if not any(ln.strip() for ln in lines)
            else f"no dated message line in the first {HEAD_LINES} lines"
        )
        raise ParseError(f"not a WhatsApp chat export: {ctx.locator}: {what}")
    order, decided_by = pat.decide_order([pat.date_parts(m["date"]) for m in candidates.values()], _hint(ctx))
    tz = ctx.local_tz or UTC
    entries: list[_Entry] = []
    for i, line in enumerate(lines):
        m = candidates.get(i)
        when = _when(m, order) if m else None
        if m is None or when is None:
            if entries:
                entries[-1].more.append(pat.strip_marks(line))
            continue  # lines before the first message: nothing to attach them to
        local = when.replace(tzinfo=tz)
        raw: dict[str, Any] = {"style": style, "date_order": order}
        if decided_by != "file":
            raw["date_order_ambiguous"] = decided_by  # "option" or "default": days never exceed 12
        entries.append(_Entry(i + 1, line, style, m, local.astimezone(UTC), raw=raw))
    if not entries:
        raise ParseError(f"not a WhatsApp chat export: {ctx.locator}: no line has a valid date and time")
    if not ends_cleanly:
        _mark_truncated(entries[-1], len(lines))
    return entries


def _mark_truncated(last: _Entry, n_lines: int) -> None:
    """The file ends without a line break, so its last line may be cut. A cut header (``01/03/2``)
    would otherwise be appended to the previous message as text; it is moved to raw instead."""
    last.raw["truncated"] = True
    if last.more and last.line_no + len(last.more) == n_lines and pat.HEADER_START.match(last.more[-1]):
        last.raw["truncated_tail"] = last.more.pop()


def _when(m: re.Match[str], order: str) -> datetime | None:
    day = pat.make_date(pat.date_parts(m["date"]), order)
    hour, minute, second = int(m["hour"]), int(m["minute"]), int(m["second"] or 0)
    if m["ampm"]:
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if m["ampm"][0] in "Pp" else 0)
    if day is None or hour > 23 or minute > 59 or second > 59:
        return None
    return datetime(day.year, day.month, day.day, hour, minute, second)


class _Builder:
    """Turns entries into records: classifies each line, collects accounts, decides the chat."""

    def __init__(self, ctx: ParseContext, entries: list[_Entry]) -> None:
        self.ctx = ctx
        self.entries = entries
        self.title = chat_title(ctx.locator)
        self.accounts: dict[str, AccountRecord] = {}
        self.senders: set[str] = set()
        self.is_group = False

    def account(self, raw_id: str, locator: str) -> str:
        if raw_id not in self.accounts:
            phone = looks_like_phone(raw_id)
            self.accounts[raw_id] = AccountRecord(
                PLATFORM,
                raw_id,
                phone=raw_id if phone else None,
                display_name=None if phone else raw_id,
                locator=locator,
            )
        return raw_id

    def records(self) -> Iterator[MessagingRecord]:
        messages: list[MessageRecord] = []
        memberships: list[MembershipRecord] = []
        created: MessageRecord | None = None
        for entry in self.entries:
            msg = self.message(entry)
            messages.append(msg)
            if msg.kind == "system":
                if msg.action == "created" and created is None:
                    created = msg
                memberships.extend(self.memberships(msg))
        chat_id = self.title or (created.raw.get("title") if created else None) or self.ctx.locator
        title = self.title or (created.raw.get("title") if created else None)
        for msg in messages:
            msg.chat = chat_id
        for member in memberships:
            member.chat = chat_id
        yield ChatRecord(
            PLATFORM,
            chat_id,
            title=title,
            kind="group" if self.is_group or len(self.senders) > 2 else "private",
            created_at=created.time if created else None,
            creator=created.sender if created else None,
            locator=f"{self.ctx.locator}#L{self.entries[0].line_no}" if self.entries else self.ctx.locator,
        )
        yield from self.accounts.values()
        yield from memberships
        yield from messages

    def memberships(self, msg: MessageRecord) -> Iterator[MembershipRecord]:
        if msg.action in ("added", "joined", "created"):
            who = msg.targets if msg.action == "added" else ([msg.sender] if msg.sender else [])
            role = "creator" if msg.action == "created" else "member"
            for account in who:
                yield MembershipRecord(PLATFORM, "", account, role, joined_at=msg.time, locator=msg.locator)
        elif msg.action in ("left", "removed"):
            who = msg.targets if msg.action == "removed" else ([msg.sender] if msg.sender else [])
            for account in who:
                yield MembershipRecord(PLATFORM, "", account, left_at=msg.time, locator=msg.locator)

    def message(self, entry: _Entry) -> MessageRecord:
        loc = f"{self.ctx.locator}#L{entry.line_no}"
        body = entry.match["body"]
        msg = MessageRecord(PLATFORM, "", None, entry.time, locator=loc, raw=entry.raw)
        # Android notices have no "Name:"; try them first, as a notice may contain ": " in a title.
        if entry.style == "android" and self.system(msg, "\n".join([body, *entry.more]), loc):
            return msg
        sender, first = _split_sender(body)
        if sender is None:
            self.system(msg, "\n".join([body, *entry.more]), loc, unknown_ok=True)
            return msg
        if entry.style == "ios":
            # iOS attributes its own notices to the chat's name and puts a left-to-right mark before
            # their text; a mark or the chat's name is needed so typed words are never taken for one.
            clean_line = pat.strip_marks(entry.raw_line)
            lead = len(clean_line) - len(clean_line.lstrip())
            text_at = lead + entry.match.start("body") + len(body) - len(first)
            marked = pat.mark_before(entry.raw_line, text_at)
            by_chat = self.title is not None and sender == self.title
            notice = "\n".join([first, *entry.more])
            if (marked or by_chat) and self.system(msg, notice, loc):
                msg.raw["notice_by"] = sender
                return msg
            if marked and by_chat and not _is_marker(first):
                self.system(msg, notice, loc, unknown_ok=True)
                msg.raw["notice_by"] = sender
                return msg
        msg.sender = self.account(sender, loc)
        self.senders.add(sender)
        self.content(msg, entry.style, first, entry.more)
        return msg

    def system(self, msg: MessageRecord, text: str, loc: str, unknown_ok: bool = False) -> bool:
        found = pat.match_system(text)
        if found is None and not unknown_ok:
            return False
        msg.kind = "system"
        msg.text = text
        if found is None:
            return True
        pattern, m = found
        msg.action = pattern.action
        groups = m.groupdict()
        if pattern.by_you:
            msg.from_me = True
            msg.raw["actor"] = pat.YOU
        elif groups.get("actor"):
            msg.sender = self.account(groups["actor"].strip(), loc)
        if groups.get("targets"):
            targets = pat.split_targets(groups["targets"], pattern.locale)
            if any(t.lower() in pat.YOU_TARGETS for t in targets):
                msg.raw["exporter_targeted"] = True
            msg.targets = [self.account(t, loc) for t in targets if t.lower() not in pat.YOU_TARGETS]
        if groups.get("title") is not None:
            msg.raw["title"] = groups["title"]
        if pattern.action in pat.GROUP_ACTIONS:
            self.is_group = True
        return True

    def content(self, msg: MessageRecord, style: str, first: str, more: list[str]) -> None:
        edited = pat.EDITED_SUFFIX.search(first if not more else more[-1])
        if edited:
            msg.raw["edited"] = True
            if more:
                more = [*more[:-1], more[-1][: edited.start()]]
            else:
                first = first[: edited.start()]
        stripped = first.strip()
        caption: list[str] = list(more)
        if (m := pat.IOS_ATTACHED.search(first)) is not None:
            name = m["name"].strip()
            before, after = first[: m.start()].strip(), first[m.end() :].strip()
            caption = [t for t in (before, after) if t] + more
            self.attach(msg, name)
        elif style == "android" and (m := pat.ANDROID_ATTACHED.fullmatch(stripped)) is not None:
            self.attach(msg, m["name"].strip())
        elif pat.ANDROID_OMITTED.fullmatch(stripped) or (style == "android" and stripped == pat.ANDROID_NULL):
            msg.kind = "other"
            msg.media = MediaRef(omitted=True)
            msg.raw["marker"] = stripped
        elif stripped.lower() in pat.IOS_OMITTED:
            msg.kind = pat.IOS_OMITTED[stripped.lower()]
            msg.media = MediaRef(omitted=True)
            msg.raw["marker"] = stripped
        elif not more and pat.DELETED.fullmatch(stripped):
            msg.kind = "other"
            msg.raw["deleted"] = stripped
            return
        else:
            msg.text = "\n".join([first, *more])
            return
        msg.text = "\n".join(caption).strip() or None

    def attach(self, msg: MessageRecord, name: str) -> None:
        msg.kind = pat.media_kind(name)
        msg.media = MediaRef(path=name, file_name=name.rsplit("/", 1)[-1])
        # The pipeline links the path to the stored file. Presence is noted only when confirmed: a
        # caller whose sibling() cannot reach container members must not make files look lost.
        if self.ctx.sibling(name) is not None:
            msg.raw["attachment_found"] = True


def _is_marker(text: str) -> bool:
    stripped = text.strip()
    return bool(
        pat.IOS_ATTACHED.search(text)
        or stripped.lower() in pat.IOS_OMITTED
        or pat.DELETED.fullmatch(stripped)
    )


def _split_sender(body: str) -> tuple[str | None, str]:
    """("Name", "text") from ``Name: text``; (None, body) for a line without a sender."""
    idx = body.find(": ")
    if idx > 0:
        return body[:idx].strip(), body[idx + 2 :]
    if body.endswith(":") and len(body) > 1 and "\n" not in body:
        return body[:-1].strip(), ""
    return None, body


PARSERS.register(WhatsAppExportParser.name)(WhatsAppExportParser())
