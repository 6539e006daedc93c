"""Every human decision (category, suspect status, link, share) is one entry in a hash chain.

entry.hash = SHA-256 over the previous entry's hash and the entry's canonical JSON
(``{"action", "at", "details", "subject", "user"}`` with sorted keys, no spaces). Changing, removing
or reordering any entry breaks every later hash, which :func:`verify` reports with the entry id.
The first entry chains from 64 zeros.

The plain chain only catches a clumsy editor: whoever can write the database can recompute every later
hash. So each entry also carries ``mac`` = HMAC-SHA256, under the case's audit key (a file outside the
database, :mod:`tessera.audit.keys`), over its id, the previous entry's MAC (or hash) and its own
hash. Without the key an edited-and-rechained entry cannot get a valid MAC. Tail deletion leaves a valid
shorter chain: receipts kept elsewhere (:mod:`tessera.audit.receipt`) catch it. docs/audit.md has the
threat model.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tessera.audit.keys import AuditKey, AuditKeyError, key_for
from tessera.store import models as m

GENESIS = "0" * 64


class AuditError(RuntimeError):
    """Verification failed; ``entry`` names the first bad entry (or decision row) when known."""

    def __init__(self, message: str, entry: int | None = None) -> None:
        super().__init__(message)
        self.entry = entry


def _canonical(at: str, user: str, action: str, subject: str, details: str) -> bytes:
    body = {"action": action, "at": at, "details": details, "subject": subject, "user": user}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def chain_digest(prev: str, at: str, user: str, action: str, subject: str, details: str) -> str:
    """The hash of one entry: shared by the case log and the hub's own log."""
    return hashlib.sha256(prev.encode() + b"\n" + _canonical(at, user, action, subject, details)).hexdigest()


def mac_message(seq: int, prev_link: str, digest: str) -> bytes:
    """What an entry's MAC covers: its position, its predecessor's MAC (or hash) and its own hash."""
    return f"tessera-audit-mac\n{seq}\n{prev_link}\n{digest}".encode()


def append(
    session: Session, user: str, action: str, subject: str, details: dict[str, Any] | None = None
) -> m.AuditEntry:
    """Add an entry in the caller's transaction (so the decision and its record commit together)."""
    if not user:
        raise AuditError("an audited decision needs a user")
    try:
        key = key_for(session)
    except AuditKeyError as exc:  # a key others can read is refused, not used and not ignored
        raise AuditError(str(exc)) from None
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
    session.flush()  # the id is part of what the MAC covers
    if key is not None and entry.id >= key.from_sequence:
        link = (last.mac or last.hash) if last else GENESIS
        entry.mac = key.mac(mac_message(entry.id, link, entry.hash))
        session.flush()
    return entry


@dataclass
class Verified:
    entries: int = 0
    head_id: int = 0
    head_hash: str = GENESIS
    head_mac: str | None = None
    keyed_from: int | None = None  # first entry whose MAC was checked; None: no key, MACs unchecked
    unkeyed: int = 0  # entries that are hash-chained only (written before the case had a key)
    decisions: int = 0
    receipts: int = 0
    notes: list[str] = field(default_factory=list)


def check_chain(
    session: Session, key: AuditKey | None, want: set[int] | None = None
) -> tuple[Verified, dict[int, str]]:
    """Hashes, links and MACs of every entry; returns the summary and the hashes of the ids in ``want``."""
    res = Verified(keyed_from=key.from_sequence if key else None)
    seen: dict[int, str] = {}
    prev = link = GENESIS
    q = select(m.AuditEntry).order_by(m.AuditEntry.id).execution_options(yield_per=1000)
    for e in session.scalars(q):
        if e.prev_hash != prev:
            raise AuditError(
                f"audit entry {e.id}: chain broken (previous hash does not match entry before it)", e.id
            )
        if chain_digest(prev, e.at, e.user, e.action, e.subject, e.details) != e.hash:
            raise AuditError(f"audit entry {e.id}: contents do not match its hash (altered)", e.id)
        if key is not None and e.id >= key.from_sequence:
            if e.mac is None:
                raise AuditError(
                    f"audit entry {e.id}: no MAC, although the case has had an audit key since entry "
                    f"{key.from_sequence} (written without the key, or its MAC removed)",
                    e.id,
                )
            if not hmac.compare_digest(key.mac(mac_message(e.id, link, e.hash)), e.mac):
                raise AuditError(
                    f"audit entry {e.id}: MAC does not match (edited and re-chained, or written with "
                    "another key)",
                    e.id,
                )
        else:
            if key is None and e.mac is not None:
                # The case has a key but this process was not given it: a missing key must not
                # read as "a case that never had one".
                raise AuditError(
                    f"audit entry {e.id} carries a MAC but no audit key was found: cannot verify "
                    "(give --key, or set TESSERA_AUDIT_KEY to the key file)",
                    e.id,
                )
            res.unkeyed += 1
        if want and e.id in want:
            seen[e.id] = e.hash
        link = e.mac or e.hash
        prev = e.hash
        res.entries += 1
        res.head_id, res.head_hash, res.head_mac = e.id, e.hash, e.mac
    return res, seen


def verify_all(
    session: Session,
    key: AuditKey | None = None,
    receipts: list[dict[str, Any]] | None = None,
    *,
    find_key: bool = True,
) -> Verified:
    """Chain, MACs, receipts and the decision table; raises AuditError naming the first bad entry.

    ``receipts`` are parsed receipt documents (:func:`tessera.audit.receipt.read_receipt`)."""
    from tessera.audit.decisions import check_decisions
    from tessera.audit.receipt import check_receipts

    if key is None and find_key:
        try:
            key = key_for(session)
        except AuditKeyError as exc:
            raise AuditError(str(exc)) from None
    receipts = receipts or []
    want = {int(r.get("sequence", 0)) for r in receipts}
    res, seen = check_chain(session, key, want)
    check_receipts(receipts, key, res, seen)
    res.receipts = len(receipts)
    res.decisions = check_decisions(session)
    if key is None:
        res.notes.append(
            "no audit key: entries are hash-chained only, so an edit with every later hash recomputed "
            "would pass (run: tessera audit keygen)"
        )
    elif res.unkeyed:
        res.notes.append(
            f"{res.unkeyed:,} entries before {key.from_sequence} were written before the case had a key: "
            "hash-chained only (a later change to them shows at the first MACed entry; one made before "
            "the key existed cannot be detected)"
        )
    return res


def verify(session: Session) -> int:
    """Check the whole log (and MACs when the case has a key); returns the number of entries."""
    return verify_all(session).entries
