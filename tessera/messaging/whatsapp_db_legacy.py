"""Reader for the legacy ``msgstore.db`` schema (WhatsApp for Android before 2021-2022).

One wide ``messages`` table keyed by JID strings (``key_remote_jid`` = chat, ``remote_resource`` =
sender in groups), ``chat_list`` for titles and ``group_participants`` (``jid`` is ``''`` for the
device owner). Group events are rows with ``status = 6`` whose ``media_size`` holds the action code
and ``remote_resource`` the member it is about. Media paths sit in a serialised Java object
(``thumb_image``) that is not decoded: media are linked by ``media_hash`` and ``media_name``.

``collect`` reads chats and memberships into the shared lookups; ``messages`` streams the table.
WhatsApp's sentinel row (``key_remote_jid`` '-1', at ``_id`` 1) is counted as ignored; in a
migration-era database a row whose key (chat, from_me, key_id) is also in the current ``message``
table is counted as ignored too: the current copy is the one read. Locators name the table
(``#messages/7``, ``#group_participants/3``): in a migration-era database ``message`` row 7 is another
row, and a locator must name one.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from typing import Any

from tessera.messaging.base import ParseContext
from tessera.messaging.records import MediaRef, MessageRecord
from tessera.messaging.whatsapp_db_common import (
    ACTIONS,
    KINDS,
    PLATFORM,
    col,
    columns,
    decode_file_hash,
    is_owner_form,
    is_user_jid,
    ms_to_utc,
)
from tessera.messaging.whatsapp_db_ids import Chats, Members, People

REQUIRED: dict[str, tuple[str, ...]] = {
    "messages": ("_id", "key_remote_jid", "key_from_me", "key_id", "timestamp"),
}
#: Legacy actions whose ``remote_resource`` is the member the event is about, not its author.
_ABOUT_MEMBER = frozenset({4, 5, 7, 12, 14, 20})
#: ... and of those, the ones the member did themselves (left, joined by link).
_BY_MEMBER = frozenset({5, 20})
UNIT = "messages"
PARTICIPANTS = "group_participants"
SENTINEL = "WhatsApp's sentinel row (key_remote_jid '-1')"
MIGRATED = "same message key (chat, from_me, key_id) as a row of table message, which is read instead"


def has_messages(conn: sqlite3.Connection) -> bool:
    return bool(
        conn.execute("SELECT EXISTS (SELECT 1 FROM messages WHERE key_remote_jid != '-1')").fetchone()[0]
    )


def collect(
    conn: sqlite3.Connection,
    have: set[str],
    ctx: ParseContext,
    people: People,
    chats: Chats,
    members: Members,
) -> None:
    loc = ctx.locator
    mcols = columns(conn, "messages")
    if "chat_list" in have:
        ccols = columns(conn, "chat_list")
        if "key_remote_jid" in ccols:
            sql = (
                f"SELECT {col(ccols, 'c', '_id')}, c.key_remote_jid, {col(ccols, 'c', 'subject')}, "
                f"{col(ccols, 'c', 'creation')} FROM chat_list c"
            )
            for cid, jid, subject, created in conn.execute(sql):
                if jid and jid != "-1":
                    chats.add(jid, subject, created, f"{loc}#chat_list/{cid if cid is not None else jid}")
    # Chats whose chat_list row is gone still have messages; one indexed pass per distinct value.
    for (jid,) in conn.execute("SELECT DISTINCT key_remote_jid FROM messages"):
        if jid and jid != "-1":
            chats.add(jid, None, None, f"{loc}#chat/{jid}")
    for jid in list(chats.by_jid):
        if is_user_jid(jid):
            people.add(jid, f"{loc}#account/{jid}")
    if "remote_resource" in mcols:
        for (r,) in conn.execute("SELECT DISTINCT remote_resource FROM messages"):
            if r and is_user_jid(r):
                people.add(r, f"{loc}#account/{r}")

    if PARTICIPANTS in have:
        gcols = columns(conn, PARTICIPANTS)
        if {"gjid", "jid"} <= gcols:
            ctx.coverage.holds(
                PARTICIPANTS, conn.execute(f"SELECT COUNT(*) FROM {PARTICIPANTS}").fetchone()[0]
            )
            sql = (
                f"SELECT {col(gcols, 'g', '_id')}, g.gjid, g.jid, {col(gcols, 'g', 'admin')} "
                f"FROM {PARTICIPANTS} g"
            )
            for pid, gjid, jid, admin in conn.execute(sql):
                where = f"{loc}#group_participants/{pid if pid is not None else gjid}"
                if not gjid:
                    ctx.coverage.skip(PARTICIPANTS, "no group JID (gjid empty)", where)
                    continue
                # An empty jid is the device owner; other JIDs name a person (a device JID too).
                user = people.me if is_owner_form(jid) else people.add(jid, f"{loc}#account/{people.of(jid)}")
                members.add(PARTICIPANTS, gjid, user, admin, where)
        else:
            ctx.coverage.note(f"{PARTICIPANTS}: without gjid/jid, not read")


def messages(
    conn: sqlite3.Connection,
    ctx: ParseContext,
    people: People,
    migrated: set[tuple[str, int, str]] | None = None,
) -> Iterator[MessageRecord]:
    """The rows of ``messages``; ``migrated``: keys of the current table's rows, whose legacy copy
    is not read again."""
    loc = ctx.locator
    cov = ctx.coverage
    owner = people.me
    account = people.of
    mcols = columns(conn, "messages")
    cov.holds(UNIT, conn.execute("SELECT COUNT(*) FROM messages").fetchone()[0])
    sql = (
        "SELECT m._id, m.key_remote_jid, m.key_from_me, m.key_id, m.timestamp, "
        + ", ".join(
            col(mcols, "m", c)
            for c in (
                "remote_resource",
                "status",
                "media_wa_type",
                "data",
                "media_hash",
                "media_mime_type",
                "media_size",
                "media_name",
                "media_caption",
                "forwarded",
            )
        )
        + " FROM messages m ORDER BY m._id"
    )
    parsed = 0  # added once at the end: the per-row cost of the reconciliation is one increment
    try:
        for (
            mid,
            chat,
            from_me,
            key_id,
            ts,
            rres,
            status,
            wtype,
            data,
            mhash,
            mime,
            msize,
            mname,
            caption,
            fwd,
        ) in conn.execute(sql):
            if chat == "-1":
                cov.ignore(UNIT, SENTINEL, f"{loc}#messages/{mid}")
                continue
            if not chat:
                cov.skip(UNIT, "no chat JID (key_remote_jid empty)", f"{loc}#messages/{mid}")
                continue
            if migrated is not None and (chat, int(from_me or 0), key_id) in migrated:
                cov.ignore(UNIT, MIGRATED, f"{loc}#messages/{mid}")
                continue
            try:
                mtype: int | None = int(wtype) if wtype is not None else None  # TEXT in the real schema
            except ValueError:
                mtype = None
            raw: dict[str, Any] = {"_id": mid, "message_type": wtype if mtype is None else mtype}
            if status is not None:
                raw["status"] = status
            is_group = chat.endswith("@g.us")
            sender: str | None
            if from_me:
                sender = owner
            elif rres:
                sender = account(rres)
            else:
                sender = None if is_group or chat.endswith("@broadcast") else chat
            action = None
            targets: list[str] = []
            media = None
            if status == 6 and (mtype or 0) == 0:
                kind = "system"
                code = int(msize or 0)
                raw["action_type"] = code
                raw["key_from_me"] = from_me
                action = ACTIONS.get(code, f"action_{code}")
                if code in _ABOUT_MEMBER:
                    targets = [account(rres)] if rres else []
                    if not from_me:
                        # The author of an add or remove is not in these columns; a leaver is their own.
                        sender = account(rres) if code in _BY_MEMBER and rres else None
                else:
                    # WhatsApp writes key_from_me = 1 on every group event and notice, whoever acted
                    # (the real 2021 database: groups created by others): the actor, when there is
                    # one, is remote_resource; an empty one names nobody, not the owner.
                    sender = account(rres) if rres else None
                from_me = sender == owner
            else:
                kind = KINDS.get(mtype, "other") if mtype is not None else "text"
                if mhash or mime or (mname and kind not in ("text", "system")):
                    sha = decode_file_hash(mhash)
                    if mhash and sha is None:
                        raw["media_hash"] = mhash
                    media = MediaRef(sha256=sha, file_name=mname, mime=mime, size=msize)
            parsed += 1
            yield MessageRecord(
                PLATFORM,
                chat,
                sender,
                ms_to_utc(ts),
                kind=kind,
                text=data if data is not None else caption,
                forwarded=bool((fwd or 0) & 1),
                media=media,
                raw_id=key_id,
                action=action,
                targets=targets,
                from_me=bool(from_me),
                locator=f"{loc}#messages/{mid}",
                raw=raw,
            )
    finally:
        cov.parsed(UNIT, parsed)
