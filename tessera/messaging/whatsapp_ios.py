"""WhatsApp for iOS ``ChatStorage.sqlite``: plugin "whatsapp-ios".

The database lives in WhatsApp's app-group container
(``/private/var/mobile/Containers/Shared/AppGroup/<UUID>/ChatStorage.sqlite``), beside
``ContactsV2.sqlite`` (the address book, read for names) and ``CallHistory.sqlite`` (calls: a source
of its own, read by ``whatsapp_ios_calls``); newer versions add ``LID.sqlite``, read to link
``@lid`` ids to phone JIDs. It is a Core Data store: tables ``Z<ENTITY>``,
row ids ``Z_PK``, times in seconds since 2001-01-01 UTC (``+978307200`` to the Unix epoch).

Evidence is never written: the file (and its ``-wal``) is copied to the case scratch space or read from
bytes, as the Android parser does (``whatsapp_db_common.open_evidence_db``).

Records use the Android parser's identifiers, so one person is one account across both platforms:
platform ``whatsapp``, accounts by user JID (device suffixes folded, the raw form kept as an alias),
chats by JID, the owner's messages (``ZISFROMME`` = 1) under the owner of ``find_owner``. ``@lid``
members are accounts of their own without a phone number: an ``@lid`` id is no number.

Reconciliation: every ``ZWAMESSAGE`` row is parsed or skipped with the reason (rows are counted, not
``ZWACHATSESSION.ZMESSAGECOUNTER``, which is WhatsApp's own counter and differs from the rows in
groups); every ``ZWACHATSESSION``, ``ZWAGROUPMEMBER`` and ``ZWAMEDIAITEM`` row is accounted for too.

Media: ``MediaRef.path`` is ``ZWAMEDIAITEM.ZMEDIALOCALPATH`` as stored, relative to the container's
``Message/`` folder (``MEDIA_ROOTS``). ``ZVCARDNAME`` of a media row looks like a base64 SHA-256 but
which bytes it hashes is not established, so it is kept in ``raw`` and never used to link a file.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

from tessera.messaging.base import PARSERS, ParseContext, file_context
from tessera.messaging.coverage import Coverage
from tessera.messaging.records import MessagingRecord, ParseError
from tessera.messaging.whatsapp_db_common import (
    SQLITE_MAGIC,
    base_name,
    open_evidence_db,
    quick_check,
)
from tessera.messaging.whatsapp_ios_read import REQUIRED, read_chatstorage

__all__ = ["MEDIA_ROOTS", "REQUIRED", "WhatsAppIOSParser", "parse_file"]

#: ``ZMEDIALOCALPATH`` ("Media/<chat JID>/d/0/<uuid>.jpg") is relative to ``Message/`` of the
#: app-group container, the folder that holds ChatStorage.sqlite.
MEDIA_ROOTS = ("Message",)


class WhatsAppIOSParser:
    """Options: ``owner`` (the device owner's number or JID), ``integrity`` = ``skip`` to read a
    database that fails ``PRAGMA quick_check``."""

    name: ClassVar[str] = "whatsapp-ios"
    #: ``ChatStorage.sqlite``, and any SQLite file: a renamed copy is recognised by its schema.
    patterns: ClassVar[tuple[str, ...]] = ("ChatStorage*", "*.sqlite", "*.db")
    companions: ClassVar[tuple[str, ...]] = (
        "{name}-wal",
        "ContactsV2.sqlite",
        "ContactsV2.sqlite-wal",
        "LID.sqlite",
        "LID.sqlite-wal",
    )
    media_roots: ClassVar[tuple[str, ...]] = MEDIA_ROOTS

    def detect(self, locator: str, head: bytes) -> bool:
        if not head.startswith(SQLITE_MAGIC):
            return False
        if base_name(locator).lower() == "chatstorage.sqlite":
            return True
        # A renamed copy: the CREATE TABLE text of sqlite_master sits in the first pages.
        return b"ZWAMESSAGE" in head and b"ZWACHATSESSION" in head

    def parse(self, ctx: ParseContext) -> Iterator[MessagingRecord]:
        name = base_name(ctx.locator)
        try:
            with open_evidence_db(ctx.opener, name, ctx.sibling, ctx.scratch) as conn:
                if ctx.options.get("integrity") != "skip":
                    quick_check(conn, name)
                yield from read_chatstorage(conn, ctx, name)
        except OSError as exc:
            raise ParseError(f"{name}: cannot read: {exc}") from exc


PARSERS.register(WhatsAppIOSParser.name)(WhatsAppIOSParser())


def parse_file(
    path: str | Path,
    *,
    scratch: Path | None = None,
    owner: str | None = None,
    device_id: str | None = None,
    coverage: Coverage | None = None,
) -> Iterator[MessagingRecord]:
    """Parse a ``ChatStorage.sqlite`` on the examiner's file system, with ``ContactsV2.sqlite`` and
    ``-wal`` files found in the same folder. For tests, benchmarks and ad-hoc use."""
    options = {"owner": owner} if owner else {}
    ctx = file_context(path, scratch=scratch, device_id=device_id, options=options, coverage=coverage)
    return WhatsAppIOSParser().parse(ctx)
