"""NIST NSRL Reference Data Set v3: the SQLite database (minimal and full builds) and its deltas.

An RDS v3 release is a SQLite database whose ``FILE`` relation lists one row per (file, package):
``sha256, sha1, md5, crc32, file_name, file_size, package_id``, hashes in upper-case hex. In a
*minimal* build ``FILE`` is a table keyed by ``(sha256, package_id, file_name)``; in a *full* build
the rows live in ``METADATA`` and ``FILE`` is a view over it. Both are read through ``FILE`` with one
``GROUP BY sha256`` query, streamed by the SQLite cursor (on a minimal build it walks the key in
order; nothing is loaded whole). Each distinct SHA-256 is one known-good digest, with the number of
rows that listed it.

Deltas (NIST's quarterly updates, SQL text) are read by :mod:`tessera.hashsets.nsrl_delta`.
"""

from __future__ import annotations

import re
import shutil
import sqlite3
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO, ClassVar
from urllib.parse import quote

from tessera.hashsets.base import FORMATS
from tessera.records import FormatError, HashEntryRecord, HashSetInfo

NAME = "nsrl-rds3"
#: The columns of ``FILE``, in order (an ``INSERT INTO FILE VALUES (...)`` without names follows it).
FILE_COLUMNS = ("sha256", "sha1", "md5", "crc32", "file_name", "file_size", "package_id")
_MAGIC = b"SQLite format 3\x00"
_FILE_DDL = re.compile(rb"CREATE\s+(TABLE|VIEW)\s+(IF\s+NOT\s+EXISTS\s+)?[\"'`\[]?FILE\b", re.IGNORECASE)
_DIGEST_BYTES = 32
_HEX = re.compile(r"[0-9A-Fa-f]{64}")


def sqlite_uri(path: Path) -> str:
    """A read-only, immutable SQLite URI for ``path`` (spaces, ``?`` and ``#`` in it escaped)."""
    return f"file:{quote(str(path.resolve()))}?mode=ro&immutable=1"


def _is_rds(head: bytes) -> bool:
    # Page 1 of the database holds sqlite_master, whose DDL names FILE; a schema too large for the
    # first 64 KiB is still opened with --format nsrl-rds3.
    return head.startswith(_MAGIC) and _FILE_DDL.search(head) is not None


class NsrlReader:
    """Distinct SHA-256 digests of an RDS v3 database; :meth:`digest_batches` is the fast path."""

    def __init__(self, path: Path, spooled: Path | None) -> None:
        self._path = path
        self._spooled = spooled
        self._used = False
        uri = sqlite_uri(path)
        try:
            self._db = sqlite3.connect(uri, uri=True)
            kinds = dict(self._db.execute("SELECT upper(name), type FROM sqlite_master").fetchall())
        except sqlite3.DatabaseError as exc:
            self.close()
            raise FormatError(f"not a readable SQLite database: {exc}", "byte 0") from None
        if kinds.get("FILE") not in ("table", "view"):
            self.close()
            raise FormatError("SQLite database without a FILE table or view: not an NSRL RDS v3", "schema")
        try:
            cols = [r[1].lower() for r in self._db.execute("PRAGMA table_info(FILE)")]
        except sqlite3.DatabaseError as exc:
            self.close()
            raise FormatError(f"the FILE relation cannot be read: {exc}", "schema") from None
        missing = [c for c in ("sha256", "sha1", "md5", "package_id") if c not in cols]
        if missing:
            self.close()
            raise FormatError(f"FILE has no column {', '.join(missing)}: not an NSRL RDS v3", "schema")
        build = "minimal" if kinds["FILE"] == "table" else "full"
        metadata: dict[str, Any] = {"build": build, "key": "sha256"}
        version = None
        if kinds.get("VERSION") in ("table", "view"):
            row = self._db.execute("SELECT * FROM VERSION LIMIT 1").fetchone()
            if row is not None:
                names = [d[0].lower() for d in self._db.execute("SELECT * FROM VERSION LIMIT 0").description]
                facts = dict(zip(names, row, strict=True))
                version = str(facts.get("version")) if facts.get("version") is not None else None
                metadata["rds"] = {k: v for k, v in facts.items() if isinstance(v, str | int)}
        self.info = HashSetInfo(format=NAME, profile="nsrl", version=version, metadata=metadata)

    def close(self) -> None:
        db = getattr(self, "_db", None)
        if db is not None:
            db.close()
        if self._spooled is not None:
            self._spooled.unlink(missing_ok=True)

    @property
    def path(self) -> Path:
        """The database file (for a store that reads it in place: SQLite ``ATTACH``)."""
        return self._path

    def claim(self) -> None:
        """Mark the reader used by a caller that reads :attr:`path` itself."""
        if self._used:
            raise RuntimeError("a hash-set reader can be iterated only once")
        self._used = True

    _claim = claim

    #: One row per distinct SHA-256 with the number of rows listing it (RDS text, as stored).
    GROUPED = "SELECT sha256, count(*) FROM FILE GROUP BY sha256"

    def hex_batches(self, size: int = 50_000) -> Iterator[list[tuple[str, int]]]:
        """Lists of ``(sha256 hex, rows)``, each digest once, checked to be 64 hex digits."""
        self._claim()
        cur = self._db.execute(self.GROUPED)
        group = 0
        try:
            while rows := cur.fetchmany(size):
                for value, _n in rows:
                    group += 1
                    if not isinstance(value, str) or len(value) != 64 or not _HEX.fullmatch(value):
                        raise FormatError(f"sha256 {value!r} is not 64 hex digits", f"FILE group {group}")
                yield rows
        finally:
            self.close()

    def first_bad(self) -> FormatError | None:
        """The first malformed SHA-256 as an error naming it, or None (diagnosis after a bulk path
        refused the data)."""
        for group, (value, _n) in enumerate(self._db.execute(self.GROUPED), 1):
            if not isinstance(value, str) or len(value) != 64 or not _HEX.fullmatch(value):
                return FormatError(f"sha256 {value!r} is not 64 hex digits", f"FILE group {group}")
        return None

    def __iter__(self) -> Iterator[HashEntryRecord]:
        """Generic entries (for a set imported as known-bad): SHA-256, SHA-1 and MD5 of each file."""
        self._claim()
        cur = self._db.execute("SELECT sha256, min(sha1), min(md5), count(*) FROM FILE GROUP BY sha256")
        group = 0
        try:
            for sha256, sha1, md5, n in cur:
                group += 1
                key = _digest(sha256, group).hex()
                yield HashEntryRecord("sha256", key, media_key=key, extra={"rows": n})
                for alg, value, size in (("sha1", sha1, 20), ("md5", md5, 16)):
                    if value:
                        yield HashEntryRecord(alg, _hex(value, size, alg, group), media_key=key)
        finally:
            self.close()


def _hex(value: Any, size: int, alg: str, group: int) -> str:
    try:
        raw = bytes.fromhex(value) if isinstance(value, str) else b""
    except ValueError:
        raw = b""
    if len(raw) != size:
        raise FormatError(f"{alg} {value!r} is not {size * 2} hex digits", f"FILE group {group}")
    return raw.hex()


def _digest(value: Any, group: int) -> bytes:
    try:
        raw = bytes.fromhex(value) if isinstance(value, str) else b""
    except ValueError:
        raw = b""
    if len(raw) != _DIGEST_BYTES:
        raise FormatError(f"sha256 {value!r} is not 64 hex digits", f"FILE group {group}")
    return raw


class NsrlRds3Format:
    """NIST NSRL RDS v3 SQLite database; a set imported from it is known-good unless said otherwise."""

    name: ClassVar[str] = NAME
    default_disposition: ClassVar[str] = "known-good"

    def sniff(self, head: bytes) -> bool:
        return _is_rds(head)

    def open(
        self, stream: BinaryIO, *, algorithm: str | None = None, category: int | None = None
    ) -> NsrlReader:
        named = getattr(stream, "name", None)
        if isinstance(named, str) and Path(named).is_file():
            return NsrlReader(Path(named), None)
        # SQLite reads a file, not a stream: an unnamed stream is spooled to disk (never memory).
        with tempfile.NamedTemporaryFile(prefix="tessera-rds-", suffix=".db", delete=False) as tmp:
            shutil.copyfileobj(stream, tmp, 1 << 20)
        return NsrlReader(Path(tmp.name), Path(tmp.name))


FORMATS.register(NAME)(NsrlRds3Format())
