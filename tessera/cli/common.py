"""Shared CLI plumbing: the --case option, one-line errors, exit codes."""

from __future__ import annotations

import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console

from tessera.store.case import CaseHandle, open_case
from tessera.store.db import env_case_dir

console = Console(stderr=True, soft_wrap=True)
out = Console(soft_wrap=True, highlight=False)

#: 0 done; 1 done, but some inputs could not be processed; 2 bad invocation or unusable input; 3 the
#: case (or hub) database could not be used: a fault of the database, not of what the user typed, so
#: scripts can tell "retry when the server is back" from "fix the command" (docs/triage.md).
EXIT_OK, EXIT_PARTIAL, EXIT_USAGE, EXIT_DATABASE = 0, 1, 2, 3

CaseOpt = Annotated[
    Path | None,
    typer.Option("--case", help="Case directory (or set TESSERA_CASE).", show_default=False),
]


class CliError(Exception):
    """A problem the user can fix: printed as one line, exit code 2, no traceback."""


class DatabaseFault(Exception):
    """The case database cannot be used (server down, locked or damaged file): one line, exit code 3."""


def fail(message: str) -> NoReturn:
    raise CliError(message)


#: The case database this command opened (password hidden), for naming it in a database error.
_opened: list[str] = []


def load_case(case_dir: Path | None) -> CaseHandle:
    from sqlalchemy.exc import DatabaseError

    directory = case_dir or env_case_dir()
    if directory is None:
        fail("no case given: pass --case DIR or set TESSERA_CASE")
    try:
        handle = open_case(directory)
    except DatabaseError as exc:  # unreachable server, not a database, locked: nothing can be done
        raise DatabaseFault(f"the case database of {directory} could not be used: {_reason(exc)}") from exc
    _opened.append(_safe_url(handle.url))
    return handle


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - naming the database must never raise
        return "of the case"


def _reason(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None) or exc
    return str(orig).splitlines()[0] if str(orig) else type(orig).__name__


def database_error(exc: BaseException) -> str:
    """One line for a database fault (unreachable server, locked or full SQLite file, broken schema)."""
    where = _opened[-1] if _opened else "of the case"
    return f"the case database {where} could not be used: {_reason(exc)}"


def print_error(message: str) -> None:
    # One line, so scripts and examiners can read it; the full text is kept on a single line.
    print(f"tessera: error: {' '.join(str(message).split())}", file=sys.stderr)


def is_stdout(target: Path | str | None) -> bool:
    """``--out -``: the data goes to standard output."""
    return target is not None and str(target) == "-"


def say(target: Path | str | None) -> Console:
    """Where a command's closing line goes: standard error when standard output carries the data."""
    return console if is_stdout(target) else out


@contextmanager
def output_file(target: Path, suffix: str = "") -> Iterator[Path]:
    """The path a writer should write to: ``target`` itself, or for ``--out -`` a temporary file that
    is copied to standard output once the writer is done.

    A temporary file rather than ``/dev/stdout``: writers write next to the target and rename it in
    place (a half-written file never has the final name), and some reopen it; the copy is streamed,
    so memory stays bounded whatever the size. Nothing reaches standard output if the writer fails.
    """
    if not is_stdout(target):
        yield target
        return
    with tempfile.TemporaryDirectory(prefix="tessera-out-") as folder:
        path = Path(folder) / f"out{suffix}"
        yield path
        if path.exists():
            with path.open("rb") as fh:
                sys.stdout.flush()
                # A pipe's size at a time: a reader that stops (``| head``) is met by the next write,
                # which fails and ends the command, where one large write may end short silently.
                shutil.copyfileobj(fh, sys.stdout.buffer, 1 << 16)
            sys.stdout.flush()


def where(target: Path | str) -> str:
    """How a closing line names the output: the path, or "standard output" for ``--out -``."""
    return "standard output" if is_stdout(target) else str(target)
