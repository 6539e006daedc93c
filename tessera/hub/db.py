"""Opening the hub database (PostgreSQL in production, SQLite for a one-machine demo)."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, event, inspect, select, text
from sqlalchemy.orm import Session, sessionmaker

from tessera.hub import models as hm
from tessera.store.case import normalise_url
from tessera.store.db import make_engine

MIGRATIONS = Path(__file__).with_name("migrations")


class HubError(RuntimeError):
    """A problem the operator can fix (wrong database, unknown agency...)."""


class UnknownName(HubError):
    """No such agency or token (the API answers 404)."""


class AlreadyExists(HubError):
    """An agency with that code exists already (the API answers 409)."""


def hub_engine(url: str) -> Engine:
    engine = make_engine(normalise_url(url))
    if engine.dialect.name == "sqlite":
        # pysqlite starts transactions lazily and as readers, so two writers that both read first
        # fail with "database is locked" on upgrade instead of waiting. BEGIN IMMEDIATE takes the
        # write lock up front and waits (busy_timeout): the demo hub serialises, it never fails.
        @event.listens_for(engine, "connect")
        def _no_implicit_begin(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None

        @event.listens_for(engine, "begin")
        def _begin_immediate(conn: Any) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


#: PostgreSQL advisory lock key held while migrating: hub processes started at once migrate one by one.
MIGRATION_LOCK = 0x7465_7373_6875_62  # "tesshub"


def upgrade(engine: Engine) -> None:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    with contextlib.ExitStack() as held:
        if engine.dialect.name == "postgresql":
            # Several hub processes run this at once (replicas started together): without the lock two
            # would create the same tables or counter rows and one would fail. The others wait, then
            # find the schema at head and nothing to do. (SQLite's BEGIN IMMEDIATE serialises already.)
            conn = held.enter_context(engine.connect())
            conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": MIGRATION_LOCK})
            held.callback(conn.execute, text("SELECT pg_advisory_unlock(:k)"), {"k": MIGRATION_LOCK})
        command.upgrade(cfg, "head")
        with sessionmaker(engine)() as s:
            for name in ("seq", "audit"):
                if s.get(hm.Counter, name) is None:
                    s.add(hm.Counter(name=name, value=0, text=None))
            s.commit()


def is_initialised(engine: Engine) -> bool:
    return "hub_alembic_version" in inspect(engine).get_table_names()


def open_hub(url: str, *, create: bool = False) -> Engine:
    """An engine on an initialised hub database (``create``: initialise or migrate it first)."""
    engine = hub_engine(url)
    if create:
        upgrade(engine)
    elif not is_initialised(engine):
        engine.dispose()
        raise HubError(f"{url} is not a hub database (run: tessera hub init --db URL)")
    return engine


def sessions(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def agency_by_code(s: Session, code: str) -> hm.Agency:
    agency = s.scalar(select(hm.Agency).where(hm.Agency.code == code))
    if agency is None:
        raise UnknownName(f"no agency {code!r} (add it: tessera hub agency add CODE NAME)")
    return agency
