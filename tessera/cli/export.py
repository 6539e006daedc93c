"""tessera export ..."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tessera.cli.common import CaseOpt, fail, load_case, out
from tessera.report.case_uco import export_case
from tessera.report.dfxml import DeviceNotFound, export_dfxml
from tessera.report.export import export_vics, export_vpdq

app = typer.Typer(help="Export hashes and metadata (never files).", no_args_is_help=True)


@app.command("vics")
def vics(
    out_file: Annotated[Path, typer.Option("--out", help="VICS JSON file to write.")],
    scope: Annotated[str, typer.Option("--scope", help="new|matched|all")] = "new",
    version: Annotated[str, typer.Option("--version", help="VICS version: 1.3 or 2.0")] = "2.0",
    case: CaseOpt = None,
) -> None:
    """Write a VICS #Media file of the case's media: hashes and metadata only."""
    if scope not in ("new", "matched", "all"):
        fail("--scope must be new, matched or all")
    if version not in ("1.3", "2.0"):
        fail("--version must be 1.3 or 2.0")
    handle = load_case(case)
    n = export_vics(handle, out_file, scope=scope, version=version)
    out.print(f"wrote {n:,} media item(s) ({scope}) to {out_file}")


@app.command("vpdq")
def vpdq(
    out_file: Annotated[Path, typer.Option("--out", help="JSON Lines file to write (tessera-vpdq v1).")],
    scope: Annotated[str, typer.Option("--scope", help="new|matched|all")] = "new",
    case: CaseOpt = None,
) -> None:
    """Write the case's videos as vPDQ frame-hash lists with their digests and category; no files."""
    if scope not in ("new", "matched", "all"):
        fail("--scope must be new, matched or all")
    handle = load_case(case)
    n = export_vpdq(handle, out_file, scope=scope)
    out.print(f"wrote {n:,} video(s) ({scope}) to {out_file}")


@app.command("dfxml")
def dfxml(
    device: Annotated[str, typer.Option("--device", help="Device whose file listing to write.")],
    out_file: Annotated[Path, typer.Option("--out", help="DFXML file to write.")],
    case: CaseOpt = None,
) -> None:
    """Write a device's file listing (locators, sizes, times, deleted flags, hashes) as DFXML 1.x."""
    handle = load_case(case)
    try:
        n = export_dfxml(handle, device, out_file, command_line=f"tessera export dfxml --device {device}")
    except DeviceNotFound as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"cannot write {out_file}: {exc.strerror or exc}")
    out.print(f"wrote {n:,} file object(s) of device {device} to {out_file}")


@app.command("case")
def case_uco(
    out_file: Annotated[Path, typer.Option("--out", help="CASE/UCO JSON-LD file to write.")],
    case: CaseOpt = None,
) -> None:
    """Write the whole case as CASE/UCO JSON-LD (docs/case-uco.md): metadata and hashes, never content."""
    handle = load_case(case)
    try:
        st = export_case(handle, out_file)
    except OSError as exc:
        fail(f"cannot write {out_file}: {exc.strerror or exc}")
    out.print(
        f"wrote {st.nodes:,} node(s) to {out_file}: {st.devices} device(s), {st.files:,} file(s), "
        f"{st.messages:,} message(s), {st.accounts:,} account(s), {st.threads:,} group(s), "
        f"{st.matches:,} match(es), {st.decisions:,} decision(s)"
    )
    for why, n in st.left_out.items():
        out.print(f"[yellow]left out {n:,}: {why}[/]")
