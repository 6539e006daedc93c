"""Records from the messages of a WhatsApp "Export chat": senders, system notices, markers, the chat.

``whatsapp_export`` finds the messages (header line plus continuation lines) and accounts for every
line; this module turns each message into records.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import phonenumbers

from tessera.messaging import whatsapp_export_markers as mk
from tessera.messaging import whatsapp_export_patterns as pat
from tessera.messaging import whatsapp_export_system as sysp
from tessera.messaging.base import ParseContext
from tessera.messaging.records import (
    AccountRecord,
    ChatRecord,
    MediaRef,
    MembershipRecord,
    MessageRecord,
    MessagingRecord,
)

PLATFORM = "whatsapp"
_PHONE_TEXT = re.compile(r"\+?[\d\s\u00a0\u2010-\u2015().-]{6,}")


def looks_like_phone(text: str) -> bool:
    if not _PHONE_TEXT.fullmatch(text) or sum(c.isdigit() for c in text) < 6:
        return False
    if not text.startswith("+"):
        return True  # a local form: only the pipeline knows the case's default country
    try:
        return phonenumbers.is_possible_number(phonenumbers.parse(text, None))
    except phonenumbers.NumberParseException:
        return False


def owner_id(ctx: ParseContext) -> tuple[str, bool]:
    """(raw id, whether it is a real number) of the device owner, by the convention of the database
    parser (``whatsapp_db_common.find_owner``): ``options["owner"]`` as a JID, else a placeholder.
    An export has no preferences file beside it, so that step of the database parser does not apply."""
    given = ctx.options.get("owner", "").strip()
    if given:
        if "@" in given:
            return given, True
        digits = re.sub(r"\D", "", given)
        if digits:
            return digits + "@s.whatsapp.net", True
    return f"whatsapp:owner@{ctx.device_id or 'device'}", False


@dataclass
class Entry:
    """One message as found: the header line and the continuation lines after it."""

    line_no: int
    raw_line: str
    layout: str
    body: str  # the header line's text after the header, marks removed, digits as written
    body_at: int  # where ``body`` starts in ``strip_marks(raw_line)``
    time: datetime
    more: list[str] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict)


class Builder:
    """Turns entries into records: classifies each line, collects accounts, decides the chat."""

    def __init__(self, ctx: ParseContext, entries: list[Entry], title: str | None) -> None:
        self.ctx = ctx
        self.entries = entries
        self.title = title
        self.accounts: dict[str, AccountRecord] = {}
        self.senders: set[str] = set()
        self.is_group = False
        self.owner, self.owner_real = owner_id(ctx)

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

    def owner_account(self, locator: str) -> str:
        """The device owner: notices call them "You", "Tú", "Du" ..., never an account of its own."""
        if self.owner not in self.accounts:
            digits = self.owner.split("@", 1)[0]
            self.accounts[self.owner] = AccountRecord(
                PLATFORM,
                self.owner,
                phone="+" + digits if self.owner_real and digits.isdigit() else None,
                is_device_owner=True,
                locator=locator,
            )
        return self.owner

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
        for msg in messages:
            self.ctx.coverage.parsed("messages")
            yield msg

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

    def message(self, entry: Entry) -> MessageRecord:
        loc = f"{self.ctx.locator}#L{entry.line_no}"
        body = entry.body
        msg = MessageRecord(PLATFORM, "", None, entry.time, locator=loc, raw=entry.raw)
        ios = entry.layout.startswith("ios")
        # Android notices have no "Name:"; try them first, as a notice may contain ": " in a title.
        if not ios and self.system(msg, "\n".join([body, *entry.more]), loc):
            return msg
        sender, first = _split_sender(body)
        if sender is None:
            if first.endswith(":.") and ":" not in first[:-2] and "\n" not in first:
                # "Name:." -- a message WhatsApp wrote without its content (chat-miner reads it as a
                # disappearing message); the sender is known, the content is not.
                msg.sender = self.account(first[:-2].strip(), loc)
                self.senders.add(msg.sender)
                msg.kind = "other"
                msg.raw["marker"] = first
                return msg
            self.system(msg, "\n".join([body, *entry.more]), loc, unknown_ok=True)
            return msg
        notice = "\n".join([first, *entry.more])
        encryption = sysp.match_encryption(notice)
        if encryption is not None:
            # WhatsApp puts the chat's name before some banners (Android and iOS alike).
            msg.kind, msg.action, msg.text = "system", encryption.action, notice
            msg.raw["notice_by"] = sender
            return msg
        if ios:
            # iOS attributes its own notices to the chat's name and puts a left-to-right mark before
            # their text; a mark or the chat's name is needed so typed words are never taken for one.
            text_at = entry.body_at + len(body) - len(first)
            marked = pat.mark_before(entry.raw_line, text_at)
            by_chat = self.title is not None and sender == self.title
            if (marked or by_chat) and self.system(msg, notice, loc):
                msg.raw["notice_by"] = sender
                return msg
            if marked and by_chat and not _is_marker(first):
                self.system(msg, notice, loc, unknown_ok=True)
                msg.raw["notice_by"] = sender
                return msg
        msg.sender = self.account(sender, loc)
        self.senders.add(sender)
        self.content(msg, ios, first, entry.more)
        return msg

    def system(self, msg: MessageRecord, text: str, loc: str, unknown_ok: bool = False) -> bool:
        found = sysp.match_system(text)
        if found is None and not unknown_ok:
            return False
        msg.kind = "system"
        msg.text = text
        if found is None:
            return True
        pattern, m = found
        msg.action = pattern.action
        groups = m.groupdict()
        actor = (groups.get("actor") or "").strip()
        if pattern.by_you or actor.lower() in sysp.OWNER_ACTORS:
            msg.sender = self.owner_account(loc)
            msg.from_me = True
            msg.raw["actor"] = actor or sysp.YOU
        elif actor:
            msg.sender = self.account(actor, loc)
        targets: list[str] = []
        if groups.get("targets"):
            for t in sysp.split_targets(groups["targets"], pattern.locale):
                targets.append(
                    self.owner_account(loc) if t.lower() in sysp.OWNER_TARGETS else self.account(t, loc)
                )
        if pattern.you_target:
            targets.append(self.owner_account(loc))
        if self.owner in targets:
            msg.raw["exporter_targeted"] = True
        msg.targets = targets
        if groups.get("title") is not None:
            msg.raw["title"] = groups["title"]
        if groups.get("old") is not None:
            msg.raw["old_title"] = groups["old"]
        if pattern.action in sysp.GROUP_ACTIONS:
            self.is_group = True
        return True

    def content(self, msg: MessageRecord, ios: bool, first: str, more: list[str]) -> None:
        edited = mk.EDITED_SUFFIX.search(first if not more else more[-1])
        if edited:
            msg.raw["edited"] = True
            if more:
                more = [*more[:-1], more[-1][: edited.start()]]
            else:
                first = first[: edited.start()]
        stripped = first.strip()
        caption: list[str] = list(more)
        if (m := mk.IOS_ATTACHED.search(first)) is not None:
            name = m["name"].strip()
            before, after = first[: m.start()].strip(), first[m.end() :].strip()
            caption = [t for t in (before, after) if t] + more
            self.attach(msg, name)
        elif not ios and (m := mk.ANDROID_ATTACHED.fullmatch(stripped)) is not None:
            self.attach(msg, m["name"].strip())
        elif mk.ANDROID_OMITTED.fullmatch(stripped) or (not ios and stripped == mk.ANDROID_NULL):
            msg.kind = "other"
            msg.media = MediaRef(omitted=True)
            msg.raw["marker"] = stripped
        elif stripped.lower() in mk.IOS_OMITTED:
            msg.kind = mk.IOS_OMITTED[stripped.lower()]
            msg.media = MediaRef(omitted=True)
            msg.raw["marker"] = stripped
        elif not more and mk.DELETED.fullmatch(stripped):
            msg.kind = "other"
            msg.raw["deleted"] = stripped
            return
        else:
            msg.text = "\n".join([first, *more])
            return
        msg.text = "\n".join(caption).strip() or None

    def attach(self, msg: MessageRecord, name: str) -> None:
        msg.kind = mk.media_kind(name)
        msg.media = MediaRef(path=name, file_name=name.rsplit("/", 1)[-1])
        # The pipeline links the path to the stored file. Presence is noted only when confirmed: a
        # caller whose sibling() cannot reach container members must not make files look lost.
        if self.ctx.sibling(name) is not None:
            msg.raw["attachment_found"] = True


def _is_marker(text: str) -> bool:
    stripped = text.strip()
    return bool(
        mk.IOS_ATTACHED.search(text) or stripped.lower() in mk.IOS_OMITTED or mk.DELETED.fullmatch(stripped)
    )


def _split_sender(body: str) -> tuple[str | None, str]:
    """("Name", "text") from ``Name: text``; (None, body) for a line without a sender."""
    idx = body.find(": ")
    if idx > 0:
        return body[:idx].strip(), body[idx + 2 :]
    if body.endswith(":") and len(body) > 1 and "\n" not in body:
        return body[:-1].strip(), ""
    return None, body
