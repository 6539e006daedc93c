"""Alembic environment of the hub database: the engine is handed in by ``tessera.hub.db.upgrade``."""

from alembic import context

from tessera.hub.models import HubBase

config = context.config
engine = config.attributes.get("engine")
if engine is None:  # pragma: no cover - only when alembic is run by hand
    from sqlalchemy import create_engine

    engine = create_engine(config.get_main_option("sqlalchemy.url") or "sqlite:///hub.db")

with engine.begin() as connection:
    context.configure(
        connection=connection,
        target_metadata=HubBase.metadata,
        # A table of its own, so a hub may share a PostgreSQL database with nothing else's migrations.
        version_table="hub_alembic_version",
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()
