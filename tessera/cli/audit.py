"""tessera audit verify | list"""

from __future__ import annotations

from typing import Annotated

import typer
from sqlalchemy import select

from tessera.audit import AuditError, verify
from tessera.cli.common import EXIT_PARTIAL, CaseOpt, console, load_case, out
from tessera.cli.listing import FormatOpt, render
from tessera.store import models as m

app = typer.Typer(help="The hash-chained audit log of human decisions.", no_args_is_help=True)


@app.command("verify")
def verify_cmd(case: CaseOpt = None) -> None:
    """Check every entry's hash and its link to the one before; exit 1 naming the first broken row."""
    handle = load_case(case)
    with handle.session() as s:
        try:
            n = verify(s)
        except AuditError as exc:
            console.print(f"audit log FAILED verification: {exc}", highlight=False, markup=False)
            raise typer.Exit(EXIT_PARTIAL) from None
    out.print(f"audit log verified: {n:,} entries, chain intact")


@app.command("list")
def list_cmd(
    fmt: FormatOpt = "table",
    limit: Annotated[int, typer.Option("--limit", help="Newest N entries.")] = 100,
    case: CaseOpt = None,
) -> None:
    handle = load_case(case)
    with handle.session() as s:
        rows = [
            {
                "id": e.id,
                "at": e.at,
                "user": e.user,
                "action": e.action,
                "subject": e.subject,
                "details": e.details,
                "hash": e.hash,
            }
            for e in s.scalars(select(m.AuditEntry).order_by(m.AuditEntry.id.desc()).limit(limit))
        ]
    render(rows, fmt, ["id", "at", "user", "action", "subject", "details"], "Audit log")
