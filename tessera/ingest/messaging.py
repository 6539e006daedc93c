"""Storing what messaging parsers return: identities resolved, one transaction per source.

A parser yields raw records; here raw identifiers become accounts (phone numbers to E.164, so the same
number written five ways is one account), chats are keyed per platform, senders become members with
first/last seen, and every account and chat gets a sighting on the device. A source whose parse raises
leaves nothing behind but a ``messaging_source`` row saying why.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from tessera.ingest.identities import Resolver
from tessera.messaging.records import MessagingRecord, ParseError
from tessera.store import models as m


@dataclass
class SourceResult:
    locator: str
    parser: str
    messages: int = 0
    accounts: int = 0
    chats: int = 0
    error: str | None = None


def store_source(
    factory: Callable[[], AbstractContextManager[Session]],
    device_id: str,
    locator: str,
    parser: str,
    records: Iterable[MessagingRecord],
    region: str | None = None,
) -> SourceResult:
    """Store one source in one transaction. If parsing fails part-way (ParseError, or any error
    the parser did not foresee), everything of it is rolled back and only a ``failed``
    ``messaging_source`` row naming the error is kept; a rerun parses the source again."""
    result = SourceResult(locator, parser)
    with factory() as session:
        try:
            _clear_source(session, device_id, locator)
            src = m.MessagingSource(device_id=device_id, locator=locator, parser=parser, status="complete")
            session.add(src)
            session.flush()
            store = Resolver(session.connection(), device_id, src.id, region).load()
            for rec in records:
                store.add(rec)
            store.finish()
            src.messages = store.messages
            session.commit()
        except Exception as exc:  # noqa: BLE001 - a bad source is recorded, the ingest goes on
            session.rollback()
            result.error = str(exc) if isinstance(exc, ParseError) else f"{type(exc).__name__}: {exc}"
        else:
            result.messages, result.accounts, result.chats = (
                store.messages,
                len(store.seen_accounts),
                len(store.seen_chats),
            )
            return result
    with factory() as session:
        _clear_source(session, device_id, locator)
        session.add(
            m.MessagingSource(
                device_id=device_id, locator=locator, parser=parser, status="failed", error=result.error
            )
        )
        session.commit()
    return result


def _clear_source(session: Session, device_id: str, locator: str) -> None:
    existing = session.scalar(
        select(m.MessagingSource).where(
            m.MessagingSource.device_id == device_id, m.MessagingSource.locator == locator
        )
    )
    if existing is not None:
        session.execute(delete(m.Message).where(m.Message.source_id == existing.id))
        session.execute(delete(m.Sighting).where(m.Sighting.source_id == existing.id))
        session.delete(existing)
        session.flush()


def link_media(session: Session, device_id: str, source: str, media_root: str | None) -> int:
    """Resolve attachment paths to stored files on the same device: a chat export's attachments sit
    beside the text file (or in the same zip); a database's ``file_path`` is relative to the app's
    media root. Messages that already carry the source's own hash keep it."""
    parent = source.rsplit("/", 1)[0]
    n = 0
    q = select(m.Message.id, m.Message.media_path).where(
        m.Message.device_id == device_id,
        m.Message.media_sha256.is_(None),
        m.Message.media_path.is_not(None),
        m.Message.source_id
        == select(m.MessagingSource.id)
        .where(m.MessagingSource.device_id == device_id, m.MessagingSource.locator == source)
        .scalar_subquery(),
    )
    for msg_id, path in session.execute(q).all():
        candidates = [f"{parent}/{path}"]
        if media_root:
            candidates.insert(0, f"{media_root}/{path}")
        sha = session.scalar(
            select(m.File.sha256)
            .where(m.File.device_id == device_id, m.File.locator.in_(candidates), m.File.sha256.is_not(None))
            .limit(1)
        )
        if sha:
            session.execute(update(m.Message).where(m.Message.id == msg_id).values(media_sha256=sha))
            n += 1
    return n


def whatsapp_media_root(session: Session, device_id: str) -> str | None:
    """The folder WhatsApp's ``file_path`` values are relative to, found from the stored files."""
    loc = session.scalar(
        select(m.File.locator)
        .where(m.File.device_id == device_id, m.File.locator.like("%/WhatsApp/Media/%"))
        .limit(1)
    )
    return loc.split("/WhatsApp/Media/", 1)[0] + "/WhatsApp" if loc else None
