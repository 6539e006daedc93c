"""Resolving a source's raw identifiers to accounts and chats, and buffering what it says about them.

The case's aliases, accounts and chats are loaded once per source (a few thousand rows even in a large
operation), lookups are dictionary hits, and everything else is written in bulk at the end, so a
million-message database is bounded by the database's insert speed, not by round trips.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, bindparam, insert, select, update

from tessera.messaging.identity import Phone, normalise_phone
from tessera.messaging.records import (
    AccountRecord,
    ChatRecord,
    MembershipRecord,
    MessageRecord,
    MessagingRecord,
)
from tessera.store import models as m
from tessera.store.writes import insert_ignore

_BATCH = 5000
# Built once: a statement made per row is compiled per row, which costs more than the insert.
_NEW_ACCOUNT = insert(m.Account).returning(m.Account.id)
_NEW_CHAT = insert(m.Chat).returning(m.Chat.id)
_ID_LIKE = re.compile(r"^(user|channel|chat|group)?\d+$")


def aware(dt: datetime | None) -> datetime | None:
    # SQLite hands back naive datetimes for timezone-aware columns; every stored time is UTC.
    return dt if dt is None or dt.tzinfo else dt.replace(tzinfo=UTC)


def _min(a: datetime | None, b: datetime | None) -> datetime | None:
    a, b = aware(a), aware(b)
    return b if a is None else a if b is None else min(a, b)


def _max(a: datetime | None, b: datetime | None) -> datetime | None:
    a, b = aware(a), aware(b)
    return b if a is None else a if b is None else max(a, b)


@dataclass
class Resolver:
    conn: Connection
    device_id: str
    source_id: int
    region: str | None
    alias: dict[tuple[str, str, str], int] = field(default_factory=dict)
    by_raw: dict[tuple[str, str], int] = field(default_factory=dict)
    acc_by_key: dict[tuple[str, str], int] = field(default_factory=dict)
    acc: dict[int, dict[str, Any]] = field(default_factory=dict)
    chat_by_key: dict[tuple[str, str], int] = field(default_factory=dict)
    chats: dict[int, dict[str, Any]] = field(default_factory=dict)
    new_aliases: list[dict[str, Any]] = field(default_factory=list)
    dirty_acc: set[int] = field(default_factory=set)
    dirty_chat: set[int] = field(default_factory=set)
    members: dict[tuple[int, int], dict[str, Any]] = field(default_factory=dict)
    seen_accounts: set[int] = field(default_factory=set)
    seen_chats: set[int] = field(default_factory=set)
    rows: list[dict[str, Any]] = field(default_factory=list)
    messages: int = 0

    def load(self) -> Resolver:
        c = self.conn
        t: Any = m.AccountAlias.__table__.c
        for platform, raw_id, scope, acc_id in c.execute(select(t.platform, t.raw_id, t.scope, t.account_id)):
            self.alias[(platform, raw_id, scope)] = acc_id
        a: Any = m.Account.__table__.c
        for row in c.execute(
            select(
                a.id,
                a.platform,
                a.key,
                a.phone,
                a.phone_valid,
                a.country,
                a.username,
                a.display_name,
                a.names,
            )
        ):
            self.acc_by_key[(row.platform, row.key)] = row.id
            self.acc[row.id] = {
                "phone": row.phone,
                "phone_valid": row.phone_valid,
                "country": row.country,
                "username": row.username,
                "display_name": row.display_name,
                "names": list(row.names or []),
            }
        ch: Any = m.Chat.__table__.c
        for crow in c.execute(
            select(ch.id, ch.platform, ch.key, ch.title, ch.kind, ch.created_at, ch.creator_id)
        ):
            self.chat_by_key[(crow.platform, crow.key)] = crow.id
            self.chats[crow.id] = {
                "platform": crow.platform,
                "key": crow.key,
                "title": crow.title,
                "kind": crow.kind,
                "created_at": aware(crow.created_at),
                "creator_id": crow.creator_id,
            }
        return self

    # --- accounts ------------------------------------------------------------------------------

    def _scope(self, raw_id: str) -> str:
        """Global identifiers (JIDs, numeric ids, phone numbers) are one account everywhere; a bare
        display name in a chat export only means something on the device it came from."""
        if "@" in raw_id or _ID_LIKE.match(raw_id) or normalise_phone(raw_id, self.region):
            return ""
        return self.device_id

    def account(self, platform: str, raw_id: str, rec: AccountRecord | None = None) -> int:
        fast = self.by_raw.get((platform, raw_id))
        if fast is not None and rec is None:
            return fast  # the common case: a sender already seen in this source
        scope = self._scope(raw_id)
        acc_id = self.alias.get((platform, raw_id, scope))
        phone: Phone | None = None
        written: str | None = None  # the raw value the number was read from
        if acc_id is None or rec is not None:
            for candidate in [rec.phone if rec else None, raw_id, *(rec.aliases if rec else [])]:
                phone = normalise_phone(candidate, self.region) if candidate else None
                if phone:
                    written = candidate
                    break
        if acc_id is None:
            if rec is not None:
                # An identity the source ties to another (an @lid and its phone JID) joins that account.
                acc_id = next(
                    (
                        self.alias[k]
                        for k in ((platform, a, self._scope(a)) for a in rec.aliases)
                        if k in self.alias
                    ),
                    None,
                )
            if acc_id is None:
                acc_id = self._account_for_key(platform, self._key(platform, raw_id, scope, phone), phone)
            self._alias(platform, raw_id, scope, acc_id)
        self.by_raw[(platform, raw_id)] = acc_id
        if rec is not None:
            self._merge(acc_id, rec, phone)
            for alias in rec.aliases:
                self._alias(platform, alias, self._scope(alias), acc_id)
            if written and written != raw_id and written not in rec.aliases:
                # The number as the source wrote it (a contact list's column) is kept as a raw
                # identifier too: every stored E.164 can be traced to the text it came from.
                self._alias(platform, written, self._scope(written), acc_id)
        self.seen_accounts.add(acc_id)
        return acc_id

    @staticmethod
    def _key(platform: str, raw_id: str, scope: str, phone: Phone | None) -> str:
        if phone:
            return phone.e164
        base = raw_id if raw_id.startswith(f"{platform}:") else f"{platform}:{raw_id}"
        return f"{platform}:{scope}:{raw_id}" if scope else base

    def _account_for_key(self, platform: str, key: str, phone: Phone | None) -> int:
        acc_id = self.acc_by_key.get((platform, key))
        if acc_id is None:
            values: dict[str, Any] = {
                "platform": platform,
                "key": key,
                "phone": phone.e164 if phone else None,
                "phone_valid": phone.valid if phone else None,
                "country": phone.country if phone else None,
                "names": [],
            }
            acc_id = int(self.conn.execute(_NEW_ACCOUNT, values).scalar_one())
            self.acc_by_key[(platform, key)] = acc_id
            self.acc[acc_id] = {
                "phone": values["phone"],
                "phone_valid": values["phone_valid"],
                "country": values["country"],
                "username": None,
                "display_name": None,
                "names": [],
            }
        return acc_id

    def _alias(self, platform: str, raw_id: str, scope: str, acc_id: int) -> None:
        if (platform, raw_id, scope) not in self.alias:
            self.alias[(platform, raw_id, scope)] = acc_id
            self.new_aliases.append(
                {"account_id": acc_id, "platform": platform, "raw_id": raw_id, "scope": scope}
            )

    def _merge(self, acc_id: int, rec: AccountRecord, phone: Phone | None) -> None:
        info = self.acc[acc_id]
        before = dict(info, names=list(info["names"]))
        if phone and not info["phone"]:
            info["phone"], info["country"], info["phone_valid"] = phone.e164, phone.country, phone.valid
        if rec.username and not info["username"]:
            info["username"] = rec.username
        if rec.display_name:
            if rec.display_name not in info["names"]:
                info["names"].append(rec.display_name)
            info["display_name"] = info["display_name"] or rec.display_name
        if info != before:
            self.dirty_acc.add(acc_id)

    # --- chats ---------------------------------------------------------------------------------

    def chat(self, platform: str, raw_id: str, rec: ChatRecord | None = None) -> int:
        chat_id = self.chat_by_key.get((platform, raw_id))
        if chat_id is None and rec is not None:
            chat_id = self._same_group(platform, raw_id, rec)
        if chat_id is None:
            chat_id = int(
                self.conn.execute(
                    _NEW_CHAT, {"platform": platform, "key": raw_id, "kind": "group"}
                ).scalar_one()
            )
            self.chats[chat_id] = {
                "platform": platform,
                "key": raw_id,
                "title": None,
                "kind": "group",
                "created_at": None,
                "creator_id": None,
            }
        self.chat_by_key[(platform, raw_id)] = chat_id
        if rec is not None:
            info = self.chats[chat_id]
            info["title"] = info["title"] or rec.title
            info["kind"] = rec.kind or info["kind"]
            info["created_at"] = _min(info["created_at"], rec.created_at)
            if rec.creator and info["creator_id"] is None:
                info["creator_id"] = self.account(platform, rec.creator)
            self.dirty_chat.add(chat_id)
        self.seen_chats.add(chat_id)
        return chat_id

    def _same_group(self, platform: str, raw_id: str, rec: ChatRecord) -> int | None:
        """A chat export names its group only by title; a database names it by JID and title. The
        two are one group when exactly one group of the platform has that title; the JID becomes the
        key. Titles shared by several groups are never merged (they stay separate chats)."""
        if not rec.title or rec.kind != "group":
            return None
        same = [
            cid
            for cid, c in self.chats.items()
            if c["platform"] == platform and c["title"] == rec.title and c["kind"] == "group"
        ]
        if len(same) != 1:
            return None
        other = self.chats[same[0]]
        if "@" in raw_id and "@" in other["key"]:
            return None  # two JIDs: two different groups that happen to share a title
        if "@" in raw_id:
            other["key"] = raw_id  # an export's group, now known by its JID
            self.dirty_chat.add(same[0])
        return same[0]

    # --- records -------------------------------------------------------------------------------

    def add(self, rec: MessagingRecord) -> None:
        if isinstance(rec, MessageRecord):
            self.message(rec)
        elif isinstance(rec, AccountRecord):
            self.account(rec.platform, rec.raw_id, rec)
        elif isinstance(rec, ChatRecord):
            self.chat(rec.platform, rec.raw_id, rec)
        elif isinstance(rec, MembershipRecord):
            mem = self._member(self.chat(rec.platform, rec.chat), self.account(rec.platform, rec.account))
            mem["role"] = rec.role or mem["role"]
            mem["joined_at"] = _min(mem["joined_at"], rec.joined_at)
            mem["left_at"] = _max(mem["left_at"], rec.left_at)

    def _member(self, chat_id: int, acc_id: int) -> dict[str, Any]:
        key = (chat_id, acc_id)
        mem = self.members.get(key)
        if mem is None:
            mem = self.members[key] = {
                "role": None,
                "joined_at": None,
                "left_at": None,
                "first_seen": None,
                "last_seen": None,
            }
        return mem

    def message(self, rec: MessageRecord) -> None:
        chat_id = self.chat(rec.platform, rec.chat)
        sender = self.account(rec.platform, rec.sender) if rec.sender else None
        if sender is not None and rec.kind != "system":
            mem = self._member(chat_id, sender)
            mem["first_seen"] = _min(mem["first_seen"], rec.time)
            mem["last_seen"] = _max(mem["last_seen"], rec.time)
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
        insert_ignore(self.conn, m.Message, self.rows, ["device_id", "locator"])
        self.rows = []

    # --- the end of a source -------------------------------------------------------------------

    def finish(self) -> None:
        self.flush()
        c = self.conn
        insert_ignore(c, m.AccountAlias, self.new_aliases, ["platform", "raw_id", "scope"])
        if self.dirty_acc:
            a: Any = m.Account.__table__
            c.execute(
                update(a)
                .where(a.c.id == bindparam("b_id"))
                .values(
                    phone=bindparam("b_phone"),
                    phone_valid=bindparam("b_valid"),
                    country=bindparam("b_country"),
                    username=bindparam("b_user"),
                    display_name=bindparam("b_name"),
                    names=bindparam("b_names", type_=a.c.names.type),
                ),
                [
                    {
                        "b_id": i,
                        "b_phone": v["phone"],
                        "b_valid": v["phone_valid"],
                        "b_country": v["country"],
                        "b_user": v["username"],
                        "b_name": v["display_name"],
                        "b_names": v["names"],
                    }
                    for i, v in ((i, self.acc[i]) for i in sorted(self.dirty_acc))
                ],
            )
        if self.dirty_chat:
            ch: Any = m.Chat.__table__
            c.execute(
                update(ch)
                .where(ch.c.id == bindparam("b_id"))
                .values(
                    key=bindparam("b_key"),
                    title=bindparam("b_title"),
                    kind=bindparam("b_kind"),
                    created_at=bindparam("b_created", type_=ch.c.created_at.type),
                    creator_id=bindparam("b_creator"),
                ),
                [
                    {
                        "b_id": i,
                        "b_key": v["key"],
                        "b_title": v["title"],
                        "b_kind": v["kind"],
                        "b_created": v["created_at"],
                        "b_creator": v["creator_id"],
                    }
                    for i, v in ((i, self.chats[i]) for i in sorted(self.dirty_chat))
                ],
            )
        self._store_members()
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
                "entity_id": ch_id,
                "device_id": self.device_id,
                "source_id": self.source_id,
                "locator": None,
            }
            for ch_id in sorted(self.seen_chats)
        ]
        insert_ignore(c, m.Sighting, sightings, ["entity", "entity_id", "device_id", "source_id"])

    def _store_members(self) -> None:
        if not self.members:
            return
        c = self.conn
        t: Any = m.Membership.__table__
        chat_ids = sorted({k[0] for k in self.members})
        existing: dict[tuple[int, int], Any] = {}
        for start in range(0, len(chat_ids), 500):
            for row in c.execute(select(t).where(t.c.chat_id.in_(chat_ids[start : start + 500]))):
                existing[(row.chat_id, row.account_id)] = row
        new, changed = [], []
        for (chat_id, acc_id), mem in self.members.items():
            old = existing.get((chat_id, acc_id))
            if old is None:
                new.append({"chat_id": chat_id, "account_id": acc_id, **mem})
                continue
            merged = {
                "role": mem["role"] or old.role,
                "joined_at": _min(old.joined_at, mem["joined_at"]),
                "left_at": _max(old.left_at, mem["left_at"]),
                "first_seen": _min(old.first_seen, mem["first_seen"]),
                "last_seen": _max(old.last_seen, mem["last_seen"]),
            }
            changed.append({"b_id": old.id, **{f"b_{k}": v for k, v in merged.items()}})
        if new:
            c.execute(insert(t), new)
        if changed:
            c.execute(
                update(t)
                .where(t.c.id == bindparam("b_id"))
                .values(
                    role=bindparam("b_role"),
                    joined_at=bindparam("b_joined_at", type_=t.c.joined_at.type),
                    left_at=bindparam("b_left_at", type_=t.c.left_at.type),
                    first_seen=bindparam("b_first_seen", type_=t.c.first_seen.type),
                    last_seen=bindparam("b_last_seen", type_=t.c.last_seen.type),
                ),
                changed,
            )
