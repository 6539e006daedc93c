"""Storing what messaging parsers return: identities resolved, one transaction per source.

A parser yields raw records; here raw identifiers become accounts (phone numbers to E.164, so the same
number written five ways is one account), chats are keyed per platform, senders become members with
first/last seen, and every account and chat gets a sighting on the device. A source whose parse raises
leaves nothing behind but a ``messaging_source`` row saying why.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, delete, func, select, update
from sqlalchemy.orm import Session

from tessera.ingest.identities import Resolver
from tessera.ingest.mediaroots import media_root_candidates, on_storage, shared_storages
from tessera.messaging.coverage import COMPLETE, FAILED, NOT_PARSED, Coverage
from tessera.messaging.records import MessageRecord, MessagingRecord, NotParsed, ParseError
from tessera.store import models as m


@dataclass
class SourceResult:
    locator: str
    parser: str
    status: str = COMPLETE  # complete | partial | failed | not parsed
    messages: int = 0
    accounts: int = 0
    chats: int = 0
    error: str | None = None
    coverage: Coverage | None = None


def store_source(
    factory: Callable[[], AbstractContextManager[Session]],
    device_id: str,
    locator: str,
    parser: str,
    records: Iterable[MessagingRecord],
    region: str | None = None,
    coverage: Coverage | None = None,
    known: Callable[[Resolver, MessageRecord], bool] | None = None,
) -> SourceResult:
    """Store one source in one transaction, with its reconciliation.

    ``coverage`` is what the parser filled while ``records`` was consumed. A parse that raised
    (ParseError, or any error the parser did not foresee), or one that found content but parsed none
    of it, is rolled back whole: only a ``failed`` ``messaging_source`` row naming the reason is
    kept, and a rerun parses the source again. A parse that skipped something is stored as
    ``partial`` with the reason; nothing is ever ``complete`` with rows left unexplained.
    ``known``: for a secondary source, says (and counts) which messages the device already holds
    from a primary source; those are not stored again (``tessera.ingest.secondary``). A parser that
    raises NotParsed (a format recognised, deliberately not read) leaves a ``not parsed`` row with
    its reason."""
    cov = coverage if coverage is not None else Coverage()
    result = SourceResult(locator, parser, coverage=cov)
    with factory() as session:
        try:
            _clear_source(session, device_id, locator)
            src = m.MessagingSource(device_id=device_id, locator=locator, parser=parser, status=COMPLETE)
            session.add(src)
            session.flush()
            store = Resolver(session.connection(), device_id, src.id, region).load()
            n = 0
            for n, rec in enumerate(records, 1):  # noqa: B007 - n is the count after the loop
                if known is not None and isinstance(rec, MessageRecord) and known(store, rec):
                    continue
                store.add(rec)
            store.finish()
            if not cov.units:
                # A parser that accounts for nothing cannot be trusted to have read everything.
                cov.parsed("records", n)
                cov.skip("source", f"parser {parser} reported no reconciliation")
            stored = session.scalar(
                select(func.count()).select_from(m.Message).where(m.Message.source_id == src.id)
            )
            if stored != store.messages:
                # Messages are unique per device and locator: a parser that gave two messages one
                # locator would lose one here, so it is counted, never dropped unseen.
                cov.holds("stored messages", store.messages)
                cov.parsed("stored messages", stored or 0)
                cov.skip(
                    "stored messages", "same locator as another message", n=store.messages - (stored or 0)
                )
            status = cov.status()
            if status == FAILED:
                raise _NothingParsed(cov.problem() or "nothing parsed")
            src.status, src.error = status, cov.problem()
            src.messages = store.messages
            src.coverage = cov.to_json()
            session.commit()
        except Exception as exc:  # noqa: BLE001 - a bad source is recorded, the ingest goes on
            session.rollback()
            if isinstance(exc, NotParsed):
                result.status, result.error = NOT_PARSED, str(exc)
            elif isinstance(exc, ParseError | _NothingParsed):
                result.error = str(exc)
            else:
                result.error = f"{type(exc).__name__}: {exc}"
        else:
            result.status, result.error = status, src.error
            result.messages, result.accounts, result.chats = (
                store.messages,
                len(store.seen_accounts),
                len(store.seen_chats),
            )
            return result
    if result.status == NOT_PARSED:
        # Recognised, deliberately not read (another app's export): named with the reason, not failed.
        with factory() as session:
            _clear_source(session, device_id, locator)
            session.add(
                m.MessagingSource(
                    device_id=device_id, locator=locator, parser=parser, status=NOT_PARSED, error=result.error
                )
            )
            session.commit()
        return result
    result.status = FAILED
    if not cov.notes or cov.notes[-1] != "nothing of this source was stored":
        cov.note("nothing of this source was stored")
    with factory() as session:
        _clear_source(session, device_id, locator)
        session.add(
            m.MessagingSource(
                device_id=device_id,
                locator=locator,
                parser=parser,
                status=FAILED,
                error=result.error,
                coverage=cov.to_json(),
            )
        )
        session.commit()
    return result


class _NothingParsed(Exception):
    """The source holds content but the parser could read none of it."""


def record_not_parsed(session: Session, device_id: str, locator: str, app: str, reason: str) -> bool:
    """A known app's data present on the device but not parsed: one row naming it. False when a
    row for it exists already (a resumed run)."""
    exists = session.scalar(
        select(m.MessagingSource.id).where(
            m.MessagingSource.device_id == device_id, m.MessagingSource.locator == locator
        )
    )
    if exists is not None:
        return False
    session.add(
        m.MessagingSource(device_id=device_id, locator=locator, parser=app, status=NOT_PARSED, error=reason)
    )
    return True


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


def link_media(session: Session, device_id: str, source: str, media_roots: Sequence[str]) -> int:
    """Resolve attachment paths to stored files on the same device, from where the parser says its
    attachments live (``media_roots``, looked for among the device's stored files), then the
    source's own folder or zip. Messages that carry the source's own hash keep it.
    Bulk: one query per 500 candidate locators, not one per message."""
    parent = source.rsplit("/", 1)[0]
    roots = [
        loc for r in media_roots if r != "." for loc in media_root_candidates(session, device_id, source, r)
    ]
    roots.append(parent)  # the source's own folder: always the last place looked
    q = select(m.Message.id, m.Message.media_path).where(
        m.Message.device_id == device_id,
        m.Message.media_sha256.is_(None),
        m.Message.media_path.is_not(None),
        m.Message.source_id
        == select(m.MessagingSource.id)
        .where(m.MessagingSource.device_id == device_id, m.MessagingSource.locator == source)
        .scalar_subquery(),
    )
    wanted = [(msg_id, path) for msg_id, path in session.execute(q).all() if path]
    if not wanted or not roots:
        return 0
    # An absolute path names the device's shared storage (/storage/emulated/0/WhatsApp/...): it is
    # looked for as written, and under each shared-storage folder the roots were found in.
    storages = shared_storages(roots)
    candidates = {
        f"{root}/{path}" if not path.startswith("/") else path for _, path in wanted for root in roots
    } | {loc for _, path in wanted if path.startswith("/") for loc in on_storage(path, storages)}
    sha_of: dict[str, str] = {}
    ordered = sorted(candidates)
    for start in range(0, len(ordered), 500):
        rows = session.execute(
            select(m.File.locator, m.File.sha256).where(
                m.File.device_id == device_id,
                m.File.locator.in_(ordered[start : start + 500]),
                m.File.sha256.is_not(None),
            )
        )
        sha_of.update({loc: sha for loc, sha in rows if sha})
    updates = []
    for msg_id, path in wanted:
        if path.startswith("/"):
            places = [path, *on_storage(path, storages)]
        else:
            places = [f"{root}/{path}" for root in roots]
        sha = next((sha_of[p] for p in places if sha_of.get(p)), None)
        if sha:
            updates.append({"b_id": msg_id, "b_sha": sha})
    if updates:
        t: Any = m.Message.__table__
        session.execute(
            update(t).where(t.c.id == bindparam("b_id")).values(media_sha256=bindparam("b_sha")), updates
        )
    return len(updates)
