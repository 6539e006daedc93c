"""Every human decision (category, suspect status, link, share) is one entry in a hash chain.

entry.hash = SHA-256 over the previous entry's hash and the entry's canonical JSON
(``{"action", "at", "details", "subject", "user"}`` with sorted keys, no spaces). Changing, removing
or reordering any entry breaks every later hash, which :func:`verify` reports with the entry id.
The first entry chains from 64 zeros.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tessera.store import models as m

GENESIS = "0" * 64


class AuditError(RuntimeError):
    pass


def _canonical(at: str, user: str, action: str, subject: str, details: str) -> bytes:
    body = {"action": action, "at": at, "details": details, "subject": subject, "user": user}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def chain_digest(prev: str, at: str, user: str, action: str, subject: str, details: str) -> str:
    """The hash of one entry: shared by the case log and the hub's own log."""
    return hashlib.sha256(prev.encode() + b"\n" + _canonical(at, user, action, subject, details)).hexdigest()


def append(
    session: Session, user: str, action: str, subject: str, details: dict[str, Any] | None = None
) -> m.AuditEntry:
    """Add an entry in the caller's transaction (so the decision and its record commit together)."""
    if not user:
        raise AuditError("an audited decision needs a user")
    last = session.scalar(select(m.AuditEntry).order_by(m.AuditEntry.id.desc()).limit(1).with_for_update())
    prev = last.hash if last else GENESIS
    at = datetime.now(UTC).isoformat(timespec="microseconds")
    text = json.dumps(details or {}, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    entry = m.AuditEntry(
        at=at,
        user=user,
        action=action,
        subject=subject,
        details=text,
        prev_hash=prev,
        hash=chain_digest(prev, at, user, action, subject, text),
    )
    session.add(entry)
    session.flush()
    return entry


def verify(session: Session) -> int:
    """Check the whole chain; returns the number of entries, raises AuditError at the first break."""
    prev = GENESIS
    n = 0
    for e in session.scalars(
        select(m.AuditEntry).order_by(m.AuditEntry.id).execution_options(yield_per=1000)
    ):
        if e.prev_hash != prev:
            raise AuditError(
                f"audit entry {e.id}: chain broken (previous hash does not match entry before it)"
            )
        if chain_digest(prev, e.at, e.user, e.action, e.subject, e.details) != e.hash:
            raise AuditError(f"audit entry {e.id}: contents do not match its hash (altered)")
        prev = e.hash
        n += 1
    return n
