"""tessera case ..."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tessera.audit import AuditKeyError, create_key
from tessera.audit.keys import default_path
from tessera.cli.common import fail, out
from tessera.store.case import init_case

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
    key_path = audit_key or default_path(directory)
    if key_path.exists():  # checked first: a case must not start with someone else's key
        fail(f"audit key {key_path} already exists; give --audit-key a new path")
    handle = init_case(directory, name, agency, db)
    try:
        create_key(key_path)
    except (AuditKeyError, OSError) as exc:
        handle.close()
        fail(f"case created, but its audit key could not be: {exc} (run: tessera audit keygen)")
    out.print(f"case {name!r} ({agency}) created at {directory} ({handle.engine.dialect.name})")
    out.print(
        f"audit key: {key_path} (mode 600). Keep it off the case's storage and the database server: "
        "move it and set TESSERA_AUDIT_KEY to its path."
    )
    handle.close()
