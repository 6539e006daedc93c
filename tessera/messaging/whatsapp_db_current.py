"""Reader for the current ``msgstore.db`` schema (WhatsApp for Android since 2021-2022).

Tables: ``message`` (one row per message, sender as a ``jid`` row id), ``chat``, ``jid``,
``message_media`` (``file_hash`` = base64 SHA-256 of the plaintext file), ``group_participant_user``,
``jid_map`` (``@lid`` privacy identity -> phone JID), ``message_forwarded``, ``message_system`` and
``message_system_chat_participant`` (group events and the members they are about).

``collect`` reads the small tables into lookups (identities, chats, memberships); ``messages``
streams the ``message`` table. WhatsApp's placeholder row (``chat_row_id`` -1, ``key_id`` '-1') is
counted as ignored; a message whose chat row is gone is still read, under ``lost_chat``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
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
    lost_chat,
    ms_to_utc,
)
from tessera.messaging.whatsapp_db_ids import Chats, Members, People

REQUIRED: dict[str, tuple[str, ...]] = {
    "message": ("_id", "chat_row_id", "from_me", "key_id", "sender_jid_row_id", "timestamp", "message_type"),
    "chat": ("_id", "jid_row_id"),
    "jid": ("_id", "raw_string"),
}
UNIT = "message"
PARTICIPANTS = "group_participant_user"
#: WhatsApp keeps one row that is no message: chat_row_id -1 and key_id '-1'.
PLACEHOLDER = "WhatsApp's placeholder row (chat_row_id -1, key_id '-1')"
_PLACEHOLDER_SQL = "chat_row_id = -1 AND key_id = '-1'"


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


@dataclass
class Lookups:
    """jid row -> the raw id records carry (the account for people, the JID for groups), and chat
    row -> chat JID."""

    accounts: dict[int, str] = field(default_factory=dict)
    chats: dict[int, str] = field(default_factory=dict)


def has_messages(conn: sqlite3.Connection) -> bool:
    return bool(
        conn.execute(f"SELECT EXISTS (SELECT 1 FROM message WHERE NOT ({_PLACEHOLDER_SQL}))").fetchone()[0]
    )


def message_keys(conn: sqlite3.Connection) -> set[tuple[str, int, str]]:
    """(chat JID, from_me, key_id) of every message row: WhatsApp's own key of a message, the same in
    both schemas. Built only for a database whose two message tables both hold messages."""
    return {
        (jid, int(fm or 0), key)
        for jid, fm, key in conn.execute(
            "SELECT j.raw_string, m.from_me, m.key_id FROM message m JOIN chat c ON c._id = m.chat_row_id "
            "JOIN jid j ON j._id = c.jid_row_id"
        )
    }


def collect(
    conn: sqlite3.Connection,
    have: set[str],
    ctx: ParseContext,
    people: People,
    chats: Chats,
    members: Members,
) -> Lookups:
    loc = ctx.locator
    look = Lookups()
    jids: dict[int, str] = {}
    for rid, raw in conn.execute("SELECT _id, raw_string FROM jid"):
        if raw is None:
            continue
        jids[rid] = raw
        if is_owner_form(raw):
            look.accounts[rid] = people.me
        elif is_user_jid(raw):
            look.accounts[rid] = people.add(raw, f"{loc}#jid/{rid}")
        else:
            look.accounts[rid] = raw  # groups, broadcast lists, channels: the JID itself
    if "jid_map" in have and {"lid_row_id", "jid_row_id"} <= columns(conn, "jid_map"):
        for lid_row, phone_row in conn.execute("SELECT lid_row_id, jid_row_id FROM jid_map"):
            if lid_row in look.accounts and phone_row in look.accounts:
                people.link(look.accounts[lid_row], look.accounts[phone_row])

    ccols = columns(conn, "chat")
    sql = (
        f"SELECT c._id, c.jid_row_id, {col(ccols, 'c', 'subject')}, "
        f"{col(ccols, 'c', 'created_timestamp', 'creation')} FROM chat c"
    )
    for cid, jrow, subject, created in conn.execute(sql):
        jid = jids.get(jrow)
        if jid is not None:  # a chat row without its jid row: its messages go under lost_chat
            look.chats[cid] = jid
            chats.add(jid, subject, created, f"{loc}#chat/{cid}")
            if is_user_jid(jid):
                people.add(jid, f"{loc}#chat/{cid}")

    if PARTICIPANTS in have:
        gcols = columns(conn, PARTICIPANTS)
        if {"group_jid_row_id", "user_jid_row_id"} <= gcols:
            ctx.coverage.holds(
                PARTICIPANTS, conn.execute(f"SELECT COUNT(*) FROM {PARTICIPANTS}").fetchone()[0]
            )
            sql = (
                f"SELECT {col(gcols, 'g', '_id')}, g.group_jid_row_id, g.user_jid_row_id, "
                f"{col(gcols, 'g', 'rank')} FROM {PARTICIPANTS} g"
            )
            for pid, grow, urow, rank in conn.execute(sql):
                where = f"{loc}#participant/{pid if pid is not None else f'{grow}/{urow}'}"
                group = jids.get(grow)
                user = people.me if urow is None or urow <= 0 else look.accounts.get(urow)
                if group is None or user is None:
                    gone = "group" if group is None else "member"
                    ctx.coverage.skip(PARTICIPANTS, f"the {gone}'s jid row is gone", where)
                    continue
                members.add(PARTICIPANTS, group, user, rank, where)
        else:
            ctx.coverage.note(f"{PARTICIPANTS}: without group_jid_row_id/user_jid_row_id, not read")
    return look


def messages(
    conn: sqlite3.Connection, have: set[str], look: Lookups, ctx: ParseContext, owner: str
) -> Iterator[MessageRecord]:
    loc = ctx.locator
    cov = ctx.coverage
    cov.holds(UNIT, conn.execute("SELECT COUNT(*) FROM message").fetchone()[0])
    accounts = look.accounts
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

    def who(row_id: int | None) -> str | None:
        # The device owner is no jid row: 0, -1 or NULL where a participant or sender is "me".
        return owner if row_id is None or row_id <= 0 else accounts.get(row_id)

    jid_of = look.chats.get
    parsed = 0  # counted here and added once at the end: the per-row cost is one increment
    try:
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
            raw: dict[str, Any] = {"_id": mid, "message_type": mtype}
            chat = jid_of(chat_row)
            if chat is None:
                if chat_row == -1 and key_id == "-1":
                    cov.ignore(UNIT, PLACEHOLDER, f"{loc}#message/{mid}")
                    continue
                chat = lost_chat(ctx, chat_row)
                raw["chat_row_id"] = chat_row  # the only thing known of its chat
                cov.note(
                    "message: rows whose chat row (or its jid row) is gone are read under "
                    "'whatsapp:chat-row-<chat_row_id>@<device><locator>'"
                )
            sender: str | None
            if from_me:
                sender = owner
            elif sender_row and sender_row > 0:
                sender = accounts.get(sender_row)
                if sender is None:
                    raw["sender_jid_row_id"] = sender_row  # its jid row is gone: kept, not guessed
            elif "chat_row_id" in raw:
                sender = None
            else:
                # Private chats store no sender: it is the peer. Group rows without one are system lines.
                sender = chat if not chat.endswith(("@g.us", "@broadcast", "@newsletter")) else None
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
            parsed += 1
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
    finally:
        cov.parsed(UNIT, parsed)
