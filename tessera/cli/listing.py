"""Rendering a listing as a table, JSON or CSV: every listing command takes --format."""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Sequence
from datetime import date, datetime
from pathlib import PurePath
from typing import Annotated, Any

import typer
from rich.table import Table

from tessera.cli.common import fail, out

FormatOpt = Annotated[str, typer.Option("--format", help="table|json|csv")]


def _plain(value: Any) -> Any:
    """JSON for what rows hold besides JSON's own types: times in ISO 8601, paths, sets."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, PurePath):
        return str(value)
    if isinstance(value, set | frozenset):
        return sorted(value)
    raise TypeError(f"{type(value).__name__} is not JSON")


def emit_json(value: Any) -> None:
    """``value`` as JSON on standard output, alone: progress, notes and logs go to standard error."""
    sys.stdout.write(json.dumps(value, indent=1, ensure_ascii=False, default=_plain) + "\n")
    sys.stdout.flush()


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return "; ".join(_cell(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def render(
    rows: Sequence[dict[str, Any]], fmt: str, columns: Sequence[str], title: str | None = None
) -> None:
    """JSON carries every field; table and CSV show ``columns`` (lists joined with '; ')."""
    if fmt == "json":
        emit_json(list(rows))
    elif fmt == "csv":
        w = csv.writer(sys.stdout, lineterminator="\n")
        w.writerow(columns)
        for r in rows:
            w.writerow([_cell(r.get(c)) for c in columns])
    elif fmt == "table":
        table = Table(*columns, title=title)
        for r in rows:
            table.add_row(*[_cell(r.get(c)) for c in columns])
        out.print(table)
        out.print(f"{len(rows):,} row(s)")
    else:
        fail("--format must be table, json or csv")
