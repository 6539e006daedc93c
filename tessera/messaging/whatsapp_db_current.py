"""Reader for the current ``msgstore.db`` schema (WhatsApp for Android since 2021-2022).

Tables: ``message`` (one row per message, sender as a ``jid`` row id), ``chat``, ``jid``,
``message_media`` (``file_hash`` = base64 SHA-256 of the plaintext file), ``group_participant_user``,
``jid_map`` (``@lid`` privacy identity -> phone JID), ``message_forwarded``, ``message_system`` and
``message_system_chat_participant`` (group events and the members they are about).
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
    "message": ("_id", "chat_row_id", "from_me", "key_id", "sender_jid_row_id", "timestamp", "message_type"),
    "chat": ("_id", "jid_row_id"),
    "jid": ("_id", "raw_string"),
}


class _Merge:
    """Rows of a side table ordered by message id, consumed in step with the message cursor: the
    side table is read once, with constant memory, whatever its size or indexes."""

    def __init__(self, rows: Iterator[tuple[int, Any]]) -> None:
        self._rows = rows
        self._head = next(rows, None)

    def take(self, key: int) -> list[Any]:
        out = []
        while self._head is not None and self._head[0] <= key:
            if self._head[0] == key:
                out.append(self._head[1])
            self._head = next(self._rows, None)
        return out


def read_current(conn: sqlite3.Connection, ctx: ParseContext, name: str) -> Iterator[MessagingRecord]:
    require(conn, "current", REQUIRED, name)
    have = tables(conn)
    loc = ctx.locator
    me = find_owner(ctx)
    owner = me.raw_id
    contacts = load_contacts(ctx.sibling, ctx.scratch)

    # --- lookups (small: one row per identity / chat / participant) ------------------------------
    jids: dict[int, str] = {
        rid: raw for rid, raw in conn.execute("SELECT _id, raw_string FROM jid") if raw is not None
    }
    aliases: dict[int, list[int]] = {}
    if "jid_map" in have and {"lid_row_id", "jid_row_id"} <= columns(conn, "jid_map"):
        for lid_row, phone_row in conn.execute("SELECT lid_row_id, jid_row_id FROM jid_map"):
            aliases.setdefault(lid_row, []).append(phone_row)
            aliases.setdefault(phone_row, []).append(lid_row)

    def who(row_id: int | None) -> str | None:
        # The device owner is no jid row: 0, -1 or NULL where a participant or sender is "me".
        if row_id is None or row_id <= 0:
            return owner
        return jids.get(row_id)

    participants: list[tuple[str, str, int | None, str]] = []
    creators: dict[str, str] = {}
    if "group_participant_user" in have:
        gcols = columns(conn, "group_participant_user")
        if {"group_jid_row_id", "user_jid_row_id"} <= gcols:
            sql = (
                f"SELECT {col(gcols, 'g', '_id')}, g.group_jid_row_id, g.user_jid_row_id, "
                f"{col(gcols, 'g', 'rank')} FROM group_participant_user g"
            )
            for pid, grow, urow, rank in conn.execute(sql):
                group, user = jids.get(grow), who(urow)
                if group is None or user is None:
                    continue
                where = f"{loc}#participant/{pid if pid is not None else f'{grow}/{urow}'}"
                participants.append((group, user, rank, where))
                if rank == 2:
                    creators.setdefault(group, user)

    ccols = columns(conn, "chat")
    chats: dict[int, str] = {}
    chat_rows = []
    sql = (
        f"SELECT c._id, c.jid_row_id, {col(ccols, 'c', 'subject')}, "
        f"{col(ccols, 'c', 'created_timestamp', 'creation')} FROM chat c"
    )
    for cid, jrow, subject, created in conn.execute(sql):
        jid = jids.get(jrow)
        if jid is None:
            continue
        chats[cid] = jid
        chat_rows.append((cid, jid, subject, created))

    # --- accounts, chats, memberships -----------------------------------------------------------
    yield owner_record(me, contacts.get(owner, (None, None))[0], loc)
    for rid, raw in jids.items():
        if raw == owner or not is_user_jid(raw):
            continue
        alias = [jids[a] for a in aliases.get(rid, ()) if a in jids]
        display, number = contacts.get(raw, (None, None))
        for a in alias:  # wa.db knows an @lid account under its phone JID (the alias carries the number)
            display = display or contacts.get(a, (None, None))[0]
        yield AccountRecord(
            PLATFORM,
            raw,
            # The JID's own number is exact and international; wa.db's is as the owner typed it.
            phone=phone_of(raw) or number,
            display_name=display,
            aliases=alias,
            locator=f"{loc}#jid/{rid}",
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
            locator=f"{loc}#chat/{cid}",
        )
    for group, user, rank, where in participants:
        yield MembershipRecord(PLATFORM, group, user, role=ROLES.get(rank or 0, "member"), locator=where)

    yield from _messages(conn, have, chats, jids, who, owner, loc)


def _messages(
    conn: sqlite3.Connection,
    have: set[str],
    chats: dict[int, str],
    jids: dict[int, str],
    who: Any,
    owner: str,
    loc: str,
) -> Iterator[MessageRecord]:
    mcols = columns(conn, "message")
    media_cols = columns(conn, "message_media") if "message_media" in have else set()
    joins = []
    if {"message_row_id"} <= media_cols:
        joins.append("LEFT JOIN message_media mm ON mm.message_row_id = m._id")
    else:
        media_cols = set()
    fwd_cols = columns(conn, "message_forwarded") if "message_forwarded" in have else set()
    if {"message_row_id", "forward_score"} <= fwd_cols:
        joins.append("LEFT JOIN message_forwarded mf ON mf.message_row_id = m._id")
    else:
        fwd_cols = set()
    sys_cols = columns(conn, "message_system") if "message_system" in have else set()
    if {"message_row_id", "action_type"} <= sys_cols:
        joins.append("LEFT JOIN message_system ms ON ms.message_row_id = m._id")
    else:
        sys_cols = set()
    sql = (
        "SELECT m._id, m.chat_row_id, m.from_me, m.key_id, m.sender_jid_row_id, m.timestamp, "
        f"m.message_type, {col(mcols, 'm', 'text_data', 'data')}, {col(mcols, 'm', 'status')}, "
        f"{col(mcols, 'm', 'origination_flags')}, "
        f"{col(media_cols, 'mm', 'file_path')}, {col(media_cols, 'mm', 'file_hash')}, "
        f"{col(media_cols, 'mm', 'mime_type')}, {col(media_cols, 'mm', 'file_length', 'file_size')}, "
        f"{col(media_cols, 'mm', 'media_name')}, {col(media_cols, 'mm', 'media_caption')}, "
        f"{col(fwd_cols, 'mf', 'forward_score')}, {col(sys_cols, 'ms', 'action_type')} "
        f"FROM message m {' '.join(joins)} ORDER BY m._id"
    )
    targets = _Merge(iter(()))
    if "message_system_chat_participant" in have and {"message_row_id", "user_jid_row_id"} <= columns(
        conn, "message_system_chat_participant"
    ):
        # A second connection-level cursor, ordered like the message cursor (see _Merge).
        targets = _Merge(
            iter(
                conn.execute(
                    "SELECT message_row_id, user_jid_row_id FROM message_system_chat_participant "
                    "ORDER BY message_row_id"
                )
            )
        )
    jid_of = chats.get
    for (
        mid,
        chat_row,
        from_me,
        key_id,
        sender_row,
        ts,
        mtype,
        text,
        status,
        oflags,
        fpath,
        fhash,
        mime,
        size,
        mname,
        caption,
        fscore,
        action_type,
    ) in conn.execute(sql):
        chat = jid_of(chat_row)
        if chat is None:
            continue  # placeholder rows (chat_row_id -1) and rows of chats gone from the chat table
        sender: str | None
        if from_me:
            sender = owner
        elif sender_row and sender_row > 0:
            sender = jids.get(sender_row)
        else:
            # Private chats store no sender: it is the peer. Group rows without one are system lines.
            sender = chat if not chat.endswith(("@g.us", "@broadcast", "@newsletter")) else None
        raw: dict[str, Any] = {"_id": mid, "message_type": mtype}
        if status is not None:
            raw["status"] = status
        media = None
        if fpath is not None or fhash is not None or mime is not None:
            sha = decode_file_hash(fhash)
            if fhash and sha is None:
                raw["file_hash"] = fhash
            media = MediaRef(
                sha256=sha,
                path=fpath,
                file_name=mname or (fpath.rsplit("/", 1)[-1] if fpath else None),
                mime=mime,
                size=size,
            )
        forwarded = bool((fscore or 0) > 0 or (oflags or 0) & 1)
        if fscore is not None:
            raw["forward_score"] = fscore
        action = None
        tlist: list[str] = []
        if action_type is not None:
            raw["action_type"] = action_type
            action = ACTIONS.get(action_type, f"action_{action_type}")
            tlist = [t for t in map(who, targets.take(mid)) if t is not None]
        yield MessageRecord(
            PLATFORM,
            chat,
            sender,
            ms_to_utc(ts),
            kind=KINDS.get(mtype, "other") if mtype is not None else "other",
            text=text if text is not None else caption,
            forwarded=forwarded,
            media=media,
            raw_id=key_id,
            action=action,
            targets=tlist,
            from_me=bool(from_me),
            locator=f"{loc}#message/{mid}",
            raw=raw,
        )
