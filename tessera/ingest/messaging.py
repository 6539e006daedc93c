"""Storing what messaging parsers return: identities resolved, one transaction per source.

A parser yields raw records; here raw identifiers become accounts (phone numbers to E.164, so the same
number written five ways is one account), chats are keyed per platform, senders become members with
first/last seen, and every account and chat gets a sighting on the device. A source whose parse raises
leaves nothing behind but a ``messaging_source`` row saying why.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from tessera.messaging.identity import normalise_phone
from tessera.messaging.records import (
    AccountRecord,
    ChatRecord,
    MembershipRecord,
    MessageRecord,
    MessagingRecord,
    ParseError,
)
from tessera.store import models as m
from tessera.store.writes import insert_ignore

_BATCH = 5000
_ID_LIKE = re.compile(r"^(user|channel|chat|group)?\d+$")


@dataclass
class SourceResult:
    locator: str
    parser: str
    messages: int = 0
    accounts: int = 0
    chats: int = 0
    error: str | None = None


@dataclass
class _Span:
    first: datetime
    last: datetime


@dataclass
class _Store:
    session: Session
    device_id: str
    source_id: int
    region: str | None
    accounts: dict[tuple[str, str, str], int] = field(default_factory=dict)
    by_raw: dict[tuple[str, str], int] = field(default_factory=dict)
    chats: dict[tuple[str, str], int] = field(default_factory=dict)
    spans: dict[tuple[int, int], _Span] = field(default_factory=dict)
    seen_accounts: set[int] = field(default_factory=set)
    seen_chats: set[int] = field(default_factory=set)
    rows: list[dict[str, Any]] = field(default_factory=list)
    messages: int = 0

    # --- identities --------------------------------------------------------------------------

    def _scope(self, platform: str, raw_id: str) -> str:
        """Global identifiers (JIDs, numeric ids, phone numbers) are one account everywhere; a bare
        display name in a chat export only means something on the device it came from."""
        if "@" in raw_id or _ID_LIKE.match(raw_id) or normalise_phone(raw_id, self.region):
            return ""
        return self.device_id

    def account(self, platform: str, raw_id: str, rec: AccountRecord | None = None) -> int:
        fast = self.by_raw.get((platform, raw_id))
        if fast is not None and rec is None:
            return fast  # the common case: a sender already seen in this source
        scope = self._scope(platform, raw_id)
        cache_key = (platform, raw_id, scope)
        acc_id = self.accounts.get(cache_key)
        s = self.session
        if acc_id is None:
            acc_id = s.scalar(
                select(m.AccountAlias.account_id).where(
                    m.AccountAlias.platform == platform,
                    m.AccountAlias.raw_id == raw_id,
                    m.AccountAlias.scope == scope,
                )
            )
        phone = None
        for candidate in [rec.phone if rec else None, raw_id, *(rec.aliases if rec else [])]:
            phone = normalise_phone(candidate, self.region) if candidate else None
            if phone:
                break
        if acc_id is None:
            if phone:
                key = phone.e164
            elif scope:
                key = f"{platform}:{scope}:{raw_id}"
            else:
                key = f"{platform}:{raw_id}"
            acc_id = s.scalar(
                select(m.Account.id).where(m.Account.platform == platform, m.Account.key == key)
            )
            if acc_id is None:
                acc = m.Account(
                    platform=platform,
                    key=key,
                    phone=phone.e164 if phone else None,
                    country=phone.country if phone else None,
                    names=[],
                )
                s.add(acc)
                s.flush()
                acc_id = acc.id
            s.add(m.AccountAlias(account_id=acc_id, platform=platform, raw_id=raw_id, scope=scope))
        self.accounts[cache_key] = acc_id
        self.by_raw[(platform, raw_id)] = acc_id
        if rec is not None:
            self._merge(acc_id, rec, phone)
            for alias in rec.aliases:
                alias_key = (platform, alias, self._scope(platform, alias))
                if alias_key not in self.accounts:
                    known = s.scalar(
                        select(m.AccountAlias.id).where(
                            m.AccountAlias.platform == platform,
                            m.AccountAlias.raw_id == alias,
                            m.AccountAlias.scope == alias_key[2],
                        )
                    )
                    if known is None:
                        s.add(
                            m.AccountAlias(
                                account_id=acc_id, platform=platform, raw_id=alias, scope=alias_key[2]
                            )
                        )
                    self.accounts[alias_key] = acc_id
        self.seen_accounts.add(acc_id)
        return acc_id

    def _merge(self, acc_id: int, rec: AccountRecord, phone: Any) -> None:
        acc = self.session.get(m.Account, acc_id)
        assert acc is not None
        if phone and not acc.phone:
            acc.phone, acc.country = phone.e164, phone.country
        if rec.username and not acc.username:
            acc.username = rec.username
        if rec.display_name:
            names = list(acc.names or [])
            if rec.display_name not in names:
                acc.names = [*names, rec.display_name]
            acc.display_name = acc.display_name or rec.display_name

    def chat(self, platform: str, raw_id: str, rec: ChatRecord | None = None) -> int:
        key = (platform, raw_id)
        chat_id = self.chats.get(key)
        s = self.session
        if chat_id is None:
            chat_id = s.scalar(select(m.Chat.id).where(m.Chat.platform == platform, m.Chat.key == raw_id))
            if chat_id is None and rec is not None:
                chat_id = self._same_group(platform, raw_id, rec)
            if chat_id is None:
                new = m.Chat(platform=platform, key=raw_id, kind="group")
                s.add(new)
                s.flush()
                chat_id = new.id
            self.chats[key] = chat_id
        if rec is not None:
            row = s.get(m.Chat, chat_id)
            assert row is not None
            row.title = row.title or rec.title
            row.kind = rec.kind or row.kind
            if rec.created_at and (row.created_at is None or rec.created_at < _aware(row.created_at)):
                row.created_at = rec.created_at
            if rec.creator and row.creator_id is None:
                row.creator_id = self.account(platform, rec.creator)
        self.seen_chats.add(chat_id)
        return chat_id

    def _same_group(self, platform: str, raw_id: str, rec: ChatRecord) -> int | None:
        """A chat export names its group only by title; a database names it by JID and title. The
        two are one group when exactly one group of the platform has that title; the JID becomes the
        key. Titles shared by several groups are never merged (they stay separate chats)."""
        if not rec.title or rec.kind != "group":
            return None
        same = self.session.scalars(
            select(m.Chat).where(
                m.Chat.platform == platform, m.Chat.title == rec.title, m.Chat.kind == "group"
            )
        ).all()
        if len(same) != 1:
            return None
        other = same[0]
        if "@" in raw_id and "@" in other.key:
            return None  # two JIDs: two different groups that happen to share a title
        if "@" in raw_id:
            other.key = raw_id  # an export's group, now known by its JID
        return other.id

    # --- records -----------------------------------------------------------------------------

    def add(self, rec: MessagingRecord) -> None:
        if isinstance(rec, MessageRecord):
            self.message(rec)
        elif isinstance(rec, AccountRecord):
            self.account(rec.platform, rec.raw_id, rec)
        elif isinstance(rec, ChatRecord):
            self.chat(rec.platform, rec.raw_id, rec)
        elif isinstance(rec, MembershipRecord):
            self.membership(rec)

    def membership(self, rec: MembershipRecord) -> None:
        chat_id = self.chat(rec.platform, rec.chat)
        acc_id = self.account(rec.platform, rec.account)
        s = self.session
        row = s.scalar(
            select(m.Membership).where(m.Membership.chat_id == chat_id, m.Membership.account_id == acc_id)
        )
        if row is None:
            row = m.Membership(chat_id=chat_id, account_id=acc_id)
            s.add(row)
        row.role = rec.role or row.role
        if rec.joined_at and (row.joined_at is None or rec.joined_at < _aware(row.joined_at)):
            row.joined_at = rec.joined_at
        if rec.left_at and (row.left_at is None or rec.left_at > _aware(row.left_at)):
            row.left_at = rec.left_at

    def message(self, rec: MessageRecord) -> None:
        chat_id = self.chat(rec.platform, rec.chat)
        sender = self.account(rec.platform, rec.sender) if rec.sender else None
        if sender is not None and rec.kind != "system":
            span = self.spans.get((chat_id, sender))
            if span is None:
                self.spans[(chat_id, sender)] = _Span(rec.time, rec.time)
            else:
                span.first, span.last = min(span.first, rec.time), max(span.last, rec.time)
        for target in rec.targets:
            self.account(rec.platform, target)
        media = rec.media
        self.rows.append(
            {
                "device_id": self.device_id,
                "source_id": self.source_id,
                "locator": rec.locator or f"#message/{rec.raw_id}",
                "chat_id": chat_id,
                "sender_id": sender,
                "time": rec.time,
                "kind": rec.kind,
                "text": rec.text,
                "forwarded": rec.forwarded,
                "forwarded_from": rec.forwarded_from,
                "action": rec.action,
                "media_sha256": media.sha256 if media else None,
                "media_path": media.path if media else None,
                "media_omitted": bool(media and media.omitted),
                "raw_id": rec.raw_id,
                "raw": rec.raw or None,
            }
        )
        self.messages += 1
        if len(self.rows) >= _BATCH:
            self.flush()

    def flush(self) -> None:
        insert_ignore(self.session, m.Message, self.rows, ["device_id", "locator"])
        self.rows = []

    def finish(self) -> None:
        self.flush()
        s = self.session
        for (chat_id, acc_id), span in self.spans.items():
            row = s.scalar(
                select(m.Membership).where(m.Membership.chat_id == chat_id, m.Membership.account_id == acc_id)
            )
            if row is None:
                row = m.Membership(chat_id=chat_id, account_id=acc_id)
                s.add(row)
            row.first_seen = span.first if row.first_seen is None else min(_aware(row.first_seen), span.first)
            row.last_seen = span.last if row.last_seen is None else max(_aware(row.last_seen), span.last)
        sightings = [
            {
                "entity": "account",
                "entity_id": a,
                "device_id": self.device_id,
                "source_id": self.source_id,
                "locator": None,
            }
            for a in sorted(self.seen_accounts)
        ]
        sightings += [
            {
                "entity": "chat",
                "entity_id": c,
                "device_id": self.device_id,
                "source_id": self.source_id,
                "locator": None,
            }
            for c in sorted(self.seen_chats)
        ]
        insert_ignore(s, m.Sighting, sightings, ["entity", "entity_id", "device_id", "source_id"])


def _aware(dt: datetime) -> datetime:
    # SQLite hands back naive datetimes for timezone-aware columns; every stored time is UTC.
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def store_source(
    factory: Callable[[], AbstractContextManager[Session]],
    device_id: str,
    locator: str,
    parser: str,
    records: Iterable[MessagingRecord],
    region: str | None = None,
) -> SourceResult:
    """Store one source in one transaction. If parsing fails part-way (ParseError, or any error
    the parser did not foresee), everything of it is rolled back and only a ``failed``
    ``messaging_source`` row naming the error is kept; a rerun parses the source again."""
    result = SourceResult(locator, parser)
    with factory() as session:
        try:
            _clear_source(session, device_id, locator)
            src = m.MessagingSource(device_id=device_id, locator=locator, parser=parser, status="complete")
            session.add(src)
            session.flush()
            store = _Store(session, device_id, src.id, region)
            for rec in records:
                store.add(rec)
            store.finish()
            src.messages = store.messages
            session.commit()
        except Exception as exc:  # noqa: BLE001 - a bad source is recorded, the ingest goes on
            session.rollback()
            result.error = str(exc) if isinstance(exc, ParseError) else f"{type(exc).__name__}: {exc}"
        else:
            result.messages, result.accounts, result.chats = (
                store.messages,
                len(store.seen_accounts),
                len(store.seen_chats),
            )
            return result
    with factory() as session:
        _clear_source(session, device_id, locator)
        session.add(
            m.MessagingSource(
                device_id=device_id, locator=locator, parser=parser, status="failed", error=result.error
            )
        )
        session.commit()
    return result


def _clear_source(session: Session, device_id: str, locator: str) -> None:
    existing = session.scalar(
        select(m.MessagingSource).where(
            m.MessagingSource.device_id == device_id, m.MessagingSource.locator == locator
        )
    )
    if existing is not None:
        session.execute(delete(m.Message).where(m.Message.source_id == existing.id))
        session.execute(delete(m.Sighting).where(m.Sighting.source_id == existing.id))
        session.delete(existing)
        session.flush()


def link_media(session: Session, device_id: str, source: str, media_root: str | None) -> int:
    """Resolve attachment paths to stored files on the same device: a chat export's attachments sit
    beside the text file (or in the same zip); a database's ``file_path`` is relative to the app's
    media root. Messages that already carry the source's own hash keep it."""
    parent = source.rsplit("/", 1)[0]
    n = 0
    q = select(m.Message.id, m.Message.media_path).where(
        m.Message.device_id == device_id,
        m.Message.media_sha256.is_(None),
        m.Message.media_path.is_not(None),
        m.Message.source_id
        == select(m.MessagingSource.id)
        .where(m.MessagingSource.device_id == device_id, m.MessagingSource.locator == source)
        .scalar_subquery(),
    )
    for msg_id, path in session.execute(q).all():
        candidates = [f"{parent}/{path}"]
        if media_root:
            candidates.insert(0, f"{media_root}/{path}")
        sha = session.scalar(
            select(m.File.sha256)
            .where(m.File.device_id == device_id, m.File.locator.in_(candidates), m.File.sha256.is_not(None))
            .limit(1)
        )
        if sha:
            session.execute(update(m.Message).where(m.Message.id == msg_id).values(media_sha256=sha))
            n += 1
    return n


def whatsapp_media_root(session: Session, device_id: str) -> str | None:
    """The folder WhatsApp's ``file_path`` values are relative to, found from the stored files."""
    loc = session.scalar(
        select(m.File.locator)
        .where(m.File.device_id == device_id, m.File.locator.like("%/WhatsApp/Media/%"))
        .limit(1)
    )
    return loc.split("/WhatsApp/Media/", 1)[0] + "/WhatsApp" if loc else None
