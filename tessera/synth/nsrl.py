"""Generated NSRL RDS v3 databases and deltas: the real layout, invented content.

NIST publishes the RDS v3 as SQLite databases: ``FILE`` (``sha256, sha1, md5, crc32, file_name,
file_size, package_id``), ``PKG``, ``OS``, ``MFG`` and ``VERSION``. A *minimal* build holds ``FILE``
as a table keyed by ``(sha256, package_id, file_name)`` with a ``DISTINCT_HASH`` view; a *full* build
keeps every row in a ``METADATA`` table and offers ``FILE`` as a view over it. Hashes are upper-case
hex. A delta is not a database but SQL text (``INSERT``/``UPDATE``/``DELETE`` statements to be run in
the previous release), shipped in a zip beside the schema.

Everything here is invented: package and file names are ``Synthetic ...``, hashes are random bytes
from a seed (numpy's generator) and hash nothing, except the digests a caller lists in ``known``
(e.g. the SHA-256 of generated files of a test device, which must then be found known-good).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

_COMMON = """
CREATE TABLE VERSION (version TEXT NOT NULL, build_set TEXT NOT NULL, build_date TEXT NOT NULL,
    release_date TEXT NOT NULL, description TEXT NOT NULL);
CREATE TABLE MFG (manufacturer_id INTEGER PRIMARY KEY, name TEXT NOT NULL);
CREATE TABLE OS (operating_system_id INTEGER PRIMARY KEY, name TEXT NOT NULL, version TEXT NOT NULL,
    manufacturer_id INTEGER NOT NULL);
CREATE TABLE PKG (package_id INTEGER PRIMARY KEY, name TEXT NOT NULL, version TEXT NOT NULL,
    operating_system_id INTEGER NOT NULL, manufacturer_id INTEGER NOT NULL, language TEXT NOT NULL,
    application_type TEXT NOT NULL);
"""
MINIMAL_SCHEMA = (
    _COMMON
    + """
CREATE TABLE FILE (sha256 VARCHAR NOT NULL, sha1 VARCHAR NOT NULL, md5 VARCHAR NOT NULL,
    crc32 VARCHAR NOT NULL, file_name VARCHAR NOT NULL, file_size INTEGER NOT NULL,
    package_id INTEGER NOT NULL, PRIMARY KEY (sha256, package_id, file_name)) WITHOUT ROWID;
CREATE VIEW DISTINCT_HASH AS SELECT DISTINCT sha256, sha1, md5 FROM FILE;
"""
)
FULL_SCHEMA = (
    _COMMON
    + """
CREATE TABLE METADATA (package_id INTEGER NOT NULL, file_path TEXT NOT NULL, file_name TEXT NOT NULL,
    file_extension TEXT NOT NULL, file_size INTEGER NOT NULL, sha256 VARCHAR NOT NULL,
    sha1 VARCHAR NOT NULL, md5 VARCHAR NOT NULL, crc32 VARCHAR NOT NULL);
CREATE VIEW FILE AS SELECT sha256, sha1, md5, crc32, file_name, file_size, package_id FROM METADATA;
"""
)


@dataclass(frozen=True, slots=True)
class KnownFile:
    """A real digest to list (a test device's file), under an invented name."""

    sha256: str
    sha1: str
    md5: str
    size: int
    name: str = "synthetic.bin"


Row = tuple[str, str, str, str, str, int, int]


def invented_rows(
    count: int, seed: int = 15, *, packages: int = 200, shared: float = 0.05, chunk: int = 100_000
) -> Iterator[Row]:
    """``count`` FILE rows, deterministic by ``seed``, made ``chunk`` rows at a time, in ascending
    SHA-256 order as the real minimal table is kept; about ``shared`` of them list an earlier file of
    their chunk again (one file shipped by several products, as in the real set)."""
    rng = np.random.default_rng(seed)
    # Ascending, uniformly spread 64-bit prefixes (exponential gaps); the other 24 bytes random.
    gap = float(2**64) / (count + 1)
    base = 0.0
    done = 0
    while done < count:
        n = min(chunk, count - done)
        steps = np.cumsum(rng.exponential(gap, n)) + base
        base = float(steps[-1])
        prefixes = np.minimum(steps, float(2**64 - 4096)).astype(np.uint64).tolist()
        tails = rng.bytes(24 * n).hex().upper()
        sha1 = rng.bytes(20 * n).hex().upper()
        md5 = rng.bytes(16 * n).hex().upper()
        crc = rng.bytes(4 * n).hex().upper()
        sizes = rng.integers(1, 1 << 22, n).tolist()
        pkgs = (rng.integers(0, packages, n) + 1).tolist()
        again = (rng.random(n) < shared).tolist()
        earlier = rng.integers(0, np.arange(1, n + 1)).tolist()  # an index <= the row's own
        for j in range(n):
            k = earlier[j] if again[j] else j
            yield (
                f"{prefixes[k]:016X}{tails[48 * k : 48 * k + 48]}",
                sha1[40 * k : 40 * k + 40],
                md5[32 * k : 32 * k + 32],
                crc[8 * k : 8 * k + 8],
                f"synthetic_{done + j:08d}.dll",
                sizes[k],
                pkgs[j],
            )
        done += n


def _known_rows(known: Iterable[KnownFile], package_id: int) -> Iterator[Row]:
    for k in known:
        yield (k.sha256.upper(), k.sha1.upper(), k.md5.upper(), "00000000", k.name, k.size, package_id)


def write_rds3(
    path: Path,
    rows: int,
    *,
    seed: int = 15,
    build: str = "minimal",
    known: Sequence[KnownFile] = (),
    version: str = "2026.09.1",
    packages: int = 200,
) -> Path:
    """Write a generated RDS v3 database of ``rows`` invented rows plus ``known`` at ``path``."""
    if build not in ("minimal", "full"):
        raise ValueError("build must be 'minimal' or 'full'")
    path.unlink(missing_ok=True)
    db = sqlite3.connect(path)
    try:
        db.executescript("PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;")
        db.executescript(MINIMAL_SCHEMA if build == "minimal" else FULL_SCHEMA)
        db.execute(
            "INSERT INTO VERSION VALUES (?, ?, ?, ?, ?)",
            (version, f"RDS v3 modern {build} (synthetic)", "2026-09-01", "2026-09-15", "generated"),
        )
        db.execute("INSERT INTO MFG VALUES (1, 'Synthetic Software Co.')")
        db.execute("INSERT INTO OS VALUES (1, 'Synthetic OS', '1.0', 1)")
        db.executemany(
            "INSERT INTO PKG VALUES (?, ?, '1.0', 1, 1, 'English', 'Operating System')",
            [(p, f"Synthetic package {p}") for p in range(1, packages + 2)],
        )
        rows_in: Iterable[Row] = invented_rows(rows, seed, packages=packages)
        for batch in _batches(rows_in, 50_000):
            _insert(db, build, batch)
        _insert(db, build, list(_known_rows(known, packages + 1)))
        db.commit()
    finally:
        db.close()
    return path


def _batches(rows: Iterable[Row], size: int) -> Iterator[list[Row]]:
    batch: list[Row] = []
    for r in rows:
        batch.append(r)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _insert(db: sqlite3.Connection, build: str, batch: list[Row]) -> None:
    if build == "minimal":
        # Rows come in key order (invented_rows), so the keyed table is written almost by appending.
        db.executemany("INSERT OR IGNORE INTO FILE VALUES (?, ?, ?, ?, ?, ?, ?)", batch)
    else:
        db.executemany(
            "INSERT INTO METADATA VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(r[6], f"/synthetic/{r[4]}", r[4], "dll", r[5], r[0], r[1], r[2], r[3]) for r in batch],
        )


def _sql(value: str | int) -> str:
    return str(value) if isinstance(value, int) else "'" + value.replace("'", "''") + "'"


def write_delta(
    path: Path,
    *,
    adds: Sequence[Row] = (),
    deletes: Sequence[tuple[str, int, str]] = (),
    new_packages: Sequence[int] = (),
) -> Path:
    """A delta in NIST's documented form: SQL statements to run in the previous release.

    ``deletes`` are FILE rows by their key ``(sha256, package_id, file_name)``; ``new_packages`` get a
    PKG row (statements on tables without hashes, which an importer must pass over, not fail on)."""
    lines = ["-- RDS v3 delta (synthetic): run in the previous release", "BEGIN TRANSACTION;"]
    for p in new_packages:
        values = f"{p}, 'Synthetic package {p}', '2.0', 1, 1, 'English', 'Operating System'"
        lines.append(f"INSERT INTO PKG VALUES ({values});")
    for sha256, package_id, name in deletes:
        lines.append(
            f"DELETE FROM FILE WHERE sha256 = {_sql(sha256.upper())} AND package_id = {package_id}"
            f" AND file_name = {_sql(name)};"
        )
    for r in adds:
        lines.append("INSERT INTO FILE VALUES (" + ", ".join(_sql(v) for v in r) + ");")
    lines.append("COMMIT;")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def known_file(data: bytes, name: str = "synthetic.bin") -> KnownFile:
    """The :class:`KnownFile` of some bytes (a generated file a test device holds)."""
    import hashlib

    return KnownFile(
        hashlib.sha256(data).hexdigest(),
        hashlib.sha1(data).hexdigest(),  # noqa: S324  (the RDS lists SHA-1; not used for security)
        hashlib.md5(data).hexdigest(),  # noqa: S324
        len(data),
        name,
    )
