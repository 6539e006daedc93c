"""tessera case ..."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy import select

from tessera.audit import AuditKeyError, create_key
from tessera.audit.keys import KEY_HINT, default_path
from tessera.cli.common import CaseOpt, fail, load_case, out
from tessera.cli.listing import emit_json
from tessera.store import models as m
from tessera.store.case import init_case
from tessera.store.db import CASE_CONFIG

app = typer.Typer(help="Create and inspect cases.", no_args_is_help=True)


@app.command("init")
def init(
    directory: Annotated[Path, typer.Argument(help="Case directory to create.")],
    name: Annotated[str, typer.Option("--name", help="Operation or investigation name.")],
    agency: Annotated[str, typer.Option("--agency", help="Owning agency code.")],
    db: Annotated[
        str | None, typer.Option("--db", help="SQLAlchemy URL; default SQLite DIR/case.db.")
    ] = None,
    audit_key: Annotated[
        Path | None,
        typer.Option(
            "--audit-key",
            help="Where to create the audit key (default: $TESSERA_AUDIT_KEY, else DIR/audit.key).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Create a case directory, its database and its audit key (mode 0600)."""
    key_path = (audit_key or default_path(directory)).absolute()
    # Checked before anything is created (a case must not start with someone else's key), but after
    # the "already a case" check that init_case makes, so that error keeps its own message.
    if key_path.exists() and not (directory / CASE_CONFIG).exists():
        fail(f"audit key {key_path} already exists; give --audit-key a new path")
    handle = init_case(directory, name, agency, db)
    try:
        create_key(key_path)
    except (AuditKeyError, OSError) as exc:
        handle.close()
        fail(f"case created, but its audit key could not be: {exc} (run: tessera audit keygen)")
    with handle.session() as s:
        # Where the key is, for writers that only have a database session (a PostgreSQL case has no
        # directory to look in). Only a hint for appending: verify never trusts it (docs/audit.md).
        row = s.scalar(select(m.Case).limit(1))
        if row is not None:
            row.settings = {**(row.settings or {}), KEY_HINT: str(key_path)}
            s.commit()
    out.print(f"case {name!r} ({agency}) created at {directory} ({handle.engine.dialect.name})")
    out.print(
        f"audit key: {key_path} (mode 600). Keep it off the case's storage and the database server: "
        "move it and set TESSERA_AUDIT_KEY to its path."
    )
    handle.close()


@app.command("info")
def info(
    fmt: Annotated[str, typer.Option("--format", help="text|json")] = "text",
    case: CaseOpt = None,
) -> None:
    """What the case holds: its name and agency, database, devices, files, media, hash sets, matches."""
    from sqlalchemy import func

    if fmt not in ("text", "json"):
        fail("--format must be text or json")
    handle = load_case(case)
    counted = {
        "devices": m.Device,
        "files": m.File,
        "media": m.Media,
        "hash_sets": m.HashSet,
        "matches": m.Match,
        "messaging_sources": m.MessagingSource,
        "messages": m.Message,
    }
    with handle.session() as s:
        counts = {k: s.scalar(select(func.count()).select_from(table)) or 0 for k, table in counted.items()}
        row = s.scalar(select(m.Case).limit(1))
    body = {
        "name": handle.name,
        "agency": handle.agency,
        "directory": str(handle.directory),
        "database": handle.engine.dialect.name,
        "created_at": row.created_at.isoformat() if row is not None else None,
        **counts,
    }
    handle.close()
    if fmt == "json":
        emit_json(body)
        return
    out.print(f"case {body['name']!r} ({body['agency']}) at {body['directory']} ({body['database']})")
    out.print(", ".join(f"{v:,} {k.replace('_', ' ')}" for k, v in counts.items()))
