"""Receipts: the chain head (sequence, hash, MAC, time) MACed with the audit key, written as JSON
(``tessera-audit-receipt`` v1) for an operator to keep outside the case. A receipt is what catches
the attack the chain alone cannot: deleting the newest entries leaves a valid, shorter chain.
"""

from __future__ import annotations

import hmac
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tessera.audit.keys import AuditKey
from tessera.store import models as m

if TYPE_CHECKING:
    from tessera.audit.log import Verified

RECEIPT_FORMAT = "tessera-audit-receipt"
FIELDS = (
    "format",
    "version",
    "scope",
    "case",
    "sequence",
    "entries",
    "head_hash",
    "head_mac",
    "at",
    "key_id",
)


def _signed_bytes(body: dict[str, Any]) -> bytes:
    core = {k: body.get(k) for k in FIELDS}
    return b"tessera-audit-receipt\n" + json.dumps(core, sort_keys=True, separators=(",", ":")).encode()


def make_receipt(key: AuditKey, res: Verified, scope: str, case: dict[str, str]) -> dict[str, Any]:
    body: dict[str, Any] = {
        "format": RECEIPT_FORMAT,
        "version": 1,
        "scope": scope,
        "case": case,
        "sequence": res.head_id,
        "entries": res.entries,
        "head_hash": res.head_hash,
        "head_mac": res.head_mac,
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "key_id": key.key_id,
    }
    body["mac"] = key.mac(_signed_bytes(body))
    return body


def anchor(session: Session, key: AuditKey) -> dict[str, Any]:
    """Verify the log, then return a receipt of its head: a tampered chain is never blessed."""
    from tessera.audit.log import verify_all

    res = verify_all(session, key, find_key=False)
    row = session.scalar(select(m.Case).limit(1))
    case = {"name": row.name, "agency": row.agency} if row else {}
    return make_receipt(key, res, "case", case)


def read_receipt(path: Path) -> dict[str, Any]:
    from tessera.audit.log import AuditError

    try:
        body = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise AuditError(f"receipt {path} is unreadable: {exc}") from None
    if not isinstance(body, dict) or body.get("format") != RECEIPT_FORMAT or body.get("version") != 1:
        raise AuditError(f"receipt {path} is not a {RECEIPT_FORMAT} v1 file")
    body["_path"] = str(path)
    return body


def check_receipts(
    receipts: list[dict[str, Any]], key: AuditKey | None, res: Verified, seen: dict[int, str]
) -> None:
    """Each receipt must be MACed by this key and its head must still be in the log, unchanged."""
    from tessera.audit.log import AuditError

    for r in sorted(receipts, key=lambda r: int(r.get("sequence", 0))):
        name = r.get("_path", "receipt")
        if key is None:
            raise AuditError(f"{name}: cannot be checked without the case's audit key")
        if r.get("key_id") != key.key_id or not hmac.compare_digest(
            key.mac(_signed_bytes(r)), str(r.get("mac", ""))
        ):
            raise AuditError(f"{name}: receipt MAC does not match this case's audit key (forged or altered)")
        seq = int(r["sequence"])
        if seq == 0:
            continue  # a receipt of an empty log
        if seq > res.head_id:
            first = res.head_id + 1
            raise AuditError(
                f"audit log truncated: {name} (taken {r.get('at')}) names entry {seq} with "
                f"{r.get('entries')} entries, but the log ends at entry {res.head_id} with "
                f"{res.entries}; first missing entry: {first}",
                first,
            )
        if seq not in seen:
            raise AuditError(f"audit entry {seq}, named by {name}, is missing (deleted)", seq)
        if seen[seq] != r.get("head_hash"):
            raise AuditError(
                f"audit entry {seq} differs from {name} (the log was rewritten at or before entry {seq})", seq
            )
