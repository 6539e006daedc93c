"""tessera hashset ..."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from tessera.cli.common import CaseOpt, console, fail, load_case, out
from tessera.cli.listing import FormatOpt, render
from tessera.cli.suspect import UserOpt, _user
from tessera.hashsets import FORMATS as FORMAT_REGISTRY
from tessera.ingest.importer import hashset_summary, import_hashset
from tessera.ingest.known import apply_delta, drop_known, iter_known_files, mark_benign
from tessera.store.models_known import KNOWN_BAD, KNOWN_GOOD
from tessera.store.queries import device_stats

app = typer.Typer(
    help="Import and list hash sets; known-good sets (NSRL) and the known-benign set.", no_args_is_help=True
)


def _formats() -> tuple[str, ...]:
    return ("auto", *FORMAT_REGISTRY.names())


@app.command("import")
def import_(
    file: Annotated[
        Path, typer.Argument(help="Hash-set file (VICS JSON, ICSE CSV, headed CSV, list, NSRL RDS v3).")
    ],
    name: Annotated[str | None, typer.Option("--name", help="Set name (default: file name).")] = None,
    fmt: Annotated[str, typer.Option("--format", help="auto|vics|icse|csv|list|nsrl-rds3|...")] = "auto",
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
    known_good: Annotated[
        bool, typer.Option("--known-good", help="Files in this set are excluded from review and counts.")
    ] = False,
    known_bad: Annotated[
        bool, typer.Option("--known-bad", help="Entries are hits (the default except for NSRL).")
    ] = False,
    case: CaseOpt = None,
) -> None:
    """Import a hash set (all or nothing) and match it against media already in the case."""
    if fmt not in _formats():
        raise typer.BadParameter(f"--format must be one of {', '.join(_formats())}")
    if known_good and known_bad:
        fail("--known-good and --known-bad exclude each other")
    disposition = KNOWN_GOOD if known_good else KNOWN_BAD if known_bad else None
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
            disposition=disposition,
        )
    algs = ", ".join(f"{k} {v:,}" for k, v in sorted(res.by_algorithm.items()))
    version = f" {res.version}" if res.version else ""
    if res.disposition == KNOWN_GOOD:
        out.print(
            f"imported {res.name!r}: {res.entries:,} known-good digests ({algs}) as {res.format}{version};"
            " files holding them are kept but left out of review, new material and counts"
        )
        return
    out.print(
        f"imported {res.name!r}: {res.entries:,} entries ({algs}) as {res.format}{version}; "
        f"{res.hits:,} matches with media already in the case"
    )


@app.command("list")
def list_(fmt: FormatOpt = "table", case: CaseOpt = None) -> None:
    """Show hash sets and their counts."""
    handle = load_case(case)
    if fmt != "table":
        columns = (
            "id",
            "name",
            "format",
            "version",
            "disposition",
            "entries",
            "matched_media",
            "imported_at",
        )
        render(list(hashset_summary(handle)), fmt, columns)
        return
    table = Table(
        "id",
        "name",
        "format",
        "disposition",
        "entries",
        "by algorithm",
        "matched media",
        "imported",
        "source sha256",
    )
    for hs in hashset_summary(handle):
        algs = ", ".join(f"{k} {v:,}" for k, v in sorted(hs["by_algorithm"].items()))
        fmt = hs["format"] + (f" {hs['version']}" if hs["version"] else "")
        table.add_row(
            str(hs["id"]),
            hs["name"],
            fmt,
            hs["disposition"],
            f"{hs['entries']:,}",
            algs,
            f"{hs['matched_media']:,}",
            hs["imported_at"],
            (hs["source_sha256"] or "")[:16],
        )
    out.print(table)


@app.command("apply-delta")
def apply_delta_(
    name: Annotated[str, typer.Argument(help="The known-good set the delta updates (an NSRL import).")],
    file: Annotated[Path, typer.Argument(help="The RDS v3 delta: its SQL file, or the zip holding it.")],
    case: CaseOpt = None,
) -> None:
    """Apply an NSRL RDS v3 delta (rows added and deleted) to a known-good set, all or nothing."""
    rec = apply_delta(load_case(case), name, file)
    passed = ", ".join(f"{k} {v:,}" for k, v in sorted(rec["passed_over"].items())) or "none"
    out.print(
        f"{name!r}: {rec['digests_before']:,} -> {rec['digests_after']:,} digests; rows added"
        f" {rec['rows_added']:,}, removed {rec['rows_removed']:,}, whole-hash deletes"
        f" {rec['hashes_dropped']:,}; digests that left the set {rec['digests_removed']:,};"
        f" removals not in the set {rec['removals_not_in_set']:,}; statements passed over: {passed}"
    )


@app.command("remove")
def remove(
    name: Annotated[str, typer.Argument(help="A known-good set (e.g. an NSRL release replaced).")],
    case: CaseOpt = None,
) -> None:
    """Remove a known-good set and its digests."""
    gone = drop_known(load_case(case), name)
    out.print(f"removed {name!r} ({gone:,} digests)")


@app.command("mark-benign")
def mark_benign_(
    sha256: Annotated[list[str], typer.Option("--sha256", help="SHA-256 of the item (repeatable).")],
    note: Annotated[str | None, typer.Option("--note", help="Why (a sticker, an app icon...).")] = None,
    user: UserOpt = None,
    case: CaseOpt = None,
) -> None:
    """Add items to the local known-benign set (audited): they leave review and the counts."""
    added = mark_benign(load_case(case), _user(user), sha256, note)
    out.print(f"{len(added):,} added to the known-benign set ({len(sha256) - len(added):,} already in it)")


@app.command("known")
def known(
    device: Annotated[str | None, typer.Option("--device", help="One device (default: the case).")] = None,
    fmt: Annotated[str, typer.Option("--format", help="table|json")] = "table",
    case: CaseOpt = None,
) -> None:
    """List the files kept in the case but excluded as known-good, with what each count left out."""
    if fmt not in ("table", "json"):
        raise typer.BadParameter("--format must be table or json")
    handle = load_case(case)
    with handle.session() as s:
        excluded = device_stats(s, device)["known_good_excluded"]
        if fmt == "json":
            # Streamed, one file a line: the list can be every system file of every device.
            sys.stdout.write('{"known_good_excluded": ' + json.dumps(excluded) + ', "files": [')
            for n, f in enumerate(iter_known_files(s, device)):
                sys.stdout.write(("," if n else "") + "\n" + json.dumps(f))
            sys.stdout.write("\n]}\n")
            return
        table = Table("device", "locator", "sha256", "size", "deleted")
        for f in iter_known_files(s, device):
            table.add_row(
                f["device"], f["locator"], f["sha256"][:16], f"{f['size'] or 0:,}", str(f["deleted"])
            )
        out.print(table)
    out.print(
        f"known-good excluded: {excluded['files']:,} files ({excluded['bytes']:,} bytes),"
        f" {excluded['unique_media']:,} media, {excluded['new_material']:,} from new material"
    )
