"""tessera user ... (placeholder until the review workstation lands)."""

from __future__ import annotations

import typer

app = typer.Typer(help="Local users of the review workstation.", no_args_is_help=True)
