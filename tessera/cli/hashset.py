"""tessera hashset ..."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from tessera.cli.common import CaseOpt, console, load_case, out
from tessera.ingest.importer import hashset_summary, import_hashset

app = typer.Typer(help="Import and list hash sets.", no_args_is_help=True)

FORMATS = ("auto", "vics", "icse", "csv", "list")


@app.command("import")
def import_(
    file: Annotated[Path, typer.Argument(help="Hash-set file (VICS JSON, ICSE CSV, headed CSV, list).")],
    name: Annotated[str | None, typer.Option("--name", help="Set name (default: file name).")] = None,
    fmt: Annotated[str, typer.Option("--format", help="auto|vics|icse|csv|list")] = "auto",
    algorithm: Annotated[
        str | None, typer.Option("--algorithm", help="For plain lists: md5|sha1|sha256|pdq")
    ] = None,
    category: Annotated[
        int | None,
        typer.Option("--category", help="Category for lists, ICSE and CSVs without a category column."),
    ] = None,
    pdq_threshold: Annotated[
        int | None, typer.Option("--pdq-threshold", help="PDQ distance for this set.")
    ] = None,
    case: CaseOpt = None,
) -> None:
    """Import a hash set (all or nothing) and match it against media already in the case."""
    if fmt not in FORMATS:
        raise typer.BadParameter(f"--format must be one of {', '.join(FORMATS)}")
    handle = load_case(case)
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    ) as bar:
        task = bar.add_task(f"importing {file.name}", total=None)
        res = import_hashset(
            handle,
            file,
            name=name,
            fmt=fmt,
            algorithm=algorithm,
            category=category,
            pdq_threshold=pdq_threshold,
            on_entries=lambda n: bar.update(task, description=f"importing {file.name}: {n:,} entries"),
        )
    algs = ", ".join(f"{k} {v:,}" for k, v in sorted(res.by_algorithm.items()))
    version = f" {res.version}" if res.version else ""
    out.print(
        f"imported {res.name!r}: {res.entries:,} entries ({algs}) as {res.format}{version}; "
        f"{res.hits:,} matches with media already in the case"
    )


@app.command("list")
def list_(case: CaseOpt = None) -> None:
    """Show hash sets and their counts."""
    handle = load_case(case)
    table = Table(
        "id", "name", "format", "entries", "by algorithm", "matched media", "imported", "source sha256"
    )
    for hs in hashset_summary(handle):
        algs = ", ".join(f"{k} {v:,}" for k, v in sorted(hs["by_algorithm"].items()))
        fmt = hs["format"] + (f" {hs['version']}" if hs["version"] else "")
        table.add_row(
            str(hs["id"]),
            hs["name"],
            fmt,
            f"{hs['entries']:,}",
            algs,
            f"{hs['matched_media']:,}",
            hs["imported_at"],
            (hs["source_sha256"] or "")[:16],
        )
    out.print(table)
