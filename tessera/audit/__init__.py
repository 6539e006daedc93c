"""The append-only, hash-chained and keyed (HMAC) audit log of human decisions."""

from tessera.audit.keys import AuditKey, AuditKeyError, create_key, load_key
from tessera.audit.log import AuditError, Verified, append, verify, verify_all

__all__ = [
    "AuditError",
    "AuditKey",
    "AuditKeyError",
    "Verified",
    "append",
    "create_key",
    "load_key",
    "verify",
    "verify_all",
]
