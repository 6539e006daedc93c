"""The hub's migrations build exactly the tables its models declare (h0005 added the rate buckets)."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from tessera.hub.models import HubBase

from .conftest import Hub


def test_migrated_schema_equals_the_models(hub: Hub) -> None:
    with hub.engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), HubBase.metadata)
    # Alembic's own version table is the one thing the models do not declare.
    diffs = [d for d in diffs if not (d[0] == "remove_table" and d[1].name == "hub_alembic_version")]
    assert diffs == []
