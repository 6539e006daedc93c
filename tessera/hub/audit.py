"""The hub's hash-chained request log, in the hub database.

Same scheme as :mod:`tessera.audit.log` (entry hash = SHA-256 over the previous hash, a newline and
the canonical JSON of the entry), reused rather than re-invented so one verifier's reasoning covers
both. The chain head lives in the ``audit`` counter row: every appender locks that row, so on
PostgreSQL two concurrent requests cannot both chain from the same predecessor (locking the newest
log row instead would let the second writer re-read the row it waited on and fork the chain).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tessera.audit.log import GENESIS, AuditError, chain_digest
from tessera.hub import models as hm

__all__ = ["AuditError", "append", "verify"]


def append(s: Session, user: str, action: str, subject: str, details: dict[str, Any] | None = None) -> None:
    """Append one entry in the caller's transaction."""
    head = s.scalar(select(hm.Counter).where(hm.Counter.name == "audit").with_for_update())
    if head is None:
        raise AuditError("hub database has no audit head (run: tessera hub init)")
    prev = head.text or GENESIS
    at = datetime.now(UTC).isoformat(timespec="microseconds")
    text = json.dumps(details or {}, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    digest = chain_digest(prev, at, user, action, subject, text)
    s.add(
        hm.AuditEntry(
            at=at, user=user, action=action, subject=subject, details=text, prev_hash=prev, hash=digest
        )
    )
    head.text = digest
    head.value += 1
    s.flush()


def verify(s: Session) -> int:
    """Check the whole chain and its head; returns the entry count, raises AuditError at the first break."""
    prev = GENESIS
    n = 0
    q = select(hm.AuditEntry).order_by(hm.AuditEntry.id).execution_options(yield_per=2000)
    for e in s.scalars(q):
        if e.prev_hash != prev:
            raise AuditError(f"hub audit entry {e.id}: chain broken (previous hash does not match)")
        if chain_digest(prev, e.at, e.user, e.action, e.subject, e.details) != e.hash:
            raise AuditError(f"hub audit entry {e.id}: contents do not match its hash (altered)")
        prev = e.hash
        n += 1
    head = s.get(hm.Counter, "audit")
    # A deleted tail leaves a valid but shorter chain; the head row still names the newest hash.
    if head is not None and (head.text or GENESIS) != prev:
        raise AuditError("hub audit log: newest entries missing (chain head does not match the last entry)")
    return n
