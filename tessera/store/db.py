"""Opening a case store: SQLite at ``CASE_DIR/case.db`` by default, or any SQLAlchemy URL."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).with_name("migrations")
#: The newest migration's revision (tests/store/test_migrations.py holds it to the scripts' head).
HEAD_REVISION = "0015"
CASE_CONFIG = "tessera-case.json"


class StoreError(RuntimeError):
    pass


def sqlite_url(case_dir: Path) -> str:
    return f"sqlite:///{(case_dir / 'case.db').resolve()}"


def make_engine(url: str) -> Engine:
    kwargs: dict[str, Any] = {"future": True}
    if url.startswith("sqlite"):
        kwargs["connect_args"] = {"timeout": 60}
    else:
        kwargs["pool_pre_ping"] = True
    engine = create_engine(url, **kwargs)
    if engine.dialect.name == "sqlite":

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            # WAL lets the web UI and reports read while an ingest writes; NORMAL sync is durable
            # across process kills (only an OS crash can lose the last transactions).
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=60000")
            cur.close()

    return engine


def alembic_config(engine: Engine) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine: Engine) -> None:
    """Bring the schema to the newest migration (idempotent)."""
    # A case already at the head is the common open: reading its revision costs a query, where
    # loading alembic and its 15 scripts cost ~10 % of every command's start-up.
    if current_revision(engine) == HEAD_REVISION:
        return
    from alembic import command

    command.upgrade(alembic_config(engine), "head")


def current_revision(engine: Engine) -> str | None:
    """The revision alembic recorded in the store, or None (a new or foreign database)."""
    try:
        with engine.connect() as conn:
            if not inspect(conn).has_table("alembic_version"):
                return None
            rows = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    except SQLAlchemyError:
        return None
    return rows[0] if len(rows) == 1 else None


def is_initialised(engine: Engine) -> bool:
    return "alembic_version" in inspect(engine).get_table_names()


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def env_case_dir() -> Path | None:
    """The case a command uses when it was given no ``--case`` of its own: the root option's, else
    $TESSERA_CASE (:mod:`tessera.store.casedir`)."""
    from tessera.store.casedir import default_case_dir

    return default_case_dir()
