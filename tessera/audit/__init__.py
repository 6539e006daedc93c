"""The append-only, hash-chained audit log of human decisions."""

from tessera.audit.log import AuditError, append, verify

__all__ = ["AuditError", "append", "verify"]
