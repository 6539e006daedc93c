"""``wa.db`` beside ``msgstore.db``: the phone's WhatsApp contacts.

Names for the accounts the messages name (the owner's address-book name, ``display_name``, wins over
the name the account chose, ``wa_name``), and accounts of their own for the WhatsApp users in the
address book that no message or group names: who the owner knew is evidence too. Every row of
``wa_contacts`` is accounted for in the source's coverage (unit ``wa_contacts``).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field

from tessera.messaging.base import ParseContext
from tessera.messaging.records import AccountRecord, ChatRecord, MessagingRecord, ParseError
from tessera.messaging.whatsapp_db_common import (
    PLATFORM,
    account_jid,
    col,
    columns,
    is_user_jid,
    open_evidence_db,
    phone_of,
    tables,
)

UNIT = "wa_contacts"


@dataclass(frozen=True, slots=True)
class Contact:
    row: int | None
    jid: str
    name: str | None
    number: str | None
    on_whatsapp: bool


@dataclass
class Contacts:
    locator: str = ""
    rows: list[Contact] = field(default_factory=list)
    by_jid: dict[str, list[Contact]] = field(default_factory=dict)
    held: int | None = None  # COUNT(*) of wa_contacts; None when there is no readable wa.db

    def name(self, jid: str) -> str | None:
        return next((c.name for c in self.by_jid.get(jid, ()) if c.name), None)

    def number(self, jid: str) -> str | None:
        return next((c.number for c in self.by_jid.get(jid, ()) if c.number), None)


def load_contacts(ctx: ParseContext) -> Contacts:
    """A missing wa.db costs only the names; an unreadable one is noted in the coverage."""
    opener = ctx.sibling("wa.db")
    if opener is None:
        return Contacts()
    out = Contacts(locator=ctx.locator.rsplit("/", 1)[0] + "/wa.db")
    try:
        with open_evidence_db(opener, "wa.db", ctx.sibling, ctx.scratch) as conn:
            if "wa_contacts" not in tables(conn) or "jid" not in (have := columns(conn, "wa_contacts")):
                ctx.coverage.note("wa.db: no wa_contacts table with a jid column; contact names not read")
                return out
            out.held = conn.execute("SELECT COUNT(*) FROM wa_contacts").fetchone()[0]
            sql = (
                f"SELECT {col(have, 'w', '_id')}, w.jid, {col(have, 'w', 'display_name')}, "
                f"{col(have, 'w', 'wa_name')}, {col(have, 'w', 'number')}, "
                f"{col(have, 'w', 'is_whatsapp_user')} FROM wa_contacts w"
            )
            for row, jid, display, wa_name, number, on_wa in conn.execute(sql):
                c = Contact(
                    row, jid or "", display or wa_name or None, number or None, on_wa is None or bool(on_wa)
                )
                out.rows.append(c)
                if jid:
                    out.by_jid.setdefault(account_jid(jid), []).append(c)
    except (ParseError, sqlite3.Error) as exc:
        ctx.coverage.note(f"wa.db not read (contact names missing): {exc}")
        return Contacts()
    return out


def contact_records(
    contacts: Contacts, ctx: ParseContext, named: set[str], chats: set[str]
) -> Iterator[MessagingRecord]:
    """Accounts and groups only wa.db knows, extra names of duplicated entries, and the coverage of
    every ``wa_contacts`` row. ``named``: the accounts msgstore names; ``chats``: its chat JIDs."""
    if contacts.held is None:
        return
    cov = ctx.coverage
    cov.holds(UNIT, contacts.held)
    first_name: dict[str, str | None] = {}
    for c in contacts.rows:
        where = f"{contacts.locator}#wa_contacts/{c.row}"
        jid = account_jid(c.jid)
        server = jid.rpartition("@")[2]
        if not c.jid:
            cov.ignore(UNIT, "no JID (not a WhatsApp contact)", where)
        elif is_user_jid(jid):
            if jid not in named and not c.on_whatsapp:
                # WhatsApp builds a JID for every number in the address book; is_whatsapp_user = 0
                # says this one has no WhatsApp account, so it is not an account of this platform.
                cov.ignore(UNIT, "address-book number not on WhatsApp (is_whatsapp_user = 0)", where)
                continue
            cov.parsed(UNIT)
            if jid in first_name:
                if c.name and c.name != first_name[jid]:
                    yield AccountRecord(PLATFORM, jid, display_name=c.name, locator=where)  # a second name
                continue
            first_name[jid] = contacts.name(jid)
            if jid not in named:
                yield AccountRecord(
                    PLATFORM,
                    jid,
                    phone=phone_of(jid)
                    or (c.number if not jid.endswith(("@s.whatsapp.net", "@c.us")) else None),
                    display_name=first_name[jid],
                    aliases=[c.jid] if c.jid != jid else [],
                    locator=where,
                )
        elif server == "g.us":
            cov.parsed(UNIT)  # the group's name: a title for the chat
            if jid not in chats:
                chats.add(jid)
                yield ChatRecord(PLATFORM, jid, title=c.name, kind="group", locator=where)
        elif jid == "status@broadcast":
            cov.ignore(UNIT, "status@broadcast: WhatsApp's status list, not a contact", where)
        elif server == "broadcast":
            cov.ignore(UNIT, "broadcast list (its messages are read from msgstore)", where)
        else:
            cov.ignore(UNIT, f"not a person or group (server {server or '?'})", where)
