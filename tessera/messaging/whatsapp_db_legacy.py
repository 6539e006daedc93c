"""Reader for the legacy ``msgstore.db`` schema (WhatsApp for Android before 2021-2022).

One wide ``messages`` table keyed by JID strings (``key_remote_jid`` = chat, ``remote_resource`` =
sender in groups), ``chat_list`` for titles and ``group_participants`` (``jid`` is ``''`` for the
device owner). Group events are rows with ``status = 6`` whose ``media_size`` holds the action code
and ``remote_resource`` the member it is about. Media paths sit in a serialised Java object
(``thumb_image``) that is not decoded: media are linked by ``media_hash`` and ``media_name``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from typing import Any

from tessera.messaging.base import ParseContext
from tessera.messaging.records import (
    AccountRecord,
    ChatRecord,
    MediaRef,
    MembershipRecord,
    MessageRecord,
    MessagingRecord,
)
from tessera.messaging.whatsapp_db_common import (
    ACTIONS,
    KINDS,
    PLATFORM,
    ROLES,
    chat_kind,
    col,
    columns,
    decode_file_hash,
    find_owner,
    is_user_jid,
    load_contacts,
    ms_to_utc,
    owner_record,
    phone_of,
    require,
    tables,
)

REQUIRED: dict[str, tuple[str, ...]] = {
    "messages": ("_id", "key_remote_jid", "key_from_me", "key_id", "timestamp"),
}
#: Legacy actions whose ``remote_resource`` is the member the event is about, not its author.
_ABOUT_MEMBER = frozenset({4, 5, 7, 12, 14, 20})
#: ... and of those, the ones the member did themselves (left, joined by link).
_BY_MEMBER = frozenset({5, 20})


def read_legacy(conn: sqlite3.Connection, ctx: ParseContext, name: str) -> Iterator[MessagingRecord]:
    require(conn, "legacy", REQUIRED, name)
    have = tables(conn)
    loc = ctx.locator
    me = find_owner(ctx)
    owner = me.raw_id
    contacts = load_contacts(ctx.sibling, ctx.scratch)
    mcols = columns(conn, "messages")

    def who(jid: str | None) -> str:
        return jid if jid else owner

    # --- lookups -------------------------------------------------------------------------------
    participants: list[tuple[str, str, int | None, str]] = []
    creators: dict[str, str] = {}
    if "group_participants" in have:
        gcols = columns(conn, "group_participants")
        if {"gjid", "jid"} <= gcols:
            sql = (
                f"SELECT {col(gcols, 'g', '_id')}, g.gjid, g.jid, {col(gcols, 'g', 'admin')} "
                "FROM group_participants g"
            )
            for pid, gjid, jid, admin in conn.execute(sql):
                if not gjid:
                    continue
                user = who(jid)
                participants.append(
                    (gjid, user, admin, f"{loc}#participant/{pid if pid is not None else gjid}")
                )
                if admin == 2:
                    creators.setdefault(gjid, user)

    chat_rows: list[tuple[Any, str, str | None, int | None]] = []
    if "chat_list" in have:
        ccols = columns(conn, "chat_list")
        if "key_remote_jid" in ccols:
            sql = (
                f"SELECT {col(ccols, 'c', '_id')}, c.key_remote_jid, {col(ccols, 'c', 'subject')}, "
                f"{col(ccols, 'c', 'creation')} FROM chat_list c"
            )
            chat_rows = [r for r in conn.execute(sql) if r[1] and r[1] != "-1"]
    listed = {r[1] for r in chat_rows}
    # Chats whose chat_list row is gone still have messages; one indexed pass per distinct value.
    for (jid,) in conn.execute("SELECT DISTINCT key_remote_jid FROM messages"):
        if jid and jid != "-1" and jid not in listed:
            listed.add(jid)
            chat_rows.append((None, jid, None, None))

    accounts: set[str] = {u for _, u, _, _ in participants}
    accounts.update(j for _, j, _, _ in chat_rows if is_user_jid(j))
    if "remote_resource" in mcols:
        accounts.update(
            r for (r,) in conn.execute("SELECT DISTINCT remote_resource FROM messages") if is_user_jid(r)
        )
    accounts.discard(owner)

    # --- accounts, chats, memberships -----------------------------------------------------------
    yield owner_record(me, contacts.get(owner, (None, None))[0], loc)
    for jid in sorted(accounts):
        display, number = contacts.get(jid, (None, None))
        yield AccountRecord(
            PLATFORM, jid, phone=phone_of(jid) or number, display_name=display, locator=f"{loc}#account/{jid}"
        )
    for cid, jid, subject, created in chat_rows:
        kind = chat_kind(jid)
        yield ChatRecord(
            PLATFORM,
            jid,
            title=subject or (contacts.get(jid, (None, None))[0] if kind == "private" else None),
            kind=kind,
            created_at=ms_to_utc(created) if created else None,
            creator=creators.get(jid),
            locator=f"{loc}#chat/{cid if cid is not None else jid}",
        )
    for group, user, admin, where in participants:
        yield MembershipRecord(PLATFORM, group, user, role=ROLES.get(admin or 0, "member"), locator=where)

    # --- messages ------------------------------------------------------------------------------
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
        if not chat or chat == "-1":
            continue  # the placeholder row WhatsApp keeps at _id 1
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
            sender = rres
        else:
            sender = None if is_group or chat.endswith("@broadcast") else chat
        action = None
        targets: list[str] = []
        media = None
        if status == 6 and (mtype or 0) == 0:
            kind = "system"
            code = int(msize or 0)
            raw["action_type"] = code
            action = ACTIONS.get(code, f"action_{code}")
            if code in _ABOUT_MEMBER:
                targets = [rres] if rres else []
                if not from_me:
                    # The author of an add or remove is not in these columns; a leaver is their own.
                    sender = rres if code in _BY_MEMBER and rres else None
        else:
            kind = KINDS.get(mtype, "other") if mtype is not None else "text"
            if mhash or mime or (mname and kind not in ("text", "system")):
                sha = decode_file_hash(mhash)
                if mhash and sha is None:
                    raw["media_hash"] = mhash
                media = MediaRef(sha256=sha, file_name=mname, mime=mime, size=msize)
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
            locator=f"{loc}#message/{mid}",
            raw=raw,
        )
