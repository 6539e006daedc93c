"""The audit key: a secret kept in a file outside the database, so that whoever can only write the
database cannot recompute the MACs that chain the log (see docs/audit.md for the threat model).

The file is JSON ``{"format": "tessera-audit-key", "version": 1, "key": <64 hex>, "from_sequence": N,
"created": ISO}``. ``from_sequence`` is the first log entry that must carry a MAC: it lives in the
key file, not the database, so stripping every MAC from the log does not make it look like a case that
never had a key. Entries before it (written before the case had a key) stay hash-chained only.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import stat
import weakref
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.orm import Session

KEY_ENV = "TESSERA_AUDIT_KEY"
KEY_FILE = "audit.key"
KEY_FORMAT = "tessera-audit-key"
#: Key in the case row's settings naming the key file (a hint for appenders, never used by verify).
KEY_HINT = "audit_key_path"


class AuditKeyError(RuntimeError):
    pass


@dataclass(frozen=True)
class AuditKey:
    secret: bytes
    from_sequence: int
    path: Path

    def __repr__(self) -> str:  # the secret never reaches a log or a traceback
        return f"AuditKey(path={str(self.path)!r}, from_sequence={self.from_sequence})"

    @property
    def key_id(self) -> str:
        """Names the key in receipts without revealing it."""
        return hashlib.sha256(b"tessera-audit-key-id\n" + self.secret).hexdigest()[:16]

    def mac(self, message: bytes) -> str:
        return hmac.new(self.secret, message, hashlib.sha256).hexdigest()


def create_key(path: Path, from_sequence: int = 1) -> AuditKey:
    """Write a new key file with mode 0600; never overwrites (a lost key cannot be replaced silently)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_bytes(32)
    body = {
        "format": KEY_FORMAT,
        "version": 1,
        "key": secret.hex(),
        "from_sequence": from_sequence,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    try:
        # O_EXCL + mode at creation: the file is never, even briefly, readable by others.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise AuditKeyError(f"audit key {path} already exists; not overwriting it") from None
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(json.dumps(body, indent=2) + "\n")
    os.chmod(path, 0o600)  # in case a umask-free filesystem ignored the creation mode
    return AuditKey(secret, from_sequence, path)


def load_key(path: Path) -> AuditKey:
    """Read a key file, refusing one that group or others can read or write."""
    try:
        st = path.stat()
    except OSError as exc:
        raise AuditKeyError(f"audit key {path} cannot be read: {exc.strerror}") from None
    if st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise AuditKeyError(
            f"audit key {path} is accessible to group or others (mode {stat.S_IMODE(st.st_mode):o}); "
            f"refusing to use it: run chmod 600 {path}"
        )
    try:
        body = json.loads(path.read_text(encoding="utf-8"))
        if body.get("format") != KEY_FORMAT or int(body.get("version", 0)) != 1:
            raise ValueError("not a tessera-audit-key v1 file")
        secret = bytes.fromhex(body["key"])
        start = int(body["from_sequence"])
        if len(secret) < 32 or start < 1:
            raise ValueError("key too short or bad from_sequence")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise AuditKeyError(f"audit key {path} is not usable: {exc}") from None
    return AuditKey(secret, start, path)


# Engines whose case directory is known to the process (the CLI and tests register them); the
# session alone cannot tell where a PostgreSQL case keeps its key.
_registered: weakref.WeakKeyDictionary[Engine, Path] = weakref.WeakKeyDictionary()


def register(engine: Engine, key_path: Path) -> None:
    _registered[engine] = key_path


def default_path(case_dir: Path) -> Path:
    env = os.environ.get(KEY_ENV)
    return Path(env) if env else case_dir / KEY_FILE


def key_path_for(session: Session) -> Path | None:
    """Where this session's case keeps its key: registered path, $TESSERA_AUDIT_KEY, the SQLite
    database's directory (the case directory), $TESSERA_CASE/audit.key, or the path `case init` noted
    in the case settings (a PostgreSQL case opened with --case has nothing else to go by)."""
    engine = session.get_bind().engine if hasattr(session.get_bind(), "engine") else None
    if engine is not None and engine in _registered:
        return _registered[engine]
    env = os.environ.get(KEY_ENV)
    if env:
        return Path(env)
    db = engine.url.database if engine is not None and engine.dialect.name == "sqlite" else None
    # An in-memory database has no directory: never pick up a stray audit.key from the cwd.
    if db and db != ":memory:" and not db.startswith("file:"):
        return Path(db).parent / KEY_FILE
    from tessera.store.casedir import default_case_dir

    case_env = default_case_dir()  # the root --case, else $TESSERA_CASE
    if case_env is not None:
        return case_env / KEY_FILE
    from sqlalchemy import select

    from tessera.store import models as m

    settings = session.scalar(select(m.Case.settings).limit(1))
    hint = settings.get(KEY_HINT) if isinstance(settings, dict) else None
    return Path(hint) if isinstance(hint, str) and hint else None


_cache: dict[Path, tuple[tuple[int, int, int], AuditKey]] = {}


def key_for(session: Session) -> AuditKey | None:
    """The case's key, or None for a case that has none yet (a legacy case: hash chain only)."""
    path = key_path_for(session)
    return None if path is None else cached_key(path)


def cached_key(path: Path) -> AuditKey | None:
    """The key at ``path`` (None when there is no file), read once and stat-ed on every call: a log
    is appended to on every request (a whole-cluster decision once per member), and a chmod or a
    replaced key must still be noticed. Raises AuditKeyError for an unreadable or exposed key."""
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise AuditKeyError(f"audit key {path} cannot be read: {exc.strerror}") from None
    stamp = (st.st_mtime_ns, st.st_mode, st.st_size)
    hit = _cache.get(path)
    if hit is not None and hit[0] == stamp:
        return hit[1]
    key = load_key(path)
    _cache[path] = (stamp, key)
    return key
