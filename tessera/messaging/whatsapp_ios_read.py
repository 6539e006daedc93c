"""Reading an opened ``ChatStorage.sqlite``: structure check, identities, chats, members, messages.

``ZMESSAGETYPE`` codes (WhatsApp's, as the public iOS readers document them): 0 text, 1 image,
2 video, 3 audio, 4 contact card, 5 location, 6 group event, 7 link, 8 document, 10 status/system
event, 11 GIF, 15 sticker. Any other code is kind "other"; the code is always kept in
``raw["message_type"]``. The meaning of ``ZGROUPEVENTTYPE`` is not documented: system rows keep it
raw (``raw["group_event_type"]``) and name their action ``group_event_<n>`` / ``event_<n>`` rather
than guess what happened.
"""

from __future__ import annotations

import plistlib
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from tessera.messaging.base import ParseContext
from tessera.messaging.records import (
    AccountRecord,
    ChatRecord,
    MediaRef,
    MessageRecord,
    MessagingRecord,
)
from tessera.messaging.whatsapp_db_common import (
    PLATFORM,
    account_jid,
    chat_kind,
    col,
    columns,
    is_user_jid,
    lost_chat,
    owner_record,
    phone_of,
    require,
    tables,
)
from tessera.messaging.whatsapp_db_ids import Members, People
from tessera.messaging.whatsapp_ios_names import Names, find_owner, load_contacts, load_lids, load_push_names

#: The declared structure: what the parser cannot do without. Other tables and columns are optional.
REQUIRED: dict[str, tuple[str, ...]] = {
    "ZWAMESSAGE": (
        "Z_PK", "ZCHATSESSION", "ZISFROMME", "ZMESSAGETYPE", "ZMESSAGEDATE", "ZFROMJID", "ZTOJID",
        "ZTEXT", "ZGROUPMEMBER", "ZMEDIAITEM",
    ),
    "ZWACHATSESSION": ("Z_PK", "ZCONTACTJID", "ZPARTNERNAME"),
    "ZWAGROUPMEMBER": ("Z_PK", "ZCHATSESSION", "ZMEMBERJID"),
    "ZWAMEDIAITEM": ("Z_PK", "ZMEDIALOCALPATH"),
}  # fmt: skip
UNIT, CHATS, MEMBERS, MEDIA = "ZWAMESSAGE", "ZWACHATSESSION", "ZWAGROUPMEMBER", "ZWAMEDIAITEM"
#: Core Data's reference date, 2001-01-01T00:00:00Z, in Unix seconds.
CORE_DATA_EPOCH = 978307200

KINDS: dict[int, str] = {
    0: "text",
    1: "image",
    2: "video",
    3: "audio",
    6: "system",
    7: "text",  # a link: its URL is the text
    8: "document",
    10: "system",
    11: "video",  # GIF: an MP4 on disk
    15: "sticker",
}
#: Types whose message is an attachment: a MediaRef even when the file was never downloaded.
MEDIA_TYPES = frozenset({1, 2, 3, 8, 11, 15})


def core_time(seconds: float | None) -> datetime | None:
    """Core Data seconds since 2001-01-01 UTC -> aware UTC datetime (None when absent or absurd)."""
    if seconds is None:
        return None
    try:
        return datetime.fromtimestamp(float(seconds) + CORE_DATA_EPOCH, UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return None


def store_version(conn: sqlite3.Connection) -> str:
    """``Core Data model 2.12.14, user_version 0``: which WhatsApp data model wrote the store, from
    ``Z_METADATA.Z_PLIST`` (``NSStoreModelVersionIdentifiers``), for the examiner and for support."""
    user_version = conn.execute("PRAGMA user_version").fetchone()[0]
    model = "unknown"
    try:
        row = conn.execute("SELECT Z_PLIST FROM Z_METADATA LIMIT 1").fetchone()
        meta = plistlib.loads(row[0]) if row and row[0] else {}
        ids = meta.get("NSStoreModelVersionIdentifiers") if isinstance(meta, dict) else None
        if isinstance(ids, list) and ids:
            model = ", ".join(str(i) for i in ids)
    except (sqlite3.Error, plistlib.InvalidFileException, ValueError, TypeError):
        pass  # a missing or unreadable metadata row costs only this note
    return f"Core Data model {model}, user_version {user_version}"


def read_chatstorage(conn: sqlite3.Connection, ctx: ParseContext, name: str) -> Iterator[MessagingRecord]:
    """Accounts, chats and memberships first (small lookups), then the messages, streamed."""
    require(conn, REQUIRED, name, "a WhatsApp for iOS ChatStorage database")
    loc, cov = ctx.locator, ctx.coverage
    cov.note(store_version(conn))
    owner, note = find_owner(ctx, conn)
    if note:
        cov.note(note)
    people = People(owner)
    names = Names()
    load_contacts(ctx, names)  # the address book first: its names are the strongest
    load_push_names(conn, ctx, names)
    chats, chat_records = _chats(conn, ctx, people, names)
    members = Members(cov)
    member_of = _members(conn, ctx, people, names, chats, members)
    _senders(conn, ctx, people)
    for lid, (phone, where) in load_lids(ctx).items():
        # One person under two ids, as the app says: both kept, linked as aliases (no number is
        # made of the @lid digits).
        people.link(people.add(lid, where), people.add(phone, where))

    yield owner_record(owner, names.first(owner.raw_id), loc, people.aliases(owner.raw_id))
    for acc, where in people.accounts.items():
        aliases = people.aliases(acc)
        display = names.first(acc) or next(filter(None, map(names.first, aliases)), None)
        yield AccountRecord(
            PLATFORM, acc, phone=phone_of(acc), display_name=display, aliases=aliases, locator=where
        )
    yield from names.records(set(people.accounts) | {owner.raw_id})
    yield from chat_records
    yield from members.records()
    _media_coverage(conn, ctx)
    yield from _messages(conn, ctx, chats, member_of, owner.raw_id)


def _chats(
    conn: sqlite3.Connection, ctx: ParseContext, people: People, names: Names
) -> tuple[dict[int, str], list[ChatRecord]]:
    """Chat sessions by Z_PK -> chat JID, and their records (group creation and creator from
    ``ZWAGROUPINFO`` when it has them)."""
    loc, cov = ctx.locator, ctx.coverage
    have = tables(conn)
    gcols = columns(conn, "ZWAGROUPINFO") if "ZWAGROUPINFO" in have else set()
    ccols = columns(conn, CHATS)
    join = ""
    if "ZGROUPINFO" in ccols and "Z_PK" in gcols:
        join = "LEFT JOIN ZWAGROUPINFO g ON g.Z_PK = c.ZGROUPINFO"
    else:
        gcols = set()
    sql = (
        f"SELECT c.Z_PK, c.ZCONTACTJID, c.ZPARTNERNAME, {col(ccols, 'c', 'ZSESSIONTYPE')}, "
        f"{col(gcols, 'g', 'ZCREATIONDATE')}, {col(gcols, 'g', 'ZCREATORJID')} FROM {CHATS} c {join} "
        "ORDER BY c.Z_PK"
    )
    cov.holds(CHATS, conn.execute(f"SELECT COUNT(*) FROM {CHATS}").fetchone()[0])
    by_pk: dict[int, str] = {}
    records: list[ChatRecord] = []
    for pk, jid, title, stype, created, creator in conn.execute(sql):
        where = f"{loc}#{CHATS}/{pk}"
        if not jid:
            jid = lost_chat(ctx, pk)
            cov.note(f"{CHATS}: sessions without ZCONTACTJID are read under 'whatsapp:chat-row-<Z_PK>@...'")
        else:
            jid = account_jid(jid)
        by_pk[pk] = jid
        cov.parsed(CHATS)
        kind = chat_kind(jid) if "@" in jid else ("group" if stype == 1 else "private")
        if is_user_jid(jid):
            acc = people.add(jid, where)
            names.add(acc, title, where)  # the name WhatsApp shows for a one-to-one chat
        records.append(
            ChatRecord(
                PLATFORM,
                jid,
                title=title or None,
                kind=kind,
                created_at=core_time(created),
                creator=people.of(creator) if creator else None,
                locator=where,
            )
        )
    return by_pk, records


def _members(
    conn: sqlite3.Connection,
    ctx: ParseContext,
    people: People,
    names: Names,
    chats: dict[int, str],
    members: Members,
) -> dict[int, str]:
    """Memberships from ``ZWAGROUPMEMBER`` (one per group and account), and member Z_PK -> account
    for the senders of group messages. ``ZISADMIN`` 1 is an admin; ``ZISACTIVE`` 0 (a former member)
    is still a membership of the group and is noted, since no leave time is recorded."""
    loc, cov = ctx.locator, ctx.coverage
    mcols = columns(conn, MEMBERS)
    cov.holds(MEMBERS, conn.execute(f"SELECT COUNT(*) FROM {MEMBERS}").fetchone()[0])
    sql = (
        f"SELECT g.Z_PK, g.ZCHATSESSION, g.ZMEMBERJID, {col(mcols, 'g', 'ZISADMIN')}, "
        f"{col(mcols, 'g', 'ZISACTIVE')}, {col(mcols, 'g', 'ZCONTACTNAME')}, "
        f"{col(mcols, 'g', 'ZFIRSTNAME')} FROM {MEMBERS} g ORDER BY g.Z_PK"
    )
    member_of: dict[int, str] = {}
    inactive = 0
    for pk, chat_pk, jid, admin, active, contact_name, first_name in conn.execute(sql):
        where = f"{loc}#{MEMBERS}/{pk}"
        if not jid:
            cov.skip(MEMBERS, "no ZMEMBERJID", where)
            continue
        acc = people.add(jid, where)
        member_of[pk] = acc
        names.add(acc, contact_name or first_name, where)
        group = chats.get(chat_pk)
        if group is None:
            cov.skip(MEMBERS, "its chat session (ZCHATSESSION) is gone", where)
            continue
        inactive += active == 0
        members.add(MEMBERS, group, acc, 1 if admin else 0, where)
    if inactive:
        cov.note(f"{MEMBERS}: {inactive} rows with ZISACTIVE = 0 (former members) stored as memberships")
    return member_of


def _senders(conn: sqlite3.Connection, ctx: ParseContext, people: People) -> None:
    """Accounts that only messages name (``ZFROMJID`` of a person), registered before the messages
    stream so each carries its aliases and first locator."""
    for jid, first in conn.execute(
        f"SELECT ZFROMJID, MIN(Z_PK) FROM {UNIT} WHERE ZISFROMME = 0 AND ZFROMJID IS NOT NULL "
        "GROUP BY ZFROMJID"
    ):
        if is_user_jid(jid):
            people.add(jid, f"{ctx.locator}#{UNIT}/{first}")


def _media_coverage(conn: sqlite3.Connection, ctx: ParseContext) -> None:
    """Media items are read with the message that points at them (``ZWAMESSAGE.ZMEDIAITEM``); an item
    no message points at holds a path or a location nobody can place in a chat: skipped, named."""
    cov = ctx.coverage
    held = conn.execute(f"SELECT COUNT(*) FROM {MEDIA}").fetchone()[0]
    cov.holds(MEDIA, held)
    orphans = [
        r[0]
        for r in conn.execute(
            f"SELECT i.Z_PK FROM {MEDIA} i WHERE NOT EXISTS "
            f"(SELECT 1 FROM {UNIT} m WHERE m.ZMEDIAITEM = i.Z_PK) ORDER BY i.Z_PK"
        )
    ]
    cov.parsed(MEDIA, held - len(orphans))
    for pk in orphans:
        cov.skip(MEDIA, "no message points at this media item", f"{ctx.locator}#{MEDIA}/{pk}")


def _messages(
    conn: sqlite3.Connection, ctx: ParseContext, chats: dict[int, str], member_of: dict[int, str], owner: str
) -> Iterator[MessageRecord]:
    loc, cov = ctx.locator, ctx.coverage
    cov.holds(UNIT, conn.execute(f"SELECT COUNT(*) FROM {UNIT}").fetchone()[0])
    mc, ic = columns(conn, UNIT), columns(conn, MEDIA)
    sql = (
        "SELECT m.Z_PK, m.ZCHATSESSION, m.ZISFROMME, m.ZMESSAGETYPE, m.ZGROUPMEMBER, m.ZMESSAGEDATE, "
        f"{col(mc, 'm', 'ZSENTDATE')}, m.ZFROMJID, m.ZTEXT, {col(mc, 'm', 'ZSTANZAID')}, "
        f"{col(mc, 'm', 'ZGROUPEVENTTYPE')}, {col(mc, 'm', 'ZMESSAGESTATUS')}, "
        f"{col(mc, 'm', 'ZPARENTMESSAGE')}, i.Z_PK, i.ZMEDIALOCALPATH, {col(ic, 'i', 'ZFILESIZE')}, "
        f"{col(ic, 'i', 'ZTITLE')}, {col(ic, 'i', 'ZLATITUDE')}, {col(ic, 'i', 'ZLONGITUDE')}, "
        f"{col(ic, 'i', 'ZVCARDNAME')} "
        f"FROM {UNIT} m LEFT JOIN {MEDIA} i ON i.Z_PK = m.ZMEDIAITEM ORDER BY m.Z_PK"
    )
    chat_of = chats.get
    person: dict[str, str | None] = {}  # ZFROMJID -> account (None: a group's), once per JID
    parsed = 0  # counted here and added once at the end: the per-row cost is one increment
    try:
        for (
            pk, chat_pk, from_me, mtype, member, date, sent, from_jid, text, stanza, event, status,
            parent, item, path, size, title, lat, lon, vcard,
        ) in conn.execute(sql):  # fmt: skip
            where = f"{loc}#{UNIT}/{pk}"
            raw: dict[str, Any] = {"Z_PK": pk, "message_type": mtype}
            time = core_time(date)
            if time is None:
                time = core_time(sent)
                if time is None:
                    cov.skip(UNIT, "no date (ZMESSAGEDATE and ZSENTDATE empty or invalid)", where)
                    continue
                raw["date_from"] = "ZSENTDATE"
            chat = chat_of(chat_pk)
            if chat is None:
                chat = lost_chat(ctx, chat_pk)
                raw["ZCHATSESSION"] = chat_pk  # the only thing known of its chat
                cov.note(f"{UNIT}: rows whose chat session is gone are read under 'whatsapp:chat-row-<n>@…'")
            sender: str | None
            if from_me:
                sender = owner
            elif member:
                sender = member_of.get(member)
                if sender is None:
                    raw["ZGROUPMEMBER"] = member  # its member row is gone: kept, not guessed
            else:
                sender = person.get(from_jid) if from_jid else None
                if sender is None and from_jid and from_jid not in person:
                    sender = person[from_jid] = account_jid(from_jid) if is_user_jid(from_jid) else None
                if sender is None and is_user_jid(chat):
                    sender = chat  # a one-to-one chat's incoming row without a sender: the peer
            kind = KINDS.get(mtype, "other") if mtype is not None else "other"
            action = None
            if kind == "system":
                raw["group_event_type"] = event
                action = f"group_event_{event}" if mtype == 6 else f"event_{event}"
            if status is not None:
                raw["status"] = status
            if parent:
                raw["parent_message"] = parent
            media = None
            if item is not None:
                raw["media_item"] = item
                if mtype == 5:
                    raw["latitude"], raw["longitude"] = lat, lon
                if vcard:
                    raw["ZVCARDNAME"] = vcard
                if mtype in MEDIA_TYPES or path:
                    media = MediaRef(
                        path=path or None,
                        file_name=path.rsplit("/", 1)[-1] if path else None,
                        size=size if size or path else None,
                    )
                    if not text and title:
                        text = title  # the caption
            elif mtype in MEDIA_TYPES:
                media = MediaRef()  # an attachment the database holds nothing more of
            parsed += 1
            yield MessageRecord(
                PLATFORM,
                chat,
                sender,
                time,
                kind=kind,
                text=text if text else None,
                media=media,
                raw_id=stanza,
                action=action,
                from_me=bool(from_me),
                locator=where,
                raw=raw,
            )
    finally:
        cov.parsed(UNIT, parsed)
