"""tessera report ..."""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path
from typing import Annotated

import typer

from tessera.cli.common import CaseOpt, fail, is_stdout, load_case, output_file, say
from tessera.report.build import open_report
from tessera.report.render import WRITERS


def command(
    fmt: Annotated[str, typer.Option("--format", help="html|json|csv")],
    out_file: Annotated[Path, typer.Option("--out", help="File to write, or - for standard output.")],
    device: Annotated[str | None, typer.Option("--device", help="Only this device.")] = None,
    case: CaseOpt = None,
) -> None:
    """Write the triage report for the case or one device."""
    if fmt not in WRITERS:
        fail("--format must be html, json or csv")
    handle = load_case(case)
    with ExitStack() as stack:
        try:
            report = stack.enter_context(open_report(handle, device))
        except KeyError as exc:
            fail(str(exc.args[0]))
        # Streamed: each device's hits are read while they are written, whatever their number.
        with output_file(out_file, f".{fmt}") as path:
            WRITERS[fmt](report, path)
    say(out_file).print(f"wrote {fmt} report to {'standard output' if is_stdout(out_file) else out_file}")
