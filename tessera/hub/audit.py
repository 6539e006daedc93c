"""The hub's hash-chained request log, in the hub database, keyed when the hub has an audit key.

Same scheme as :mod:`tessera.audit.log` (entry hash = SHA-256 over the previous hash, a newline and
the canonical JSON of the entry), reused rather than re-invented so one verifier's reasoning covers
both. The chain head lives in the ``audit`` counter row: every appender locks that row, so on
PostgreSQL two concurrent requests cannot both chain from the same predecessor (locking the newest
log row instead would let the second writer re-read the row it waited on and fork the chain).

Anchoring (issue 12): with a key file (``TESSERA_HUB_AUDIT_KEY``, the same ``tessera-audit-key`` format
as a case's, mode 0600, never in the database), entry number ``from_sequence`` onwards is chained with
HMAC-SHA256 under that key instead of plain SHA-256. The hub schema has no column for a separate MAC,
and a keyed chain needs none: whoever can write the database but lacks the key cannot recompute the
hashes after an edit. Entries are numbered by position (1, 2, ...; the ``audit`` counter's value),
not by row id, because a PostgreSQL sequence may skip ids. Receipts (:func:`anchor`) use the same
``tessera-audit-receipt`` v1 format with ``scope: "hub"``; see docs/audit.md.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tessera.audit.keys import AuditKey, AuditKeyError, cached_key, create_key
from tessera.audit.log import GENESIS, AuditError, Verified, _canonical
from tessera.audit.receipt import check_receipts, make_receipt
from tessera.hub import models as hm

__all__ = [
    "HUB_KEY_ENV",
    "AuditError",
    "anchor",
    "append",
    "check_writer_key",
    "create_hub_key",
    "hub_key",
    "verify",
    "verify_all",
]

HUB_KEY_ENV = "TESSERA_HUB_AUDIT_KEY"


def batch_ref(batch_id: str) -> str:
    """What the log keeps of a push's batch id: 16 hex digits of a digest of it. The id is the
    client's to choose, and a file's SHA-256 fits its pattern; the log never holds hash values."""
    return hashlib.sha256(b"tessera-hub-batch\0" + batch_id.encode()).hexdigest()[:16]


def hub_key(path: Path | None = None) -> AuditKey | None:
    """The hub's key (``path`` or $TESSERA_HUB_AUDIT_KEY); None when the hub has none."""
    if path is None:
        env = os.environ.get(HUB_KEY_ENV)
        if not env:
            return None
        path = Path(env)
    try:
        return cached_key(path)  # one stat per append, one read per change of the file
    except AuditKeyError as exc:
        raise AuditError(f"hub {exc}") from None


def create_hub_key(s: Session, path: Path) -> AuditKey:
    """Create the hub's key (mode 0600): entries after the current last one are keyed."""
    count = s.scalar(select(func.count()).select_from(hm.AuditEntry)) or 0
    return create_key(path, from_sequence=count + 1)


def hub_digest(
    key: AuditKey | None, n: int, prev: str, at: str, user: str, action: str, subject: str, details: str
) -> str:
    """Entry ``n``'s hash: keyed from the key's ``from_sequence`` on, plain SHA-256 before."""
    body = prev.encode() + b"\n" + _canonical(at, user, action, subject, details)
    if key is not None and n >= key.from_sequence:
        return hmac.new(key.secret, b"tessera-hub-audit\n" + body, hashlib.sha256).hexdigest()
    return hashlib.sha256(body).hexdigest()


def append(s: Session, user: str, action: str, subject: str, details: dict[str, Any] | None = None) -> None:
    """Append one entry in the caller's transaction."""
    key = hub_key()
    head = s.scalar(select(hm.Counter).where(hm.Counter.name == "audit").with_for_update())
    if head is None:
        raise AuditError("hub database has no audit head (run: tessera hub init)")
    prev = head.text or GENESIS
    at = datetime.now(UTC).isoformat(timespec="microseconds")
    text = json.dumps(details or {}, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    digest = hub_digest(key, head.value + 1, prev, at, user, action, subject, text)
    s.add(
        hm.AuditEntry(
            at=at, user=user, action=action, subject=subject, details=text, prev_hash=prev, hash=digest
        )
    )
    head.text = digest
    head.value += 1
    s.flush()


def check_writer_key(s: Session) -> None:
    """Raise AuditError unless the newest entry's hash is what this process would have written (with
    its key, or none): several hub processes append to one chain, and one started without the key (or
    with another) would append entries that fail verification. Checked when a hub process starts."""
    head = s.get(hm.Counter, "audit")
    last = s.scalar(select(hm.AuditEntry).order_by(hm.AuditEntry.id.desc()).limit(1))
    if head is None or last is None:
        return
    key = hub_key()
    fields = (last.prev_hash, last.at, last.user, last.action, last.subject, last.details)
    if hub_digest(key, head.value, *fields) != last.hash:
        which = f"the key in ${HUB_KEY_ENV}" if key else f"no key (${HUB_KEY_ENV} is unset)"
        raise AuditError(
            f"the newest hub audit entry (#{head.value}) was not written with {which}: every hub process "
            "must use the same audit key (or the log was altered: run `tessera hub audit verify`)"
        )


def _check(s: Session, key: AuditKey | None, want: set[int]) -> tuple[Verified, dict[int, str]]:
    res = Verified(keyed_from=key.from_sequence if key else None)
    seen: dict[int, str] = {}
    prev = GENESIS
    n = 0
    q = select(hm.AuditEntry).order_by(hm.AuditEntry.id).execution_options(yield_per=2000)
    for e in s.scalars(q):
        n += 1
        if e.prev_hash != prev:
            raise AuditError(
                f"hub audit entry {e.id} (#{n}): chain broken (previous hash does not match)", e.id
            )
        if hub_digest(key, n, prev, e.at, e.user, e.action, e.subject, e.details) != e.hash:
            keyed = key is not None and n >= key.from_sequence
            why = "keyed hash does not match (edited and re-chained, or another key)" if keyed else "altered"
            raise AuditError(f"hub audit entry {e.id} (#{n}): contents do not match its hash ({why})", e.id)
        if key is None or n < key.from_sequence:
            res.unkeyed += 1
        if n in want:
            seen[n] = e.hash
        prev = e.hash
    res.entries = res.head_id = n
    res.head_hash = prev
    head = s.get(hm.Counter, "audit")
    # A deleted tail leaves a valid but shorter chain; the head row still names the newest hash (unless
    # the head was rewritten too: only a receipt catches that).
    if head is not None and (head.text or GENESIS) != prev:
        raise AuditError(
            "hub audit log: newest entries missing (chain head does not match the last entry); "
            f"first missing entry: #{n + 1}",
            n + 1,
        )
    return res, seen


def verify_all(
    s: Session,
    key: AuditKey | None = None,
    receipts: list[dict[str, Any]] | None = None,
    *,
    find_key: bool = True,
) -> Verified:
    """Chain (keyed where the key says so) and receipts; raises AuditError at the first bad entry."""
    if key is None and find_key:
        key = hub_key()
    receipts = receipts or []
    for r in receipts:
        if r.get("scope") != "hub":
            raise AuditError(f"{r.get('_path', 'receipt')}: a {r.get('scope')!r} receipt, not the hub's")
    res, seen = _check(s, key, {int(r.get("sequence", 0)) for r in receipts})
    check_receipts(receipts, key, res, seen)
    res.receipts = len(receipts)
    if key is None:
        res.notes.append(f"no hub audit key ({HUB_KEY_ENV}): plain hash chain, re-chaining not detectable")
    elif res.unkeyed:
        res.notes.append(f"{res.unkeyed:,} entries before #{key.from_sequence} predate the key: plain chain")
    return res


def verify(s: Session) -> int:
    """Check the whole chain and its head; returns the entry count, raises AuditError at the first break."""
    return verify_all(s).entries


def anchor(s: Session, key: AuditKey) -> dict[str, Any]:
    """Verify, then a MACed receipt of the hub chain head for the operator to keep elsewhere."""
    res = verify_all(s, key, find_key=False)
    return make_receipt(key, res, "hub", {})
