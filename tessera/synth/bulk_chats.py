"""Group chats of a chosen size as parser records, and the attachment files beside them: what the
query-count tests of the messaging store and the network analysis need, at any number of messages.

The same accounts and groups can be written for several devices (each its own source), so accounts
and groups are seen on several seized devices. Numbers are invented (+34 610 ...), never real ones.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert, select

from tessera.messaging.coverage import Coverage
from tessera.messaging.records import MediaRef, MessageRecord, MessagingRecord
from tessera.store import models as m
from tessera.store.case import CaseHandle

PLATFORM = "whatsapp"
START = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)


def account_jid(k: int) -> str:
    return f"3461000{k:04d}@s.whatsapp.net"


def group_jid(g: int) -> str:
    return f"1203630000{g:04d}@g.us"


def attachment_sha256(k: int) -> str:
    return hashlib.sha256(f"bulk-chat-media-{k}".encode()).hexdigest()


def chat_records(
    messages: int, accounts: int, groups: int, cov: Coverage, source: str, first: int = 0
) -> Iterator[MessagingRecord]:
    """``messages`` messages by ``accounts`` senders in ``groups`` groups (numbered from ``first``:
    another ``first``, other people); every second one carries an attachment named by its path only
    (``Media/IMG-<k>.jpg``), for the pipeline to resolve."""
    cov.holds("messages", messages)
    for k in range(messages):
        media = MediaRef(path=f"Media/IMG-{k:06d}.jpg") if k % 2 == 0 else None
        yield MessageRecord(
            platform=PLATFORM,
            chat=group_jid(first + k % groups),
            sender=account_jid(first + k % accounts),
            time=START + timedelta(minutes=k),
            kind="image" if media else "text",
            text=None if media else f"message {k}",
            media=media,
            raw_id=str(k),
            locator=f"{source}#message/{k}",
        )
        cov.parsed("messages")


def write_attachments(case: CaseHandle, device: str, folder: str, messages: int) -> int:
    """The attachments of :func:`chat_records` stored as files of ``device`` under ``folder``; the
    number written."""
    media: list[dict[str, Any]] = []
    files: list[dict[str, Any]] = []
    for k in range(0, messages, 2):
        sha = attachment_sha256(k)
        media.append({"sha256": sha, "md5": sha[:32], "sha1": sha[:40], "size": 100 + k, "kind": "image"})
        loc = f"{folder}/Media/IMG-{k:06d}.jpg"
        files.append(
            {"device_id": device, "locator": loc, "raw_path": loc.encode(), "size": 100 + k, "sha256": sha}
        )
    with case.session() as s:
        if s.get(m.Device, device) is None:
            s.add(m.Device(id=device, kind="phone", source_path=f"/synthetic/{device}"))
            s.flush()
        # Devices share attachments (the same picture posted to a group): media rows are written once.
        known: set[str] = set()
        for start in range(0, len(media), 500):
            part = [row["sha256"] for row in media[start : start + 500]]
            known.update(s.scalars(select(m.Media.sha256).where(m.Media.sha256.in_(part))))
        fresh = [row for row in media if row["sha256"] not in known]
        if fresh:
            s.execute(insert(m.Media), fresh)
        if files:
            s.execute(insert(m.File), files)
        s.commit()
    return len(files)
