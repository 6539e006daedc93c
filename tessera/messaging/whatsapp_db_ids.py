"""Who a ``msgstore.db`` names: accounts under the person's JID, the owner, chats and memberships.

WhatsApp writes one person several ways: the user JID ``N@s.whatsapp.net``, a JID per device
(``N.0:3@s.whatsapp.net``), an ``@lid`` privacy id mapped to the phone JID by ``jid_map``, and the
device owner as ``status_me`` or an empty participant. Records carry one account per person: the user
JID (digits exactly as written), the device JIDs in ``aliases`` (raw values kept), the owner as the
Owner of ``find_owner``. Chats and memberships are collected from whichever schema's tables hold them
and de-duplicated, so a migration-era database gives each once.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime

from tessera.messaging.coverage import Coverage
from tessera.messaging.records import AccountRecord, ChatRecord, MembershipRecord
from tessera.messaging.whatsapp_db_common import (
    PLATFORM,
    ROLES,
    Owner,
    account_jid,
    chat_kind,
    is_owner_form,
    ms_to_utc,
    owner_record,
    phone_of,
)
from tessera.messaging.whatsapp_db_contacts import Contacts


class People:
    """Accounts by the raw id their records carry, with the other forms found for each."""

    def __init__(self, owner: Owner) -> None:
        self.owner = owner
        self.me = owner.raw_id
        self.accounts: dict[str, str] = {}  # account raw id -> locator of its first evidence
        self._aliases: dict[str, dict[str, None]] = {}  # insertion-ordered sets

    def of(self, raw: str | None) -> str:
        """The account a raw JID names (no registration): the owner for "me" forms and for the
        owner's own device JIDs, the user JID for a device JID, else the raw value."""
        if is_owner_form(raw):
            return self.me
        assert raw is not None
        return account_jid(raw)

    def add(self, raw: str | None, locator: str) -> str:
        acc = self.of(raw)
        if raw and acc != raw and not is_owner_form(raw):
            self._aliases.setdefault(acc, {})[raw] = None
        if acc != self.me:
            self.accounts.setdefault(acc, locator)
        return acc

    def link(self, a: str, b: str) -> None:
        """Two accounts the database says are one person (an ``@lid`` and its phone JID)."""
        if a != b:
            self._aliases.setdefault(a, {})[b] = None
            self._aliases.setdefault(b, {})[a] = None

    def aliases(self, acc: str) -> list[str]:
        return list(self._aliases.get(acc, ()))

    def records(self, contacts: Contacts, locator: str) -> Iterator[AccountRecord]:
        yield owner_record(self.owner, contacts.name(self.me), locator, self.aliases(self.me))
        for acc, where in self.accounts.items():
            alias = self.aliases(acc)
            display = contacts.name(acc)
            for a in alias:  # wa.db knows an @lid account under its phone JID
                display = display or contacts.name(a)
            phone = phone_of(acc)
            if phone is None and not acc.endswith(("@s.whatsapp.net", "@c.us")):
                phone = contacts.number(acc)  # an id that is no number: wa.db's number as written
            yield AccountRecord(
                PLATFORM, acc, phone=phone, display_name=display, aliases=alias, locator=where
            )


@dataclass
class _Chat:
    title: str | None
    created: int | None
    locator: str


@dataclass
class Chats:
    """Chats by JID, from ``chat`` and ``chat_list`` (and legacy message rows): one record each."""

    by_jid: dict[str, _Chat] = field(default_factory=dict)

    def add(self, jid: str, title: str | None, created: int | None, locator: str) -> None:
        have = self.by_jid.get(jid)
        if have is None:
            self.by_jid[jid] = _Chat(title, created, locator)
        else:  # the first table read wins; the other only fills what it lacks
            have.title = have.title or title
            have.created = have.created or created

    def records(self, contacts: Contacts, creators: dict[str, str]) -> Iterator[ChatRecord]:
        for jid, c in self.by_jid.items():
            kind = chat_kind(jid)
            created: datetime | None = ms_to_utc(c.created) if c.created else None
            yield ChatRecord(
                PLATFORM,
                jid,
                title=c.title or (contacts.name(jid) if kind in ("private", "group") else None),
                kind=kind,
                created_at=created,
                creator=creators.get(jid),
                locator=c.locator,
            )


@dataclass
class Members:
    """Memberships from ``group_participant_user`` and ``group_participants``, one per group and
    account: a row naming a membership already read (the same person by another JID form, or the
    other schema's copy) is counted as ignored in its table's coverage."""

    cov: Coverage
    rows: dict[tuple[str, str], tuple[int | None, str]] = field(default_factory=dict)
    creators: dict[str, str] = field(default_factory=dict)

    def add(self, unit: str, group: str, account: str, rank: int | None, locator: str) -> None:
        key = (group, account)
        if key in self.rows:
            self.cov.ignore(unit, "same member of the same group as an earlier participant row", locator)
            return
        self.cov.parsed(unit)
        self.rows[key] = (rank, locator)
        if rank == 2:
            self.creators.setdefault(group, account)

    def records(self) -> Iterator[MembershipRecord]:
        for (group, account), (rank, where) in self.rows.items():
            yield MembershipRecord(
                PLATFORM, group, account, role=ROLES.get(rank or 0, "member"), locator=where
            )
