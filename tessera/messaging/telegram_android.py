"""Telegram for Android ``cache4.db``: plugin "telegram-android".

Importing this module registers the parser. The database is evidence and is never written: it is
copied with its ``-wal`` into the case scratch space and the copy is read (``open_evidence_db``,
shared with the WhatsApp parser); Telegram keeps recent content in the WAL.

**Schema eras** (``PRAGMA user_version`` and the tables present decide, never the file name):
messages live in ``messages`` (app databases up to the 2021 switch to 64-bit ids, e.g.
``user_version`` 78 of Telegram 7.7) or ``messages_v2`` (later); a database in mid-migration holding
both is read from both, a message in both once (the ``messages_v2`` copy). Required: the message
table with ``mid``, ``uid``, ``date``, ``data``, ``out``; ``users`` and ``chats`` with ``uid``,
``data``. A database without a message table is refused with a ParseError naming it.

**Bodies** are TL-serialised (``tessera.messaging.tl``: the reader and constructor table;
``tl_objects``, ``tl_peers``, ``tl_media``, ``tl_files``: the layouts of ``TLRPC.java`` of
DrKLO/Telegram, checked against Telegram's generated TL classes). Read:

- Message: ``TL_message`` of layers 33-47 and 69-118 (a bare int32 sender), 123-132, 135-176 and
  the flags2 classes of layers 179-current; secret-chat messages ``0x555555f8``/``f9``/``fa``;
  service messages of layers 37-current with the group actions (create, add, remove, join, title,
  photo, migrate, pin, call ...); ``messageEmpty`` (counted as ignored: no content).
- Fields: id, sender (``from_id``), peer, date, text, forward header (layers 33-current: original
  sender or channel, name, date), reply, via bot, media, formatting entities; then, where every
  field between is a plain value (no reply markup, replies, reactions, fact check; layers up to
  213), the local attach path the app writes after the object: ``MediaRef.path``, linked to the
  device's file by the pipeline.
- Media: photo (layers 55-current: id, largest size), document (layers 44-current: id, file name,
  MIME type, size, kind from its attributes), geo, contact; web page, poll, venue, game, invoice,
  dice, story, giveaway ... named by constructor, body not read (the message is still read: its own
  fields come first).
- User (layers 104-current): id, names, username, phone; Chat and Channel (layers 37-current): id,
  title, username.

The chat list (``dialogs``) adds the chats none of whose messages is left. Secret chats
(``enc_chats``) give the chat ``secret<id>`` and its two members (keys are not read).
The address book Telegram imported (``user_contacts_v7``, ``user_phones_v7``) gives accounts like the
desktop export's contacts: ``user<uid>`` with the saved name and number, or the number as written.

An **unknown constructor** anywhere a field must be decoded makes that row skipped with the reason
``unknown TL constructor 0x....`` and a **truncated blob** ``truncated TL blob``: counted in the
reconciliation (the source becomes partial), never fatal, never guessed. Only after a message's own
fields (an unknown formatting-entity type, a trailing field) does an unknown constructor leave the
rest unread, noted in ``raw``, with the message kept. A blob whose id or date differ from its row's
columns is skipped too (a layout read wrongly would otherwise invent values).

**Identifiers** are those of the Telegram Desktop export parser (``telegram``): ``user<id>``,
``chat<id>`` (basic group), ``channel<id>`` (supergroup, channel), private chats ``user<other>``;
secret chats ``secret<id>``. Phone numbers are kept as the digits the user object holds. The owner
comes from ``shared_prefs/userconfing.xml`` (account 0) or ``userconfig<N>.xml`` (``files/account<N>``),
whose ``user`` value is the owner's TL user, else from the user row flagged ``self``.
"""

from __future__ import annotations

import base64
import binascii
import posixpath
import re
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, ClassVar

from tessera.evidence.base import open_item
from tessera.messaging import tl_objects
from tessera.messaging.base import PARSERS, ParseContext, file_context
from tessera.messaging.coverage import Coverage
from tessera.messaging.records import (
    AccountRecord,
    ChatRecord,
    MembershipRecord,
    MessagingRecord,
    ParseError,
)
from tessera.messaging.telegram_android_rows import Book, chat_of, memberships, message_record
from tessera.messaging.tl import TLError
from tessera.messaging.whatsapp_db_common import SQLITE_MAGIC, base_name, columns, open_evidence_db, tables

__all__ = ["TelegramAndroidParser", "parse_file", "schema_of"]

PLATFORM = "telegram"
_NAME = re.compile(r"cache4[^/]*\.db", re.IGNORECASE)
MESSAGE_COLUMNS = ("mid", "uid", "date", "data", "out")
REQUIRED = {"users": ("uid", "data"), "chats": ("uid", "data")}
NOT_READ = ("contacts", "media_v2")
DIALOGS = "dialogs"
SECRET = "enc_chats"
CONTACTS = "user_contacts_v7"
#: Telegram's folders on the phone's shared storage (Android 11+ app-specific storage first): media
#: paths are absolute (``/storage/emulated/0/Telegram/...``); the roots show where that storage is.
MEDIA_ROOTS = (
    "Android/data/org.telegram.messenger/files/Telegram",
    "Android/media/org.telegram.messenger/Telegram",
    "Telegram",
)
_USER_PREF = re.compile(rb'<string name="user">([A-Za-z0-9+/=\s]{8,65536})</string>')
_ACCOUNT_DIR = re.compile(r"account(\d+)")


def schema_of(conn: sqlite3.Connection, name: str) -> list[str]:
    """The message tables to read, newest first; ParseError naming what is missing."""
    have = tables(conn)
    found: list[str] = [t for t in ("messages_v2", "messages") if t in have]
    if not found:
        raise ParseError(f"{name}: not a Telegram for Android cache4.db: missing table messages_v2/messages")
    missing = []
    for table, cols in [*((t, MESSAGE_COLUMNS) for t in found), *REQUIRED.items()]:
        if table not in have:
            missing.append(f"table {table}")
            continue
        lacking = [c for c in cols if c not in columns(conn, table)]
        missing += [f"{table}.{c}" for c in lacking]
    if missing:
        raise ParseError(f"{name}: not a Telegram for Android cache4.db: missing {', '.join(missing)}")
    return found


def _prefs_name(locator: str) -> str:
    """``files/cache4.db`` is account 0 (``userconfing.xml``, Telegram's spelling);
    ``files/account<N>/cache4.db`` is account N (``userconfig<N>.xml``)."""
    parent = locator.rsplit("/", 2)[-2] if locator.count("/") >= 2 else ""
    m = _ACCOUNT_DIR.fullmatch(parent)
    return f"../../shared_prefs/userconfig{m.group(1)}.xml" if m else "../shared_prefs/userconfing.xml"


def find_owner(ctx: ParseContext) -> tuple[AccountRecord | None, str | None]:
    """The owner's account from the app's shared preferences, and a note on what was found."""
    rel = _prefs_name(ctx.locator)
    opener = ctx.sibling(rel)
    if opener is None:
        return None, None
    where = posixpath.normpath(ctx.locator.rsplit("/", 1)[0] + "/" + rel)
    try:
        with open_item(opener) as fh:  # read-only, access time untouched
            data = fh.read(1 << 20)
    except (OSError, ValueError):
        return None, f"{rel}: unreadable"
    # A regex over the first MiB, not an XML parser: nothing in a seized file gets to expand.
    found = _USER_PREF.search(data)
    if found is None:
        return None, f"{rel}: no user entry (the owner is not named there)"
    try:
        user = tl_objects.user(base64.b64decode(b"".join(found.group(1).split()), validate=True))
    except (binascii.Error, TLError) as exc:
        return None, f"{rel}: user entry not read ({exc})"
    rec = _account(user, where)
    rec.is_device_owner = True
    return rec, f"owner from {rel}"


def _account(user: dict[str, object], locator: str) -> AccountRecord:
    names = " ".join(str(user.get(k) or "") for k in ("first_name", "last_name")).strip()
    phone = user.get("phone")
    username = user.get("username")
    if isinstance(phone, str) and phone.isdigit():
        # TL's user.phone is the international number without its plus (the API's own form: Telegram
        # for Android shows it as "+" + user.phone). Written that way it is read as international,
        # exactly as a WhatsApp JID's digits are: the same digits, nothing added.
        phone = "+" + phone
    return AccountRecord(
        PLATFORM,
        f"user{user['id']}",
        phone=phone if isinstance(phone, str) and phone else None,
        username=username if isinstance(username, str) and username else None,
        display_name=names or None,
        locator=locator,
    )


def _decoded(
    conn: sqlite3.Connection, ctx: ParseContext, table: str, decode: Callable[[bytes], dict[str, Any]]
) -> Iterator[tuple[int, dict[str, Any], str]]:
    """``(uid, object, locator)`` of each row of ``users`` or ``chats`` whose TL blob decodes to the
    row's own id; every other row counted as skipped with its reason."""
    cov = ctx.coverage
    cov.holds(table, conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])
    for uid, data in conn.execute(f"SELECT uid, data FROM {table} ORDER BY uid"):
        where = f"{ctx.locator}#{table}/{uid}"
        if not isinstance(data, bytes) or not data:
            cov.skip(table, "no TL data", where)
            continue
        try:
            obj = decode(data)
        except TLError as exc:
            cov.skip(table, exc.reason, where)
            continue
        if obj["id"] != uid:
            cov.skip(table, f"TL {table[:-1]} id differs from the row's uid", where)
            continue
        cov.parsed(table)
        yield uid, obj, where


def _users(conn: sqlite3.Connection, ctx: ParseContext, book: Book) -> Iterator[AccountRecord]:
    cov = ctx.coverage
    for _uid, user, where in _decoded(conn, ctx, "users", tl_objects.user):
        rec = _account(user, where)
        if user.get("self") and book.owner is None:
            rec.is_device_owner = True
            book.owner = rec.raw_id
            cov.note("owner: the user row flagged self")
        elif rec.raw_id == book.owner:
            rec.is_device_owner = True
        yield rec


def _chats(conn: sqlite3.Connection, ctx: ParseContext, book: Book) -> Iterator[ChatRecord]:
    for uid, chat, where in _decoded(conn, ctx, "chats", tl_objects.chat):
        kind = "channel" if chat.get("broadcast") else "group"
        raw_id = f"{chat['kind']}{uid}"
        book.chat_kinds[uid] = chat["kind"]
        book.chats.add(raw_id)
        yield ChatRecord(PLATFORM, raw_id, chat.get("title") or None, kind, locator=where)


def _secret_chats(
    conn: sqlite3.Connection, ctx: ParseContext, book: Book
) -> Iterator[ChatRecord | MembershipRecord]:
    """Secret chats (``enc_chats``: the chat id and the other party's user id; keys not read): a
    private chat ``secret<id>`` between the owner and that user."""
    if SECRET not in tables(conn) or not {"uid", "user"} <= columns(conn, SECRET):
        return
    cov = ctx.coverage
    cov.holds(SECRET, conn.execute(f"SELECT COUNT(*) FROM {SECRET}").fetchone()[0])
    for uid, other in conn.execute(f"SELECT uid, user FROM {SECRET} ORDER BY uid"):
        where = f"{ctx.locator}#{SECRET}/{uid}"
        if not isinstance(uid, int) or not isinstance(other, int) or other <= 0:
            cov.skip(SECRET, "no chat id or no user id", where)
            continue
        cov.parsed(SECRET)
        chat = f"secret{uid}"
        book.chats.add(chat)
        yield ChatRecord(PLATFORM, chat, None, "private", locator=where)
        for account in (book.me, f"user{other}"):
            yield MembershipRecord(PLATFORM, chat, account, "member", locator=where)


def _address_book(conn: sqlite3.Connection, ctx: ParseContext) -> Iterator[AccountRecord]:
    """The phone's address book as Telegram imported it (``user_contacts_v7``, numbers in
    ``user_phones_v7``), read like the desktop export's contacts: ``user<uid>`` with the name and
    number the owner saved when the contact is on Telegram, else the number as written."""
    have = tables(conn)
    if CONTACTS not in have or not {"key", "uid", "fname", "sname"} <= columns(conn, CONTACTS):
        return
    cov = ctx.coverage
    cov.holds(CONTACTS, conn.execute(f"SELECT COUNT(*) FROM {CONTACTS}").fetchone()[0])
    phones: dict[str, list[str]] = {}
    if "user_phones_v7" in have and {"key", "phone", "deleted"} <= columns(conn, "user_phones_v7"):
        for key, phone in conn.execute(
            "SELECT key, phone FROM user_phones_v7 WHERE COALESCE(deleted, 0) = 0 AND phone <> '' "
            "ORDER BY key, phone"
        ):
            phones.setdefault(key, []).append(phone)
    for key, uid, first, last in conn.execute(f"SELECT key, uid, fname, sname FROM {CONTACTS} ORDER BY key"):
        where = f"{ctx.locator}#{CONTACTS}/{key}"
        numbers = phones.get(key, [])
        name = " ".join(str(n) for n in (first, last) if n).strip() or None
        raw_id = f"user{uid}" if uid else (numbers[0] if numbers else None)
        if raw_id is None:
            cov.ignore(CONTACTS, "address-book entry with neither a Telegram account nor a number", where)
            continue
        cov.parsed(CONTACTS)
        yield AccountRecord(
            PLATFORM, raw_id, phone=numbers[0] if numbers else None, display_name=name, locator=where
        )


def _messages(
    conn: sqlite3.Connection, ctx: ParseContext, book: Book, table: str, seen: set[tuple[int, int]] | None
) -> Iterator[MessagingRecord]:
    cov = ctx.coverage
    cov.holds(table, conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])
    have = columns(conn, table)
    extra = ", ".join(c if c in have else "NULL" for c in ("read_state", "send_state"))
    sql = f"SELECT mid, uid, date, out, data, {extra} FROM {table} ORDER BY uid, mid"
    for mid, uid, date, out, data, read_state, send_state in conn.execute(sql):
        where = f"{ctx.locator}#{table}/{uid}/{mid}"
        if seen is not None and (uid, mid) in seen:
            cov.ignore(table, "also in messages_v2 (read there)", where)
            continue
        if not isinstance(uid, int) or not isinstance(mid, int):
            cov.skip(table, "no message id or dialog id", where)
            continue
        if not isinstance(data, bytes) or not data:
            cov.skip(table, "no TL data", where)
            continue
        try:
            msg = tl_objects.message(data)
        except TLError as exc:
            cov.skip(table, exc.reason, where)
            continue
        if msg["_"].startswith("messageEmpty"):
            cov.ignore(table, "messageEmpty (no content)", where)
            continue
        if _int32(msg["id"]) != _int32(mid) or (date is not None and msg["date"] != date):
            cov.skip(table, "TL message id or date differ from the row's columns", where)
            continue
        cov.parsed(table)
        rec, chat = message_record(msg, uid, bool(out), book, where, table == "messages")
        rec.raw.update({"read_state": read_state, "send_state": send_state})
        if chat is not None:
            yield chat
        yield rec
        yield from memberships(rec)


def _int32(v: int) -> int:
    return ((int(v) & 0xFFFFFFFF) ^ 0x80000000) - 0x80000000


def read_cache4(conn: sqlite3.Connection, ctx: ParseContext, name: str) -> Iterator[MessagingRecord]:
    found = schema_of(conn, name)  # before anything is yielded
    cov = ctx.coverage
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    cov.note(f"schema: user_version {version}, messages in {' and '.join(found)}")
    # Tables that are not read (secret-chat keys and peers, the dialog list, the address book): their
    # row counts are stated so that an examiner sees what the reconciliation does not cover.
    have = tables(conn)
    unread = [
        f"{t} ({conn.execute(f'SELECT COUNT(*) FROM {t}').fetchone()[0]} rows)" for t in NOT_READ if t in have
    ]
    if unread:
        cov.note("not read: " + ", ".join(unread))
    owner, note = find_owner(ctx)
    if note:
        cov.note(note)
    given = ctx.options.get("owner", "").strip()
    book = Book(owner=owner.raw_id if owner else (given or None), device=ctx.device_id or "device")
    if owner is not None:
        yield owner
    yield from _users(conn, ctx, book)
    yield from _chats(conn, ctx, book)
    yield from _secret_chats(conn, ctx, book)
    yield from _address_book(conn, ctx)
    seen = None
    if len(found) == 2:
        seen = {(u, m) for u, m in conn.execute("SELECT uid, mid FROM messages_v2")}
        cov.note("both messages and messages_v2 present (migration): a message in both read once")
    for table in found:
        yield from _messages(conn, ctx, book, table, seen if table == "messages" else None)
    yield from _dialogs(conn, ctx, book, old_era="messages_v2" not in found)


def _dialogs(conn: sqlite3.Connection, ctx: ParseContext, book: Book, old_era: bool) -> Iterator[ChatRecord]:
    """The chat list (``dialogs``): a chat whose messages are all gone is still known to have been
    there. A group or channel the ``chats`` table does not hold is skipped: its id alone does not
    say whether it is a ``chat`` or a ``channel``, and guessing would invent an identifier."""
    if DIALOGS not in tables(conn) or "did" not in columns(conn, DIALOGS):
        return
    cov = ctx.coverage
    cov.holds(DIALOGS, conn.execute(f"SELECT COUNT(*) FROM {DIALOGS}").fetchone()[0])
    for (did,) in conn.execute(f"SELECT did FROM {DIALOGS} ORDER BY did"):
        where = f"{ctx.locator}#{DIALOGS}/{did}"
        if not isinstance(did, int) or did == 0:
            cov.skip(DIALOGS, "no dialog id", where)
            continue
        if did < 0 and -did not in book.chat_kinds:
            cov.skip(
                DIALOGS, "a group or channel the chats table does not hold (chat or channel unknown)", where
            )
            continue
        cov.parsed(DIALOGS)
        chat, kind = chat_of(did, {}, book, old_era)
        if chat not in book.chats:
            book.chats.add(chat)
            yield ChatRecord(PLATFORM, chat, None, kind, locator=where)


class TelegramAndroidParser:
    """Options: ``owner`` (``user<id>``) when the app's shared preferences are not in the evidence."""

    name: ClassVar[str] = "telegram-android"
    patterns: ClassVar[tuple[str, ...]] = ("cache4*.db", "*.db")
    companions: ClassVar[tuple[str, ...]] = (
        "{name}-wal",
        "{name}-shm",
        "../shared_prefs/userconfing.xml",
        "../../shared_prefs/userconfig*.xml",
    )
    media_roots: ClassVar[tuple[str, ...]] = MEDIA_ROOTS

    def detect(self, locator: str, head: bytes) -> bool:
        if _NAME.fullmatch(base_name(locator)):
            return True
        # A renamed copy: Telegram's own tables in the schema text of the first pages.
        return head.startswith(SQLITE_MAGIC) and b"enc_chats" in head and b"dialogs" in head

    def parse(self, ctx: ParseContext) -> Iterator[MessagingRecord]:
        name = base_name(ctx.locator)
        try:
            with open_evidence_db(ctx.opener, name, ctx.sibling, ctx.scratch) as conn:
                yield from read_cache4(conn, ctx, name)
        except OSError as exc:
            raise ParseError(f"{name}: cannot read: {exc}") from exc
        except sqlite3.DatabaseError as exc:
            raise ParseError(f"{name}: unreadable SQLite database: {exc}") from exc


PARSERS.register(TelegramAndroidParser.name)(TelegramAndroidParser())


def parse_file(
    path: str | Path,
    *,
    scratch: Path | None = None,
    device_id: str | None = None,
    options: dict[str, str] | None = None,
    coverage: Coverage | None = None,
) -> Iterator[MessagingRecord]:
    """Parse a ``cache4.db`` on the examiner's file system (``-wal`` and ``shared_prefs`` found
    beside it). For tests and ad-hoc use; the pipeline builds its own context."""
    ctx = file_context(path, scratch=scratch, device_id=device_id, options=options, coverage=coverage)
    return TelegramAndroidParser().parse(ctx)
