"""Round trips through real cases: import a file into case A, export it, import that into case B, export
again. Used by the VICS and ICSE round-trip tests; every value is invented."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import create_engine, text

from tessera.ingest.importer import import_hashset
from tessera.report.hashset_export import SetExport
from tessera.store.case import CaseHandle, init_case
from tests.conftest import PG_ADMIN_URL

Export = Callable[[CaseHandle, str, Path], SetExport]


@dataclass
class Trip:
    original: bytes
    first: bytes  # exported from case A
    second: bytes  # exported from case B, which imported ``first``
    results: tuple[SetExport, SetExport]
    profiles: tuple[str, str]  # the set's category profile in case A and in case B


@contextmanager
def fresh_pg() -> Iterator[str]:
    """An empty PostgreSQL database, dropped afterwards (a second case needs a database of its own)."""
    name = f"tessera_t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextmanager
def new_case(kind: str, root: Path) -> Iterator[CaseHandle]:
    """A case on ``kind`` (sqlite or postgresql) in directory ``root``, closed (and dropped) afterwards."""
    with ExitStack() as stack:
        url = stack.enter_context(fresh_pg()) if kind == "postgresql" else None
        handle = init_case(root, "Operation Elsewhere", "YY-TEST", url)
        stack.callback(handle.close)
        yield handle


def kind_of(case: CaseHandle) -> str:
    return "postgresql" if case.url.startswith("postgresql") else "sqlite"


def profile_of(case: CaseHandle, name: str) -> str:
    from sqlalchemy import select

    from tessera.store import models as m

    with case.session() as s:
        return str(s.scalar(select(m.HashSet.profile).where(m.HashSet.name == name)))


def round_trip(
    a: CaseHandle, b: CaseHandle, original: bytes, suffix: str, export: Export, work: Path, name: str = "set"
) -> Trip:
    """``original`` imported into ``a`` as set ``name``, exported, imported into ``b``, exported again."""
    work.mkdir(parents=True, exist_ok=True)
    src, first, second = (work / f"{n}{suffix}" for n in ("original", "first", "second"))
    src.write_bytes(original)
    import_hashset(a, src, name=name)
    r1 = export(a, name, first)
    import_hashset(b, first, name=name)
    r2 = export(b, name, second)
    profiles = (profile_of(a, name), profile_of(b, name))
    return Trip(original, first.read_bytes(), second.read_bytes(), (r1, r2), profiles)
