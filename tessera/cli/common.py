"""Shared CLI plumbing: the --case option, one-line errors, exit codes."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console

from tessera.store.case import CaseHandle, open_case
from tessera.store.db import env_case_dir

console = Console(stderr=True, soft_wrap=True)
out = Console(soft_wrap=True, highlight=False)

EXIT_OK, EXIT_PARTIAL, EXIT_USAGE = 0, 1, 2

CaseOpt = Annotated[
    Path | None,
    typer.Option("--case", help="Case directory (or set TESSERA_CASE).", show_default=False),
]


class CliError(Exception):
    """A problem the user can fix: printed as one line, exit code 2, no traceback."""


def fail(message: str) -> NoReturn:
    raise CliError(message)


def load_case(case_dir: Path | None) -> CaseHandle:
    directory = case_dir or env_case_dir()
    if directory is None:
        fail("no case given: pass --case DIR or set TESSERA_CASE")
    return open_case(directory)


def print_error(message: str) -> None:
    # One line, so scripts and examiners can read it; the full text is kept on a single line.
    print(f"tessera: error: {' '.join(str(message).split())}", file=sys.stderr)
