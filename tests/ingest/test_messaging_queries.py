"""Storing a messaging source and linking its attachments costs the same number of SQL statements
whatever the number of messages: set-based writes and batched lookups, never one query per message."""

from __future__ import annotations

from sqlalchemy import func, select

from tessera.ingest.messaging import link_media, store_source
from tessera.messaging.coverage import Coverage
from tessera.store import models as m
from tessera.store.case import CaseHandle
from tessera.synth.bulk_chats import chat_records, write_attachments
from tests.sqlcount import counted


def _store(case: CaseHandle, device: str, messages: int, first: int) -> tuple[int, int]:
    """Statements to store one source of ``messages`` messages, then to link its attachments."""
    folder = f"/phone-{device}/WhatsApp"
    source = f"{folder}/Databases/msgstore.db"
    write_attachments(case, device, f"{folder}/Databases", messages)
    cov = Coverage()
    with counted(case) as stored:
        res = store_source(
            case.session,
            device,
            source,
            "bulk-test",
            chat_records(messages, 8, 3, cov, source, first),
            coverage=cov,
        )
    assert (res.status, res.messages, res.accounts, res.chats) == ("complete", messages, 8, 3), res
    with counted(case) as linking, case.session() as s:
        linked = link_media(s, device, source, ())
        s.commit()
    assert linked == (messages + 1) // 2
    with case.session() as s:
        unresolved = s.scalar(
            select(func.count())
            .select_from(m.Message)
            .where(
                m.Message.device_id == device,
                m.Message.media_path.is_not(None),
                m.Message.media_sha256.is_(None),
            )
        )
    assert unresolved == 0
    return len(stored), len(linking)


def test_statements_do_not_grow_with_messages(case: CaseHandle) -> None:
    small = _store(case, "Q1", 30, first=0)
    large = _store(case, "Q2", 600, first=100)  # other accounts and groups: as many new ones as Q1's
    assert small == large, (small, large)
    assert large[1] <= 5, large  # the source id, one batch of candidate files, one executemany update
