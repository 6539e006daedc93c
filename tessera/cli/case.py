"""tessera case ..."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tessera.cli.common import out
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
) -> None:
    """Create a case directory and its database."""
    handle = init_case(directory, name, agency, db)
    out.print(f"case {name!r} ({agency}) created at {directory} ({handle.engine.dialect.name})")
    handle.close()
