"""tessera hub ... (placeholder until the hub lands)."""

from __future__ import annotations

import typer

app = typer.Typer(help="The international hash-sharing hub and its client.", no_args_is_help=True)
