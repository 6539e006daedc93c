"""tessera sources: every messaging source and what became of it."""

from __future__ import annotations

from typing import Annotated

import typer

from tessera.cli.common import CaseOpt, load_case
from tessera.cli.listing import FormatOpt, render
from tessera.store.queries import messaging_sources

COLUMNS = ["device", "locator", "parser", "status", "messages", "coverage", "reason"]


def command(
    fmt: FormatOpt = "table",
    device: Annotated[str | None, typer.Option("--device", help="Only this device.")] = None,
    status: Annotated[str | None, typer.Option("--status", help="complete|partial|failed|not parsed")] = None,
    case: CaseOpt = None,
) -> None:
    """Messaging sources: parsed in full, partial or failed (with the reason and the counts), and
    known apps' data present but not parsed. JSON carries each source's whole reconciliation."""
    handle = load_case(case)
    with handle.session() as s:
        rows = messaging_sources(s, device)
    if status:
        rows = [r for r in rows if r["status"] == status]
    render(rows, fmt, COLUMNS, "Messaging sources")
