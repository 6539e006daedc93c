"""A case: a directory holding ``tessera-case.json`` (its settings) and, by default, ``case.db``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from tessera.hashing.algorithms import ALGORITHMS
from tessera.store import models as m
from tessera.store.db import CASE_CONFIG, StoreError, make_engine, session_factory, sqlite_url, upgrade

CONFIG_VERSION = 1


def normalise_url(url: str) -> str:
    # Bare postgresql:// would pick psycopg2, which we do not install; psycopg 3 is the driver.
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


@dataclass
class CaseHandle:
    directory: Path
    name: str
    agency: str
    url: str
    engine: Engine

    @contextmanager
    def session(self) -> Iterator[Session]:
        with session_factory(self.engine)() as s:
            yield s

    @property
    def scratch(self) -> Path:
        """Case-local scratch space (spooled archive members); never inside evidence."""
        path = self.directory / "scratch"
        path.mkdir(exist_ok=True)
        return path

    def close(self) -> None:
        self.engine.dispose()


def init_case(directory: Path, name: str, agency: str, db_url: str | None = None) -> CaseHandle:
    directory.mkdir(parents=True, exist_ok=True)
    cfg_path = directory / CASE_CONFIG
    if cfg_path.exists():
        raise StoreError(f"{directory} already holds a case ({CASE_CONFIG} exists)")
    url = normalise_url(db_url) if db_url else None
    engine = make_engine(url or sqlite_url(directory))
    upgrade(engine)
    with session_factory(engine)() as s:
        if s.scalar(select(m.Case).limit(1)) is not None:
            raise StoreError("the database already holds a case; use a fresh database for a new case")
        pdq = ALGORITHMS.get("pdq")
        settings = {"pdq_threshold": pdq.default_threshold, "pdq_min_quality": pdq.min_quality}
        s.add(m.Case(name=name, agency=agency, settings=settings))
        s.commit()
    # The URL is kept as given (without a password if the user kept it out of the URL); the SQLite
    # default is stored as null so a case directory can be moved or copied whole.
    cfg = {"format": "tessera-case", "version": CONFIG_VERSION, "name": name, "agency": agency, "db": url}
    cfg_path.write_text(json.dumps(cfg, indent=2) + "\n", encoding="utf-8")
    _register_audit_key(engine, directory)
    return CaseHandle(directory, name, agency, url or sqlite_url(directory), engine)


def open_case(directory: Path) -> CaseHandle:
    cfg_path = directory / CASE_CONFIG
    if not cfg_path.is_file():
        raise StoreError(
            f"no case at {directory} (run: tessera case init {directory} --name ... --agency ...)"
        )
    try:
        cfg = json.loads(cfg_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise StoreError(f"unreadable case settings {cfg_path}: {exc}") from exc
    if cfg.get("format") != "tessera-case" or int(cfg.get("version", 0)) > CONFIG_VERSION:
        raise StoreError(f"{cfg_path} is not a case settings file this version understands")
    url = cfg.get("db") or sqlite_url(directory)
    engine = make_engine(url)
    upgrade(engine)  # cases made by an older version are migrated forward on open
    _register_audit_key(engine, directory)
    return CaseHandle(directory, cfg["name"], cfg["agency"], url, engine)


def _register_audit_key(engine: Engine, directory: Path) -> None:
    """The audit key of the case opened here (``$TESSERA_AUDIT_KEY`` or ``CASE_DIR/audit.key``), so
    every writer of the case log finds it by the case directory, never by what the database says."""
    from tessera.audit.keys import default_path, register  # the store does not import audit at load

    register(engine, default_path(directory))
