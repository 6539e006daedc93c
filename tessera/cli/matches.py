"""tessera matches ..."""

from __future__ import annotations

import csv
import json
import sys
from typing import Annotated

import typer
from rich.table import Table

from tessera.cli.common import CaseOpt, fail, load_case, out
from tessera.store.queries import MATCH_FIELDS, iter_matches


def command(
    device: Annotated[str | None, typer.Option("--device", help="Only this device.")] = None,
    fmt: Annotated[str, typer.Option("--format", help="table|json|csv")] = "table",
    case: CaseOpt = None,
) -> None:
    """List every match: one row per file occurrence and matching hash-set entry."""
    if fmt not in ("table", "json", "csv"):
        fail("--format must be table, json or csv")
    handle = load_case(case)
    with handle.session() as s:
        rows = iter_matches(s, device)
        if fmt == "json":
            # Streamed element by element: a case with millions of hits never builds the whole array.
            sys.stdout.write("[")
            for i, row in enumerate(rows):
                sys.stdout.write(("," if i else "") + "\n  " + json.dumps(row, ensure_ascii=False))
            sys.stdout.write("\n]\n")
        elif fmt == "csv":
            writer = csv.DictWriter(sys.stdout, fieldnames=list(MATCH_FIELDS), lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows)
        else:
            table = Table("device", "locator", "algorithm", "dist", "hash set", "category", "sha256")
            n = 0
            for r in rows:
                n += 1
                cat = "" if r["category"] is None else str(r["category"])
                table.add_row(
                    r["device"],
                    r["locator"],
                    r["algorithm"],
                    str(r["distance"]),
                    r["hashset"],
                    cat,
                    r["sha256"][:16],
                )
            out.print(table)
            out.print(f"{n:,} match row(s)")
