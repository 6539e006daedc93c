"""tessera export ..."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tessera.cli.common import CaseOpt, fail, load_case, output_file, say, where
from tessera.report.case_uco import export_case
from tessera.report.dfxml import DeviceNotFound, export_dfxml
from tessera.report.export import export_icse, export_vics, export_vpdq
from tessera.report.hashset_export import SetExport, export_set_icse, export_set_vics

app = typer.Typer(help="Export hashes and metadata (never files).", no_args_is_help=True)


HashsetOpt = Annotated[
    str | None,
    typer.Option("--hashset", help="Export this imported hash set again instead of the case's media."),
]


def _set_export_notes(res: SetExport, fmt: str, out_file: Path) -> None:
    # Nothing is left out silently: say what the format could not carry and what was never written.
    out = say(out_file)
    if res.skipped:
        out.print(f"[yellow]left out {res.skipped:,} item(s) with no hash {fmt} can list[/]")
    for name, n in sorted(res.not_written.items()):
        out.print(f"[yellow]{fmt} has no place for {name!r}: not written for {n:,} item(s)[/]")
    for name, n in sorted(res.withheld.items()):
        out.print(f"[yellow]withheld {name!r} (file content) from {n:,} item(s)[/]")


@app.command("vics")
def vics(
    out_file: Annotated[
        Path, typer.Option("--out", help="VICS JSON file to write, or - for standard output.")
    ],
    scope: Annotated[str, typer.Option("--scope", help="new|matched|all")] = "new",
    version: Annotated[str, typer.Option("--version", help="VICS version: 1.3 or 2.0")] = "2.0",
    hashset: HashsetOpt = None,
    case: CaseOpt = None,
) -> None:
    """Write a VICS #Media file of the case's media (or of an imported hash set): hashes and metadata only."""
    if scope not in ("new", "matched", "all"):
        fail("--scope must be new, matched or all")
    if version not in ("1.3", "2.0"):
        fail("--version must be 1.3 or 2.0")
    handle = load_case(case)
    if hashset is not None:
        with output_file(out_file, ".json") as path:
            res = export_set_vics(handle, hashset, path, version=version)
        say(out_file).print(f"wrote {res.items:,} media item(s) of hash set {hashset!r} to {where(out_file)}")
        _set_export_notes(res, "VICS", out_file)
        return
    with output_file(out_file, ".json") as path:
        n = export_vics(handle, path, scope=scope, version=version)
    say(out_file).print(f"wrote {n:,} media item(s) ({scope}) to {where(out_file)}")


@app.command("icse")
def icse(
    out_file: Annotated[
        Path, typer.Option("--out", help="ICSE CSV file to write, or - for standard output.")
    ],
    scope: Annotated[str, typer.Option("--scope", help="new|matched|all")] = "new",
    hashset: HashsetOpt = None,
    case: CaseOpt = None,
) -> None:
    """Write an Interpol ICSE CSV (12 columns) of the case's media or of an imported hash set."""
    if scope not in ("new", "matched", "all"):
        fail("--scope must be new, matched or all")
    handle = load_case(case)
    if hashset is not None:
        with output_file(out_file, ".csv") as path:
            res = export_set_icse(handle, hashset, path)
        say(out_file).print(f"wrote {res.items:,} row(s) of hash set {hashset!r} to {where(out_file)}")
        _set_export_notes(res, "ICSE", out_file)
        return
    with output_file(out_file, ".csv") as path:
        n = export_icse(handle, path, scope=scope)
    say(out_file).print(
        f"wrote {n:,} row(s) ({scope}) to {where(out_file)}; ICSE has no category, SHA-256 or PDQ column"
    )


@app.command("vpdq")
def vpdq(
    out_file: Annotated[
        Path,
        typer.Option("--out", help="JSON Lines file to write (tessera-vpdq v1), or - for standard output."),
    ],
    scope: Annotated[str, typer.Option("--scope", help="new|matched|all")] = "new",
    case: CaseOpt = None,
) -> None:
    """Write the case's videos as vPDQ frame-hash lists with their digests and category; no files."""
    if scope not in ("new", "matched", "all"):
        fail("--scope must be new, matched or all")
    handle = load_case(case)
    with output_file(out_file, ".jsonl") as path:
        n = export_vpdq(handle, path, scope=scope)
    say(out_file).print(f"wrote {n:,} video(s) ({scope}) to {where(out_file)}")


@app.command("dfxml")
def dfxml(
    device: Annotated[str, typer.Option("--device", help="Device whose file listing to write.")],
    out_file: Annotated[Path, typer.Option("--out", help="DFXML file to write, or - for standard output.")],
    case: CaseOpt = None,
) -> None:
    """Write a device's file listing (locators, sizes, times, deleted flags, hashes) as DFXML 1.x."""
    handle = load_case(case)
    try:
        with output_file(out_file, ".xml") as path:
            n = export_dfxml(handle, device, path, command_line=f"tessera export dfxml --device {device}")
    except DeviceNotFound as exc:
        fail(str(exc))
    except BrokenPipeError:
        raise  # the reader went away (``| head``): click ends the command quietly, exit 1
    except OSError as exc:
        fail(f"cannot write {out_file}: {exc.strerror or exc}")
    say(out_file).print(f"wrote {n:,} file object(s) of device {device} to {where(out_file)}")


@app.command("case")
def case_uco(
    out_file: Annotated[
        Path, typer.Option("--out", help="CASE/UCO JSON-LD file to write, or - for standard output.")
    ],
    case: CaseOpt = None,
) -> None:
    """Write the whole case as CASE/UCO JSON-LD (docs/case-uco.md): metadata and hashes, never content."""
    handle = load_case(case)
    try:
        with output_file(out_file, ".jsonld") as path:
            st = export_case(handle, path)
    except BrokenPipeError:
        raise  # the reader went away (``| head``): click ends the command quietly, exit 1
    except OSError as exc:
        fail(f"cannot write {out_file}: {exc.strerror or exc}")
    out = say(out_file)
    out.print(
        f"wrote {st.nodes:,} node(s) to {where(out_file)}: {st.devices} device(s), {st.files:,} file(s), "
        f"{st.messages:,} message(s), {st.accounts:,} account(s), {st.threads:,} group(s), "
        f"{st.matches:,} match(es), {st.decisions:,} decision(s)"
    )
    for why, n in st.left_out.items():
        out.print(f"[yellow]left out {n:,}: {why}[/]")
