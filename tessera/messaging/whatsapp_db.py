"""WhatsApp for Android ``msgstore.db``: plugin "whatsapp-msgstore" (legacy and current schemas).

Importing this module registers the parser. The database is evidence and is never written: it is
opened with ``immutable=1`` (or deserialised from bytes), and when a ``-wal`` file sits beside it both
are copied into the case scratch space and the copy is read (see ``whatsapp_db_common``).

Tables are chosen by what they hold, not by their existence: databases of WhatsApp's 2021-2022
migration carry both schemas, often one of them holding only WhatsApp's sentinel or placeholder row.
Both message tables are read when both hold messages, de-duplicated on WhatsApp's message key (chat
JID, from_me, key_id): the current ``message`` copy wins, since it is the one the app migrated to and
the one that links media by path and hash. Memberships come from ``group_participant_user`` and
``group_participants``, united. Every message and membership row is accounted for in
``ctx.coverage`` (parsed, ignored or skipped, with the reason).

Media: ``MediaRef.path`` is ``message_media.file_path`` as stored, relative to the WhatsApp media root
of the same phone (``MEDIA_ROOTS``); ``MediaRef.sha256`` comes from ``file_hash`` and links the
message to the file even when the file was deleted.

WhatsApp Business (``com.whatsapp.w4b``) writes the same schema and is read by the same code, under
its own registered name "whatsapp-business-msgstore" (``WhatsAppBusinessMsgstoreParser``), claimed
by its path (the package, or its ``WhatsApp Business`` folder on shared storage). A variant rather
than a label: the media roots a source's attachments are resolved in are the parser's
(``BUSINESS_MEDIA_ROOTS``), and a phone with both apps has ``Media/WhatsApp Images/IMG-...jpg`` in
both folders, often under the same names; the parser name also shows the examiner, in every listing
of sources, which app a database belongs to. Its accounts stay on platform "whatsapp": the Business
app is on the same network, and a JID is the same account whichever app shows it.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

from tessera.messaging import whatsapp_db_current as current
from tessera.messaging import whatsapp_db_legacy as legacy
from tessera.messaging.base import PARSERS, ParseContext, file_context
from tessera.messaging.coverage import Coverage
from tessera.messaging.records import MessagingRecord, ParseError
from tessera.messaging.whatsapp_db_common import (
    BUSINESS,
    BUSINESS_PREFS,
    SHARED_PREFS,
    SQLITE_MAGIC,
    WHATSAPP,
    App,
    base_name,
    columns,
    find_owner,
    open_evidence_db,
    quick_check,
    require,
    tables,
)
from tessera.messaging.whatsapp_db_contacts import contact_records, load_contacts
from tessera.messaging.whatsapp_db_ids import Chats, Members, People

__all__ = [
    "BUSINESS_MEDIA_ROOTS",
    "MEDIA_ROOTS",
    "WhatsAppBusinessMsgstoreParser",
    "WhatsAppMsgstoreParser",
    "is_business",
    "media_candidates",
    "parse_file",
    "schema_of",
]

_NAME = re.compile(r"msgstore[^/]*\.db(\.crypt\d+)?", re.IGNORECASE)

#: Where ``message_media.file_path`` ("Media/WhatsApp Images/IMG-...jpg") is relative to, on the
#: shared storage of the same phone (``/sdcard``, ``/storage/emulated/0``, ``/data/media/0``):
#: Android 11+ scoped storage first, then the older location.
MEDIA_ROOTS = ("Android/media/com.whatsapp/WhatsApp", "WhatsApp")
#: WhatsApp Business's, on the same storage: its own package and folder name.
BUSINESS_MEDIA_ROOTS = ("Android/media/com.whatsapp.w4b/WhatsApp Business", "WhatsApp Business")

#: Where WhatsApp Business keeps its databases: its app folder (``/data/data/com.whatsapp.w4b``,
#: ``/data/user/0/com.whatsapp.w4b``) or its backups on shared storage (``WhatsApp Business/Databases``
#: in either layout). Searched in the whole locator, so an archive member's device path counts too.
_BUSINESS_PATH = re.compile(r"(?:^|[/!])com\.whatsapp\.w4b/|(?:^|[/!])whatsapp business/", re.IGNORECASE)


def is_business(locator: str) -> bool:
    """Is this file WhatsApp Business's (by its path, the only thing that tells the two apps apart)?"""
    return _BUSINESS_PATH.search(locator) is not None


def media_candidates(
    file_path: str, storage_root: str = "/sdcard", roots: tuple[str, ...] = MEDIA_ROOTS
) -> list[str]:
    """Locators where the file a message points at may lie on the device, most likely first.

    An absolute ``file_path`` (older versions stored ``/storage/emulated/0/WhatsApp/Media/...``) is
    returned as is; a relative one is joined to each media root under ``storage_root``.
    """
    if file_path.startswith("/"):
        return [file_path]
    root = storage_root.rstrip("/")
    return [f"{root}/{m}/{file_path}" for m in roots]


def schema_of(conn: sqlite3.Connection, name: str) -> str:
    """``current``, ``legacy`` or ``legacy+current`` (a migration-era database with both message
    tables): the tables present, whatever they hold."""
    have = tables(conn)
    cur = "message" in have
    leg = "messages" in have and "key_remote_jid" in columns(conn, "messages")
    if cur and leg:
        return "legacy+current"
    if cur:
        return "current"
    if leg or "messages" in have:
        return "legacy"  # a messages table without its columns: require() names what is missing
    raise ParseError(f"{name}: not a WhatsApp msgstore database: missing table message/messages")


def read_msgstore(
    conn: sqlite3.Connection, ctx: ParseContext, name: str, app: App = WHATSAPP
) -> Iterator[MessagingRecord]:
    """Accounts, chats and memberships first (small lookups), then the messages, streamed."""
    schema = schema_of(conn, name)
    cur, leg = "current" in schema, "legacy" in schema
    if cur:
        require(conn, current.REQUIRED, name, "a WhatsApp msgstore database (current schema)")
    if leg:
        require(conn, legacy.REQUIRED, name, "a WhatsApp msgstore database (legacy schema)")
    have = tables(conn)
    cov = ctx.coverage
    both = cur and leg and current.has_messages(conn) and legacy.has_messages(conn)
    era = {"current": "current", "legacy": "legacy", "legacy+current": "legacy+current (migration era)"}
    cov.note(f"app: {app.title} ({app.package})")
    cov.note(f"schema: {era[schema]}")
    if both:
        cov.note("both message tables hold messages: read both, a message in both once (the message copy)")

    people = People(find_owner(ctx, app))
    contacts = load_contacts(ctx)
    chats = Chats()
    members = Members(cov)
    look = current.collect(conn, have, ctx, people, chats, members) if cur else None
    if leg:
        legacy.collect(conn, have, ctx, people, chats, members)

    yield from people.records(contacts, ctx.locator)
    yield from chats.records(contacts, members.creators)
    yield from members.records()
    yield from contact_records(contacts, ctx, set(people.accounts) | {people.me}, set(chats.by_jid))

    if leg:
        yield from legacy.messages(conn, ctx, people, current.message_keys(conn) if both else None)
    if look is not None:
        yield from current.messages(conn, have, look, ctx, people.me)


class WhatsAppMsgstoreParser:
    """Options: ``owner`` (the device owner's number or JID, from the phone's shared preferences or
    the case file), ``integrity`` = ``skip`` to read a database that fails ``PRAGMA quick_check``."""

    name: ClassVar[str] = "whatsapp-msgstore"
    #: ``msgstore.db`` and its dated backups, encrypted backups (refused with the reason), and any
    #: SQLite file, since a copy an examiner renamed is recognised by its schema in ``detect``.
    patterns: ClassVar[tuple[str, ...]] = ("msgstore*", "*.db", "*.sqlite", "*.crypt*")
    companions: ClassVar[tuple[str, ...]] = (
        "{name}-wal",
        "wa.db",
        "wa.db-wal",
        *SHARED_PREFS,
    )
    media_roots: ClassVar[tuple[str, ...]] = MEDIA_ROOTS
    app: ClassVar[App] = WHATSAPP

    def detect(self, locator: str, head: bytes) -> bool:
        if is_business(locator):
            return False  # WhatsApp Business's: claimed by its own variant, below
        return self._looks_like_msgstore(locator, head)

    @staticmethod
    def _looks_like_msgstore(locator: str, head: bytes) -> bool:
        if _NAME.fullmatch(base_name(locator)):
            return True  # encrypted backups included: parse() explains what to do with them
        # A renamed copy: the schema text of sqlite_master sits in the first pages.
        return head.startswith(SQLITE_MAGIC) and (
            b"key_remote_jid" in head or (b"chat_row_id" in head and b"sender_jid_row_id" in head)
        )

    def parse(self, ctx: ParseContext) -> Iterator[MessagingRecord]:
        name = base_name(ctx.locator)
        try:
            with open_evidence_db(ctx.opener, name, ctx.sibling, ctx.scratch) as conn:
                if ctx.options.get("integrity") != "skip":
                    quick_check(conn, name)
                yield from read_msgstore(conn, ctx, name, self.app)
        except OSError as exc:
            raise ParseError(f"{name}: cannot read: {exc}") from exc


class WhatsAppBusinessMsgstoreParser(WhatsAppMsgstoreParser):
    """WhatsApp Business for Android: the same database, its own owner (option ``business_owner``,
    or its own shared preferences), media roots and name. See the module docstring for why."""

    name: ClassVar[str] = "whatsapp-business-msgstore"
    companions: ClassVar[tuple[str, ...]] = ("{name}-wal", "wa.db", "wa.db-wal", *BUSINESS_PREFS)
    media_roots: ClassVar[tuple[str, ...]] = BUSINESS_MEDIA_ROOTS
    app: ClassVar[App] = BUSINESS

    def detect(self, locator: str, head: bytes) -> bool:
        return is_business(locator) and self._looks_like_msgstore(locator, head)


PARSERS.register(WhatsAppMsgstoreParser.name)(WhatsAppMsgstoreParser())
PARSERS.register(WhatsAppBusinessMsgstoreParser.name)(WhatsAppBusinessMsgstoreParser())


def parse_file(
    path: str | Path,
    *,
    scratch: Path | None = None,
    owner: str | None = None,
    device_id: str | None = None,
    options: dict[str, str] | None = None,
    coverage: Coverage | None = None,
    business: bool | None = None,
) -> Iterator[MessagingRecord]:
    """Parse a ``msgstore.db`` on the examiner's file system, with ``wa.db`` and ``-wal`` found in
    the same folder. For tests, benchmarks and ad-hoc use; the pipeline builds its own context.
    ``coverage`` receives the reconciliation (a fresh one when not given). ``business``: read it as
    WhatsApp Business's (None: decided by its path, as the pipeline does)."""
    p = Path(path)
    parser = (
        WhatsAppBusinessMsgstoreParser()
        if (is_business(p.as_posix()) if business is None else business)
        else WhatsAppMsgstoreParser()
    )
    opts = dict(options or {})
    if owner:
        opts[parser.app.owner_option] = owner  # the owner of the app this database is read as

    ctx = file_context(path, scratch=scratch, device_id=device_id, options=opts, coverage=coverage)
    return parser.parse(ctx)
